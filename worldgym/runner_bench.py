"""Real rollouts and collection against a bare loop, measured side by side.

The bare loop is the fastest a user's own code could step the same episodes:
the task's environment as its suite makes it (no worldgym wrappers), made once,
reset by the same seeds, stepped through the very actions worldgym's runner
took (so the physics is the same, contacts included) in a plain Python loop
with no policy to call. For outside suites the suite's own loop is timed too:
its environment made once and its scripted expert called every step, as the
suite's own examples do. worldgym's runner is timed per worker: the policy's
episodes (jobs of whole episodes in lockstep, one batched policy call per step)
on one worker in this process, and over worker processes, start-up included.
Collection is timed the same way, against replaying its own dataset.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np

from worldgym.data.collect import CollectConfig, collect
from worldgym.data.dataset import load_dataset
from worldgym.envs import get_task
from worldgym.envs.registry import SUITE_TASKS
from worldgym.evaluation.real import real_episodes
from worldgym.policies import load_policy
from worldgym.policies.oracles import oracle_spec
from worldgym.policies.suites import SUITE_EXPERTS
from worldgym.rollouts.real import run_episodes_in_lockstep


@dataclass(frozen=True)
class RunnerRow:
    """One task's runner and collection figures (steps/s; per worker where said)."""

    task: str
    policy: str
    bare_steps_per_s: float
    """The same episodes' actions replayed in the suite's own environment, made once."""
    own_loop_steps_per_s: float | None
    """The suite's own environment and scripted expert, one call per step (outside
    suites only)."""
    runner_steps_per_s: dict[int, float]
    """{workers: steps/s per worker} of worldgym's runner, its workers started."""
    runner_first_call_s: dict[int, float]
    """{workers: seconds of the first call}, which starts the workers."""
    collect_steps_per_s: dict[int, float]
    """{workers: transitions/s per worker} of `worldgym collect`."""
    collect_bare_steps_per_s: float
    """The collected episodes' actions replayed in the suite's own environment."""


def raw_env(task) -> gymnasium.Env:
    """The task's environment as its suite makes it: no worldgym wrapper."""
    if task.env_factory is not None:
        return task.env_factory()
    return gymnasium.make(task.env_id, **task.make_env_kwargs)


def replay_rate(task, seeds, actions) -> float:
    """Steps/s of replaying `actions` (one [T, action_dim] array per seed) in the raw
    environment made once: the bare loop, with no policy to call."""
    env = raw_env(task)
    try:
        env.reset(seed=int(seeds[0]))
        steps = 0
        start = time.perf_counter()
        for seed, episode in zip(seeds, actions, strict=True):
            env.reset(seed=int(seed))
            for action in episode:
                env.step(action)
            steps += len(episode)
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def own_loop_rate(task, seeds, lengths) -> float | None:
    """Steps/s of the suite's own loop: its environment and its scripted expert called
    every step, episodes as long as worldgym's were; None for a task with no
    host expert (worldgym's own tasks)."""

    expert = SUITE_EXPERTS.get(task.name)
    if expert is None:
        return None
    env = raw_env(task)
    flat = gymnasium.spaces.flatten_space(env.observation_space)
    try:
        steps = 0
        start = time.perf_counter()
        for seed, length in zip(seeds, lengths, strict=True):
            obs, _ = env.reset(seed=int(seed))
            for _ in range(int(length)):
                obs_flat = gymnasium.spaces.flatten(env.observation_space, obs)
                obs, *_ = env.step(expert()(np.asarray(obs_flat, flat.dtype)[None])[0])
            steps += int(length)
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def runner_rates(task, policy: str, seeds, workers: tuple[int, ...]
                 ) -> tuple[dict, dict, list]:  # fmt: skip
    """({workers: steps/s per worker}, {workers: seconds of the first call}, the
    episodes' actions) of worldgym's runner. The first call with a number of workers
    starts them (imports, environments, compilation: its seconds are reported); the
    rate is the second's, as every later call of a command runs."""

    episodes = run_episodes_in_lockstep(task, load_policy(task, policy), seeds[:1])
    del episodes  # compiles nothing the timed calls use; imports the suite
    rates, first_call = {}, {}
    for count in workers:
        start = time.perf_counter()
        real_episodes(task, [policy], seeds, workers=count, progress=False)
        first_call[count] = time.perf_counter() - start
        start = time.perf_counter()
        outcomes = real_episodes(task, [policy], seeds, workers=count, progress=False)[policy]
        rates[count] = int(outcomes.lengths.sum()) / (time.perf_counter() - start) / count
    policy_object = load_policy(task, policy)
    actions = [episode.actions for episode in run_episodes_in_lockstep(task, policy_object,
                                                                       seeds)]  # fmt: skip
    return rates, first_call, actions


def collect_rates(task, episodes: int, workers: tuple[int, ...]) -> tuple[dict, float]:
    """({workers: transitions/s per worker} of `worldgym collect` on the task's default
    mixture, the replay rate of that dataset's actions)."""

    rates = {}
    spec = task.spec or task.name
    with tempfile.TemporaryDirectory() as folder:
        for count in workers:
            warm = Path(folder) / f"warm-{count}"  # starts the workers, compiles behaviours
            collect(CollectConfig(task=spec, episodes=min(episodes, 100 * count), out=str(warm),
                                  workers=count, seed=10**9), progress=False)  # fmt: skip
            out = Path(folder) / f"collect-{count}"
            summary = collect(CollectConfig(task=spec, episodes=episodes, out=str(out),
                                            workers=count), progress=False)  # fmt: skip
            rates[count] = summary.transitions_per_second / count
        data = load_dataset(out, task)
        starts = np.concatenate([[0], np.cumsum(data.episode_lengths)])
        actions = [data.actions[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
        bare = replay_rate(task, data.seeds, actions)
    return rates, bare


def measure_runner(task_name: str, episodes: int, workers: tuple[int, ...],
                   seed: int = 0) -> RunnerRow:  # fmt: skip
    """Every figure of one task's row, in one run."""

    task = get_task(task_name)
    policy = "expert" if oracle_spec(task.name) and task.name in _suite_names() else "oracle"
    seeds = list(range(seed, seed + episodes))
    rates, first_call, actions = runner_rates(task, policy, seeds, workers)
    bare = replay_rate(task, seeds, actions)
    own = own_loop_rate(task, seeds, [len(a) for a in actions])
    collected, collect_bare = collect_rates(task, episodes, workers)
    return RunnerRow(task.name, policy, bare, own, rates, first_call, collected, collect_bare)


def _suite_names() -> set[str]:

    return set(SUITE_TASKS)


def _with_ratio(rate: float, bare: float) -> str:
    return f"{rate:,.0f} ({rate / bare:.0%})"


def format_runner(rows: list[RunnerRow]) -> str:
    counts = sorted({count for row in rows for count in row.runner_steps_per_s})
    plural = lambda n: f"{n} worker{'s' if n > 1 else ''}"  # noqa: E731
    header = ["task (policy)", "bare loop", "suite's own loop",
              *[f"runner, {plural(n)}" for n in counts],
              *[f"collect, {plural(n)}" for n in counts],
              f"first runner call, {plural(counts[-1])} (s)"]  # fmt: skip
    lines = ["Real rollouts and collection, steps/s per worker (in brackets: of the bare loop "
             "of the same episodes, the suite's environment made once and stepped through "
             "the same actions):",
             "| " + " | ".join(header) + " |",
             "|---" + "|---:" * (len(header) - 1) + "|"]  # fmt: skip
    for row in rows:
        bare, own = row.bare_steps_per_s, row.own_loop_steps_per_s
        cells = [f"{row.task} ({row.policy})", f"{bare:,.0f}",
                 "—" if own is None else _with_ratio(own, bare)]  # fmt: skip
        cells += [_with_ratio(row.runner_steps_per_s[n], bare) for n in counts]
        cells += [_with_ratio(row.collect_steps_per_s[n], row.collect_bare_steps_per_s)
                  for n in counts]  # fmt: skip
        cells.append(f"{row.runner_first_call_s[counts[-1]]:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
