"""The lab's policies: one controller written three ways, a gentler one, an explorer.

The controller is Jacobian-transpose PD control of the fingertip towards the
target. `pd_numpy` (a plain callable), `pd_predict` (a Stable-Baselines3-style
object) and `pd_jax` (a worldgym Policy) compute the same actions, so worldgym
must give them the same outcomes from the same seeds. `explorer` is what the lab
logs data with: the controller drowned in action noise, so the data covers the
arm's whole workspace without being any of the policies the lab evaluates.
"""

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.policies import Policy

LINKS = (0.1, 0.11)
"""Upper arm and forearm (to the fingertip) lengths of Reacher-v5, metres."""
GAINS = {"position": 100.0, "velocity": 0.1}


def _torques(xp, obs, position_gain, velocity_gain):
    """PD torques in the array namespace xp (numpy or jax.numpy), one observation."""
    c1, c2, s1, s2 = obs[0], obs[1], obs[2], obs[3]
    c12, s12 = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2
    ex, ey = -obs[8], -obs[9]  # fingertip to target
    j11, j12 = -LINKS[0] * s1 - LINKS[1] * s12, -LINKS[1] * s12
    j21, j22 = LINKS[0] * c1 + LINKS[1] * c12, LINKS[1] * c12
    torque = xp.stack([j11 * ex + j21 * ey, j12 * ex + j22 * ey])
    return xp.clip(position_gain * torque - velocity_gain * obs[6:8], -1.0, 1.0)


def pd_numpy(obs):
    """PD control of the fingertip, as a plain numpy callable."""
    obs = np.asarray(obs, np.float32)
    return _torques(np, obs, np.float32(GAINS["position"]), np.float32(GAINS["velocity"]))


def bang_bang(obs):
    """The controller's torques quantised to -0.4, 0 or +0.4: a different kind of policy."""
    torque = pd_numpy(obs)
    return (0.4 * np.sign(torque) * (np.abs(torque) > 0.1)).astype(np.float32)


class PDPredict:
    """PD control of the fingertip, as an object with Stable-Baselines3's predict()."""

    def predict(self, observation, deterministic=True):
        observation = np.asarray(observation, np.float32)
        if observation.ndim == 1:
            return pd_numpy(observation), None
        return np.stack([pd_numpy(row) for row in observation]), None


def _pd_act(params, obs, key):
    del key
    return _torques(jnp, obs, params["position"], params["velocity"])


pd_predict = PDPredict()
pd_jax = Policy(
    "pd-jax", _pd_act,
    {"position": np.float32(GAINS["position"]), "velocity": np.float32(GAINS["velocity"])},
    "PD control of the fingertip, in JAX.",
)  # fmt: skip
gentle_jax = Policy(
    "gentle-jax", _pd_act, {"position": np.float32(20.0), "velocity": np.float32(0.05)},
    "PD control with a fifth of the gain: slow to settle.",
)  # fmt: skip


def _explore_act(params, obs, key):
    pd = _torques(jnp, obs, params["position"], params["velocity"])
    return jnp.clip(pd + params["noise"] * jax.random.normal(key, pd.shape), -1.0, 1.0)


explorer = Policy(
    "explorer", _explore_act,
    {"position": np.float32(60.0), "velocity": np.float32(0.1), "noise": np.float32(0.6)},
    "PD control plus Gaussian action noise of std 0.6: the lab's data logger.",
)  # fmt: skip


def wrong_shape(obs):
    """A broken policy: three torques for a two-joint arm."""
    return np.zeros(3, np.float32)


class BreaksLater:
    """Fine on the observations it is checked on, then three torques for a two-joint
    arm: a policy that goes wrong only once it runs (inside imagination)."""

    def __init__(self, good_calls: int):
        self.calls, self.good_calls = 0, good_calls

    def __call__(self, obs):
        self.calls += 1
        return np.zeros(2 if self.calls <= self.good_calls else 3, np.float32)


breaks_later = BreaksLater(good_calls=12)
