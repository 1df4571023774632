"""Scripted oracle controllers, one per task, in jax.numpy.

Each oracle is a pure function of the observation alone (no hidden phase
counter), which proves the task is solvable from the observation a world model
sees. They are also the base of the graded zoo: degrade an oracle and you get a
policy that fails in a known way.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import pick_place, push, reach
from policies.protocol import Policy


def _wrap_angle(angle):
    return (angle + jnp.pi) % (2 * jnp.pi) - jnp.pi


# --- Reach --------------------------------------------------------------------
REACH_GAINS = {"position": 6.0, "velocity": 0.6}


def reach_inverse_kinematics(target_xy, elbow_sign):
    """Joint angles (shoulder, elbow) that put the end effector on target_xy.

    The elbow keeps the sign of its current angle, so the arm never flips through
    the straight (singular) configuration.
    """
    upper, fore = reach.LINK_LENGTHS
    x, y = target_xy[..., 0], target_xy[..., 1]
    cos_elbow = (x**2 + y**2 - upper**2 - fore**2) / (2 * upper * fore)
    elbow = elbow_sign * jnp.arccos(jnp.clip(cos_elbow, -1.0, 1.0))
    shoulder = jnp.arctan2(y, x) - jnp.arctan2(fore * jnp.sin(elbow), upper + fore * jnp.cos(elbow))
    return shoulder, elbow


def reach_oracle(params, obs, key):
    """Joint-space PD control towards the inverse-kinematics solution."""
    del params, key
    shoulder = jnp.arctan2(obs[1], obs[0])
    elbow = jnp.arctan2(obs[3], obs[2])
    elbow_sign = jnp.where(elbow >= 0, 1.0, -1.0)
    shoulder_goal, elbow_goal = reach_inverse_kinematics(obs[reach.TARGET], elbow_sign)
    error = jnp.stack([_wrap_angle(shoulder_goal - shoulder), elbow_goal - elbow])
    torque = REACH_GAINS["position"] * error - REACH_GAINS["velocity"] * obs[4:6]
    return jnp.clip(torque, -1.0, 1.0)


# --- Push ---------------------------------------------------------------------
PUSH_GAIN = 20.0
"""Action per metre of position error (an action of 1 is 0.4 m/s)."""
PUSH_STANDOFF = 0.055
"""Distance behind the block centre where a push starts (metres)."""


def push_oracle(params, obs, key):
    """Go around the block to the side away from the goal, then push it along the
    block-goal line, re-aligning whenever the block turns off the line."""
    del params, key
    pusher, block, goal = obs[push.PUSHER], obs[push.BLOCK], obs[push.GOAL]
    to_goal = goal - block
    distance = jnp.linalg.norm(to_goal)
    along_goal = to_goal / jnp.maximum(distance, 1e-6)  # unit vector block -> goal
    normal = jnp.stack([-along_goal[1], along_goal[0]])
    offset = pusher - block
    along, across = offset @ along_goal, offset @ normal
    side = jnp.where(across >= 0, 1.0, -1.0)

    behind = block - PUSH_STANDOFF * along_goal
    around_corner = block + side * 0.08 * normal - 0.06 * along_goal
    sideways = block + side * 0.08 * normal + along * along_goal
    waypoint = jnp.where(
        along < -0.035, behind, jnp.where(jnp.abs(across) > 0.065, around_corner, sideways)
    )
    aligned = (along < -0.035) & (jnp.abs(across) < 0.012)
    push_target = block + 0.03 * along_goal
    speed = jnp.clip(distance / 0.05, 0.3, 1.0)
    command = jnp.where(
        aligned, speed * PUSH_GAIN * (push_target - pusher), PUSH_GAIN * (waypoint - pusher)
    )
    command = jnp.where(aligned & (distance < 0.015), 0.0, command)
    return jnp.clip(command, -1.0, 1.0)


# --- PickPlace ----------------------------------------------------------------
PICK_GAIN = 15.0
"""Action per metre of hand position error (an action of 1 is 0.5 m/s)."""
PICK_CLEARANCE = 0.07
"""Height above the cube at which the open hand travels (metres)."""


def pick_place_oracle(params, obs, key):
    """Travel above the cube, descend with open fingers, close, carry to the goal.

    The phase is read from the observation: where the hand is relative to the
    cube and how far the fingers are open.
    """
    del params, key
    hand, cube, goal = obs[pick_place.HAND], obs[pick_place.CUBE], obs[pick_place.GOAL]
    opening = obs[6] + obs[7]  # gap between the fingers' inner faces
    offset = cube - hand
    above_cube = jnp.linalg.norm(offset[:2]) < 0.012
    at_cube = above_cube & (jnp.abs(offset[2]) < 0.012)
    holding = (jnp.linalg.norm(offset) < 0.025) & (opening < 2 * pick_place.CUBE_HALF_SIZE + 0.012)

    travel_height = cube[2] + PICK_CLEARANCE
    rise_first = jnp.stack([hand[0], hand[1], travel_height])
    over_cube = jnp.stack([cube[0], cube[1], travel_height])
    approach = jnp.where(hand[2] < cube[2] + 0.05, rise_first, over_cube)
    target = jnp.where(
        holding, goal, jnp.where(at_cube, hand, jnp.where(above_cube, cube, approach))
    )
    move = jnp.clip(PICK_GAIN * (target - hand), -1.0, 1.0)
    grip = jnp.where(holding | at_cube, 1.0, -1.0)
    return jnp.concatenate([move, grip[None]])


ORACLES = {
    "Reach": Policy("oracle", reach_oracle, None, "Inverse kinematics + joint PD control."),
    "Push": Policy("oracle", push_oracle, None, "Walk around the block, push along the line."),
    "PickPlace": Policy(
        "oracle", pick_place_oracle, None, "Descend open, close on the cube, carry to the goal."
    ),
}


def get_oracle(task_name: str) -> Policy:
    """The oracle of a native task."""
    if task_name not in ORACLES:
        raise ValueError(
            f"No oracle for task {task_name!r}; oracles exist for {', '.join(ORACLES)}."
        )
    return ORACLES[task_name]
