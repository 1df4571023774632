"""Gymnasium-Robotics' Fetch tasks, adapted as a lab would: a second outside suite.

Gymnasium-Robotics (Plappert et al. 2018; Farama's MuJoCo bindings release) is
the other widely used MuJoCo manipulation suite of the Gymnasium ecosystem: a
7-DoF Fetch arm under Cartesian position control (4 actions: gripper motion, up
to 5 cm per step, and the fingers) with a goal-conditioned Dict observation
(`observation`, `achieved_goal`, `desired_goal`, flattened here in Gymnasium's
order: achieved goal, desired goal, then the 10 or 25 entries of the robot and
object state, with the object's position given twice more). Its environments
are registered with string entry points and seed their resets properly.

Success comes from the suite's own `info["is_success"]` (the goal within 5 cm),
so imagination is scored by the model's learned success head, not by a
predicate; episodes last the suite's 50 steps and are judged at the last one,
as the suite's evaluations do. Install with `pip install -e ".[suites]"`.
"""

from __future__ import annotations

import gymnasium

from worldgym.envs.adapters import adapt_gym_env
from worldgym.envs.suites import require
from worldgym.envs.task import Task

ACHIEVED, DESIRED, GRIP = slice(0, 3), slice(3, 6), slice(6, 9)
"""Where the achieved goal (the gripper for Reach, the object for Push), the
desired goal and the gripper position sit in the flat observation."""
OBJECT = slice(9, 12)
"""The object's position in FetchPush's flat observation."""


def make_env(env_id: str, **kwargs) -> gymnasium.Env:
    """gymnasium.make of a Fetch id, registering Gymnasium-Robotics' ids first."""
    gymnasium.register_envs(require("gymnasium_robotics", "Gymnasium-Robotics"))
    return gymnasium.make(env_id, **kwargs)


def _task(env_id: str, description: str) -> Task:
    from functools import partial

    require("gymnasium_robotics", "Gymnasium-Robotics")
    return adapt_gym_env(
        partial(make_env, env_id),
        name=env_id,
        success_key="is_success",
        description=description,
    )


def reach_task() -> Task:
    """FetchReach-v4: the gripper within 5 cm of a goal in the air, at the 50th step."""
    return _task("FetchReach-v4", "Gymnasium-Robotics FetchReach-v4: the gripper within "
                 "5 cm of the goal at the end (success from info['is_success']).")  # fmt: skip


def push_task() -> Task:
    """FetchPush-v4: the block pushed within 5 cm of a goal on the table, at the end."""
    return _task("FetchPush-v4", "Gymnasium-Robotics FetchPush-v4: the block within 5 cm "
                 "of the goal at the end (success from info['is_success']).")  # fmt: skip
