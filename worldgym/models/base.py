"""The WorldModel contract shared by every model family.

A world model is pure functions over a parameters pytree:

    init(params, obs, key) -> carry
    step(params, carry, action, key) -> Prediction(carry, obs, success_logit,
                                                   uncertainty, termination_logit)

A state model's carry holds the observation; a latent model's carry would hold
its latent. The Gymnasium env, the imagination engine and the calibration use
only this contract, so they never know which family they hold. Functions work
on a single episode (obs [obs_dim]); batch them with jax.vmap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax

SAMPLING_MODES = ("mean", "ts1", "ts1-noise")
"""How a probabilistic ensemble turns its members into one next observation:
mean: the mean of the members' predicted means;
ts1: one member per episode, drawn at init (trajectory sampling, PETS);
ts1-noise: that member's mean plus a sample of its predicted Gaussian noise."""


class Prediction(NamedTuple):
    """One imagined step."""

    carry: Any
    """The model's state for the next step."""
    obs: jax.Array
    """Predicted next observation [obs_dim]."""
    success_logit: jax.Array
    """Logit of the success of the predicted observation (learned success head)."""
    uncertainty: jax.Array
    """Ensemble disagreement of the prediction, in normalised units (scalar)."""
    termination_logit: jax.Array
    """Logit of the episode terminating at this step (learned termination head)."""


@dataclass(frozen=True)
class WorldModel:
    """A world model: its parameters and the pure functions that use them.

    `init_fn` and `step_fn` take the parameters explicitly so that jitted code can
    receive them as arguments (new parameters, no recompilation).
    """

    family: str
    params: Any
    init_fn: Callable[..., Any]
    step_fn: Callable[..., Prediction]
    obs_dim: int
    action_dim: int
    config: dict = field(default_factory=dict)
    """The model config (JSON-serialisable) that built this model."""
    metadata: dict = field(default_factory=dict)
    """Checkpoint metadata: task, spaces, provenance."""

    def init(self, obs, key=None):
        return self.init_fn(self.params, obs, key)

    def step(self, carry, action, key) -> Prediction:
        return self.step_fn(self.params, carry, action, key)
