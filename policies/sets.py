"""Named policy sets per task: the graded `zoo`, the `novel` set, a user's own.

A set is a name a user can give wherever worldgym takes policies (`--policies
novel`); its policies are then found by their own names too, in any process
(worker processes load policies by name). A task needs no set at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from worldgym.policies.protocol import Policy

DEFAULT_SET = "zoo"
"""The set evaluated when no policies are named."""

_builders: dict[tuple[str, str], Callable[[], Sequence[Policy]]] = {}


def register_policy_set(task_name: str, set_name: str,
                        build: Callable[[], Sequence[Policy]]) -> None:  # fmt: skip
    """Give task `task_name` the policy set `set_name`: `build()` returns its policies
    (called once, lazily). Policy names must be unique across a task's sets."""
    if not set_name or ":" in set_name or "/" in set_name:
        raise ValueError(f"A policy set name must be a plain word, got {set_name!r}.")
    _builders[(task_name, set_name)] = build
    policy_set.cache_clear()


def set_names(task_name: str) -> tuple[str, ...]:
    return tuple(name for task, name in _builders if task == task_name)


@cache
def policy_set(task_name: str, set_name: str) -> tuple[Policy, ...]:
    """The policies of one set of a task (empty if the task has no such set)."""
    build = _builders.get((task_name, set_name))
    policies = tuple(build()) if build else ()
    names = [policy.name for policy in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"Policy set {set_name!r} of {task_name} names a policy twice.")
    return policies


def find_policy(task_name: str, name: str) -> Policy | None:
    """The policy called `name` in any set of the task, or None."""
    for set_name in set_names(task_name):
        for policy in policy_set(task_name, set_name):
            if policy.name == name:
                return policy
    return None


def expand_sets(task_name: str, names: Sequence[str]) -> tuple[str, ...]:
    """Policy names with every set name replaced by its policies' names, in order."""
    expanded: list[str] = []
    for name in names:
        members = policy_set(task_name, name) if name in set_names(task_name) else ()
        if members:
            expanded.extend(policy.name for policy in members)
        else:
            expanded.append(name)
    return tuple(expanded)
