"""Environments made once per process and reset by seed, never rebuilt per episode.

Making an environment can cost far more than running an episode in it (a
Meta-World environment takes about 0.6 s to build, 400 of its steps take 0.15 s),
so everything that runs real episodes borrows environments from this pool and
gives them back: collection, the real runner, a host policy's probe, the initial
observations of imagination. An environment lent out is never lent twice at
once, so nested borrowers (a runner whose policy probes the task) get their own.
Every episode starts with reset(seed=...), which worldgym's adapters make depend
on the seed alone (envs/adapters.py SeededReset), so an episode's data does not
depend on which environment ran it or what ran there before (tested).
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium

from worldgym.envs.task import Task

_idle: dict[tuple, list[gymnasium.Env]] = {}
_owners: dict[tuple, Task] = {}
_build_seconds: dict[tuple, float] = {}  # keeps each key's task alive, so its id is not reused


def _key(task: Task, kwargs: dict[str, Any]) -> tuple:
    return (task.name, task.env_id, id(task), tuple(sorted(kwargs.items(), key=str)))


@contextmanager
def borrowed_envs(task: Task, count: int, **make_kwargs: Any) -> Iterator[list[gymnasium.Env]]:
    """`count` environments of `task` made with `make_kwargs` (render_mode, width,
    height), from this process's pool where it has them; given back on exit."""
    key = _key(task, make_kwargs)
    idle = _idle.setdefault(key, [])
    _owners[key] = task
    envs = [idle.pop() if idle else _timed_make(task, make_kwargs) for _ in range(count)]
    try:
        yield envs
    except BaseException:  # an episode failed midway: its environments are not reused
        for env in envs:
            _close(env)
        raise
    idle.extend(envs)


@contextmanager
def borrowed_env(task: Task, **make_kwargs: Any) -> Iterator[gymnasium.Env]:
    """One environment of `task` from the pool (see borrowed_envs)."""
    with borrowed_envs(task, 1, **make_kwargs) as envs:
        yield envs[0]


def _timed_make(task: Task, make_kwargs: dict) -> gymnasium.Env:
    start = time.perf_counter()
    env = task.make_env(**make_kwargs)
    _build_seconds.setdefault((task.name, task.env_id), time.perf_counter() - start)
    return env


def build_seconds(task: Task) -> float:
    """Seconds the first environment of `task` took to build in this process (0 if
    none was built yet): runners choose how many to build from it."""
    return _build_seconds.get((task.name, task.env_id), 0.0)


def pooled_count() -> int:
    """Environments this process holds idle (for tests and the bench)."""
    return sum(len(envs) for envs in _idle.values())


def close_pooled_envs() -> None:
    """Close every idle environment of this process (at exit, or to free memory)."""
    for envs in _idle.values():
        for env in envs:
            _close(env)
    _idle.clear()
    _owners.clear()


def _close(env: gymnasium.Env) -> None:
    try:
        env.close()
    except Exception:  # a user's environment failing to close must not stop the caller
        pass


atexit.register(close_pooled_envs)
