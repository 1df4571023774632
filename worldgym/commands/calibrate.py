"""`worldgym calibrate`: how well imagined success predicts real success (statistics)."""

from __future__ import annotations

from worldgym.commands.evaluate import ELSEWHERE
from worldgym.config import TASK, config_from_args
from worldgym.evaluation.calibrate import calibrate
from worldgym.evaluation.paired import EvaluateConfig, evaluate
from worldgym.options import Bootstrap
from worldgym.report import print_headline

NAME = "calibrate"
HELP = "How well imagined success predicts real success (statistics)."


CONFIGS = ((EvaluateConfig, TASK), (Bootstrap, ()))
"""(config class, positional fields) of the options."""


def run(args) -> int:

    evaluation = evaluate(config_from_args(EvaluateConfig, args))
    if evaluation is None:
        print(ELSEWHERE)
        return 0
    print_headline(calibrate(evaluation, config_from_args(Bootstrap, args).bootstrap))
    return 0
