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
    on PickPlace it fixed quantised control but cost the zoo and hovering (README)."""

    def __post_init__(self):
        if self.sampling not in SAMPLING_MODES:
            modes = ", ".join(SAMPLING_MODES)
            raise ValueError(f"Unknown sampling mode {self.sampling!r}; choose one of {modes}.")
        if self.members < 1 or not self.hidden:
            raise ValueError("An ensemble needs at least one member and one hidden layer.")


def feature_function(config: EnsembleConfig):
    """The (obs, action) -> features function named by config.features, or None."""
    if config.features == "none":
        return None
    if config.features == "task":
        raise ValueError(
            'features="task" must be resolved to a task name first (see resolve_features).'
        )
    from worldgym.envs import get_task

    return get_task(config.features).model_features


def resolve_features(config: EnsembleConfig, task) -> EnsembleConfig:
    """Replace features="task" and prior="task" by the task's spec, or "none" where
    the task has no features or prior."""
    from worldgym.envs.registry import task_spec

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
    from worldgym.envs import get_task

    return get_task(config.prior).model_prior


def feature_count(obs_dim: int, action_dim: int, config: EnsembleConfig) -> int:
    function = feature_function(config)
    if function is None:
        return 0
    shape = jax.eval_shape(
        function, jnp.zeros(obs_dim, jnp.float32), jnp.zeros(action_dim, jnp.float32)
    ).shape
    return int(shape[-1])


def network_inputs(norm: dict, obs, action, features):
    """Normalised observation, action and (normalised) features, concatenated."""
    parts = [(obs - norm["obs_mean"]) / norm["obs_std"], action]
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


class EnsembleNetwork(nnx.Module):
    """Maps (normalised obs, action) to each member's Gaussian and logits."""

    def __init__(self, obs_dim: int, action_dim: int, config: EnsembleConfig, rngs: nnx.Rngs):
        sizes = (obs_dim + action_dim + feature_count(obs_dim, action_dim, config), *config.hidden)
        self.hidden = nnx.List(
            [
                StackedLinear(config.members, a, b, rngs)
                for a, b in zip(sizes[:-1], sizes[1:], strict=False)
            ]
        )
        self.head = StackedLinear(config.members, sizes[-1], 2 * obs_dim + 2, rngs)
        self.max_log_variance = nnx.Param(jnp.full(obs_dim, config.max_log_variance, jnp.float32))
        self.min_log_variance = nnx.Param(jnp.full(obs_dim, config.min_log_variance, jnp.float32))
        self.obs_dim = obs_dim

    def __call__(self, x):
        """x [members, batch, inputs] (see network_inputs)
        -> mean, log_variance [members, batch, obs_dim], success, termination logits."""
        for layer in self.hidden:
            x = jax.nn.silu(layer(x))
        out = self.head(x)
        mean, raw = out[..., : self.obs_dim], out[..., self.obs_dim : 2 * self.obs_dim]
        upper, lower = self.max_log_variance[...], self.min_log_variance[...]
        log_variance = upper - jax.nn.softplus(upper - raw)
        log_variance = lower + jax.nn.softplus(log_variance - lower)
        return mean, log_variance, out[..., -2], out[..., -1]


def network_graph(obs_dim: int, action_dim: int, config: EnsembleConfig):
    """The static graph of the network (no weights allocated)."""
    abstract = nnx.eval_shape(lambda: EnsembleNetwork(obs_dim, action_dim, config, nnx.Rngs(0)))
    graph, state = nnx.split(abstract)
    return graph, state


def init_network_params(obs_dim: int, action_dim: int, config: EnsembleConfig, seed: int):
    """Freshly initialised network weights as a plain nested dict."""
    network = EnsembleNetwork(obs_dim, action_dim, config, nnx.Rngs(seed))
    return nnx.to_pure_dict(nnx.state(network))


def make_forward(obs_dim: int, action_dim: int, config: EnsembleConfig):
    """forward(network_params, inputs [m, b, inputs]) as a pure function."""
    graph, abstract_state = network_graph(obs_dim, action_dim, config)

    def forward(network_params, inputs):
        state = jax.tree_util.tree_map(lambda x: x, abstract_state)
        nnx.replace_by_pure_dict(state, network_params)
        return nnx.merge(graph, state)(inputs)

    return forward


def normalizer_from_data(observations, actions, next_observations, config: EnsembleConfig) -> dict:
    """Mean and std of observations, of their one-step changes and of the features."""
    floor = 1e-6

    def stats(values):
        mean = np.asarray(values.mean(0), np.float32)
        return mean, np.asarray(np.maximum(values.std(0), floor), np.float32)

    prior = prior_function(config)
    known = 0.0 if prior is None else np.asarray(jax.jit(prior)(observations, actions))
    statistics = {"obs": observations, "delta": next_observations - observations - known}
    features = feature_function(config)
    if features is not None:  # Orbax cannot save empty arrays: no entry without features
        statistics["feature"] = np.asarray(jax.jit(features)(observations, actions))
    return {
        f"{name}_{kind}": array
        for name, data in statistics.items()
        for kind, array in zip(("mean", "std"), stats(data), strict=True)
    }


def make_world_model(params: dict, obs_dim: int, action_dim: int, config: EnsembleConfig,
                     metadata: dict | None = None) -> WorldModel:  # fmt: skip
    """The WorldModel of an ensemble with `params` = {"network": ..., "normalizer": ...}."""
    forward = make_forward(obs_dim, action_dim, config)
    features = feature_function(config)
    prior = prior_function(config)
    members = config.members

    def init(params, obs, key=None):
        member = jnp.int32(0) if key is None else jax.random.randint(key, (), 0, members)
        return {"obs": jnp.asarray(obs, jnp.float32), "member": member}

    def step(params, carry, action, key) -> Prediction:
        norm = params["normalizer"]
        obs = carry["obs"]
        inputs = network_inputs(norm, obs, jnp.asarray(action, jnp.float32), features)
        inputs = jnp.broadcast_to(inputs, (members, 1, inputs.shape[-1]))
        mean, log_variance, success, termination = forward(params["network"], inputs)
        mean, log_variance = mean[:, 0], log_variance[:, 0]  # [members, obs_dim]
        success, termination = success[:, 0], termination[:, 0]  # [members]
        chosen = carry["member"]
        if config.sampling == "mean":
            delta = mean.mean(0)
            success_logit, termination_logit = success.mean(), termination.mean()
        else:
            delta = mean[chosen]
            if config.sampling == "ts1-noise":
                noise = jax.random.normal(key, delta.shape)
                delta = delta + jnp.exp(0.5 * log_variance[chosen]) * noise
            success_logit, termination_logit = success[chosen], termination[chosen]
        base = obs if prior is None else obs + prior(obs, jnp.asarray(action, jnp.float32))
        next_obs = base + norm["delta_mean"] + norm["delta_std"] * delta
        uncertainty = jnp.mean(jnp.std(mean, axis=0))  # disagreement, normalised units
        return Prediction(
            {"obs": next_obs, "member": chosen}, next_obs, success_logit, uncertainty,
            termination_logit,
        )  # fmt: skip

    return WorldModel(
        NAME, params, init, step, obs_dim, action_dim, asdict(config), metadata or {},
        params["normalizer"]["obs_mean"], params["normalizer"]["obs_std"],
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
    features = feature_function(config)
    prior = prior_function(config)
    norm = jax.tree_util.tree_map(jnp.asarray, normalizer)

    def loss(network_params, window):
        def one_step(obs, inputs):
            action, next_obs, next_success, terminated = inputs
            inputs = network_inputs(norm, obs, action, features)
            mean, log_variance, success, termination = forward(network_params, inputs)
            base = obs if prior is None else obs + prior(obs, action)
            target = (next_obs - base - norm["delta_mean"]) / norm["delta_std"]
            weight = jax.lax.stop_gradient(jnp.exp(config.nll_beta * log_variance))
            nll = 0.5 * jnp.mean(
                weight * (jnp.square(target - mean) * jnp.exp(-log_variance) + log_variance)
            )
            mse = jnp.mean(jnp.square(target - mean))
            bce = jnp.mean(optax.sigmoid_binary_cross_entropy(success, next_success))
            bce_term = jnp.mean(optax.sigmoid_binary_cross_entropy(termination, terminated))
            predicted = base + norm["delta_mean"] + norm["delta_std"] * mean
            return predicted, (nll, mse, bce, bce_term)

        steps = (
            jnp.moveaxis(window["actions"], 2, 0),
            jnp.moveaxis(window["next_obs"], 2, 0),
            jnp.moveaxis(window["next_success"], 2, 0).astype(jnp.float32),
            jnp.moveaxis(window["terminations"], 2, 0).astype(jnp.float32),
        )
        _, (nll, mse, bce, bce_term) = jax.lax.scan(one_step, window["obs"], steps)
        bounds = network_params["max_log_variance"].sum() - network_params["min_log_variance"].sum()
        total = nll.mean() + bce.mean() + 0.01 * bounds
        if learn_termination:
            total = total + bce_term.mean()
        return total, {"nll": nll.mean(), "mse": mse.mean(), "success_bce": bce.mean()}

    return loss


def config_from_dict(values: dict) -> EnsembleConfig:
    """A saved config (checkpoints from before priors existed had none)."""
    return EnsembleConfig(**{"prior": "none", **values, "hidden": tuple(values["hidden"])})


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

    def like_params(self, config: EnsembleConfig, task) -> dict:
        """Zeros shaped like the saved {"network", "normalizer"} (restores keep the
        network's integer layer keys, which a target-free restore would not)."""
        return like_params(task.obs_dim, task.action_dim, config)


FAMILY = StateEnsemble()
