"""`worldgym evaluate`: run policies in the real task and in imagination from the same seeds."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.evaluation.paired import EvaluateConfig, evaluate, format_evaluation

NAME = "evaluate"
HELP = "Run policies in the real task and in imagination from the same seeds."


CONFIGS = ((EvaluateConfig, TASK),)
"""(config class, positional fields) of the options."""


ELSEWHERE = (
    "this process imagined its share of the episodes and ran its share of the real ones; "
    "process 0 prints the results"
)
"""What a process other than 0 of a multi-process run prints."""


def run(args) -> int:

    evaluation = evaluate(config_from_args(EvaluateConfig, args))
    print(ELSEWHERE if evaluation is None else format_evaluation(evaluation))
    return 0
