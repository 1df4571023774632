"""Running policies in a ground-truth task, episode by episode, from given seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from envs.task import Task
from policies.protocol import as_actor


@dataclass(frozen=True)
class Episode:
    """One ground-truth episode."""

    seed: int
    """The reset seed: the same seed gives the same initial state."""
    observations: np.ndarray  # [T + 1, obs_dim]
    actions: np.ndarray  # [T, action_dim]
    rewards: np.ndarray  # [T]
    step_success: np.ndarray  # [T] bool, info["success"] after each step
    terminated: bool
    """True when the task ended the episode (e.g. on success)."""
    truncated: bool
    """True when the time limit ended the episode."""
    reset_success: bool
    """info["success"] of the initial observation."""
    success: bool
    """Episode outcome by the task's rule (any step, or the final step)."""
    frames: np.ndarray | None = None  # [T + 1, H, W, 3] uint8 when rendered

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())


def run_episode(env, task: Task, act: Callable, seed: int, render: bool = False) -> Episode:
    """Roll `act` (numpy obs -> action) in `env` from reset seed `seed` to the end."""
    if hasattr(act, "reset"):
        act.reset(seed)
    obs, reset_info = env.reset(seed=seed)
    observations, actions, rewards, successes = [obs], [], [], []
    frames = [env.render()] if render else None
    terminated = truncated = False
    while not (terminated or truncated):
        action = np.asarray(act(obs), dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        successes.append(info["success"])
        if render:
            frames.append(env.render())
    step_success = np.asarray(successes, dtype=bool)
    return Episode(
        seed=seed,
        observations=np.asarray(observations, dtype=np.float32),
        actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float32),
        step_success=step_success,
        terminated=bool(terminated),
        truncated=bool(truncated),
        reset_success=bool(reset_info["success"]),
        success=bool(task.episode_success(step_success)),
        frames=np.asarray(frames) if render else None,
    )


def run_episodes(
    task: Task,
    policy,
    seeds: Sequence[int],
    render: bool = False,
    width: int = 256,
    height: int = 256,
    progress: bool = True,
) -> list[Episode]:
    """Roll `policy` (a Policy, callable or predict() object) once from each reset
    seed in the ground-truth task."""
    env = task.make_env(render_mode="rgb_array" if render else None, width=width, height=height)
    act = as_actor(policy, getattr(policy, "name", "policy"))
    try:
        return [
            run_episode(env, task, act, int(seed), render)
            for seed in tqdm(seeds, desc=f"{task.name}/{act.name}", disable=not progress)
        ]
    finally:
        env.close()
