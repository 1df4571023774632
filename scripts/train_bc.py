"""Re-make the neural zoo policies: behaviour cloning of each task's oracle.

    python scripts/train_bc.py            # all tasks, writes policies/weights/

Two MLPs per task:
  bc-few    cloned from only a few clean oracle demonstrations (it drifts off
            the few states it saw);
  bc-dart   cloned from demonstrations executed with injected action noise and
            labelled with the oracle's clean action in each visited state (DART,
            Laskey et al. 2017), so it learns to recover from its own errors.
Demonstrations use reset seeds from 100000 on, apart from evaluation seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from worldgym.envs import get_task
from worldgym.envs.registry import NATIVE_TASKS
from worldgym.files import atomic_file
from worldgym.policies.neural import params_to_arrays, train_bc
from worldgym.policies.perturbed import expert_labels, oracle, perturbed_policy
from worldgym.rollouts.real import run_episodes
from worldgym.seeds import BEHAVIOUR_CLONING

WEIGHTS = Path(__file__).resolve().parents[1] / "policies" / "weights"
DEMO_SEED = BEHAVIOUR_CLONING.first

RECIPES = {
    "bc-few": {
        "demonstrations": 4, "noise": 0.0, "hidden": (64, 64), "steps": 1500,
        "description": "MLP cloned from only 4 oracle demonstrations.",
    },
    "bc-dart": {
        "demonstrations": 200, "noise": 0.5, "hidden": (128, 128), "steps": 12000,
        "description": "MLP cloned from 200 noise-injected oracle demonstrations (DART).",
    },
}  # fmt: skip


def demonstrations(task_name: str, count: int, noise: float, seed_offset: int):
    """States visited by the oracle executed with `noise`, and the clean oracle
    action in each of them."""
    expert = oracle(task_name)
    policy = perturbed_policy(task_name, "demo", "", noise=noise) if noise else expert
    seeds = range(DEMO_SEED + seed_offset, DEMO_SEED + seed_offset + count)
    episodes = run_episodes(get_task(task_name), policy, seeds, progress=False)
    observations = np.concatenate([e.observations[:-1] for e in episodes])
    return observations, expert_labels(expert, observations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(NATIVE_TASKS))
    args = parser.parse_args()
    index_path = WEIGHTS / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for task_name in args.tasks:
        entries = []
        for offset, (name, recipe) in enumerate(RECIPES.items()):
            observations, actions = demonstrations(
                task_name, recipe["demonstrations"], recipe["noise"], 1000 * offset
            )
            params = train_bc(observations, actions, recipe["hidden"], recipe["steps"])
            file = f"{task_name}-{name}.npz"
            arrays = params_to_arrays(params)
            with atomic_file(WEIGHTS / file) as temp:
                np.savez(temp, **arrays)
            entries.append({"name": name, "file": file, "description": recipe["description"]})
            print(f"{task_name}/{name}: {len(actions)} demonstration steps -> {file}")
        kept = [e for e in index.get(task_name, []) if e["name"] not in RECIPES]  # pixel ones
        index[task_name] = entries + kept
    with atomic_file(index_path) as temp:
        temp.write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
