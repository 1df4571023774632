"""Reach: a planar two-link arm brings its end effector within 2 cm of a target.

The easiest task: no contacts, two torque-controlled joints. The episode ends at
the first step the end effector is within SUCCESS_RADIUS of the target.
"""

from __future__ import annotations

import gymnasium
import jax.numpy as jnp
import numpy as np

from worldgym.envs.mujoco_task_env import MujocoTaskEnv
from worldgym.envs.task import Task

LINK_LENGTHS = (0.15, 0.15)
"""Upper arm and forearm lengths in metres (as in reach.xml)."""
SUCCESS_RADIUS = 0.02
"""Metres between end effector and target that count as reached."""
TARGET_HEIGHT = 0.045
TARGET_RADIUS_RANGE = (0.08, 0.27)
"""Targets are drawn uniformly in this annulus around the shoulder (metres)."""

OBSERVATION_NAMES = (
    "cos_shoulder", "sin_shoulder", "cos_elbow", "sin_elbow",
    "shoulder_velocity", "elbow_velocity",
    "end_effector_x", "end_effector_y", "target_x", "target_y",
)  # fmt: skip
END_EFFECTOR = slice(6, 8)
TARGET = slice(8, 10)


def success(obs, xp=jnp):
    """End effector within SUCCESS_RADIUS of the target. obs [..., 10] -> bool [...]."""
    distance = xp.linalg.norm(obs[..., END_EFFECTOR] - obs[..., TARGET], axis=-1)
    return distance < SUCCESS_RADIUS


def reward(obs, action, next_obs, xp=jnp):
    """Negative distance to the target, a small effort cost, +1 on success."""
    distance = xp.linalg.norm(next_obs[..., END_EFFECTOR] - next_obs[..., TARGET], axis=-1)
    effort = xp.sum(xp.square(action), axis=-1)
    return -distance - 0.01 * effort + success(next_obs, xp).astype(xp.float32)


class ReachEnv(MujocoTaskEnv):
    """Two-link arm reaching a random target on the table."""

    ASSET = "reach.xml"

    @staticmethod
    def sample_initial_state(model, data, rng):
        data.qpos[:] = [rng.uniform(-np.pi, np.pi), rng.uniform(-2.0, 2.0)]
        radius = rng.uniform(*TARGET_RADIUS_RANGE)
        angle = rng.uniform(-np.pi, np.pi)
        data.mocap_pos[0] = [radius * np.cos(angle), radius * np.sin(angle), TARGET_HEIGHT]

    @staticmethod
    def controls_from_action(action):
        return action

    @staticmethod
    def read_observation(model, data):
        angles = data.qpos[:2]
        end_effector = data.site("end_effector").xpos[:2]
        return np.concatenate(
            [np.cos(angles[:1]), np.sin(angles[:1]), np.cos(angles[1:]), np.sin(angles[1:]),
             data.qvel[:2], end_effector, data.mocap_pos[0, :2]]
        ).astype(np.float32)  # fmt: skip

    @staticmethod
    def apply_observation(model, data, obs):
        data.qpos[0] = np.arctan2(obs[1], obs[0])
        data.qpos[1] = np.arctan2(obs[3], obs[2])
        data.qvel[:2] = obs[4:6]
        data.mocap_pos[0] = [obs[8], obs[9], TARGET_HEIGHT]


TASK = Task(
    name="Reach",
    spec="Reach",
    env_id="worldgym/Reach-v0",
    horizon=50,
    observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (10,), np.float32),
    action_space=gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32),
    success_fn=success,
    reward_fn=reward,
    terminate_on_success=True,
    observation_names=OBSERVATION_NAMES,
    dt=0.04,
    description="A two-link arm brings its end effector within 2 cm of a random target.",
    observation_renderer=ReachEnv.observation_renderer,
)
ReachEnv.task = TASK
