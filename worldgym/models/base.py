"""The WorldModel contract shared by every model family.

A world model is pure functions over a parameters pytree:

    init(params, obs, key) -> carry
    step(params, carry, action, key) -> Prediction(carry, obs, success_logit,
                                                   uncertainty, termination_logit)

A state model's carry holds the observation; a latent model's carry would hold
its latent. The Gymnasium env, the imagination engine and the calibration use
only this contract, so they never know which family they hold. Functions work
on a single episode (obs [obs_dim]); batch them with jax.vmap.

A `ModelFamily` is how a kind of world model enters worldgym: its config, its
parameter initialisation, its normaliser, its training loss, how it builds a
WorldModel and what its members are. Training, model-eval, the engine, the
environments and the bench go through it; nothing else reads a family's
parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import numpy as np

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
    observation_center: Any = None
    """[obs_dim] centre of the observations the model was trained on (default 0)."""
    observation_scale: Any = None
    """[obs_dim] their spread (default 1). The divergence guard measures imagined
    observations in these units, and model-eval normalises its errors by them."""
    initial_input: Callable[[np.ndarray], Any] | None = None
    """For a model that starts from something other than the observation (a family
    that learns from frames starts from camera frames): a host function from initial
    observations [B, obs_dim] to init_fn's batched input, e.g. the task's frames of
    them. None: init_fn takes the observations."""
    decode_fn: Callable[..., Any] | None = None
    """decode(params, carry) -> the frame [H, W, 3] uint8 the model imagines, for
    families that draw frames (None for the others)."""
    action_history: int = 0
    """For a model that reads previous actions: how many. It starts at a reset with
    zeros; a start in the middle of an episode gives init_fn {"obs",
    "previous_actions" [h, action_dim]} instead (worldgym.data.frames.recorded_inputs)."""
    frame_stack: int = 0
    """For a model that starts from camera frames: how many (the current one and
    those before it, channels stacked oldest first, as the trainer gathers them), so
    that evaluation can start it from recorded frames mid-episode. 0: it does not."""

    def __post_init__(self):
        center = (
            np.zeros(self.obs_dim, np.float32)
            if self.observation_center is None
            else np.asarray(self.observation_center, np.float32)
        )
        scale = (
            np.ones(self.obs_dim, np.float32)
            if self.observation_scale is None
            else np.asarray(self.observation_scale, np.float32)
        )
        object.__setattr__(self, "observation_center", center)
        object.__setattr__(self, "observation_scale", scale)

    def init(self, obs, key=None):
        return self.init_fn(self.params, obs, key)

    def initial_inputs(self, init_obs):
        """What init_fn starts each episode from, for initial observations [B, obs_dim]:
        the observations themselves, or (see initial_input) e.g. their frames."""
        if self.initial_input is None:
            return init_obs
        return self.initial_input(np.asarray(init_obs))

    def step(self, carry, action, key) -> Prediction:
        return self.step_fn(self.params, carry, action, key)


LossFn = Callable[[Any, dict], tuple[jax.Array, dict]]
"""loss(trainable params, window) -> (scalar loss, {metric name: scalar}).

The window holds k-step training windows with a leading member axis (one
bootstrap per member): obs [m, b, obs_dim] (the start), actions [m, b, k,
action_dim], next_obs [m, b, k, obs_dim], next_success [m, b, k] and
terminations [m, b, k] (bool); in training also key (a PRNG key, for losses that
draw) and previous_actions where the family reads them; in validation
`validation: True` (a Python bool, static), for families that score held-out
windows robustly (the state ensemble caps each error at VALIDATION_CAP)."""


@runtime_checkable
class ModelFamily(Protocol):
    """A kind of world model, as `worldgym train`, the checkpoint and the engine see it."""

    name: str
    """The family's name, recorded in checkpoints (e.g. "state-ensemble")."""
    Config: type
    """A frozen dataclass of the family's settings, a docstring per field: its
    fields become options of `worldgym train`, and the config is saved in the
    checkpoint."""

    def prepare_config(self, config, task):
        """The config with task-dependent choices filled in, before training."""

    def config_from_dict(self, values: dict):
        """The config a checkpoint saved (as a dict), as a Config again."""

    def member_count(self, config) -> int:
        """Members trained side by side, each on its own bootstrap (1: a single model)."""

    def normalizer(self, config, task, observations, actions, next_observations) -> dict:
        """Fixed statistics of the training transitions (arrays), saved with the params."""

    def init_params(self, config, task, seed: int):
        """Freshly initialised trainable parameters (a pytree of arrays)."""

    def loss(self, config, task, normalizer: dict, learn_termination: bool) -> LossFn:
        """The training loss over windows (see LossFn)."""

    def build(self, config, task, params, normalizer: dict, metadata: dict) -> WorldModel:
        """The WorldModel of trained params and their normaliser."""

    def members(self, model: WorldModel) -> list[WorldModel]:
        """The model's members as models of their own, for the spread of a verdict
        across them ([model] for a family without members)."""


FAMILY_METHODS = (
    "prepare_config", "config_from_dict", "member_count", "normalizer", "init_params", "loss",
    "build", "members",
)  # fmt: skip
