"""Real success rates of named policies, over seeded episodes, on all cores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worldgym.calibrate import wilson_interval
from worldgym.parallel import chunks, map_in_workers

EPISODES_PER_JOB = 10
"""Episodes a worker runs per job: large enough to amortise the job overhead,
small enough for a smooth progress bar and an even split over the workers."""


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


def _run_job(job) -> list[tuple[bool, float]]:
    """Worker: (task, policy spec, seeds) -> [(success, return)] per episode."""
    task_name, spec, seeds = job
    from envs import get_task
    from policies import load_policy
    from worldgym.rollout import run_episodes

    episodes = run_episodes(
        get_task(task_name), load_policy(task_name, spec), seeds, progress=False
    )
    return [(e.success, e.episode_return) for e in episodes]


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
    seeds = list(range(seed, seed + episodes))
    jobs = [
        (task_name, spec, list(chunk))
        for spec in specs
        for chunk in chunks(seeds, EPISODES_PER_JOB)
    ]
    results = map_in_workers(
        _run_job, jobs, workers=workers, description=f"{task_name} policies", progress=progress,
        units=len, total_units=len(specs) * episodes,
    )  # fmt: skip
    outcomes: dict[str, list[tuple[bool, float]]] = {spec: [] for spec in specs}
    for (_, spec, _), result in zip(jobs, results, strict=True):
        outcomes[spec].extend(result)
    return [
        PolicyMeasurement(
            name=spec,
            description=getattr(policy, "description", ""),
            successes=int(sum(success for success, _ in outcomes[spec])),
            episodes=len(outcomes[spec]),
            mean_return=float(np.mean([ret for _, ret in outcomes[spec]])),
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
