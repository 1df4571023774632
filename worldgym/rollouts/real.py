"""The one real-world runner: policies in a ground-truth task, from given reset seeds.

Single episodes for Gymnasium loops (`run_episode`) and many episodes of a policy
in lockstep with one batched policy call per step (`run_episodes_in_lockstep`,
`run_lockstep_groups`). Collection, the policy measurements and the paired
evaluation (worldgym.evaluation.real spreads named policies over worker
processes) all run real episodes through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import numpy as np
from tqdm.auto import tqdm

from worldgym.envs.pool import borrowed_env, borrowed_envs, build_seconds
from worldgym.envs.task import Task
from worldgym.policies.exploration import SCHEDULED, lockstep
from worldgym.policies.protocol import as_actor, stacking_signature


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
        success=bool(task.episode_success(step_success, xp=np)),
        frames=frames,
    )


def run_episode(env, task: Task, act: Callable, seed: int, render: bool = False,
                sees_frames: bool = False) -> Episode:  # fmt: skip
    """Roll `act` (numpy obs -> action) in `env` from reset seed `seed` to the end.

    sees_frames: `act` looks at pixels and receives env.render() (the env renders
    the frames it expects; see camera_kwargs) instead of the state observation."""
    if hasattr(act, "reset"):
        act.reset(seed)
    obs, reset_info = env.reset(seed=seed)
    observations, actions, rewards, successes = [obs], [], [], []
    seen = env.render() if render or sees_frames else None
    frames = [seen] if render else None
    terminated = truncated = False
    while not (terminated or truncated):
        action = np.asarray(act(seen if sees_frames else obs), dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        successes.append(info["success"])
        seen = env.render() if render or sees_frames else None
        if render:
            frames.append(seen)
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
    seed in the ground-truth task. A policy that looks at frames sees the task's
    camera at its frame size, and recorded frames are then those it saw."""
    sees_frames = looks_at_frames(policy)
    make_kwargs = camera_kwargs(policy) if sees_frames else (
        {"render_mode": "rgb_array", "width": width, "height": height} if render else {}
    )  # fmt: skip
    act = as_actor(policy, getattr(policy, "name", "policy"))
    with borrowed_env(task, **make_kwargs) as env:
        return [
            run_episode(env, task, act, int(seed), render, sees_frames)
            for seed in tqdm(seeds, desc=f"{task.name}/{act.name}", disable=not progress)
        ]


def run_episodes_in_lockstep(task: Task, policy, seeds: Sequence[int]) -> list[Episode]:
    """Roll policies once from each seed, a batch of episodes stepping together.

    `policy` is one Policy for every episode, or a list of Policies (one per seed)
    sharing an act function and parameter shapes, e.g. behaviour policies with
    faults drawn per episode. Episodes stream through a fixed set of environments
    (see lockstep_width): when one ends, its environment starts the next seed's, so
    the batch stays full. The policy is called once per step for the whole batch:
    a jitted, vmapped call for JAX policies, one host call for the others
    (`Policy.host`); the environments still step one by one, as MuJoCo does.
    Episode e's JAX policy keys are fold_in(key(seed_e), t) at its own step t, as in
    NumpyPolicy, so its randomness depends only on its own seed, never on which
    environment ran it or beside which other episodes.
    """
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        return []
    act = batched_actions(policy, seeds)
    first_policy = policy[0] if isinstance(policy, list | tuple) else policy
    sees_frames = looks_at_frames(first_policy)
    make_kwargs = camera_kwargs(first_policy) if sees_frames else {}
    width = lockstep_width(task, len(seeds))
    with borrowed_envs(task, width, **make_kwargs) as envs:
        return _stream_episodes(task, envs, act, seeds, sees_frames)


def _stream_episodes(task: Task, envs: list, act: Callable, seeds: list[int],
                     sees_frames: bool) -> list[Episode]:  # fmt: skip
    """Every seed's episode, run through `envs` (fewer environments than seeds: each
    takes the next seed when its episode ends)."""
    width = len(envs)
    slot_episode = np.zeros(width, np.int64)  # which episode each environment runs
    slot_step = np.zeros(width, np.int64)  # that episode's own step
    active = np.zeros(width, bool)
    records: list = [None] * len(seeds)
    current: list = [None] * width  # what the policy sees in each environment
    finished: list = [None] * len(seeds)
    upcoming = iter(range(len(seeds)))

    def start(slot: int) -> None:
        episode = next(upcoming, None)
        if episode is None:
            active[slot] = False
            return
        obs, info = envs[slot].reset(seed=seeds[episode])
        records[episode] = ([obs], [], [], [], info)
        current[slot] = envs[slot].render() if sees_frames else obs
        slot_episode[slot], slot_step[slot], active[slot] = episode, 0, True

    for slot in range(width):
        start(slot)
    while active.any():
        running = np.flatnonzero(active)
        shown = [current[slot] if active[slot] else current[running[0]] for slot in range(width)]
        batch = act(np.stack(shown), slot_episode, slot_step, active)
        for slot in running:
            episode = slot_episode[slot]
            observations, actions, rewards, successes, _ = records[episode]
            obs, reward, terminated, truncated, info = envs[slot].step(batch[slot])
            observations.append(obs)
            actions.append(batch[slot])
            rewards.append(reward)
            successes.append(info["success"])
            slot_step[slot] += 1
            current[slot] = envs[slot].render() if sees_frames else obs
            if terminated or truncated:
                finished[episode] = (bool(terminated), bool(truncated))
                start(slot)
    return [
        make_episode(task, seed, *records[i][:4], finished[i], records[i][4])
        for i, seed in enumerate(seeds)
    ]


def lockstep_width(task: Task, episodes: int) -> int:
    """How many environments step together: one per episode, rounded up to a power
    of two (a batched JAX policy compiles once per width, and groups of behaviours
    come in every size), unless building that many would take more than
    ENV_BUILD_BUDGET seconds (measured on the first one this process built); the
    extra environments of a rounded-up width sit idle. Results do not depend on it."""
    width = 1 << max(0, episodes - 1).bit_length()
    seconds = build_seconds(task)
    if seconds > 0:
        width = min(width, max(1, int(ENV_BUILD_BUDGET / seconds)))
    return width


ENV_BUILD_BUDGET = 5.0
"""Seconds a process may spend building one task's environments for lockstep: a
MuJoCo stand-in builds in milliseconds (all 50 episodes of a job step together), a
Meta-World environment in about 0.6 s (8 step together, episodes streaming
through them)."""


def looks_at_frames(policy) -> bool:
    """A worldgym Policy that acts on pixels (Policy.frame_size)."""
    return getattr(policy, "frame_size", None) is not None


def camera_kwargs(policy) -> dict:
    """How to make the task's environment render the frames `policy` looks at: its
    camera at the policy's frame size, as envs/frames.py frame_env shows it."""
    height, width = policy.frame_size
    return {"render_mode": "rgb_array", "width": width, "height": height}


def batched_actions(policy, seeds: list[int]) -> Callable:
    """act(observations [W, obs_dim] (frames [W, h, w, 3] for a policy that looks at
    pixels), episodes [W], steps [W], active [W]) -> actions [W, action_dim]: the
    actions of W environments, each running episode episodes[i] (an index into
    `seeds`) at its own step steps[i]; inactive ones are ignored.

    JAX policies: one jitted, vmapped call over all W (inactive ones too: the batch
    keeps its shape, so it compiles once). Host policies: one host call with the
    observations of the active ones.
    """
    policies = list(policy) if isinstance(policy, list | tuple) else None
    first = policies[0] if policies else policy
    if is_scheduled(first):
        return lockstep(policies or [policy] * len(seeds), seeds)
    if first.host is not None:
        runner = first.host

        def host_act(observations, episodes, steps, active):
            actions = np.zeros((len(observations), *runner.action_space.shape), np.float32)
            actions[active] = runner(observations[active])
            return actions

        return host_act

    if policies:
        params = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves),
                                        *[p.params for p in policies])  # fmt: skip
        compiled = _batched_act(first.act, per_episode_params=True)
    else:
        params, compiled = policy.params, _batched_act(policy.act, per_episode_params=False)
    base_keys = jax.vmap(jax.random.key)(np.asarray(seeds, np.uint32))

    def jax_act(observations, episodes, steps, active):
        del active  # inactive rows are computed and ignored: one compiled shape
        return np.asarray(compiled(params, observations, base_keys, episodes, steps),
                          np.float32)  # fmt: skip

    return jax_act


def run_lockstep_groups(task: Task, policies: Sequence, seeds: Sequence[int],
                        labels: Sequence) -> dict:  # fmt: skip
    """{label: Episode} of one policy per seed, stepping in lockstep each group of
    policies that can be batched together (same act and parameter shapes)."""

    groups: dict = {}
    for position, policy in enumerate(policies):
        key = ("scheduled", policy.name) if is_scheduled(policy) else stacking_signature(policy)
        groups.setdefault(key, []).append(position)
    episodes = {}
    for positions in groups.values():
        ran = run_episodes_in_lockstep(task, [policies[i] for i in positions],
                                       [seeds[i] for i in positions])  # fmt: skip
        episodes.update({labels[i]: episode for i, episode in zip(positions, ran, strict=True)})
    return episodes


def is_scheduled(policy) -> bool:
    """An exploration behaviour with a per-episode schedule (policies/exploration.py)."""

    return isinstance(policy, SCHEDULED)


_BATCHED: dict = {}


def _batched_act(act_fn, per_episode_params: bool):
    """jit(vmap(act)) for environments running episodes `episodes` at steps `steps`,
    with keys fold_in(key_e, step_e), built once per act."""
    cache_key = (act_fn, per_episode_params)
    if cache_key not in _BATCHED:
        params_axis = 0 if per_episode_params else None

        def batched(params, observations, keys, episodes, steps):
            if per_episode_params:
                params = jax.tree_util.tree_map(lambda leaf: leaf[episodes], params)
            step_keys = jax.vmap(jax.random.fold_in)(keys[episodes], steps)
            return jax.vmap(act_fn, in_axes=(params_axis, 0, 0))(params, observations, step_keys)

        _BATCHED[cache_key] = jax.jit(batched)
    return _BATCHED[cache_key]
