"""A zoo and novel set calibrated on test seeds and on dev seeds, side by side.

A design tuned to its own evaluation shows a gap between the two ranges; the
docs' "Evidence that holds" table comes from

    python scripts/test_vs_dev.py Push runs/models/push

(100 episodes per policy in each world; test seeds 0-99, dev seeds 200,000-200,099
from worldgym.seeds). Prints one Markdown row per set and range.
"""

from __future__ import annotations

import argparse

from worldgym.evaluation.calibrate import Calibration, calibrate
from worldgym.evaluation.paired import EvaluateConfig, evaluate
from worldgym.seeds import DEV, TEST


def row(task: str, policy_set: str, calibration: Calibration, total: int) -> str:
    rates, every = calibration.rates, calibration.every_policy
    episodes = calibration.episodes

    def cell(key):
        value, (low, high) = rates[key].value, rates[key].interval
        return f"{value:.3f} [{low:.3f}, {high:.3f}]"

    return (f"| {task} | {policy_set} | {calibration.seeds} | {calibration.policies} of "
            f"{total} | {cell('spearman')} | {cell('mmrv')} | {cell('mae')} | "
            f"{every['spearman'].value:.3f} / {every['mmrv'].value:.3f} / "
            f"{every['mae'].value:.3f} | {episodes.kappa:.2f} "
            f"({episodes.kappa_rates_only:.2f}; "
            f"{episodes.kappa_beyond_rates:.2f}) |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("checkpoint")
    parser.add_argument("--sets", nargs="+", default=["zoo", "novel"])
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    print(
        "| task | set | seeds | trusted | Spearman ρ | MMRV | mean abs. error "
        "| all: ρ / MMRV / MAE | κ (rates only; beyond rates) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for policy_set in args.sets:
        for first in (TEST.first, DEV.first):
            evaluation = evaluate(EvaluateConfig(task=args.task, checkpoint=args.checkpoint,
                                                 policies=(policy_set,), episodes=args.episodes,
                                                 seed=first), progress=False)  # fmt: skip
            print(row(args.task, policy_set, calibrate(evaluation, 1000),
                      len(evaluation.policies)), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
