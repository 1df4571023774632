"""Push: a cylindrical end effector pushes a block to a goal on the table.

Contact-rich: the block only moves when the pusher drives it, and it turns when
pushed off-centre. Success is judged at the final step (the block must rest at
the goal when time runs out).
"""

from __future__ import annotations

import gymnasium
import jax.numpy as jnp
import numpy as np

from worldgym.envs.mujoco_task_env import MujocoTaskEnv
from worldgym.envs.task import Task

SUCCESS_RADIUS = 0.04
"""Metres between block centre and goal that count as placed."""
MAX_SPEED = 0.4
"""Pusher speed in m/s commanded by an action of magnitude 1 (per axis)."""
BLOCK_HALF_SIZE = 0.025
PUSHER_RADIUS = 0.015
BLOCK_HEIGHT = 0.025

OBSERVATION_NAMES = (
    "pusher_x", "pusher_y", "pusher_velocity_x", "pusher_velocity_y",
    "block_x", "block_y", "cos_block_yaw", "sin_block_yaw",
    "block_velocity_x", "block_velocity_y", "block_yaw_rate",
    "goal_x", "goal_y",
)  # fmt: skip
PUSHER = slice(0, 2)
BLOCK = slice(4, 6)
GOAL = slice(11, 13)


def success(obs, xp=jnp):
    """Block centre within SUCCESS_RADIUS of the goal. obs [..., 13] -> bool [...]."""
    return xp.linalg.norm(obs[..., BLOCK] - obs[..., GOAL], axis=-1) < SUCCESS_RADIUS


def reward(obs, action, next_obs, xp=jnp):
    """Negative block-goal distance, half the pusher-block distance, +1 on success."""
    block_to_goal = xp.linalg.norm(next_obs[..., BLOCK] - next_obs[..., GOAL], axis=-1)
    pusher_to_block = xp.linalg.norm(next_obs[..., PUSHER] - next_obs[..., BLOCK], axis=-1)
    return -block_to_goal - 0.5 * pusher_to_block + success(next_obs, xp).astype(xp.float32)


def _to_block_frame(vector, cos_yaw, sin_yaw):
    """Rotate world-frame xy vectors [..., 2] into the block's frame."""
    x, y = vector[..., 0], vector[..., 1]
    return jnp.stack([cos_yaw * x + sin_yaw * y, -sin_yaw * x + cos_yaw * y], axis=-1)


def model_features(obs, action):
    """The contact geometry, in the block's frame: where the pusher is and how it
    (and the block) move relative to the block's faces, and the gap between
    pusher and block. Whether and where the pusher strikes the block decides the
    block's motion, and it is a product of positions with cos/sin of the yaw,
    which a small MLP approximates poorly from world-frame inputs.
    """
    cos_yaw, sin_yaw = obs[..., 6], obs[..., 7]
    relative = _to_block_frame(obs[..., PUSHER] - obs[..., BLOCK], cos_yaw, sin_yaw)
    outside = jnp.abs(relative) - BLOCK_HALF_SIZE
    squared = jnp.sum(jnp.square(jnp.maximum(outside, 0.0)), axis=-1)
    # sqrt has no derivative at 0; the k-step loss differentiates through predicted
    # observations, so take the root only where it is positive (value unchanged).
    distance = jnp.where(squared > 0, jnp.sqrt(jnp.where(squared > 0, squared, 1.0)), 0.0)
    gap = distance + jnp.minimum(jnp.max(outside, axis=-1), 0.0) - PUSHER_RADIUS
    return jnp.concatenate(
        [
            relative,
            _to_block_frame(obs[..., 2:4], cos_yaw, sin_yaw),
            _to_block_frame(MAX_SPEED * action, cos_yaw, sin_yaw),
            _to_block_frame(obs[..., 8:10], cos_yaw, sin_yaw),
            gap[..., None],
        ],
        axis=-1,
    )


def _sample_point(rng, half_width, center=None, radius_range=None, avoid=None, min_gap=0.0):
    """A uniform point in the square [-half_width, half_width]^2, optionally at a
    distance in radius_range from center and at least min_gap from avoid."""
    while True:
        if center is None:
            point = rng.uniform(-half_width, half_width, size=2)
        else:
            radius, angle = rng.uniform(*radius_range), rng.uniform(-np.pi, np.pi)
            point = center + radius * np.array([np.cos(angle), np.sin(angle)])
        inside = np.all(np.abs(point) <= half_width)
        clear = avoid is None or np.linalg.norm(point - avoid) >= min_gap
        if inside and clear:
            return point


class PushEnv(MujocoTaskEnv):
    """Push a block to a random goal with a velocity-controlled pusher."""

    ASSET = "push.xml"

    @staticmethod
    def sample_initial_state(model, data, rng):
        block = _sample_point(rng, 0.15)
        goal = _sample_point(rng, 0.22, center=block, radius_range=(0.1, 0.25))
        pusher = _sample_point(rng, 0.25, avoid=block, min_gap=0.08)
        data.qpos[:] = [*pusher, *block, rng.uniform(-np.pi, np.pi)]
        data.mocap_pos[0, :2] = goal

    @staticmethod
    def controls_from_action(action):
        return MAX_SPEED * action

    @staticmethod
    def read_observation(model, data):
        yaw = data.qpos[4]
        return np.concatenate(
            [data.qpos[:2], data.qvel[:2], data.qpos[2:4], [np.cos(yaw), np.sin(yaw)],
             data.qvel[2:5], data.mocap_pos[0, :2]]
        ).astype(np.float32)  # fmt: skip

    @staticmethod
    def apply_observation(model, data, obs):
        data.qpos[:] = [obs[0], obs[1], obs[4], obs[5], np.arctan2(obs[7], obs[6])]
        data.qvel[:] = [obs[2], obs[3], obs[8], obs[9], obs[10]]
        data.mocap_pos[0, :2] = obs[11:13]


TASK = Task(
    name="Push",
    spec="Push",
    env_id="worldgym/Push-v0",
    horizon=80,
    observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (13,), np.float32),
    action_space=gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32),
    success_fn=success,
    reward_fn=reward,
    terminate_on_success=False,
    observation_names=OBSERVATION_NAMES,
    dt=0.04,
    description="A pusher moves a block to within 4 cm of a random goal on the table.",
    observation_renderer=PushEnv.observation_renderer,
    model_features=model_features,
)
PushEnv.task = TASK
