"""Real outcomes of named policies, spread over worker processes.

Each job rebuilds the task and the policy from their specs in a worker and runs
its seeds in lockstep (worldgym.rollouts.real); the outcomes come back in order,
so results do not depend on which worker ran which job. In a multi-process run
(worldgym.devices) the jobs are dealt out over the processes, each runs its share
in its own workers, and every process gets all the outcomes: the same jobs, so the
same outcomes as one process.
"""

from __future__ import annotations

from collections.abc import Sequence

from worldgym.devices import gather_objects, process_share
from worldgym.envs import get_task
from worldgym.envs.registry import task_spec
from worldgym.evaluation.outcomes import Outcomes
from worldgym.policies import load_policy
from worldgym.rollouts.real import run_episodes_in_lockstep
from worldgym.rollouts.workers import chunks, map_in_workers

# --- real rollouts of named policies, on all cores ------------------------------------
EPISODES_PER_JOB = 50
"""Episodes a worker runs per job, in lockstep (one batched policy call per step for
all of them): large enough to amortise that call and the job overhead, small enough
for a smooth progress bar and both workers busy."""


def _real_job(job) -> Outcomes:
    """Worker: (task spec, policy spec, seeds) -> the Outcomes of those episodes."""
    spec_of_task, spec, seeds = job
    task = get_task(spec_of_task)
    key = (spec_of_task, spec)
    if key not in _WORKER_POLICIES:  # a worker runs many jobs of the same policies
        _WORKER_POLICIES[key] = load_policy(task, spec)
    policy = _WORKER_POLICIES[key]
    return Outcomes.from_episodes(run_episodes_in_lockstep(task, policy, seeds), task)


_WORKER_POLICIES: dict = {}


def real_episodes(task, specs: Sequence[str], seeds: Sequence[int], workers: int | None = None,
                  progress: bool = True) -> dict[str, Outcomes]:  # fmt: skip
    """{spec: Outcomes} of each policy (zoo name or module:attribute) from each reset
    seed in the ground-truth task, spread over worker processes that rebuild the
    task and the policies from their specs (and over the processes of a multi-process
    run, which must all call it)."""
    seeds = [int(seed) for seed in seeds]
    spec_of_task = task_spec(task)
    jobs = [(spec_of_task, spec, list(chunk)) for spec in specs
            for chunk in chunks(seeds, EPISODES_PER_JOB)]  # fmt: skip
    mine = process_share(jobs)
    description = f"{task.name} real rollouts"
    if len(mine) < len(jobs):
        description += f" (this process: {len(mine)} of {len(jobs)} jobs)"
    ran = map_in_workers(
        _real_job, [jobs[index] for index in mine], workers=workers, description=description,
        progress=progress, units=lambda outcomes: len(outcomes.success),
        total_units=sum(len(jobs[index][2]) for index in mine),
    )  # fmt: skip
    results = [None] * len(jobs)
    for positions, outcomes in gather_objects((mine, ran)):
        for position, outcome in zip(positions, outcomes, strict=True):
            results[position] = outcome
    return {
        spec: Outcomes.concatenate(
            [r for (_, name, _), r in zip(jobs, results, strict=True) if name == spec]
        )  # fmt: skip
        for spec in specs
    }
