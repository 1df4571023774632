"""RL code nobody here wrote, trained inside the imagined environment.

    pip install -e '.[rl]'    # Stable-Baselines3 (and PyTorch)
    python scripts/rl_in_imagination.py --task Push --steps 60000

Trains Stable-Baselines3's SAC in `gymnasium.make("worldgym/<Task>-imagined-v0")`,
then evaluates the learned policy from the same reset seeds in the imagined and
in the ground-truth task, and prints how the two worlds' returns and success
rates compare.
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

import worldgym  # noqa: F401  (registers the imagined environments)
from worldgym.envs import get_task
from worldgym.evaluation.real import run_episode


def evaluate(env, task, model, seeds) -> tuple[float, float]:
    """Mean return and success rate of `model` from each reset seed."""
    episodes = [run_episode(env, task, model_actor(model), seed) for seed in seeds]
    returns = np.mean([e.episode_return for e in episodes])
    return float(returns), float(np.mean([e.success for e in episodes]))


def model_actor(model):
    return lambda obs: model.predict(obs, deterministic=True)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Push")
    parser.add_argument("--checkpoint", default=None, help="default: runs/models/<task>")
    parser.add_argument("--steps", type=int, default=60_000, help="SAC training steps")
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from stable_baselines3 import SAC

    task = get_task(args.task)
    kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    imagined = gymnasium.make(f"worldgym/{task.name}-imagined-v0", **kwargs)
    agent = SAC("MlpPolicy", imagined, seed=args.seed, verbose=0)
    start = time.perf_counter()
    agent.learn(total_timesteps=args.steps, progress_bar=False)
    minutes = (time.perf_counter() - start) / 60
    seeds = range(args.seed, args.seed + args.episodes)
    imagined_return, imagined_success = evaluate(imagined, task, agent, seeds)
    real_return, real_success = evaluate(task.make_env(), task, agent, seeds)
    print(f"SAC, {args.steps} steps in imagination ({minutes:.1f} min), {args.episodes} episodes "
          f"from seeds {seeds.start}..{seeds.stop - 1}:")  # fmt: skip
    print(f"  imagined: return {imagined_return:8.2f}  success {imagined_success:.0%}")
    print(f"  real:     return {real_return:8.2f}  success {real_success:.0%}")


if __name__ == "__main__":
    main()
