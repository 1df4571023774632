"""Finding a policy by name: a zoo policy, or a user's `module:attribute`."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from envs import get_task
from policies.protocol import Policy, as_actor
from policies.zoo import zoo


def policy_names(task_name: str) -> list[str]:
    """Names of the zoo policies of a task, in zoo order."""
    return [policy.name for policy in zoo(get_task(task_name).name)]


def _import_attribute(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"Cannot import module {module_name!r} of policy {spec!r}: {error}.") \
            from None  # fmt: skip
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"Module {module_name!r} has no attribute {attribute!r}.") from None


def check_action_shape(task_name: str, policy: Any, name: str) -> None:
    """Run the policy on one real observation; fail in one sentence if it errs or
    returns an action of the wrong shape."""
    task = get_task(task_name)
    obs, _ = task.make_env().reset(seed=0)
    actor = as_actor(policy, name)
    actor.reset(0)
    try:
        action = np.asarray(actor(obs))
    except Exception as error:  # a user's code: report it, whatever it raised
        raise ValueError(
            f"Policy {name!r} failed on an observation of shape {obs.shape}: "
            f"{type(error).__name__}: {error}."
        ) from None
    if action.shape != task.action_space.shape:
        raise ValueError(
            f"Policy {name!r} returned an action of shape {action.shape}, but task "
            f"{task.name} expects shape {task.action_space.shape}."
        )


def load_policy(task_name: str, spec: str) -> Policy | Any:
    """The zoo policy called `spec`, or the object at `module:attribute`.

    A `module:attribute` may be a worldgym Policy, a callable obs -> action, or an
    object with predict(obs, deterministic=True); it is checked on one real
    observation of the task before use.
    """
    task = get_task(task_name)
    if ":" in spec:
        policy = _import_attribute(spec)
        if isinstance(policy, Policy):
            policy = Policy(spec, policy.act, policy.params, policy.description)
        as_actor(policy, spec)  # rejects objects that are no policy at all
        check_action_shape(task.name, policy, spec)
        return policy
    for policy in zoo(task.name):
        if policy.name == spec:
            return policy
    raise ValueError(
        f"Unknown policy {spec!r} for task {task.name}; known policies are "
        f"{', '.join(policy_names(task.name))}, or give module:attribute."
    )
