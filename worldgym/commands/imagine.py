"""`worldgym imagine`: judge policies in imagination, audited by k real episodes each."""

from __future__ import annotations

from worldgym.config import config_from_args
from worldgym.evaluation.audit import ImagineConfig

NAME = "imagine"
HELP = "Judge policies in imagination, audited by k real episodes each."
TASK = ("task",)


def configs(family: str) -> tuple:
    """(config class, positional fields) of the options."""
    del family
    return ((ImagineConfig, TASK),)


def run(args) -> int:
    from worldgym.evaluation.audit import format_judgement, imagine

    print(format_judgement(imagine(config_from_args(ImagineConfig, args))))
    return 0
