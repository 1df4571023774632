"""Spreading independent jobs over worker processes, with a progress bar.

Workers are started with "spawn", never "fork": JAX is multithreaded and a
forked JAX process can deadlock. Each job must be picklable and name everything
it needs (task and policy by spec), so a worker rebuilds it from scratch and
results do not depend on which worker ran which job. Tasks a user registered at
run time (`worldgym.register_task`) are registered in each worker before its
first job, so their names work there too.

The workers are started once per process and kept for later calls (each keeps
the environments, policies and compiled functions it made). Stopping is the
parent's business: workers ignore Ctrl-C (SIGINT reaches the whole process
group), and on Ctrl-C or any error the parent cancels the queued jobs and
terminates the workers at once, instead of waiting for every queued job as
`with ProcessPoolExecutor()` would; a later call starts new ones. A worker
whose parent dies (kill -9) exits within a second: it watches its parent, so it
never lingers holding memory, blocked on a pipe nobody reads.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from tqdm.auto import tqdm

from worldgym.envs.registry import register_task, runtime_registrations

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
        pool = shared_pool(workers, _picklable_registrations())
        try:
            pending = {pool.submit(function, job): i for i, job in enumerate(jobs)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    result = future.result()
                    bar.update(units(result))
                    yield index, result
        except BaseException:  # Ctrl-C, an error, or the caller stopped iterating
            close_shared_pool()
            raise
    finally:
        bar.close()


_shared: dict = {}
"""This process's worker pool: {"pool", "key"}, kept between calls."""


def shared_pool(workers: int, registrations: dict) -> ProcessPoolExecutor:
    """The worker pool of this process, started on first use and kept for the next
    call (a command runs real episodes several times; each worker keeps its
    environments, policies and compiled functions, and starting a worker costs
    seconds of imports). A pool of another size, or one started before the user
    registered other tasks, is replaced."""
    key = (workers, pickle.dumps(registrations))
    if _shared.get("key") != key:
        close_shared_pool()
        context = multiprocessing.get_context("spawn")
        _shared["pool"] = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                              initializer=_start_worker,
                                              initargs=(registrations, os.getpid()))  # fmt: skip
        _shared["key"] = key
    return _shared["pool"]


def close_shared_pool() -> None:
    """Stop this process's workers now (after an error or Ctrl-C, or at exit)."""
    pool = _shared.pop("pool", None)
    _shared.pop("key", None)
    if pool is not None:
        stop_now(pool)


atexit.register(close_shared_pool)


def stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued jobs and terminate the workers without waiting for them."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def _picklable_registrations() -> dict:
    """This process's run-time task registrations, checked to reach a worker intact."""

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


def _start_worker(registrations: dict, parent: int) -> None:
    """In each worker, before its first job: run JAX on the CPU, leave Ctrl-C to the
    parent, exit if the parent dies, and register the parent's run-time tasks.

    Workers step MuJoCo and call small policies; on a GPU machine each one would
    otherwise claim 75% of the GPU's memory (JAX's preallocation) and all but the
    first fail to start."""
    os.environ["JAX_PLATFORMS"] = "cpu"
    if "jax" in sys.modules:  # imported with the worker's modules: set it before first use
        sys.modules["jax"].config.update("jax_platforms", "cpu")

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    for name, source in registrations.items():
        register_task(source, name, overwrite=True)


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Exit this worker as soon as `parent` is gone (it is re-parented on Linux)."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def map_in_workers(function, jobs, **kwargs) -> list:
    """Like imap_in_workers, but return the results in job order."""
    results = [None] * len(jobs)
    for index, result in imap_in_workers(function, jobs, **kwargs):
        results[index] = result
    return results


def chunks(items: Sequence, size: int) -> list[Sequence]:
    """Consecutive slices of `items` of at most `size` elements."""
    return [items[start : start + size] for start in range(0, len(items), size)]
