"""`worldgym model-eval`: how good a world model's predictions are on held-out episodes."""

from __future__ import annotations

from worldgym.config import config_from_args
from worldgym.evaluation.model_eval import ModelEvalConfig, evaluate_model, format_metrics

NAME = "model-eval"
HELP = "How good a world model's predictions are on held-out episodes."


CONFIGS = ((ModelEvalConfig, ("checkpoint", "dataset")),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    print(format_metrics(evaluate_model(config_from_args(ModelEvalConfig, args))))
    return 0
