"""Config fields document themselves: their docstrings become --help text."""

import argparse
from dataclasses import dataclass

from worldgym.config import add_config_arguments, config_from_args, field_docs


@dataclass(frozen=True)
class Example:
    name: str = "x"
    """The name."""
    count: int = 3
    """How many,
    over two lines."""
    sizes: tuple[int, ...] = (1, 2)
    """Sizes."""
    flag: bool = False
    """A switch."""
    maybe: str | None = None


def test_field_docs_are_read_from_the_source():
    assert field_docs(Example) == {
        "name": "The name.", "count": "How many, over two lines.", "sizes": "Sizes.",
        "flag": "A switch.",
    }  # fmt: skip


def test_options_round_trip():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Example, positional=("name",))
    config = config_from_args(
        Example, parser.parse_args(["y", "--count", "5", "--sizes", "4", "5", "--flag"])
    )
    assert config == Example(name="y", count=5, sizes=(4, 5), flag=True, maybe=None)
    assert "How many, over two lines." in parser.format_help()
