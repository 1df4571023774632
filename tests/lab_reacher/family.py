"""The lab's own world-model family: a deterministic one-hidden-layer MLP in plain JAX.

It enters worldgym only through the ModelFamily door (`--family
lab_reacher.family:family`), and uses neither Flax nor an ensemble: the door
asks for a config, parameters, a normaliser, a loss, a way to build a
WorldModel, and its members (here just itself).
"""

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from worldgym.models import Prediction, WorldModel


@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 64
    """Width of the MLP's one hidden layer."""


def _stats(values):
    return values.mean(0).astype(np.float32), np.maximum(values.std(0), 1e-6).astype(np.float32)


def _forward(network, normalizer, obs, action):
    """(normalised change of obs [..., d], success logit [...])."""
    x = jnp.concatenate([(obs - normalizer["obs_mean"]) / normalizer["obs_std"], action], -1)
    hidden = jnp.tanh(x @ network["w1"] + network["b1"])
    out = hidden @ network["w2"] + network["b2"]
    return out[..., :-1], out[..., -1]


class DeterministicMLP:
    name = "lab-deterministic-mlp"
    Config = MLPConfig

    def prepare_config(self, config, task):
        return config

    def config_from_dict(self, values):
        return MLPConfig(**values)

    def member_count(self, config):
        return 1

    def normalizer(self, config, task, observations, actions, next_observations):
        obs_mean, obs_std = _stats(observations)
        delta_mean, delta_std = _stats(next_observations - observations)
        return {"obs_mean": obs_mean, "obs_std": obs_std, "delta_mean": delta_mean,
                "delta_std": delta_std}  # fmt: skip

    def init_params(self, config, task, seed):
        inputs, outputs = task.obs_dim + task.action_dim, task.obs_dim + 1
        first, second = jax.random.split(jax.random.key(seed))
        return {
            "w1": np.asarray(jax.random.normal(first, (inputs, config.hidden)) / inputs**0.5),
            "b1": np.zeros(config.hidden, np.float32),
            "w2": np.asarray(jax.random.normal(second, (config.hidden, outputs)) * 0.01),
            "b2": np.zeros(outputs, np.float32),
        }

    def loss(self, config, task, normalizer, learn_termination):
        norm = jax.tree_util.tree_map(jnp.asarray, normalizer)

        def loss(network, window):  # the one-step loss on each window's first step
            obs, action = window["obs"], window["actions"][..., 0, :]
            change, logit = _forward(network, norm, obs, action)
            target = (window["next_obs"][..., 0, :] - obs - norm["delta_mean"]) / norm["delta_std"]
            mse = jnp.mean(jnp.square(change - target))
            success = window["next_success"][..., 0].astype(jnp.float32)
            bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logit, success))
            return mse + bce, {"mse": mse, "success_bce": bce}

        return loss

    def build(self, config, task, params, normalizer, metadata):
        def init(params, obs, key=None):
            return jnp.asarray(obs, jnp.float32)

        def step(params, carry, action, key):
            norm = params["normalizer"]
            change, logit = _forward(params["network"], norm, carry, action)
            next_obs = carry + norm["delta_mean"] + norm["delta_std"] * change
            return Prediction(next_obs, next_obs, logit, jnp.float32(0.0), jnp.float32(-10.0))

        return WorldModel(
            self.name, {"network": params, "normalizer": normalizer}, init, step, task.obs_dim,
            task.action_dim, asdict(config), metadata, normalizer["obs_mean"],
            normalizer["obs_std"],
        )  # fmt: skip

    def members(self, model):
        return [model]


family = DeterministicMLP()
