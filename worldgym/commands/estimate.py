"""`worldgym estimate`: real success rates from few real and many imagined episodes (PPI)."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.evaluation.estimation import EstimateConfig, estimate, format_beats, format_estimates

NAME = "estimate"
HELP = "Real success rates from few real and many imagined episodes (PPI)."


CONFIGS = ((EstimateConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    estimates = estimate(config_from_args(EstimateConfig, args))
    print(format_estimates(estimates))
    print()
    print(format_beats(estimates))
    print(f"\n{estimates.real_episodes} real episodes in all, on {estimates.seeds}.")
    if estimates.decision:
        print(estimates.decision)
    return 0
