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
