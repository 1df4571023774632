"""Real success rates of named policies, over seeded episodes, on all cores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worldgym.envs import get_task
from worldgym.evaluation.differences import wilson_interval
from worldgym.evaluation.real import real_episodes
from worldgym.policies import load_policy


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


def measure_policies(
    task_name,
    specs: Sequence[str],
    episodes: int,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> list[PolicyMeasurement]:
    """Run each policy (zoo name or module:attribute) from reset seeds
    seed..seed+episodes-1, spread over worker processes."""

    if episodes < 1:
        raise ValueError(f"Measuring needs at least one episode, got {episodes}.")
    task = get_task(task_name)
    policies = [load_policy(task, spec) for spec in specs]  # fail early, in one sentence
    results = real_episodes(task, specs, range(seed, seed + episodes), workers, progress)
    return [
        PolicyMeasurement(
            name=spec,
            description=policy.description,
            successes=int(results[spec].success.sum()),
            episodes=episodes,
            mean_return=float(results[spec].returns.mean()),
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
