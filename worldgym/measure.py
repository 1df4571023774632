"""Real success rates of named policies, over seeded episodes, on all cores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worldgym.calibrate import wilson_interval
from worldgym.parallel import chunks, map_in_workers

EPISODES_PER_JOB = 25
"""Episodes a worker runs per job, in lockstep for JAX policies (one vmapped
policy call per step for all of them): large enough to amortise that call and
the job overhead, small enough for a smooth progress bar and both workers busy."""


@dataclass(frozen=True)
class PolicyMeasurement:
    """One policy's measured success in the ground-truth task."""

    name: str
    description: str
    successes: int
    episodes: int
    mean_return: float

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of the success rate."""
        low, high = wilson_interval(self.successes, self.episodes)
        return float(low), float(high)


def _real_job(job) -> dict:
    """Worker: (task, policy spec, seeds) -> arrays of those episodes.

    JAX policies step their episodes in lockstep; callables and predict() objects
    run one episode at a time. Observations are padded to the horizon with the
    last one (episodes that end on success are shorter).
    """
    task_name, spec, seeds = job
    from envs import get_task
    from policies import load_policy
    from policies.protocol import Policy
    from worldgym.rollout import run_episodes, run_episodes_in_lockstep

    task = get_task(task_name)
    policy = load_policy(task_name, spec)
    if isinstance(policy, Policy):
        episodes = run_episodes_in_lockstep(task, policy, seeds)
    else:
        episodes = run_episodes(task, policy, seeds, progress=False)
    observations = np.zeros((len(seeds), task.horizon + 1, task.obs_dim), np.float32)
    for row, episode in enumerate(episodes):
        observations[row, : episode.length + 1] = episode.observations
        observations[row, episode.length + 1 :] = episode.observations[-1]
    return {
        "success": np.array([e.success for e in episodes]),
        "returns": np.array([e.episode_return for e in episodes], np.float64),
        "observations": observations,
        "lengths": np.array([e.length for e in episodes]),
    }


def real_episodes(
    task_name: str,
    specs: Sequence[str],
    seeds: Sequence[int],
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, dict]:
    """{spec: episode arrays (success, returns, observations, lengths)} of each
    policy (zoo name or module:attribute) from each reset seed, on all cores."""
    seeds = [int(seed) for seed in seeds]
    jobs = [(task_name, spec, list(chunk)) for spec in specs
            for chunk in chunks(seeds, EPISODES_PER_JOB)]  # fmt: skip
    arrays = map_in_workers(
        _real_job, jobs, workers=workers, description=f"{task_name} real rollouts",
        progress=progress, units=lambda result: len(result["success"]),
        total_units=len(specs) * len(seeds),
    )  # fmt: skip
    results = {}
    for spec in specs:
        parts = [a for (_, name, _), a in zip(jobs, arrays, strict=True) if name == spec]
        results[spec] = {field: np.concatenate([p[field] for p in parts]) for field in parts[0]}
    return results


def measure_policies(
    task_name: str,
    specs: Sequence[str],
    episodes: int,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> list[PolicyMeasurement]:
    """Run each policy (zoo name or module:attribute) from reset seeds
    seed..seed+episodes-1, spread over worker processes."""
    from policies import load_policy

    if episodes < 1:
        raise ValueError(f"Measuring needs at least one episode, got {episodes}.")
    policies = [load_policy(task_name, spec) for spec in specs]  # fail early, in one sentence
    results = real_episodes(task_name, specs, range(seed, seed + episodes), workers, progress)
    return [
        PolicyMeasurement(
            name=spec,
            description=getattr(policy, "description", ""),
            successes=int(results[spec]["success"].sum()),
            episodes=episodes,
            mean_return=float(results[spec]["returns"].mean()),
        )
        for spec, policy in zip(specs, policies, strict=True)
    ]


def format_measurements(task_name: str, rows: Sequence[PolicyMeasurement]) -> str:
    """A Markdown table of measured policies."""
    lines = [
        f"| {task_name} policy | success | 95% interval | mean return | what it does |",
        "|---|---:|---|---:|---|",
    ]
    for row in rows:
        low, high = row.interval
        lines.append(
            f"| {row.name} | {row.success_rate:.0%} | [{low:.0%}, {high:.0%}] "
            f"| {row.mean_return:.1f} | {row.description} |"
        )
    return "\n".join(lines)
