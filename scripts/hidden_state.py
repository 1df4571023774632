"""How much of a robot's motion depends on actions its observation does not show.

For chosen observation entries, the share of their one-step change (R², on the
second half of the dataset's transitions, fitted on the first) that a linear fit
explains from the observation and action alone, and with the 1..K previous
actions added (zeros before each reset). A share that keeps rising with past
actions means the robot has state its observation does not show (a lagging
controller, a mocap target): a model must read past actions. The docs'
Meta-World figures (hand: R² 0.967, then 0.988, 0.992, 0.993) come from

    python scripts/hidden_state.py MetaWorld-reach-v3 \
        runs/datasets/worldgym/metaworld-reach-v3/behaviour-v0 0,1,2

(`worldgym collect` prints the same measure for K = 3 as its "hidden state" advice.)
"""

from __future__ import annotations

import argparse

import numpy as np

from worldgym.data.dataset import load_dataset
from worldgym.data.frames import recorded_previous_actions
from worldgym.envs import get_task


def explained_share(inputs: np.ndarray, targets: np.ndarray) -> float:
    """R² on the second half of a least-squares fit (with a constant) on the first."""
    inputs = np.concatenate([inputs, np.ones((len(inputs), 1))], axis=1)
    half = len(inputs) // 2
    weights = np.linalg.lstsq(inputs[:half], targets[:half], rcond=None)[0]
    residual = targets[half:] - inputs[half:] @ weights
    total = targets[half:] - targets[half:].mean(axis=0)
    return float(1.0 - np.sum(residual**2) / max(np.sum(total**2), 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("dataset")
    parser.add_argument("entries", help="observation entries, e.g. 0,1,2")
    parser.add_argument("--history", type=int, default=4, help="most previous actions (K)")
    args = parser.parse_args()
    data = load_dataset(args.dataset, get_task(args.task))
    transitions = data.transitions()
    entries = [int(entry) for entry in args.entries.split(",")]
    change = (transitions["next_observations"] - transitions["observations"])[:, entries]
    base = np.concatenate([transitions["observations"], transitions["actions"]], axis=1)
    past = recorded_previous_actions(data, data.observation_index(), args.history)  # oldest first
    print(f"observation and action: R² {explained_share(base, change):.3f}")
    for count in range(1, args.history + 1):
        recent = past[:, args.history - count :].reshape(len(base), -1)
        share = explained_share(np.concatenate([base, recent], axis=1), change)
        print(f"+ {count} previous action{'s' if count > 1 else ''}: R² {share:.3f}")


if __name__ == "__main__":
    main()
