"""`worldgym refine`: add real episodes of chosen policies to the data, train on, re-evaluate."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.refine import RefineConfig, format_refine, refine

NAME = "refine"
HELP = "Add real episodes of chosen policies to the data, train on, re-evaluate."


CONFIGS = ((RefineConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    print(format_refine(refine(config_from_args(RefineConfig, args))))
    return 0
