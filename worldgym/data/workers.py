"""Spreading independent jobs over worker processes, with a progress bar.

Workers are started with "spawn", never "fork": JAX is multithreaded and a
forked JAX process can deadlock. Each job must be picklable and name everything
it needs (task and policy by spec), so a worker rebuilds it from scratch and
results do not depend on which worker ran which job. Tasks a user registered at
run time (`worldgym.register_task`) are registered in each worker before its
first job, so their names work there too.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from tqdm.auto import tqdm

Job = TypeVar("Job")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def imap_in_workers(
    function: Callable[[Job], Any],
    jobs: Sequence[Job],
    workers: int | None = None,
    description: str = "",
    progress: bool = True,
    units: Callable[[Any], int] = lambda result: 1,
    total_units: int | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield (job index, result) as jobs finish, in completion order.

    With one worker (or one job) everything runs in this process, which keeps
    small runs and tests free of process start-up costs. The progress bar counts
    `units(result)` per finished job (e.g. episodes), out of `total_units`.
    """
    workers = default_workers() if workers is None else workers
    bar = tqdm(total=total_units or len(jobs), desc=description, disable=not progress)
    try:
        if workers <= 1 or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                result = function(job)
                bar.update(units(result))
                yield index, result
            return
        context = multiprocessing.get_context("spawn")
        registrations = _picklable_registrations()
        with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                 initializer=_register_in_worker,
                                 initargs=(registrations,)) as pool:  # fmt: skip
            pending = {pool.submit(function, job): i for i, job in enumerate(jobs)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    result = future.result()
                    bar.update(units(result))
                    yield index, result
    finally:
        bar.close()


def _picklable_registrations() -> dict:
    """This process's run-time task registrations, checked to reach a worker intact."""
    from worldgym.envs.registry import runtime_registrations

    registrations = runtime_registrations()
    for name, source in registrations.items():
        try:
            pickle.dumps(source)
        except Exception:  # lambdas, local functions: whatever pickle refuses
            raise ValueError(
                f"Task {name!r} was registered with functions worker processes cannot import "
                "(lambdas or local functions); define them at module level, name the task "
                "module:attribute, or pass --workers 1."
            ) from None
    return registrations


def _register_in_worker(registrations: dict) -> None:
    from worldgym.envs.registry import register_task

    for name, source in registrations.items():
        register_task(source, name, overwrite=True)


def map_in_workers(function, jobs, **kwargs) -> list:
    """Like imap_in_workers, but return the results in job order."""
    results = [None] * len(jobs)
    for index, result in imap_in_workers(function, jobs, **kwargs):
        results[index] = result
    return results


def chunks(items: Sequence, size: int) -> list[Sequence]:
    """Consecutive slices of `items` of at most `size` elements."""
    return [items[start : start + size] for start in range(0, len(items), size)]
