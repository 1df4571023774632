"""Finding a policy by name: a zoo policy, or a user's `module:attribute`.

Whatever a spec names, the result is a worldgym Policy: JAX policies as they are
(the compiled path), anything else (a plain callable, a predict() object, a torch
module) wrapped to run batched on the host (`worldgym.policies.host`). Each is
checked on real observations of the task before use, so a broken policy is one
sentence here, not a traceback later.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from worldgym.envs import get_task
from worldgym.envs.pool import borrowed_env
from worldgym.policies.host import host_policy
from worldgym.policies.protocol import Policy, as_actor
from worldgym.policies.sets import find_policy, set_names
from worldgym.policies.zoo import zoo
from worldgym.specs import first_line, import_attribute, is_attribute_spec


def policy_names(task_name) -> list[str]:
    """Names of the zoo policies of a task, in zoo order (none for a task without a zoo)."""
    return [policy.name for policy in zoo(get_task(task_name).name)]


def check_action_shape(task, policy: Policy, name: str) -> None:
    """Run a JAX policy on one real observation (its camera frame, for a policy that
    looks at pixels); fail in one sentence if it errs or returns an action of the
    wrong shape."""
    if policy.frame_size is not None:
        height, width = policy.frame_size
        with borrowed_env(task, render_mode="rgb_array", width=width, height=height) as env:
            env.reset(seed=0)
            obs = env.render()
    else:
        with borrowed_env(task) as env:
            obs, _ = env.reset(seed=0)
    actor = as_actor(policy, name)
    actor.reset(0)
    try:
        action = np.asarray(actor(obs))
    except Exception as error:  # a user's code: report it, whatever it raised
        raise ValueError(
            f"Policy {name!r} failed on an observation of shape {obs.shape}: "
            f"{type(error).__name__}: {first_line(error)}"
        ) from None
    if action.shape != task.action_space.shape:
        raise ValueError(
            f"Policy {name!r} returned an action of shape {action.shape}, but task "
            f"{task.name} expects shape {task.action_space.shape}."
        )


def _description(value: Any) -> str:
    """The first line of a user object's docstring (its own, else its class's)."""
    doc = getattr(value, "__doc__", None) or ""
    lines = [line.strip() for line in doc.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def load_policy(task_name, spec: str) -> Policy:
    """The zoo policy called `spec`, or the policy at `module:attribute`.

    A `module:attribute` may be a worldgym Policy, a callable obs -> action, an
    object with predict(obs, deterministic=True), or a torch module; it is
    checked on real observations of the task before use.
    """
    task = get_task(task_name)
    if is_attribute_spec(spec):
        value = import_attribute(spec, "policy")
        if isinstance(value, Policy):
            policy = replace(value, name=spec)
            if policy.host is None:  # a host policy was checked when it was made
                check_action_shape(task, policy, spec)
            return policy
        return host_policy(value, spec, task, _description(value))
    policy = find_policy(task.name, spec)
    if policy is not None:
        return policy
    names = policy_names(task.name)
    sets = set_names(task.name)
    known = (f"known policies are {', '.join(names)} (sets: {', '.join(sets)}), or give"
             if names else f"{task.name} has no policy zoo: give")  # fmt: skip
    raise ValueError(f"Unknown policy {spec!r} for task {task.name}; {known} module:attribute.")
