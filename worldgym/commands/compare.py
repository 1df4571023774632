"""`worldgym compare`: is policy A better than B in reality? Paired, with a verdict."""

from __future__ import annotations

from worldgym.config import config_from_args
from worldgym.evaluation.comparison import CompareConfig, compare

NAME = "compare"
HELP = "Is policy A better than B in reality? Paired, with a verdict."


CONFIGS = ((CompareConfig, ("task", "a", "b")),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    print(compare(config_from_args(CompareConfig, args)).sentence())
    return 0
