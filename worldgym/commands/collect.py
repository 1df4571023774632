"""`worldgym collect`: collect behaviour data from a ground-truth task (Minari dataset)."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.data.advice import format_advice
from worldgym.data.collect import CollectConfig, collect

NAME = "collect"
HELP = "Collect behaviour data from a ground-truth task (Minari dataset)."


CONFIGS = ((CollectConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    result = collect(config_from_args(CollectConfig, args))
    print(format_advice(result.advice))
    print(
        f"collected {result.episodes} episodes, {result.transitions} transitions in "
        f"{result.seconds:.1f} s ({result.transitions_per_second:.0f} transitions/s) "
        f"-> {result.path}"
    )
    return 0
