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

    summary = collect(config_from_args(CollectConfig, args))
    print(format_advice(summary["advice"]))
    print(
        f"collected {summary['episodes']} episodes, {summary['transitions']} transitions in "
        f"{summary['seconds']:.1f} s ({summary['transitions_per_second']:.0f} transitions/s) "
        f"-> {summary['path']}"
    )
    return 0
