"""Scripted oracle controllers, one per task, in jax.numpy.

Each oracle is a pure function of the observation alone (no hidden phase
counter), which proves the task is solvable from the observation a world model
sees. Each also takes a few *knobs* — named ways to get the task wrong (a flipped
elbow, an off-centre push, an early release) — so that the graded zoo and the
behaviour policies are this one controller with known faults
(`policies/perturbed.py`). With the default knobs it is the oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax.numpy as jnp

from worldgym.envs import pick_place, push, reach


@dataclass(frozen=True)
class OracleSpec:
    """A task's scripted controller and what the perturbations need to know."""

    command: Callable
    """(obs [obs_dim], knobs dict) -> action [action_dim] in [-1, 1]."""
    default_knobs: dict[str, float]
    """Knob values that make `command` the oracle."""
    goal: slice
    """Observation entries holding the goal (biased targets shift these)."""
    motion_dims: int
    """Leading action entries that move the robot (gains scale only these)."""
    delay: Callable
    """(obs, latency seconds) -> obs as it was `latency` ago (velocities held)."""
    description: str
    knob_ranges: dict[str, tuple[float, float]]
    """Uniform ranges behaviour policies draw each knob from (knobs named in
    ROUNDED_KNOBS are rounded to 0/1), bracketing the zoo's faults."""
    workspace: tuple[tuple[float, ...], tuple[float, ...]]
    """(low, high) of the places the goal entries can name: play sends the oracle to
    random waypoints drawn from this box, wider than the task's own goals."""
    mixture: dict[str, float] | None = None
    """The task's default behaviour mixture (None: behaviour.DEFAULT_MIXTURE)."""


ROUNDED_KNOBS = ("elbow_flip",)
"""Knobs that are switches: a drawn value is rounded to 0 or 1."""


def _wrap_angle(angle):
    return (angle + jnp.pi) % (2 * jnp.pi) - jnp.pi


def _backdate(obs, positions, velocities, latency):
    """Shift observed positions back along their velocities by `latency` seconds."""
    return obs.at[positions].add(-latency * obs[velocities])


# --- Reach --------------------------------------------------------------------
REACH_GAINS = {"position": 6.0, "velocity": 0.6}


def reach_inverse_kinematics(target_xy, elbow_sign):
    """Joint angles (shoulder, elbow) that put the end effector on target_xy."""
    upper, fore = reach.LINK_LENGTHS
    x, y = target_xy[..., 0], target_xy[..., 1]
    cos_elbow = (x**2 + y**2 - upper**2 - fore**2) / (2 * upper * fore)
    elbow = elbow_sign * jnp.arccos(jnp.clip(cos_elbow, -1.0, 1.0))
    shoulder = jnp.arctan2(y, x) - jnp.arctan2(fore * jnp.sin(elbow), upper + fore * jnp.cos(elbow))
    return shoulder, elbow


def reach_command(obs, knobs):
    """Joint-space PD control towards the inverse-kinematics solution.

    The oracle keeps the elbow on the side it is on, so the arm never passes the
    straight (singular) pose; knob `elbow_flip` = 1 asks for the other side.
    Knob `damping` scales the velocity feedback (0: overshoot and swing).
    """
    shoulder = jnp.arctan2(obs[1], obs[0])
    elbow = jnp.arctan2(obs[3], obs[2])
    elbow_sign = jnp.where(elbow >= 0, 1.0, -1.0) * (1.0 - 2.0 * knobs["elbow_flip"])
    shoulder_goal, elbow_goal = reach_inverse_kinematics(obs[reach.TARGET], elbow_sign)
    error = jnp.stack([_wrap_angle(shoulder_goal - shoulder), elbow_goal - elbow])
    damping = REACH_GAINS["velocity"] * knobs["damping"]
    return jnp.clip(REACH_GAINS["position"] * error - damping * obs[4:6], -1.0, 1.0)


def reach_delay(obs, latency):
    angles = jnp.arctan2(obs[jnp.array([1, 3])], obs[jnp.array([0, 2])]) - latency * obs[4:6]
    return obs.at[0:4].set(
        jnp.stack([jnp.cos(angles[0]), jnp.sin(angles[0]), jnp.cos(angles[1]), jnp.sin(angles[1])])
    )


# --- Push ---------------------------------------------------------------------
PUSH_GAIN = 20.0
"""Action per metre of position error (an action of 1 is 0.4 m/s)."""
PUSH_STANDOFF = 0.055
"""Distance behind the block centre where a push starts (metres)."""


def push_command(obs, knobs):
    """Go around the block to the side away from the goal, then push it along the
    block-goal line, re-aligning whenever the block turns off the line.

    Knob `push_angle` (radians) rotates the push direction away from the goal;
    knob `contact_offset` (metres) pushes that far off the block's centre line.
    """
    pusher, block, goal = obs[push.PUSHER], obs[push.BLOCK], obs[push.GOAL]
    to_goal = goal - block
    distance = jnp.linalg.norm(to_goal)
    angle = jnp.arctan2(to_goal[1], to_goal[0]) + knobs["push_angle"]
    along_goal = jnp.stack([jnp.cos(angle), jnp.sin(angle)])  # push direction
    normal = jnp.stack([-along_goal[1], along_goal[0]])
    line = block + knobs["contact_offset"] * normal  # the line the pusher follows
    offset = pusher - line
    along, across = offset @ along_goal, offset @ normal
    side = jnp.where(across >= 0, 1.0, -1.0)

    behind = line - PUSH_STANDOFF * along_goal
    around_corner = line + side * 0.08 * normal - 0.06 * along_goal
    sideways = line + side * 0.08 * normal + along * along_goal
    waypoint = jnp.where(
        along < -0.035, behind, jnp.where(jnp.abs(across) > 0.065, around_corner, sideways)
    )
    aligned = (along < -0.035) & (jnp.abs(across) < 0.012)
    push_target = line + 0.03 * along_goal
    speed = jnp.clip(distance / 0.05, 0.3, 1.0)
    command = jnp.where(
        aligned, speed * PUSH_GAIN * (push_target - pusher), PUSH_GAIN * (waypoint - pusher)
    )
    command = jnp.where(aligned & (distance < 0.015), 0.0, command)
    return jnp.clip(command, -1.0, 1.0)


def push_delay(obs, latency):
    return _backdate(obs, jnp.array([0, 1, 4, 5]), jnp.array([2, 3, 8, 9]), latency)


# --- PickPlace ----------------------------------------------------------------
PICK_GAIN = 15.0
"""Action per metre of hand position error (an action of 1 is 0.5 m/s)."""
PICK_CLEARANCE = 0.07
"""Height above the cube at which the open hand travels (metres)."""


def pick_place_command(obs, knobs):
    """Travel above the cube, descend with open fingers, close, carry to the goal.

    The phase is read from the observation: where the hand is relative to the
    cube and how far the fingers are open. Knob `grasp_height` (metres) closes the
    fingers that far above the cube's centre (a grasp timing error); knob
    `release_distance` (metres) opens them once the cube is that close to the
    goal (an early release; 0 never releases).
    """
    hand, cube, goal = obs[pick_place.HAND], obs[pick_place.CUBE], obs[pick_place.GOAL]
    opening = obs[6] + obs[7]  # gap between the fingers' inner faces
    offset = cube - hand
    grasp_offset = offset[2] + knobs["grasp_height"]
    above_cube = jnp.linalg.norm(offset[:2]) < 0.012
    at_cube = above_cube & (jnp.abs(grasp_offset) < 0.012)
    holding = (jnp.linalg.norm(offset) < 0.025) & (opening < 2 * pick_place.CUBE_HALF_SIZE + 0.012)

    travel_height = cube[2] + PICK_CLEARANCE
    rise_first = jnp.stack([hand[0], hand[1], travel_height])
    over_cube = jnp.stack([cube[0], cube[1], travel_height])
    approach = jnp.where(hand[2] < cube[2] + 0.05, rise_first, over_cube)
    grasp_point = cube.at[2].add(knobs["grasp_height"])
    target = jnp.where(
        holding, goal, jnp.where(at_cube, hand, jnp.where(above_cube, grasp_point, approach))
    )
    move = jnp.clip(PICK_GAIN * (target - hand), -1.0, 1.0)
    release = holding & (jnp.linalg.norm(goal - cube) < knobs["release_distance"])
    grip = jnp.where((holding | at_cube) & ~release, 1.0, -1.0)
    return jnp.concatenate([move, grip[None]])


def pick_place_delay(obs, latency):
    positions, velocities = jnp.array([0, 1, 2, 10, 11, 12]), jnp.array([3, 4, 5, 17, 18, 19])
    return _backdate(obs, positions, velocities, latency)


_oracles: dict[str, OracleSpec] = {}


def register_oracle(task_name: str, spec: OracleSpec) -> None:
    """Give a task a scripted oracle: its perturbations then make behaviour data
    (the default mixture) and zoos. A task needs no oracle."""
    _oracles[task_name] = spec


def oracle_spec(task_name: str) -> OracleSpec | None:
    """The task's oracle, or None for a task without one."""
    return _oracles.get(task_name)


def require_oracle(task_name: str) -> OracleSpec:
    spec = oracle_spec(task_name)
    if spec is None:
        raise ValueError(
            f"Task {task_name!r} has no oracle; oracles exist for {', '.join(_oracles)}."
        )
    return spec


register_oracle("Reach", OracleSpec(
    reach_command, {"elbow_flip": 0.0, "damping": 1.0}, reach.TARGET, 2, reach_delay,
    "Inverse kinematics + joint PD control.",
    {"elbow_flip": (0.0, 1.0), "damping": (0.0, 1.5)}, ((-0.3, -0.3), (0.3, 0.3)),
))  # fmt: skip
register_oracle("Push", OracleSpec(
    push_command, {"push_angle": 0.0, "contact_offset": 0.0}, push.GOAL, 2, push_delay,
    "Walk around the block, push it along the block-goal line.",
    {"push_angle": (-1.0, 1.0), "contact_offset": (-0.025, 0.025)},
    ((-0.24, -0.24), (0.24, 0.24)),
))  # fmt: skip
register_oracle("PickPlace", OracleSpec(
    pick_place_command, {"grasp_height": 0.0, "release_distance": 0.0}, pick_place.GOAL, 3,
    pick_place_delay, "Descend open, close on the cube, carry it to the goal and hold.",
    {"grasp_height": (-0.005, 0.03), "release_distance": (0.02, 0.2)},
    ((-0.2, -0.2, 0.02), (0.2, 0.2, 0.32)),
    # Play and OU noise: measured to cut the novel set's mean error from 18 to 8 points
    # (docs: "Knowing when not to trust"); on Push they cost the zoo accuracy instead.
    {"random": 0.1, "ou": 0.05, "noisy-oracle-0.1": 0.1, "noisy-oracle-0.25": 0.1,
     "noisy-oracle-0.6": 0.05, "perturbed-oracle": 0.35, "play": 0.25},
))  # fmt: skip
