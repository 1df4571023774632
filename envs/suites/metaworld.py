"""Meta-World v3 tasks, adapted as a lab would: a worked example of an outside suite.

Meta-World (Yu et al. 2019; Farama's v3 release) is a widely used MuJoCo
manipulation suite: a Sawyer arm under mocap position control (4 actions: hand
motion, up to 1 cm per step, and the grip), a 39-entry observation (hand, grip,
two object slots of position and quaternion, the same 18 entries of the
previous step, and the goal), and a scripted expert for each of its 50 tasks.
It pins its own MuJoCo (3.3.0), so it lives in an optional extra
(`pip install -e ".[suites]"`, best in a second virtual environment; `make
test-suites` makes one).

Meta-World registers its environments with callable entry points
(`gymnasium.make("Meta-World/MT1", env_name="reach-v3")`), which worldgym takes
too; but MT1 draws each reset's variant from 50 fixed ones. The tasks here are
made by a factory instead: the goal-observable environment with a fresh random
goal and object position drawn from the reset seed on every reset, which is
what paired evaluation needs (episodes repeatable by seed, and as many distinct
starts as seeds). Success is Meta-World's own rule written on the observation
(hand or puck within 5 cm of the goal), episodes end at the first success as
Meta-World's evaluation counts them, and last 100 (reach) or 150 (push) steps.
"""

from __future__ import annotations

import gymnasium
import jax.numpy as jnp

from worldgym.envs.adapters import adapt_gym_env
from worldgym.envs.suites import require
from worldgym.envs.task import Task

HORIZONS = {"reach-v3": 100, "push-v3": 150}
"""Steps per episode: the scripted experts reach within about 50 and push within
about 75, so slower and clumsier policies have room to succeed late."""
SUCCESS_RADIUS = 0.05
"""Meta-World's own success distance (metres), for reach and push alike."""
HAND, PUCK, GOAL = slice(0, 3), slice(4, 7), slice(36, 39)
"""Where the hand (the gripper's centre), the first object and the goal sit in
the 39-entry observation."""

OBSERVATION_NAMES = (
    "hand_x", "hand_y", "hand_z", "grip",
    "obj_x", "obj_y", "obj_z", "obj_qw", "obj_qx", "obj_qy", "obj_qz",
    "obj2_x", "obj2_y", "obj2_z", "obj2_qw", "obj2_qx", "obj2_qy", "obj2_qz",
    "prev_hand_x", "prev_hand_y", "prev_hand_z", "prev_grip",
    "prev_obj_x", "prev_obj_y", "prev_obj_z", "prev_obj_qw", "prev_obj_qx", "prev_obj_qy",
    "prev_obj_qz", "prev_obj2_x", "prev_obj2_y", "prev_obj2_z", "prev_obj2_qw", "prev_obj2_qx",
    "prev_obj2_qy", "prev_obj2_qz",
    "goal_x", "goal_y", "goal_z",
)  # fmt: skip


def make_env(env_name: str, render_mode: str | None = None, width: int = 480,
             height: int = 480, camera_name: str = "corner") -> gymnasium.Env:  # fmt: skip
    """Meta-World's goal-observable `env_name` (e.g. "reach-v3") that draws a new goal
    and object position from its own generator on every reset (Meta-World's
    `seeded_rand_vec`), so reset(seed=s) always gives the same start."""
    ALL_V3_ENVIRONMENTS = require("metaworld.env_dict", "Meta-World").ALL_V3_ENVIRONMENTS
    if env_name not in ALL_V3_ENVIRONMENTS:
        raise ValueError(f"Meta-World has no environment {env_name!r}.")
    env = ALL_V3_ENVIRONMENTS[env_name](render_mode=render_mode, width=width, height=height,
                                        camera_name=camera_name)  # fmt: skip
    env._partially_observable = False  # the goal is in the observation ...
    del env.sawyer_observation_space  # ... and in the bounds Meta-World clips it to
    env._freeze_rand_vec = False  # a new goal and object position on every reset
    env._set_task_called = True
    env.seeded_rand_vec = True  # ... drawn from env.np_random, which the reset seed sets
    env.max_path_length = 10**6  # the task's time limit ends episodes, not Meta-World's 500
    env.observation_space = env.sawyer_observation_space
    return env


def reach_success(obs, xp=jnp):
    """reach-v3: the hand within 5 cm of the goal."""
    return xp.linalg.norm(obs[..., HAND] - obs[..., GOAL], axis=-1) <= SUCCESS_RADIUS


def push_success(obs, xp=jnp):
    """push-v3: the puck within 5 cm of the goal."""
    return xp.linalg.norm(obs[..., PUCK] - obs[..., GOAL], axis=-1) <= SUCCESS_RADIUS


def reach_reward(obs, action, next_obs, xp=jnp):
    """Negative hand-goal distance after the step (metres)."""
    return -xp.linalg.norm(next_obs[..., HAND] - next_obs[..., GOAL], axis=-1)


def push_reward(obs, action, next_obs, xp=jnp):
    """Negative puck-goal distance, and half the hand-puck one, after the step."""
    to_goal = xp.linalg.norm(next_obs[..., PUCK] - next_obs[..., GOAL], axis=-1)
    to_puck = xp.linalg.norm(next_obs[..., HAND] - next_obs[..., PUCK], axis=-1)
    return -to_goal - 0.5 * to_puck


def apply_observation(model, data, obs) -> None:
    """Draw an observation: the hand's mocap target, the object's pose and the goal
    marker (the arm's joints follow the mocap only in a simulation, so the hand is
    drawn where the observation says by moving the mocap body alone)."""
    import mujoco

    data.mocap_pos[0] = obs[HAND]
    obj = model.body("obj")
    joint = model.body_jntadr[obj.id]
    if joint >= 0 and model.jnt_type[joint] == mujoco.mjtJoint.mjJNT_FREE:
        address = model.jnt_qposadr[joint]
        data.qpos[address : address + 3] = obs[PUCK]
        data.qpos[address + 3 : address + 7] = obs[7:11]
    for site in ("goal", "goal_reach", "goal_push"):
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site) >= 0:
            model.site(site).pos[:] = obs[GOAL]


def _task(env_name: str, name: str, success_fn, reward_fn, description: str) -> Task:
    from functools import partial

    require("metaworld", "Meta-World")
    return adapt_gym_env(
        partial(make_env, env_name),
        name=name,
        success_fn=success_fn,
        reward_fn=reward_fn,
        terminate_on_success=True,
        horizon=HORIZONS[env_name],
        apply_observation=apply_observation,
        camera="corner",
        observation_names=OBSERVATION_NAMES,
        description=description,
    )


def reach_task() -> Task:
    """Meta-World reach-v3: bring the hand within 5 cm of a random goal."""
    return _task("reach-v3", "MetaWorld-reach-v3", reach_success, reach_reward,
                 "Meta-World reach-v3: the hand within 5 cm of a random goal.")  # fmt: skip


def push_task() -> Task:
    """Meta-World push-v3: push the puck within 5 cm of a random goal."""
    return _task("push-v3", "MetaWorld-push-v3", push_success, push_reward,
                 "Meta-World push-v3: the puck pushed within 5 cm of a random goal.")  # fmt: skip
