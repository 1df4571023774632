"""Policies: the protocol, the oracle of each task, and the policies every task has."""

from __future__ import annotations

import jax

from envs import get_task
from policies.oracles import ORACLES
from policies.protocol import NumpyPolicy, Policy


def random_policy(action_dim: int) -> Policy:
    """Uniform random actions in [-1, 1]^action_dim."""

    def act(params, obs, key):
        del params, obs
        return jax.random.uniform(key, (action_dim,), minval=-1.0, maxval=1.0)

    return Policy("random", act, None, "Uniform random actions.")


def get_policy(task_name: str, name: str) -> Policy:
    """A policy of a task by name ("oracle" or "random")."""
    task = get_task(task_name)
    if name == "random":
        return random_policy(task.action_dim)
    if name == "oracle" and task.name in ORACLES:
        return ORACLES[task.name]
    known = ["random"] + (["oracle"] if task.name in ORACLES else [])
    raise ValueError(
        f"Unknown policy {name!r} for task {task.name!r}; known policies are {', '.join(known)}."
    )


__all__ = ["NumpyPolicy", "Policy", "get_policy", "random_policy", "ORACLES"]
