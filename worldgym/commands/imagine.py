"""`worldgym imagine`: judge policies in imagination, audited by k real episodes each."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.evaluation.audit import ImagineConfig, format_judgement, imagine

NAME = "imagine"
HELP = "Judge policies in imagination, audited by k real episodes each."


CONFIGS = ((ImagineConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    print(format_judgement(imagine(config_from_args(ImagineConfig, args))))
    return 0
