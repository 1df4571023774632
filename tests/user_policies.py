"""Policies a user might write, loaded by tests through module:attribute."""

import numpy as np

from worldgym.policies.perturbed import oracle


def push_towards_goal(obs):
    """A plain callable: move the pusher straight at the goal."""
    return np.clip(10 * (obs[11:13] - obs[0:2]), -1, 1)


def wrong_shape(obs):
    return np.zeros(5)


def crashes(obs):
    raise RuntimeError("out of coffee")


class PredictModel:
    """Stable-Baselines3 style: predict returns (action, state)."""

    def predict(self, obs, deterministic=True):
        return np.zeros(2, np.float32), None


predict_model = PredictModel()
push_oracle = oracle("Push")
not_a_policy = 42


def _pixels_32():
    """A CNN looking at 32x32 camera frames (random weights, scaled so frames matter)."""
    import jax

    from worldgym.policies.pixels import init_cnn, pixel_policy

    params = init_cnn(jax.random.key(0), (32, 32), 2)
    params["dense"][-1]["w"] = params["dense"][-1]["w"] * 300.0
    return pixel_policy("pixels-32", params, (32, 32), "A random CNN on 32x32 frames.")


reach_pixels_32 = _pixels_32()
