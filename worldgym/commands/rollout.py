"""`worldgym rollout`: roll a policy in a ground-truth task; print success and speed."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from worldgym.config import TASK, config_from_args
from worldgym.envs import get_task
from worldgym.options import TaskChoice
from worldgym.policies import load_policy
from worldgym.rollouts.real import run_episodes
from worldgym.video import episode_clip, write_video

NAME = "rollout"
HELP = "Roll a policy in a ground-truth task; print success and speed."


@dataclass(frozen=True)
class RolloutConfig(TaskChoice):
    policy: str = "oracle"
    """Zoo policy name (see `worldgym policies TASK`) or module:attribute."""
    episodes: int = 50
    """Number of episodes, from reset seeds seed, seed+1, ..."""
    seed: int = 0
    """First reset seed."""
    video: str | None = None
    """If set, write the episodes to this MP4 (or GIF) file."""
    size: int = 256
    """Video width and height in pixels."""


CONFIGS = ((RolloutConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    config = config_from_args(RolloutConfig, args)
    task = get_task(config.task)
    policy = load_policy(task.name, config.policy)
    seeds = range(config.seed, config.seed + config.episodes)
    start = time.perf_counter()
    render = config.video is not None
    episodes = run_episodes(task, policy, seeds, render, config.size, config.size)
    seconds = time.perf_counter() - start
    steps = sum(e.length for e in episodes)
    successes = np.mean([e.success for e in episodes])
    returns = np.mean([e.episode_return for e in episodes])
    print(
        f"{task.name} / {policy.name}: success {successes:.1%} over {len(episodes)} episodes, "
        f"mean return {returns:.2f}, {steps / seconds:.0f} steps/s (policy included)"
    )
    if config.video:
        clips = [episode_clip(e.frames, e.success) for e in episodes]
        path = write_video(config.video, np.concatenate(clips), fps=round(1.0 / task.dt))
        print(f"video: {path}")
    return 0
