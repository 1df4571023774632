"""RL code nobody here wrote, trained inside the imagined environment.

    pip install -e '.[rl]'    # Stable-Baselines3 (and PyTorch)
    python scripts/rl_in_imagination.py --task Reach --steps 30000

Trains Stable-Baselines3's SAC in `gymnasium.make("worldgym/<Task>-imagined-v0")`,
then evaluates the learned policy (its deterministic action) from the same reset
seeds in the imagined and in the ground-truth task, and prints both worlds'
returns and success rates with 95% intervals (Wilson for the rates, a paired
bootstrap for their gap), the figures `worldgym rl` prints for its own PPO.
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

import worldgym  # noqa: F401  (registers the imagined environments)
from worldgym.envs import get_task
from worldgym.evaluation.calibrate import gap_interval
from worldgym.evaluation.differences import wilson_interval
from worldgym.rollouts.real import run_episode


def evaluate(env, task, model, seeds) -> tuple[float, np.ndarray]:
    """Mean return and the success of each episode of `model`, one per reset seed."""
    episodes = [run_episode(env, task, model_actor(model), seed) for seed in seeds]
    returns = np.mean([e.episode_return for e in episodes])
    return float(returns), np.array([e.success for e in episodes])


def model_actor(model):
    return lambda obs: model.predict(obs, deterministic=True)[0]


def progress_callback(total: int):
    """A tqdm bar over SB3's training steps, with the imagined steps per second."""
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    class Progress(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, desc="SAC in imagination", unit="step")

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return Progress()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Reach")
    parser.add_argument("--checkpoint", default=None, help="default: runs/models/<task>")
    parser.add_argument("--steps", type=int, default=30_000, help="SAC training steps")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from stable_baselines3 import SAC

    task = get_task(args.task)
    kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    imagined = gymnasium.make(f"worldgym/{task.name}-imagined-v0", **kwargs)
    agent = SAC("MlpPolicy", imagined, seed=args.seed, verbose=0)
    start = time.perf_counter()
    agent.learn(total_timesteps=args.steps, callback=progress_callback(args.steps))
    minutes = (time.perf_counter() - start) / 60
    seeds = range(args.seed, args.seed + args.episodes)
    imagined_return, imagined_success = evaluate(imagined, task, agent, seeds)
    real_return, real_success = evaluate(task.make_env(), task, agent, seeds)
    print(f"SAC, {args.steps} steps in imagination ({minutes:.1f} min), {args.episodes} episodes "
          f"from seeds {seeds.start}..{seeds.stop - 1}:")  # fmt: skip
    for world, episode_return, success in (("imagined", imagined_return, imagined_success),
                                           ("real", real_return, real_success)):  # fmt: skip
        low, high = wilson_interval(int(success.sum()), len(success))
        print(f"  {world:<9} return {episode_return:8.2f}  success {success.mean():.0%} "
              f"[{low:.0%}, {high:.0%}]")  # fmt: skip
    low, high = gap_interval(real_success, imagined_success)
    print(f"  imagined - real success: {imagined_success.mean() - real_success.mean():+.0%} "
          f"[{low:+.0%}, {high:+.0%}]")  # fmt: skip


if __name__ == "__main__":
    main()
