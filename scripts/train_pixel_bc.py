"""Re-make the zoo's pixel policies: a small CNN cloned from the oracle on frames.

    python scripts/train_pixel_bc.py              # Reach, writes policies/weights/

`pixels-dart` looks at one 64x64 camera frame (the frames `worldgym collect
--images 64x64` records and the latent family learns from) and was cloned from
oracle demonstrations executed with injected action noise, each frame labelled
with the oracle's clean action in the state it shows (DART, Laskey et al. 2017).
One frame shows where the arm and the target are, not how fast the arm moves, so
the policy cannot damp as the oracle does: it is a graded zoo member, not a copy.
Demonstrations use reset seeds from 105000 on, apart from evaluation seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from worldgym.envs import get_task
from worldgym.files import atomic_file
from worldgym.policies.perturbed import expert_labels, oracle, perturbed_policy
from worldgym.policies.pixels import cnn_to_arrays, pixel_policy, train_pixel_bc
from worldgym.rollouts.real import run_episodes
from worldgym.seeds import BEHAVIOUR_CLONING

WEIGHTS = Path(__file__).resolve().parents[1] / "policies" / "weights"
DEMO_SEED = BEHAVIOUR_CLONING.first + 5_000  # after train_bc.py's demonstrations
NAME = "pixels-dart"


def frame_demonstrations(task_name: str, count: int, noise: float, size: int):
    """Frames seen by the oracle executed with `noise`, and the clean oracle action
    in the state each frame shows."""
    expert = oracle(task_name)
    policy = perturbed_policy(task_name, "demo", "", noise=noise)
    seeds = range(DEMO_SEED, DEMO_SEED + count)
    episodes = run_episodes(get_task(task_name), policy, seeds, render=True, width=size,
                            height=size)  # fmt: skip
    frames = np.concatenate([e.frames[:-1] for e in episodes])
    observations = np.concatenate([e.observations[:-1] for e in episodes])
    return frames, expert_labels(expert, observations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["Reach"])
    parser.add_argument("--demonstrations", type=int, default=1500)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument(
        "--check-episodes",
        type=int,
        default=100,
        help="Real episodes (seeds 0...) to report the success rate on.",
    )
    args = parser.parse_args()
    index_path = WEIGHTS / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for task_name in args.tasks:
        frames, actions = frame_demonstrations(task_name, args.demonstrations, args.noise,
                                               args.size)  # fmt: skip
        params, losses = train_pixel_bc(frames, actions, steps=args.steps)
        description = (
            f"CNN on one {args.size}x{args.size} camera frame, cloned from "
            f"{args.demonstrations} noise-injected oracle demonstrations (DART)."
        )
        file = f"{task_name}-{NAME}.npz"
        with atomic_file(WEIGHTS / file) as temp:
            np.savez(temp, **cnn_to_arrays(params))
        entry = {"name": NAME, "file": file, "description": description,
                 "frame_size": [args.size, args.size]}  # fmt: skip
        index[task_name] = [e for e in index.get(task_name, []) if e["name"] != NAME] + [entry]
        policy = pixel_policy(NAME, params, (args.size, args.size))
        check = run_episodes(get_task(task_name), policy, range(args.check_episodes),
                             progress=False)  # fmt: skip
        success = np.mean([episode.success for episode in check])
        print(
            f"{task_name}/{NAME}: {len(actions)} frames, loss {losses[:100].mean():.4f} -> "
            f"{losses[-100:].mean():.4f}; real success {success:.0%} on seeds "
            f"0-{args.check_episodes - 1} -> {file}"
        )
    with atomic_file(index_path) as temp:
        temp.write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
