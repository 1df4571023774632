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


def test_every_command_says_each_default_once_and_never_none():
    """An option whose help describes its default gets no second "(default: ...)",
    and an option without a value to show gets none ("None", an empty list)."""
    import re

    from worldgym.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            text = action.help or ""
            assert "(default: None)" not in text and "(default: )" not in text, (name, text)
            assert len(re.findall(r"\(default", text)) <= 1, (name, action.dest, text)
            if action.default not in (None, (), "", argparse.SUPPRESS, False, True) and \
                    "default" not in text.lower():  # fmt: skip
                raise AssertionError(f"worldgym {name} --{action.dest} hides its default")
