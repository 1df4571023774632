"""The lab's task: Gymnasium's Reacher-v5, judged by the lab's own rule."""

import jax.numpy as jnp
import numpy as np

from worldgym import adapt_gym_env

SUCCESS_RADIUS = 0.03
"""The lab counts a reach as done when the fingertip ends within 3 cm of the target."""


def fingertip_near_target(obs):
    """Reacher-v5's last two observation entries are fingertip minus target (x, y)."""
    return jnp.linalg.norm(obs[..., 8:10], axis=-1) < SUCCESS_RADIUS


def reward(obs, action, next_obs):
    """Reacher-v5's own reward, in jax.numpy: distance to the target plus effort."""
    return -jnp.linalg.norm(next_obs[..., 8:10], axis=-1) - jnp.sum(jnp.square(action), axis=-1)


def draw_state(model, data, obs):
    """Write the state an observation describes into MuJoCo, so it can be drawn."""
    data.qpos[:2] = np.arctan2(obs[2:4], obs[0:2])
    data.qpos[2:4] = obs[4:6]
    data.qvel[:2] = obs[6:8]
    data.qvel[2:4] = 0.0


NAMES = (
    "cos_shoulder", "cos_elbow", "sin_shoulder", "sin_elbow", "target_x", "target_y",
    "shoulder_velocity", "elbow_velocity", "fingertip_to_target_x", "fingertip_to_target_y",
)  # fmt: skip
CAMERA = {"lookat": (0.0, 0.0, 0.0), "distance": 0.75, "elevation": -90.0, "azimuth": 90.0}
"""Straight down on the arm."""


def reacher_task():
    """The task, made on demand (worldgym calls this zero-argument factory)."""
    return adapt_gym_env(
        "Reacher-v5",
        name="LabReacher",
        success_fn=fingertip_near_target,
        reward_fn=reward,
        apply_observation=draw_state,
        camera=CAMERA,
        observation_names=NAMES,
        description="The lab's two-link reacher: fingertip within 3 cm of the target at the end.",
    )
