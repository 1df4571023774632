"""The oracle with known faults: one act function, many parameter sets.

Every scripted zoo policy and behaviour policy of a task is `perturbed_act`
with different parameters, so they share one pytree structure and a whole
group can be stacked and vmapped in a single compiled rollout. The faults are
of different kinds: slow or weak control (gain), action noise, random jitter,
a biased target, perception latency, the task's own knobs (a flipped elbow,
an off-centre push, a mistimed grasp, an early release), and the style of the
actions (quantised, bang-bang, pausing).
"""

from __future__ import annotations

from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.policies.oracles import OracleSpec, require_oracle
from worldgym.policies.protocol import Policy

STYLE = {"levels": np.float32(0.0), "bang": np.float32(0.0), "deadband": np.float32(0.0),
         "pause": np.float32(0.0)}  # fmt: skip
"""Action style, off by default: quantise the motion to `levels` steps per unit (0:
off); bang-bang (1: each motion entry becomes +-1 beyond `deadband`, else 0);
`pause`: chance per step of no motion at all (the grip, where there is one, held)."""


def shape_action(action, params, key, motion_dims: int):
    """Apply the action style (STYLE's entries of `params`) to the first
    `motion_dims` entries of `action` (the motion)."""
    motion = action[:motion_dims]
    levels = params["levels"]
    quantised = jnp.where(levels > 0, jnp.round(motion * levels) / jnp.maximum(levels, 1.0),
                          motion)  # fmt: skip
    bang = jnp.where(jnp.abs(motion) > params["deadband"], jnp.sign(motion), 0.0)
    motion = jnp.where(params["bang"] > 0, bang, quantised)
    paused = jax.random.uniform(key) < params["pause"]
    motion = jnp.where(paused, 0.0, motion)
    return jnp.clip(action.at[:motion_dims].set(motion), -1.0, 1.0)


def perturbation_params(
    task_name: str,
    gain: float = 1.0,
    noise: float = 0.0,
    random_prob: float = 0.0,
    latency: float = 0.0,
    target_bias=None,
    levels: float = 0.0,
    bang: float = 0.0,
    deadband: float = 0.0,
    pause: float = 0.0,
    **knobs: float,
) -> dict:
    """The parameter pytree of `perturbed_act` (float32 leaves, fixed structure).

    gain: scales the motion part of the action (0 freezes the robot).
    noise: standard deviation of Gaussian noise added to each action entry.
    random_prob: probability, each step, of a uniform random action instead.
    latency: seconds by which the perceived positions lag the true ones.
    target_bias: offset added to the goal the controller aims at.
    levels, bang, deadband, pause: the action style (see STYLE), applied last.
    knobs: the task's own faults (see OracleSpec.default_knobs).
    """
    spec = require_oracle(task_name)
    unknown = set(knobs) - set(spec.default_knobs)
    if unknown:
        raise ValueError(
            f"Unknown knob(s) {sorted(unknown)} for {task_name}; "
            f"its knobs are {sorted(spec.default_knobs)}."
        )
    goal_dim = len(range(*spec.goal.indices(10_000)))
    bias = np.zeros(goal_dim) if target_bias is None else np.asarray(target_bias)
    f32 = np.float32
    return {
        "gain": f32(gain),
        "noise": f32(noise),
        "random_prob": f32(random_prob),
        "latency": f32(latency),
        "target_bias": bias.astype(f32),
        "style": {
            "levels": f32(levels),
            "bang": f32(bang),
            "deadband": f32(deadband),
            "pause": f32(pause),
        },  # fmt: skip
        "knobs": {name: f32(knobs.get(name, value)) for name, value in spec.default_knobs.items()},
    }


@cache
def perturbed_act(task_name: str):
    """The act function shared by all perturbed policies of a task (one object per
    task, so jit caches compile it once)."""
    spec: OracleSpec = require_oracle(task_name)

    def act(params, obs, key):
        seen = spec.delay(jnp.asarray(obs), params["latency"])
        seen = seen.at[spec.goal].add(params["target_bias"])
        action = spec.command(seen, params["knobs"])
        motion = jnp.arange(action.shape[0]) < spec.motion_dims
        action = jnp.where(motion, params["gain"] * action, action)
        noise_key, random_key, choice_key = jax.random.split(key, 3)
        action = action + params["noise"] * jax.random.normal(noise_key, action.shape)
        random_action = jax.random.uniform(random_key, action.shape, minval=-1.0, maxval=1.0)
        take_random = jax.random.uniform(choice_key) < params["random_prob"]
        action = jnp.clip(jnp.where(take_random, random_action, action), -1.0, 1.0)
        # the style draws from its own stream: the faults above keep the keys they had
        return shape_action(action, params["style"], jax.random.fold_in(key, 7),
                            spec.motion_dims)  # fmt: skip

    return act


def perturbed_policy(task_name: str, name: str, description: str, **perturbation) -> Policy:
    """A named perturbed oracle of a task."""
    return Policy(
        name, perturbed_act(task_name), perturbation_params(task_name, **perturbation), description
    )


def oracle(task_name: str) -> Policy:
    """The unperturbed oracle of a task."""
    return perturbed_policy(task_name, "oracle", require_oracle(task_name).description)


def expert_labels(expert, observations) -> np.ndarray:
    """The expert's actions on recorded observations [N, obs_dim] (its randomness from
    key 0): the labels behaviour cloning learns (scripts/train_bc.py, train_pixel_bc.py)."""
    keys = jax.random.split(jax.random.key(0), len(observations))
    return np.asarray(jax.vmap(expert.act, in_axes=(None, 0, 0))(expert.params, observations, keys))
