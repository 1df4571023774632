"""The outside suites' experts as oracles, and their graded policy sets.

Each suite task's scripted expert (policies/experts.py, a host function) becomes
the task's oracle through the same door as worldgym's own (`register_oracle`):
a JAX function whose expert part runs on the host through one
`jax.pure_callback` per step for a whole batch of episodes. So everything an
oracle brings works on the outside suites unchanged: the default behaviour
mixture (the expert with drawn faults, noisy experts, play, uniform noise),
`perturbed_policy`, and the compiled paths of both worlds.

Each task has two graded sets of the expert perturbed as a lab would (slower,
noisier, aiming beside the goal, quantised or bang-bang actions, pauses, random
jitter): `dev`, for every design choice, and `zoo` (the default set), on which
the docs report and which no choice looked at. Their members differ in value,
not in kind. They were written before any model was trained on these tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.envs.suites import fetch, metaworld
from worldgym.policies.experts import (
    fetch_push_expert,
    fetch_reach_expert,
    metaworld_expert,
)
from worldgym.policies.oracles import OracleSpec, register_oracle
from worldgym.policies.perturbed import perturbed_policy
from worldgym.policies.protocol import Policy
from worldgym.policies.sets import register_policy_set

MOTION_DIMS = 3
"""Both suites' first three actions move the hand; the fourth works the fingers."""


def host_command(expert_key: tuple) -> Callable:
    """command(obs [obs_dim], knobs) -> action [4]: the expert named by `expert_key`
    called on the host, once per step for a whole vmapped batch (the suite is
    imported on the first call, so worldgym imports without it)."""

    def on_host(observations):
        observations = np.asarray(observations)
        flat = observations.reshape(-1, observations.shape[-1])
        return _expert(expert_key)(flat).reshape(*observations.shape[:-1], 4).astype(np.float32)

    def command(obs, knobs):
        del knobs  # the suites' experts have no knobs: their faults are generic
        shape = jax.ShapeDtypeStruct((*obs.shape[:-1], 4), jnp.float32)
        return jax.pure_callback(on_host, shape, obs, vmap_method="expand_dims")

    return command


@cache
def _expert(expert_key: tuple) -> Callable:
    suite, name = expert_key
    if suite == "metaworld":
        return metaworld_expert(name)
    return {"FetchReach-v4": fetch_reach_expert, "FetchPush-v4": fetch_push_expert}[name]


def metaworld_delay(obs, latency):
    """The hand and object as they were `latency` seconds ago, from the previous
    step Meta-World puts in its observation."""
    dt = 0.0125
    positions, previous = jnp.array([0, 1, 2, 4, 5, 6]), jnp.array([18, 19, 20, 22, 23, 24])
    velocity = (obs[positions] - obs[previous]) / dt
    return obs.at[positions].add(-latency * velocity)


def fetch_delay(positions: tuple[int, ...], velocities: tuple[int, ...], obs, latency):
    """Positions as they were `latency` seconds ago, from Fetch's per-step
    displacements (its *_velp entries are velocity times dt = 0.04 s)."""
    displacement = obs[jnp.array(velocities)]
    return obs.at[jnp.array(positions)].add(-latency * displacement / 0.04)


SUITE_EXPERTS = {
    "MetaWorld-reach-v3": partial(_expert, ("metaworld", "reach-v3")),
    "MetaWorld-push-v3": partial(_expert, ("metaworld", "push-v3")),
    "FetchReach-v4": partial(_expert, ("fetch", "FetchReach-v4")),
    "FetchPush-v4": partial(_expert, ("fetch", "FetchPush-v4")),
}
"""Each suite task's expert as a host function (observations [B, d] -> actions [B, 4]),
made on first use."""

SUITE_ORACLES = {
    "MetaWorld-reach-v3": OracleSpec(
        host_command(("metaworld", "reach-v3")), {}, metaworld.GOAL, MOTION_DIMS,
        metaworld_delay, "Meta-World's scripted reach-v3 policy.", {},
        ((-0.4, 0.45, 0.05), (0.4, 0.95, 0.4)),
    ),
    "MetaWorld-push-v3": OracleSpec(
        host_command(("metaworld", "push-v3")), {}, metaworld.GOAL, MOTION_DIMS,
        metaworld_delay, "Meta-World's scripted push-v3 policy.", {},
        ((-0.25, 0.5, 0.01), (0.25, 0.95, 0.02)),
    ),
    "FetchReach-v4": OracleSpec(
        host_command(("fetch", "FetchReach-v4")), {}, fetch.DESIRED, MOTION_DIMS,
        partial(fetch_delay, (6, 7, 8), (11, 12, 13)),
        "Straight to the goal (scripted here: Gymnasium-Robotics ships no expert).", {},
        ((1.05, 0.4, 0.4), (1.55, 1.1, 0.9)),
    ),
    "FetchPush-v4": OracleSpec(
        host_command(("fetch", "FetchPush-v4")), {}, fetch.DESIRED, MOTION_DIMS,
        partial(fetch_delay, (6, 7, 8), (26, 27, 28)),
        "Line up behind the block, push it to the goal (scripted here).", {},
        ((1.1, 0.5, 0.42), (1.5, 1.0, 0.43)),
    ),
}  # fmt: skip


def graded_policy(task_name: str, name: str, description: str, **perturbation) -> Policy:
    """The task's expert with faults and an action style (see perturbation_params)."""
    return perturbed_policy(task_name, name, description, **perturbation)


def graded_set(task_name: str, split: str) -> list[Policy]:
    """The `zoo` (test) or `dev` graded set of a suite task: the expert and 11 of its
    perturbations; offsets in metres beside the goal, gains of the hand's speed."""
    p = partial(graded_policy, task_name)
    if split == "dev":
        return [
            p("dev-noisy-1.0", "Expert plus Gaussian action noise (std 1.0).", noise=1.0),
            p("dev-noisy-2.5", "Expert plus Gaussian action noise (std 2.5).", noise=2.5),
            p("dev-slow-0.35", "Expert at 35% of the hand's speed.", gain=0.35),
            p("dev-slow-0.1", "Expert at 10% of the hand's speed.", gain=0.1),
            p("dev-aims-4cm", "Aims 4 cm beside the goal.", target_bias=(0.04, 0.0, 0.0)),
            p("dev-aims-8cm", "Aims 8 cm beside the goal.", target_bias=(0.0, 0.08, 0.0)),
            p("dev-quantised-2", "Expert with hand motions rounded to halves.", levels=2.0),
            p(
                "dev-bang-bang-0.5",
                "Full speed or stop on each axis (deadband 0.5).",
                bang=1.0,
                deadband=0.5,
            ),  # fmt: skip
            p("dev-paused-0.3", "Stands still on 30% of its steps.", pause=0.3),
            p("dev-laggy", "Acts on where things were 150 ms ago.", latency=0.15),
            p("dev-jittery-0.6", "60% of its actions are uniformly random.", random_prob=0.6),
            p("dev-random", "Uniformly random actions.", random_prob=1.0),
        ]
    return [
        p("expert", SUITE_ORACLES[task_name].description),
        p("noisy-0.5", "Expert plus Gaussian action noise (std 0.5).", noise=0.5),
        p("very-noisy-1.5", "Expert plus Gaussian action noise (std 1.5).", noise=1.5),
        p("slow-0.2", "Expert at 20% of the hand's speed.", gain=0.2),
        p("aims-3cm", "Aims 3 cm beside the goal.", target_bias=(0.0, 0.03, 0.0)),
        p("aims-10cm", "Aims 10 cm beside the goal.", target_bias=(0.07, 0.07, 0.0)),
        p("quantised", "Expert with hand motions rounded to -1, 0 or 1.", levels=1.0),
        p(
            "bang-bang", "Full speed or stop on each axis (deadband 0.2).", bang=1.0, deadband=0.2
        ),  # fmt: skip
        p("paused-0.5", "Stands still on half of its steps.", pause=0.5),
        p("jittery-0.3", "30% of its actions are uniformly random.", random_prob=0.3),
        p("frozen", "Never moves.", gain=0.0),
        p("random", "Uniformly random actions.", random_prob=1.0),
    ]


for _task_name, _spec in SUITE_ORACLES.items():
    register_oracle(_task_name, _spec)
    register_policy_set(_task_name, "zoo", partial(graded_set, _task_name, "zoo"))
    register_policy_set(_task_name, "dev", partial(graded_set, _task_name, "dev"))
