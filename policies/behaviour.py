"""Behaviour policies: what collects the training data of world models.

They are kept apart from the zoo, so a world model is never graded on the
policies that produced its data (unless the user asks, with include_zoo). They
are chosen to cover the states the zoo visits: uniform random actions (the far
corners of the action space), the oracle with several levels of action noise
(the states near success), and the oracle with *randomly drawn* faults — a new
draw per episode of gain, noise, jitter, target bias, latency and the task's own
knobs, over ranges that bracket the zoo's fixed faults without repeating them.
"""

from __future__ import annotations

import numpy as np

from policies.oracles import ORACLE_SPECS
from policies.perturbed import perturbation_params, perturbed_act
from policies.protocol import Policy

NOISE_LEVELS = (0.1, 0.3, 0.6)
"""Action-noise standard deviations of the noisy-oracle behaviours."""

DEFAULT_MIXTURE = {
    "random": 0.15,
    **{f"noisy-oracle-{level}": 0.1 for level in NOISE_LEVELS},
    "perturbed-oracle": 0.55,
}
"""Probability of each behaviour per episode."""

FAULT_PROBABILITY = 0.35
"""Chance that each fault is switched on in a perturbed-oracle episode."""

KNOB_RANGES = {
    "Reach": {"elbow_flip": (0.0, 1.0), "damping": (0.0, 1.5)},
    "Push": {"push_angle": (-1.0, 1.0), "contact_offset": (-0.025, 0.025)},
    "PickPlace": {"grasp_height": (-0.005, 0.03), "release_distance": (0.02, 0.2)},
}
"""Uniform ranges the task knobs are drawn from (elbow_flip is rounded to 0/1)."""


def draw_perturbation(task_name: str, rng: np.random.Generator) -> dict:
    """Random faults for one perturbed-oracle episode (each on with FAULT_PROBABILITY)."""
    on = lambda: rng.uniform() < FAULT_PROBABILITY  # noqa: E731
    goal_dim = len(range(*ORACLE_SPECS[task_name].goal.indices(10_000)))
    faults = {
        "gain": rng.uniform(0.15, 1.2) if on() else 1.0,
        "noise": rng.uniform(0.0, 0.8) if on() else 0.0,
        "random_prob": rng.uniform(0.0, 0.5) if on() else 0.0,
        "latency": rng.uniform(0.0, 0.3) if on() else 0.0,
        "target_bias": rng.normal(0.0, 0.03, goal_dim) if on() else np.zeros(goal_dim),
    }
    for knob, (low, high) in KNOB_RANGES[task_name].items():
        if on():
            value = rng.uniform(low, high)
            faults[knob] = float(round(value)) if knob == "elbow_flip" else value
    return faults


def behaviour_policy(task_name: str, name: str, perturbation: dict | None = None) -> Policy:
    """The behaviour policy `name` ("random", "noisy-oracle-0.3", "perturbed-oracle").

    perturbed-oracle needs the `perturbation` drawn for its episode.
    """
    if name == "random":
        params = perturbation_params(task_name, random_prob=1.0)
    elif name.startswith("noisy-oracle-"):
        params = perturbation_params(task_name, noise=float(name.removeprefix("noisy-oracle-")))
    elif name == "perturbed-oracle":
        params = perturbation_params(task_name, **(perturbation or {}))
    else:
        raise ValueError(
            f"Unknown behaviour policy {name!r}; known ones are {', '.join(DEFAULT_MIXTURE)}."
        )
    return Policy(name, perturbed_act(task_name), params, "behaviour policy")
