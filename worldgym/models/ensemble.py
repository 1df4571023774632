"""Probabilistic ensemble of MLPs over the flat observation and action (PETS).

Each member predicts a Gaussian over the normalised change of the observation
(mean and a log-variance softly bounded by learned limits, as in Chua et al.
2018), a success logit for the next observation, and a termination logit. The
members' weights are stacked along a leading axis and evaluated in one einsum,
never a Python loop over members.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from worldgym.envs import get_task
from worldgym.envs.registry import task_spec
from worldgym.models.base import SAMPLING_MODES, Prediction, WorldModel

NAME = "state-ensemble"


@dataclass(frozen=True)
class EnsembleConfig:
    members: int = 5
    """Ensemble members, each trained on its own bootstrap of the data."""
    hidden: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of each member's MLP."""
    min_log_variance: float = -10.0
    """Initial lower soft bound of the predicted log-variance (learned)."""
    max_log_variance: float = 0.5
    """Initial upper soft bound of the predicted log-variance (learned)."""
    sampling: str = "mean"
    """How members make one prediction: mean, ts1 or ts1-noise (see SAMPLING_MODES)."""
    nll_beta: float = 0.5
    """beta of the beta-NLL loss (Seitzer et al. 2022): each sample's Gaussian NLL is
    weighted by its predicted variance**beta (no gradient through the weight). 0 is
    the plain NLL, which lets hard samples be explained away as noise; 1 fits the
    mean like MSE."""
    features: str = "task"
    """Extra network inputs (PETS-style preprocessing): "task" feeds the task's
    model_features when it has them (resolved to the task's spec at training),
    "none" feeds only the observation and the action."""
    prior: str = "none"
    """Known part of the change (PETS-style target processing): "task" adds the task's
    model_prior where it has one (resolved to the task's spec at training) and the
    network predicts only the rest; "none" predicts the whole change. Off by default:
    on PickPlace it fixed quantised control but cost the zoo and hovering (docs: World models)."""
    dynamics_inputs: str = "changing"
    """"changing": observation entries that never change within an episode of the
    training data (goals, unused slots, task ids) are no input of the dynamics, and
    their predicted change is exactly zero; they still inform the success head. The
    data's policies aim at the goal, so a dynamics network that sees it learns "the
    hand moves towards the goal" instead of "the hand moves as commanded" (docs: World models).
    "all": every entry is an input (worldgym 0.2)."""
    success_from: str = "next"
    """"next": success and termination logits come from a head reading the next
    observation (the real one in training, the predicted one in imagination), since
    success is a property of the observation, as the task's predicate is. "transition":
    from the dynamics network's output for (observation, action) (worldgym 0.2)."""
    success_hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of each member's success head (success_from="next")."""
    whiten: bool = False
    """Whiten the observation inputs (ZCA over the entries that change) instead of
    scaling each entry alone: observations often hold near-copies (a previous frame,
    an object's position given twice or relative to the hand), whose small
    differences (a velocity) an MLP cannot read precisely from inputs scaled by
    their large common spread."""
    action_history: int = 3
    """Previous actions the dynamics also read (the model's carry keeps them; zeros
    at a reset). Robots have state no observation shows: a mocap target or a
    position controller lagging behind its commands, a motor's current. On
    Meta-World reach the share of the hand's one-step change a linear fit leaves
    unexplained falls from 3.3 per cent (observation and action) to 1.2, 0.8 and
    0.7 per cent with one, two and three previous actions (docs: "The world
    model"); without
    them the model's hand crawls under slow commands it follows in reality."""
    input_noise: float = 0.0
    """Standard deviation, in units of each entry's one-step change, of Gaussian noise
    added to the observation the model steps from in training (the target stays the
    true next observation), as learned simulators do (Sanchez-Gonzalez et al. 2020):
    imagination steps from its own slightly wrong predictions, and a model trained
    only on clean states lets such errors grow."""
    linear_skip: bool = True
    """Add a linear map of the inputs to each member's predicted change (wide and
    deep): much of a robot's motion is proportional to its command, which a linear
    path carries exactly where the MLP alone would have to learn it anew in every
    region of its inputs."""
    uncertainty_units: str = "observation"
    """Units of the members' disagreement: "observation" (the spread of their predicted
    next observations over the observation's own spread, the units model-eval
    measures errors in), or "delta" (over the spread of one-step changes, which makes
    an object that rarely moves dominate it; worldgym 0.2)."""

    def __post_init__(self):
        if self.dynamics_inputs not in ("changing", "all"):
            raise ValueError("dynamics_inputs is 'changing' or 'all', got "
                             f"{self.dynamics_inputs!r}.")  # fmt: skip
        if self.uncertainty_units not in ("observation", "delta"):
            raise ValueError("uncertainty_units is 'observation' or 'delta', got "
                             f"{self.uncertainty_units!r}.")  # fmt: skip
        if self.success_from not in ("next", "transition"):
            raise ValueError(f"success_from is 'next' or 'transition', got {self.success_from!r}.")
        if self.sampling not in SAMPLING_MODES:
            modes = ", ".join(SAMPLING_MODES)
            raise ValueError(f"Unknown sampling mode {self.sampling!r}; choose one of {modes}.")
        if self.members < 1 or not self.hidden:
            raise ValueError("An ensemble needs at least one member and one hidden layer.")


VALIDATION_CAP = 10.0
"""In the validation loss (which picks the epoch kept and stops training early), a
step's error on an entry counts at most this many standard deviations (the data's
one-step spread for the squared error, the model's own for the likelihood).
Robots have rare events no model predicts from one step — an object knocked
over, a quaternion's sign flipping as it turns (Meta-World reach: changes of up
to 200 standard deviations in 0.1% of steps) — and a plain mean lets the few that
land in the held-out episodes decide which epoch is kept: Meta-World reach's
validation loss rose from epoch 2 while training went on improving, and training
stopped at epoch 8 with the epoch-2 model. Training's own loss is not capped."""


def feature_function(config: EnsembleConfig):
    """The (obs, action) -> features function named by config.features, or None."""
    if config.features == "none":
        return None
    if config.features == "task":
        raise ValueError(
            'features="task" must be resolved to a task name first (see resolve_features).'
        )

    return get_task(config.features).model_features


def resolve_features(config: EnsembleConfig, task) -> EnsembleConfig:
    """Replace features="task" and prior="task" by the task's spec, or "none" where
    the task has no features or prior."""

    if config.features == "task":
        config = replace(config, features=task_spec(task) if task.model_features else "none")
    if config.prior == "task":
        config = replace(config, prior=task_spec(task) if task.model_prior else "none")
    return config


def prior_function(config: EnsembleConfig):
    """The (obs, action) -> known change named by config.prior, or None."""
    if config.prior == "none":
        return None
    if config.prior == "task":
        raise ValueError('prior="task" must be resolved to a task first (see resolve_features).')

    return get_task(config.prior).model_prior


def feature_count(obs_dim: int, action_dim: int, config: EnsembleConfig) -> int:
    function = feature_function(config)
    if function is None:
        return 0
    shape = jax.eval_shape(
        function, jnp.zeros(obs_dim, jnp.float32), jnp.zeros(action_dim, jnp.float32)
    ).shape
    return int(shape[-1])


def network_inputs(norm: dict, obs, action, features, history=None):
    """Normalised observation, action, the previous actions `history` [..., h, a]
    (oldest first) and (normalised) features, concatenated; the entries that never
    change within an episode are zeroed when the normaliser has a "static" mask
    (dynamics_inputs="changing")."""
    normalised = (obs - norm["obs_mean"]) / norm["obs_std"]
    if "static" in norm:
        normalised = normalised * (1.0 - norm["static"])
    if "whiten" in norm:  # a matrix on the standardised entries
        normalised = normalised @ norm["whiten"]
    parts = [normalised, action]
    if history is not None and history.shape[-2] > 0:
        parts.append(history.reshape(*history.shape[:-2], -1))
    if features is not None:
        parts.append((features(obs, action) - norm["feature_mean"]) / norm["feature_std"])
    return jnp.concatenate(parts, axis=-1)


class StackedLinear(nnx.Module):
    """One dense layer per member, weights stacked: [members, in, out]."""

    def __init__(self, members: int, features_in: int, features_out: int, rngs: nnx.Rngs):
        scale = 1.0 / np.sqrt(features_in)
        shape = (members, features_in, features_out)
        self.kernel = nnx.Param(scale * jax.random.truncated_normal(rngs.params(), -2, 2, shape))
        self.bias = nnx.Param(jnp.zeros((members, features_out)))

    def __call__(self, x):  # x [members, batch, in]
        return jnp.einsum("mbi,mio->mbo", x, self.kernel[...]) + self.bias[...][:, None]


def _stacked_mlp(members: int, sizes: tuple[int, ...], rngs: nnx.Rngs):
    return nnx.List([StackedLinear(members, a, b, rngs)
                     for a, b in zip(sizes[:-1], sizes[1:], strict=False)])  # fmt: skip


class EnsembleNetwork(nnx.Module):
    """Maps (normalised obs, action) to each member's Gaussian and logits; with
    success_from="next", the logits come from a second small network per member that
    reads the normalised next observation (`outcome`)."""

    def __init__(self, obs_dim: int, action_dim: int, config: EnsembleConfig, rngs: nnx.Rngs):
        inputs = (obs_dim + action_dim * (1 + config.action_history)
                  + feature_count(obs_dim, action_dim, config))  # fmt: skip
        sizes = (inputs, *config.hidden)
        self.hidden = _stacked_mlp(config.members, sizes, rngs)
        joint = config.success_from == "transition"
        self.head = StackedLinear(config.members, sizes[-1], 2 * obs_dim + 2 * joint, rngs)
        if config.linear_skip:
            self.skip = StackedLinear(config.members, sizes[0], obs_dim, rngs)
        if not joint:
            outcome_sizes = (obs_dim, *config.success_hidden)
            self.outcome_hidden = _stacked_mlp(config.members, outcome_sizes, rngs)
            self.outcome_head = StackedLinear(config.members, outcome_sizes[-1], 2, rngs)
        self.max_log_variance = nnx.Param(jnp.full(obs_dim, config.max_log_variance, jnp.float32))
        self.min_log_variance = nnx.Param(jnp.full(obs_dim, config.min_log_variance, jnp.float32))
        self.obs_dim = obs_dim
        self.joint = joint

    def __call__(self, x):
        """x [members, batch, inputs] (see network_inputs) -> mean, log_variance
        [members, batch, obs_dim], and for success_from="transition" the success and
        termination logits [members, batch] (else None, None: see `outcome`)."""
        inputs = x
        for layer in self.hidden:
            x = jax.nn.silu(layer(x))
        out = self.head(x)
        mean, raw = out[..., : self.obs_dim], out[..., self.obs_dim : 2 * self.obs_dim]
        if hasattr(self, "skip"):
            mean = mean + self.skip(inputs)
        upper, lower = self.max_log_variance[...], self.min_log_variance[...]
        log_variance = upper - jax.nn.softplus(upper - raw)
        log_variance = lower + jax.nn.softplus(log_variance - lower)
        if self.joint:
            return mean, log_variance, out[..., -2], out[..., -1]
        return mean, log_variance, None, None

    def outcome(self, next_obs):
        """next_obs [members, batch, obs_dim] normalised -> success and termination
        logits [members, batch] of that observation."""
        x = next_obs
        for layer in self.outcome_hidden:
            x = jax.nn.silu(layer(x))
        out = self.outcome_head(x)
        return out[..., 0], out[..., 1]


def network_graph(obs_dim: int, action_dim: int, config: EnsembleConfig):
    """The static graph of the network (no weights allocated)."""
    abstract = nnx.eval_shape(lambda: EnsembleNetwork(obs_dim, action_dim, config, nnx.Rngs(0)))
    graph, state = nnx.split(abstract)
    return graph, state


def init_network_params(obs_dim: int, action_dim: int, config: EnsembleConfig, seed: int):
    """Freshly initialised network weights as a plain nested dict."""
    network = EnsembleNetwork(obs_dim, action_dim, config, nnx.Rngs(seed))
    return nnx.to_pure_dict(nnx.state(network))


def make_forward(obs_dim: int, action_dim: int, config: EnsembleConfig, method: str = "__call__"):
    """forward(network_params, inputs [m, b, ...]) as a pure function: the network's
    dynamics (`__call__`) or its success head (`outcome`)."""
    graph, abstract_state = network_graph(obs_dim, action_dim, config)

    def forward(network_params, inputs):
        state = jax.tree_util.tree_map(lambda x: x, abstract_state)
        nnx.replace_by_pure_dict(state, network_params)
        return getattr(nnx.merge(graph, state), method)(inputs)

    return forward


def make_outcome(obs_dim: int, action_dim: int, config: EnsembleConfig):
    """outcome(network_params, norm, next_obs [m, b, obs_dim]) -> success and termination
    logits [m, b], from the success head (success_from="next")."""
    head = make_forward(obs_dim, action_dim, config, "outcome")

    def outcome(network_params, norm, next_obs):
        return head(network_params, (next_obs - norm["obs_mean"]) / norm["obs_std"])

    return outcome


def normalizer_from_data(observations, actions, next_observations, config: EnsembleConfig) -> dict:
    """Mean and std of observations, of their one-step changes and of the features;
    with dynamics_inputs="changing", also the mask of entries that never change
    (`static`). An entry that never varies at all (an unused slot) gets the scale 1:
    it has none of its own, and a floor of 1e-6 would make the rounding of a float
    look like a large step to everything that measures in these units."""
    floor = 1e-6

    def stats(values):
        mean = np.asarray(values.mean(0), np.float32)
        return mean, np.asarray(np.maximum(values.std(0), floor), np.float32)

    prior = prior_function(config)
    known = 0.0 if prior is None else np.asarray(jax.jit(prior)(observations, actions))
    delta = next_observations - observations - known
    statistics = {"obs": observations, "delta": delta}
    features = feature_function(config)
    if features is not None:  # Orbax cannot save empty arrays: no entry without features
        statistics["feature"] = np.asarray(jax.jit(features)(observations, actions))
    normalizer = {
        f"{name}_{kind}": array
        for name, data in statistics.items()
        for kind, array in zip(("mean", "std"), stats(data), strict=True)
    }
    if config.dynamics_inputs == "changing":
        static = np.all(delta == 0.0, axis=0)
        normalizer["static"] = static.astype(np.float32)
        constant = static & np.all(observations == observations[:1], axis=0)
        normalizer["obs_std"] = np.where(constant, 1.0, normalizer["obs_std"]).astype(np.float32)
    if config.whiten:
        standardised = (observations - normalizer["obs_mean"]) / normalizer["obs_std"]
        if "static" in normalizer:
            standardised = standardised * (1.0 - normalizer["static"])
        normalizer["whiten"] = whitening_matrix(standardised)
    return normalizer


WHITEN_FLOOR = 1e-5
"""Directions of the standardised observation with less variance than this share of
the largest are scaled as if they had this much: exact copies and unused entries
have none, and float32 rounding must not be blown up into a signal."""


def whitening_matrix(standardised: np.ndarray) -> np.ndarray:
    """ZCA whitening [d, d] of standardised observations [N, d] (float64 maths): the
    symmetric matrix that gives them unit covariance, so near-copies of an entry
    become their difference and their mean, each of unit spread."""
    covariance = np.cov(np.asarray(standardised, np.float64), rowvar=False)
    values, vectors = np.linalg.eigh(np.atleast_2d(covariance))
    values = np.maximum(values, WHITEN_FLOOR * max(values.max(), 1e-12))
    return ((vectors / np.sqrt(values)) @ vectors.T).astype(np.float32)


def make_world_model(params: dict, obs_dim: int, action_dim: int, config: EnsembleConfig,
                     metadata: dict | None = None) -> WorldModel:  # fmt: skip
    """The WorldModel of an ensemble with `params` = {"network": ..., "normalizer": ...}."""
    forward = make_forward(obs_dim, action_dim, config)
    outcome = make_outcome(obs_dim, action_dim, config) if config.success_from == "next" else None
    features = feature_function(config)
    prior = prior_function(config)
    members = config.members

    def init(params, start, key=None):
        """start: the observation (previous actions zero, as at a reset), or
        {"obs", "previous_actions" [h, a]} for a start in the middle of an episode."""
        member = jnp.int32(0) if key is None else jax.random.randint(key, (), 0, members)
        if isinstance(start, dict):
            obs, history = start["obs"], start["previous_actions"]
        else:
            obs, history = start, jnp.zeros((config.action_history, action_dim))
        return {"obs": jnp.asarray(obs, jnp.float32), "member": member,
                "history": jnp.asarray(history, jnp.float32)}  # fmt: skip

    def step(params, carry, action, key) -> Prediction:
        norm = params["normalizer"]
        obs, history = carry["obs"], carry["history"]
        action = jnp.asarray(action, jnp.float32)
        inputs = network_inputs(norm, obs, action, features, history)
        inputs = jnp.broadcast_to(inputs, (members, 1, inputs.shape[-1]))
        mean, log_variance, success, termination = forward(params["network"], inputs)
        mean, log_variance = mean[:, 0], log_variance[:, 0]  # [members, obs_dim]
        chosen = carry["member"]
        delta = mean.mean(0) if config.sampling == "mean" else mean[chosen]
        if config.sampling == "ts1-noise":
            noise = jax.random.normal(key, delta.shape)
            delta = delta + jnp.exp(0.5 * log_variance[chosen]) * noise
        base = obs if prior is None else obs + prior(obs, jnp.asarray(action, jnp.float32))
        next_obs = base + norm["delta_mean"] + norm["delta_std"] * delta
        changing = 1.0 - norm["static"] if "static" in norm else jnp.ones(obs_dim)
        next_obs = jnp.where(changing > 0, next_obs, obs)  # never-changing entries stay
        if outcome is not None:  # logits of the observation the model predicts
            shown = jnp.broadcast_to(next_obs, (members, 1, obs_dim))
            success, termination = outcome(params["network"], norm, shown)
        success, termination = success[:, 0], termination[:, 0]  # [members]
        if config.sampling == "mean":
            success_logit, termination_logit = success.mean(), termination.mean()
        else:
            success_logit, termination_logit = success[chosen], termination[chosen]
        spread = jnp.std(mean, axis=0)  # disagreement on the change, in its normalised units
        if config.uncertainty_units == "observation":
            spread = spread * norm["delta_std"] / norm["obs_std"]
        uncertainty = jnp.sum(spread * changing) / jnp.maximum(jnp.sum(changing), 1.0)
        history = (
            jnp.concatenate([history[1:], action[None]])[-config.action_history :]
            if config.action_history
            else history
        )
        return Prediction(
            {"obs": next_obs, "member": chosen, "history": history}, next_obs, success_logit,
            uncertainty,
            termination_logit,
        )  # fmt: skip

    return WorldModel(
        NAME, params, init, step, obs_dim, action_dim, asdict(config), metadata or {},
        params["normalizer"]["obs_mean"], params["normalizer"]["obs_std"],
        action_history=config.action_history,
    )  # fmt: skip


def member_models(model: WorldModel) -> list[WorldModel]:
    """One single-member model per ensemble member (their shared step function means
    rolling them out one after another compiles once)."""
    members = config_from_dict(model.config).members
    config = replace(config_from_dict(model.config), members=1, sampling="mean")
    network = model.params["network"]
    single = make_world_model(model.params, model.obs_dim, model.action_dim, config,
                              model.metadata)  # fmt: skip

    def member_params(index):
        def take(path, leaf):
            stacked = any(getattr(key, "key", None) in ("kernel", "bias") for key in path)
            return leaf[index : index + 1] if stacked else leaf

        return jax.tree_util.tree_map_with_path(take, network)

    normalizer = model.params["normalizer"]
    return [
        replace(single, params={"network": member_params(i), "normalizer": normalizer})
        for i in range(members)
    ]


# --- training loss --------------------------------------------------------------------
def make_loss(obs_dim: int, action_dim: int, config: EnsembleConfig, normalizer: dict,
              learn_termination: bool):  # fmt: skip
    """loss(network_params, window) for k-step open-loop windows.

    window: obs [m, b, d] (start), actions [m, b, k, a], next_obs [m, b, k, d],
    next_success [m, b, k], terminations [m, b, k]. Each member predicts from its
    own previous mean prediction (k = 1 is the ordinary one-step loss); the target
    is the true next observation expressed as a normalised change from the
    predicted current one. Returns (loss, metrics).
    """
    forward = make_forward(obs_dim, action_dim, config)
    outcome = make_outcome(obs_dim, action_dim, config) if config.success_from == "next" else None
    features = feature_function(config)
    prior = prior_function(config)
    norm = jax.tree_util.tree_map(jnp.asarray, normalizer)
    # the never-changing entries are copied, not predicted: no loss on them
    changing = 1.0 - norm["static"] if "static" in norm else jnp.ones(obs_dim)
    changing_share = jnp.maximum(changing.sum(), 1.0) / obs_dim

    def loss(network_params, window):
        validating = bool(window.get("validation", False))  # static: set inside the jit
        key = window.get("key")
        if key is not None and config.input_noise > 0:  # training, not validation
            noise = jax.random.normal(key, window["obs"].shape)
            window = {**window, "obs": window["obs"] + config.input_noise * noise
                      * norm["delta_std"] * changing}  # fmt: skip

        def one_step(state, inputs):
            obs, history = state
            action, next_obs, next_success, terminated = inputs
            inputs = network_inputs(norm, obs, action, features, history)
            mean, log_variance, success, termination = forward(network_params, inputs)
            base = obs if prior is None else obs + prior(obs, action)
            target = (next_obs - base - norm["delta_mean"]) / norm["delta_std"]
            weight = jax.lax.stop_gradient(jnp.exp(config.nll_beta * log_variance))
            squared = jnp.square(target - mean)
            standardised = squared * jnp.exp(-log_variance)
            if validating:  # model selection: a few unpredictable events must not decide it
                squared = jnp.minimum(squared, VALIDATION_CAP**2)
                standardised = jnp.minimum(standardised, VALIDATION_CAP**2)
            nll = 0.5 * jnp.mean(changing * weight * (standardised + log_variance)
                                 ) / changing_share  # fmt: skip
            mse = jnp.mean(changing * squared) / changing_share
            if outcome is not None:  # the success head reads the real next observation
                success, termination = outcome(network_params, norm, next_obs)
            bce = jnp.mean(optax.sigmoid_binary_cross_entropy(success, next_success))
            bce_term = jnp.mean(optax.sigmoid_binary_cross_entropy(termination, terminated))
            predicted = base + norm["delta_mean"] + norm["delta_std"] * mean
            predicted = jnp.where(changing > 0, predicted, obs)
            history = (
                jnp.concatenate([history[..., 1:, :], action[..., None, :]], axis=-2)
                if config.action_history
                else history
            )
            return (predicted, history), (nll, mse, bce, bce_term)

        steps = (
            jnp.moveaxis(window["actions"], 2, 0),
            jnp.moveaxis(window["next_obs"], 2, 0),
            jnp.moveaxis(window["next_success"], 2, 0).astype(jnp.float32),
            jnp.moveaxis(window["terminations"], 2, 0).astype(jnp.float32),
        )
        history = window.get("previous_actions")
        if history is None:  # [m, b, h, a]: zeros when the loop gave none
            history = jnp.zeros((*window["obs"].shape[:-1], config.action_history, action_dim))
        _, (nll, mse, bce, bce_term) = jax.lax.scan(one_step, (window["obs"], history), steps)
        bounds = network_params["max_log_variance"].sum() - network_params["min_log_variance"].sum()
        total = nll.mean() + bce.mean() + 0.01 * bounds
        if learn_termination:
            total = total + bce_term.mean()
        return total, {"nll": nll.mean(), "mse": mse.mean(), "success_bce": bce.mean()}

    return loss


LEGACY_DEFAULTS = {"prior": "none", "dynamics_inputs": "all", "success_from": "transition",
                   "uncertainty_units": "delta", "whiten": False, "linear_skip": False,
                   "input_noise": 0.0, "action_history": 0}  # fmt: skip
"""What a checkpoint saved before each setting existed was trained with."""


def config_from_dict(values: dict) -> EnsembleConfig:
    """A saved config (checkpoints of worldgym 0.2 had none of the later settings)."""
    values = {**LEGACY_DEFAULTS, **values, "hidden": tuple(values["hidden"])}
    if "success_hidden" in values:
        values["success_hidden"] = tuple(values["success_hidden"])
    return EnsembleConfig(**values)


def like_params(obs_dim: int, action_dim: int, config: EnsembleConfig) -> dict:
    """Zeros shaped like {"network": ..., "normalizer": ...} of this configuration."""
    _, abstract_state = network_graph(obs_dim, action_dim, config)
    network = jax.tree_util.tree_map(
        lambda x: np.zeros(x.shape, x.dtype), nnx.to_pure_dict(abstract_state)
    )
    sizes = {"obs": obs_dim, "delta": obs_dim}  # the prior changes values, not shapes
    if feature_function(config) is not None:
        sizes["feature"] = feature_count(obs_dim, action_dim, config)
    normalizer = {
        f"{name}_{kind}": np.zeros(size, np.float32)
        for name, size in sizes.items()
        for kind in ("mean", "std")
    }
    if config.dynamics_inputs == "changing":
        normalizer["static"] = np.zeros(obs_dim, np.float32)
    if config.whiten:
        normalizer["whiten"] = np.zeros((obs_dim, obs_dim), np.float32)
    return {"network": network, "normalizer": normalizer}


class StateEnsemble:
    """The state-ensemble family (PETS) behind the ModelFamily door.

    Stateless: every method is a pure function of its arguments; the class only
    groups them under one name.
    """

    name = NAME
    Config = EnsembleConfig

    def prepare_config(self, config: EnsembleConfig, task) -> EnsembleConfig:
        return resolve_features(config, task)

    def config_from_dict(self, values: dict) -> EnsembleConfig:
        return config_from_dict(values)

    def member_count(self, config: EnsembleConfig) -> int:
        return config.members

    def normalizer(self, config, task, observations, actions, next_observations) -> dict:
        return normalizer_from_data(observations, actions, next_observations, config)

    def init_params(self, config: EnsembleConfig, task, seed: int):
        return init_network_params(task.obs_dim, task.action_dim, config, seed)

    def loss(self, config, task, normalizer: dict, learn_termination: bool):
        return make_loss(task.obs_dim, task.action_dim, config, normalizer, learn_termination)

    def build(self, config, task, params, normalizer: dict, metadata: dict) -> WorldModel:
        return make_world_model({"network": params, "normalizer": normalizer}, task.obs_dim,
                                task.action_dim, config, metadata)  # fmt: skip

    def members(self, model: WorldModel) -> list[WorldModel]:
        return member_models(model)

    def action_history(self, config: EnsembleConfig) -> int:
        """Previous actions each training window must carry (see gather_windows)."""
        return config.action_history

    def like_params(self, config: EnsembleConfig, task) -> dict:
        """Zeros shaped like the saved {"network", "normalizer"} (restores keep the
        network's integer layer keys, which a target-free restore would not)."""
        return like_params(task.obs_dim, task.action_dim, config)


FAMILY = StateEnsemble()
