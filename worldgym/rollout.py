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


def make_episode(task: Task, seed: int, observations, actions, rewards, successes, ended,
                 reset_info: dict, frames=None) -> Episode:  # fmt: skip
    """An Episode from the per-step lists of a rollout; ended = (terminated, truncated)."""
    step_success = np.asarray(successes, dtype=bool)
    return Episode(
        seed=seed,
        observations=np.asarray(observations, dtype=np.float32),
        actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float32),
        step_success=step_success,
        terminated=bool(ended[0]),
        truncated=bool(ended[1]),
        reset_success=bool(reset_info["success"]),
        success=bool(task.episode_success(step_success)),
        frames=frames,
    )


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
    return make_episode(
        task, seed, observations, actions, rewards, successes, (terminated, truncated),
        reset_info, np.asarray(frames) if render else None,
    )  # fmt: skip


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


def run_episodes_in_lockstep(task: Task, policy, seeds: Sequence[int]) -> list[Episode]:
    """Roll JAX policies once from each seed, all episodes stepping together.

    `policy` is one Policy for every episode, or a list of Policies (one per seed)
    sharing an act function and parameter shapes, e.g. behaviour policies with
    faults drawn per episode. The policy is called once per step for the whole
    batch (one jitted, vmapped call) instead of once per episode and step; the
    environments still step one by one, as MuJoCo does. Episode e's policy keys
    are fold_in(key(seed_e), t), as in NumpyPolicy, so its randomness depends only
    on its own seed.
    """
    import jax

    seeds = [int(seed) for seed in seeds]
    if isinstance(policy, list | tuple):
        act_fn = policy[0].act
        params = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves),
                                        *[p.params for p in policy])  # fmt: skip
        act = _batched_act(act_fn, per_episode_params=True)
    else:
        params, act = policy.params, _batched_act(policy.act, per_episode_params=False)
    envs = [task.make_env() for _ in seeds]
    base_keys = jax.vmap(jax.random.key)(np.asarray(seeds, np.uint32))
    try:
        first = [env.reset(seed=seed) for env, seed in zip(envs, seeds, strict=True)]
        observations = [[obs] for obs, _ in first]
        actions, rewards, successes = ([[] for _ in seeds] for _ in range(3))
        done = np.zeros(len(seeds), bool)
        ended = [(False, False)] * len(seeds)
        step = 0
        while not done.all():
            current = np.stack([history[-1] for history in observations])
            batch = np.asarray(act(params, current, base_keys, step), np.float32)
            for index in np.flatnonzero(~done):
                obs, reward, terminated, truncated, info = envs[index].step(batch[index])
                observations[index].append(obs)
                actions[index].append(batch[index])
                rewards[index].append(reward)
                successes[index].append(info["success"])
                if terminated or truncated:
                    done[index] = True
                    ended[index] = (bool(terminated), bool(truncated))
            step += 1
    finally:
        for env in envs:
            env.close()
    return [
        make_episode(
            task,
            seed,
            observations[i],
            actions[i],
            rewards[i],
            successes[i],
            ended[i],
            first[i][1],
        )  # fmt: skip
        for i, seed in enumerate(seeds)
    ]


_BATCHED: dict = {}


def _batched_act(act_fn, per_episode_params: bool):
    """jit(vmap(act)) with per-episode keys fold_in(key_e, step), built once per act."""
    cache_key = (act_fn, per_episode_params)
    if cache_key not in _BATCHED:
        import jax

        params_axis = 0 if per_episode_params else None

        def batched(params, observations, keys, step):
            step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, step)
            return jax.vmap(act_fn, in_axes=(params_axis, 0, 0))(params, observations, step_keys)

        _BATCHED[cache_key] = jax.jit(batched)
    return _BATCHED[cache_key]
