"""PickPlace: a two-finger gripper grasps a cube and places it at a goal.

The hardest task: the cube must be grasped (friction between two position
controlled fingers), carried, and held at a goal that is on the table or up to
20 cm in the air. Success is judged at the final step.
"""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from worldgym.envs.mujoco_task_env import MujocoTaskEnv
from worldgym.envs.task import Task

SUCCESS_RADIUS = 0.04
"""Metres between cube centre and goal that count as placed."""
MAX_SPEED = 0.5
"""Hand speed in m/s commanded by an action of magnitude 1 (per axis)."""
FINGER_OPEN = 0.04
"""Finger opening (metres from the grasp centre) when fully open."""
CUBE_HALF_SIZE = 0.02
GOAL_HEIGHT_RANGE = (0.06, 0.2)
"""Heights of goals in the air; half the goals lie on the table instead."""

OBSERVATION_NAMES = (
    "hand_x", "hand_y", "hand_z", "hand_velocity_x", "hand_velocity_y", "hand_velocity_z",
    "left_finger", "right_finger", "left_finger_velocity", "right_finger_velocity",
    "cube_x", "cube_y", "cube_z", "cube_qw", "cube_qx", "cube_qy", "cube_qz",
    "cube_velocity_x", "cube_velocity_y", "cube_velocity_z",
    "cube_angular_velocity_x", "cube_angular_velocity_y", "cube_angular_velocity_z",
    "goal_x", "goal_y", "goal_z",
)  # fmt: skip
HAND = slice(0, 3)
FINGERS = slice(6, 8)
CUBE = slice(10, 13)
GOAL = slice(23, 26)


def success(obs, xp=jnp):
    """Cube centre within SUCCESS_RADIUS of the goal. obs [..., 26] -> bool [...]."""
    return xp.linalg.norm(obs[..., CUBE] - obs[..., GOAL], axis=-1) < SUCCESS_RADIUS


def reward(obs, action, next_obs, xp=jnp):
    """Negative cube-goal distance, half the hand-cube distance, +1 on success."""
    cube_to_goal = xp.linalg.norm(next_obs[..., CUBE] - next_obs[..., GOAL], axis=-1)
    hand_to_cube = xp.linalg.norm(next_obs[..., HAND] - next_obs[..., CUBE], axis=-1)
    return -cube_to_goal - 0.5 * hand_to_cube + success(next_obs, xp).astype(xp.float32)


FINGER_REACH = (-0.012, 0.032)
"""Bottom and top of the fingers' collision boxes relative to the hand (metres)."""


def _cube_yaw(quat, eps: float = 1e-6):
    """(cos, sin) of the cube's heading, unnormalised, and their squared norm."""
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    cos_yaw, sin_yaw = 1.0 - 2.0 * (y * y + z * z), 2.0 * (w * z + x * y)
    return cos_yaw, sin_yaw, cos_yaw * cos_yaw + sin_yaw * sin_yaw + eps


def model_features(obs, action):
    """The grasp geometry, in the hand's frame (the hand does not turn, and its
    fingers close along x): the cube relative to the hand and its velocity relative
    to the hand's (slip), the gap between each finger's inner face and the cube
    face it closes on (negative: squeezing), how far the fingers overlap the cube
    in height, how hard the fingers are commanded to squeeze (target minus
    position), the cube's heading modulo its 90-degree symmetry and how upright it
    is, its height above the table, and the goal relative to the cube. Whether the
    cube is held or slips hinges on these differences and products, which an MLP
    approximates poorly from the raw observation.

    Written without square roots or angles of zero-length vectors, so the k-step
    loss can differentiate through predicted observations.
    """
    hand, cube, goal = obs[..., HAND], obs[..., CUBE], obs[..., GOAL]
    relative = cube - hand
    slip = obs[..., 17:20] - obs[..., 3:6]
    cos_yaw, sin_yaw, norm = _cube_yaw(obs[..., 13:17])
    # Half the cube's extent along x, for any heading: h (|cos| + |sin|).
    extent = CUBE_HALF_SIZE * (jnp.abs(cos_yaw) + jnp.abs(sin_yaw)) * jax.lax.rsqrt(norm)
    left_gap = (relative[..., 0] - extent) + obs[..., 6]  # left inner face at -left opening
    right_gap = obs[..., 7] - (relative[..., 0] + extent)
    bottom = jnp.maximum(relative[..., 2] - CUBE_HALF_SIZE, FINGER_REACH[0])
    top = jnp.minimum(relative[..., 2] + CUBE_HALF_SIZE, FINGER_REACH[1])
    overlap = top - bottom
    finger_target = FINGER_OPEN * (1.0 - action[..., 3]) / 2.0
    squeeze = jnp.stack([finger_target - obs[..., 6], finger_target - obs[..., 7]], -1)
    cos2, sin2 = (cos_yaw**2 - sin_yaw**2) / norm, 2.0 * cos_yaw * sin_yaw / norm
    heading = jnp.stack([cos2 * cos2 - sin2 * sin2, 2.0 * sin2 * cos2], -1)  # 4x the yaw
    w, x, y, z = (obs[..., i] for i in range(13, 17))
    upright = 1.0 - 2.0 * (x * x + y * y)  # the cube's up axis along the world's
    return jnp.concatenate(
        [relative, slip, jnp.stack([left_gap, right_gap, overlap], -1), squeeze, heading,
         jnp.stack([upright, cube[..., 2] - CUBE_HALF_SIZE], -1), goal - cube],
        axis=-1,
    )  # fmt: skip


STEP_SECONDS = 0.04
"""Simulated seconds per environment step (20 physics steps of 2 ms)."""
HAND_LAG = 0.0106
"""Seconds the hand's velocity lags its command: its mass over its actuators' gain
(0.38 kg of hand, more with the cube, over kv 40). A least-squares fit of 100,000
logged steps gives this value."""
HAND_TRACKING = 40.0 / 42.0
"""The hand's steady speed per commanded speed: the actuators' gain over gain plus
the slides' damping (kv 40, damping 2, in pick_place.xml)."""


def model_prior(obs, action):
    """What physics already says of the next observation's change: the hand's velocity
    actuators track their command with a lag of HAND_LAG, far shorter than the 40 ms
    step, so the hand ends the step at the commanded velocity, having moved by the
    command times the step less the lag times the change of velocity. Nothing is
    assumed of the fingers or the cube (zeros): a learned model predicts the rest, and
    a hand told to stand still does not drift by its network's rounding."""
    velocity = HAND_TRACKING * MAX_SPEED * action[..., :3]
    velocity_change = velocity - obs[..., 3:6]
    moved = velocity * STEP_SECONDS - HAND_LAG * velocity_change
    hand = jnp.concatenate([moved, velocity_change], axis=-1)
    rest = jnp.zeros(obs.shape[:-1] + (obs.shape[-1] - 6,), obs.dtype)
    return jnp.concatenate([hand, rest], axis=-1)


class PickPlaceEnv(MujocoTaskEnv):
    """Grasp a cube and hold it at a random goal on the table or in the air."""

    ASSET = "pick_place.xml"

    @staticmethod
    def sample_initial_state(model, data, rng):
        hand = [*rng.uniform(-0.15, 0.15, size=2), rng.uniform(0.1, 0.2)]
        cube = rng.uniform(-0.15, 0.15, size=2)
        while True:
            goal_xy = rng.uniform(-0.15, 0.15, size=2)
            if np.linalg.norm(goal_xy - cube) >= 0.08:
                break
        on_table = rng.uniform() < 0.5
        goal_z = CUBE_HALF_SIZE if on_table else rng.uniform(*GOAL_HEIGHT_RANGE)
        yaw = rng.uniform(-0.5, 0.5)
        cube_quat = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        data.qpos[:] = [*hand, FINGER_OPEN, FINGER_OPEN, *cube, CUBE_HALF_SIZE, *cube_quat]
        data.ctrl[3:] = FINGER_OPEN
        data.mocap_pos[0] = [*goal_xy, goal_z]

    @staticmethod
    def controls_from_action(action):
        finger_target = FINGER_OPEN * (1.0 - action[3]) / 2.0  # -1 open, +1 closed
        return np.concatenate([MAX_SPEED * action[:3], [finger_target, finger_target]])

    @staticmethod
    def read_observation(model, data):
        return np.concatenate(
            [data.qpos[:3], data.qvel[:3], data.qpos[3:5], data.qvel[3:5],
             data.qpos[5:12], data.qvel[5:11], data.mocap_pos[0]]
        ).astype(np.float32)  # fmt: skip

    @staticmethod
    def apply_observation(model, data, obs):
        quat = obs[13:17] / max(np.linalg.norm(obs[13:17]), 1e-9)
        data.qpos[:] = [*obs[0:3], *obs[6:8], *obs[10:13], *quat]
        data.qvel[:] = [*obs[3:6], *obs[8:10], *obs[17:23]]
        data.mocap_pos[0] = obs[23:26]


TASK = Task(
    name="PickPlace",
    spec="PickPlace",
    env_id="worldgym/PickPlace-v0",
    horizon=100,
    observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (26,), np.float32),
    action_space=gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32),
    success_fn=success,
    reward_fn=reward,
    terminate_on_success=False,
    observation_names=OBSERVATION_NAMES,
    dt=0.04,
    description="A two-finger gripper grasps a cube and holds it within 4 cm of a goal.",
    observation_renderer=PickPlaceEnv.observation_renderer,
    model_features=model_features,
    model_prior=model_prior,
)
PickPlaceEnv.task = TASK
