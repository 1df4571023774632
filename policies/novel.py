"""Novel policy sets: graded policies of other kinds than the oracle with knobs.

The zoo and the behaviour data are both the oracle with faults, so a model
calibrated on the zoo has only been tested on the family its data came from. A
lab's policies are not that family. Each task's `novel` set is built from other
controllers and other kinds of behaviour: other control laws (Jacobian-transpose
task-space control, sequential joints, a waypoint planner), other paths and
heights, other grip levels and timings, bang-bang and quantised actions, pauses.
Their real success spans the range, so ranking them means something.

The sets were built and frozen before any work on the behaviour data or the
model (issue #11): do not tune them to a model, and do not tune the data to them.
Each controller is a pure jax.numpy function of the observation and its params;
`shape_action` then applies the action style (quantised, bang-bang, paused).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from worldgym.envs import pick_place, push, reach
from worldgym.policies.perturbed import STYLE, shape_action
from worldgym.policies.protocol import Policy

f32 = np.float32


def _variants(act, **defaults) -> Callable[..., Policy]:
    """A maker of named policies running `act`, each overriding some of `defaults`
    and of the action style."""
    base = {**{key: f32(value) for key, value in defaults.items()}, **STYLE}

    def variant(name: str, description: str, **values) -> Policy:
        params = {**base, **{key: f32(value) for key, value in values.items()}}
        return Policy(name, act, params, description)

    return variant


# --- Reach: task-space control laws ------------------------------------------------
def _reach_geometry(obs):
    """The Jacobian of the end effector and the joint velocities."""
    upper, fore = reach.LINK_LENGTHS
    shoulder, elbow = jnp.arctan2(obs[1], obs[0]), jnp.arctan2(obs[3], obs[2])
    total = shoulder + elbow
    jacobian = jnp.array([
        [-upper * jnp.sin(shoulder) - fore * jnp.sin(total), -fore * jnp.sin(total)],
        [upper * jnp.cos(shoulder) + fore * jnp.cos(total), fore * jnp.cos(total)],
    ])  # fmt: skip
    return jacobian, obs[4:6]


def reach_jacobian_act(params, obs, key):
    """Jacobian-transpose PD towards the target (a mirrored target if `mirror`),
    silent inside `hold` metres, joint speed limited to `speed_limit` rad/s, and the
    elbow only once the shoulder is aligned if `sequential`."""
    jacobian, velocity = _reach_geometry(obs)
    target = obs[reach.TARGET] * jnp.array([1.0, 1.0 - 2.0 * params["mirror"]])
    error = target - obs[6:8]
    torque = params["gain"] * jacobian.T @ error - params["damping"] * velocity
    torque = jnp.where(jnp.linalg.norm(error) < params["hold"], -params["damping"] * velocity,
                       torque)  # fmt: skip
    # Sequential joints: the shoulder alone until its share of the error is small.
    shoulder_first = torque.at[1].set(-params["damping"] * velocity[1])
    torque = jnp.where((params["sequential"] > 0) & (jnp.abs(torque[0]) > 0.15), shoulder_first,
                       torque)  # fmt: skip
    too_fast = jnp.abs(velocity) > params["speed_limit"]
    torque = jnp.where(too_fast, -jnp.sign(velocity) * 0.3, torque)
    return shape_action(torque, params, key, 2)


_reach = _variants(
    reach_jacobian_act,
    gain=200.0,
    damping=0.4,
    mirror=0.0,
    hold=0.0,
    speed_limit=100.0,
    sequential=0.0,
)


def reach_novel() -> list[Policy]:
    return [
        _reach("jacobian", "Jacobian-transpose PD in task space."),
        _reach("jacobian-soft", "Jacobian-transpose PD with a quarter of the gain.", gain=50.0),
        _reach("jacobian-crawl", "Jacobian-transpose PD at a tenth of the gain.", gain=20.0),
        _reach(
            "sequential",
            "Turns the shoulder first, the elbow only once it is aligned.",
            sequential=1.0,
        ),  # fmt: skip
        _reach(
            "bang-bang",
            "Full torque or none, by the sign of the task-space command.",
            bang=1.0,
            deadband=0.2,
        ),  # fmt: skip
        _reach("quantised", "Task-space command rounded to steps of 0.5.", levels=2.0),
        _reach("pausing", "Jacobian-transpose PD that freezes on 60% of its steps.", pause=0.6),
        _reach(
            "speed-limited", "Never lets a joint move faster than 1.5 rad/s.", speed_limit=1.5
        ),  # fmt: skip
        _reach("stops-short", "Stops pushing 3 cm from the target.", hold=0.03),
        _reach("stops-at-2.5cm", "Stops pushing 2.5 cm from the target.", hold=0.025),
        _reach("mirrored", "Aims at the target mirrored across the x axis.", mirror=1.0),
        _reach(
            "sluggish-pausing",
            "A tenth of the gain and frozen on half of its steps.",
            gain=20.0,
            pause=0.5,
        ),  # fmt: skip
    ]


# --- Push: a waypoint planner with its own paths ----------------------------------
def push_planner_act(params, obs, key):
    """Circle the block at `orbit` metres to the point `standoff` behind it (seen
    from the goal), then drive through the block towards `overshoot` metres past
    the goal with gain `gain`; stop once the block is within `settle` of the aim."""
    pusher, block, goal = obs[push.PUSHER], obs[push.BLOCK], obs[push.GOAL]
    direction = (goal - block) / jnp.maximum(jnp.linalg.norm(goal - block), 1e-6)
    aim = goal + params["overshoot"] * direction
    to_aim = aim - block
    distance = jnp.linalg.norm(to_aim)
    push_direction = to_aim / jnp.maximum(distance, 1e-6)
    behind = block - params["standoff"] * push_direction
    relative = pusher - block
    radius = jnp.linalg.norm(relative)
    along = relative @ push_direction
    aligned = (along < -0.03) & (jnp.linalg.norm(pusher - behind) < params["tolerance"])
    # Going around: move tangentially on a circle of radius `orbit` towards `behind`.
    angle_now = jnp.arctan2(relative[1], relative[0])
    angle_goal = jnp.arctan2(-push_direction[1], -push_direction[0])
    turn = jnp.sign(jnp.sin(angle_goal - angle_now))
    tangent = turn * jnp.stack([-jnp.sin(angle_now), jnp.cos(angle_now)])
    orbit_point = block + params["orbit"] * jnp.stack([jnp.cos(angle_now), jnp.sin(angle_now)])
    around = 0.6 * tangent + params["gain"] * (orbit_point - pusher)
    close_behind = jnp.abs(jnp.sin(angle_goal - angle_now)) < 0.35
    approach = jnp.where(close_behind | (radius > params["orbit"] + 0.05),
                         params["gain"] * (behind - pusher), around)  # fmt: skip
    drive = params["gain"] * (aim + 0.03 * push_direction - pusher)
    drive = drive * jnp.clip(distance / 0.05, 0.3, 1.0)
    command = jnp.where(aligned, drive, approach)
    command = jnp.where(aligned & (distance < params["settle"]), 0.0, command)
    return shape_action(jnp.clip(command, -1.0, 1.0), params, key, 2)


_push = _variants(
    push_planner_act,
    gain=12.0,
    orbit=0.07,
    standoff=0.05,
    tolerance=0.02,
    overshoot=0.0,
    settle=0.012,
)


def push_novel() -> list[Policy]:
    return [
        _push("orbiter", "Circles the block to get behind it, then pushes to the goal."),
        _push("wide-orbit", "Circles at 12 cm before pushing.", orbit=0.12),
        _push("gentle", "Circles and pushes with a third of the gain.", gain=4.0),
        _push("bang-bang", "Full speed or none on each axis.", bang=1.0, deadband=0.3),
        _push("eight-way", "Moves only in steps of half speed (quantised).", levels=2.0),
        _push("pausing", "Freezes on half of its steps.", pause=0.5),
        _push("hesitant", "Freezes on 80% of its steps.", pause=0.8),
        _push("overshoots-3cm", "Pushes the block to 3 cm past the goal.", overshoot=0.03),
        _push("overshoots-6cm", "Pushes the block to 6 cm past the goal.", overshoot=0.06),
        _push(
            "loose-line",
            "Starts pushing when within 5 cm of the line behind the block.",
            tolerance=0.05,
        ),  # fmt: skip
        _push(
            "far-standoff", "Lines up 12 cm behind the block before each push.", standoff=0.12
        ),  # fmt: skip
        _push(
            "settles-early", "Stops pushing once the block is within 5 cm of the goal.", settle=0.05
        ),  # fmt: skip
    ]


# --- PickPlace: a waypoint planner with its own heights and grips -----------------
def pick_place_planner_act(params, obs, key):
    """Descend beside-then-onto the cube, close to grip level `grip`, lift to
    `carry_height` (absolute), travel, then lower to `hover` metres above the goal
    and release below `release_above` metres (never, if negative)."""
    hand, cube, goal = obs[pick_place.HAND], obs[pick_place.CUBE], obs[pick_place.GOAL]
    opening = obs[6] + obs[7]
    offset = cube - hand
    above_cube = jnp.linalg.norm(offset[:2]) < 0.01
    at_cube = above_cube & (jnp.abs(offset[2]) < 0.01)
    holding = (jnp.linalg.norm(offset) < 0.03) & (opening < 2 * pick_place.CUBE_HALF_SIZE + 0.01)
    approach_height = cube[2] + params["approach_height"]
    over_cube = jnp.stack([cube[0], cube[1], approach_height])
    rise = jnp.stack([hand[0], hand[1], approach_height])
    approach = jnp.where(hand[2] < cube[2] + 0.04, rise, over_cube)
    place = goal + jnp.array([0.0, 0.0, 1.0]) * params["hover"]
    carry_level = jnp.maximum(params["carry_height"], place[2])
    near_goal_xy = jnp.linalg.norm(place[:2] - cube[:2]) < 0.015
    lifted = cube[2] > carry_level - 0.02
    carry = jnp.where(near_goal_xy, place,
                      jnp.where(lifted, jnp.stack([place[0], place[1], carry_level]),
                                jnp.stack([cube[0], cube[1], carry_level])))  # fmt: skip
    reach_cube = jnp.where(above_cube, cube, approach)
    target = jnp.where(holding, carry, jnp.where(at_cube, hand, reach_cube))
    move = jnp.clip(params["gain"] * (target - hand), -1.0, 1.0)
    release = holding & near_goal_xy & (cube[2] - goal[2] < params["release_above"])
    grip = jnp.where((holding | at_cube) & ~release, params["grip"], -1.0)
    return shape_action(jnp.concatenate([move, grip[None]]), params, key, 3)


_pick = _variants(
    pick_place_planner_act,
    gain=12.0,
    grip=1.0,
    carry_height=0.0,
    approach_height=0.06,
    hover=0.0,
    release_above=-1.0,
)


def pick_place_novel() -> list[Policy]:
    return [
        _pick("planner", "Waypoint planner: over, down, grip, lift, across, down to the goal."),
        _pick("lift-high", "Lifts the cube to 28 cm before carrying it.", carry_height=0.28),
        _pick("carry-low", "Carries the cube 6 cm above the table.", carry_height=0.06),
        _pick("half-grip", "Closes the fingers only half-way.", grip=0.5),
        _pick("touch-grip", "Closes the fingers only to the cube's width: no squeeze.", grip=0.0),
        _pick("hover-3cm", "Holds the cube 3 cm above the goal.", hover=0.03),
        _pick("hover-5cm", "Holds the cube 5 cm above the goal.", hover=0.05),
        _pick("hover-6cm", "Holds the cube 6 cm above the goal.", hover=0.06),
        _pick("drops-from-8cm", "Lets go 8 cm above the goal.", hover=0.08, release_above=0.085),
        _pick("bang-bang", "Full hand speed or none on each axis.", bang=1.0, deadband=0.2),
        _pick("quantised", "Hand speed in steps of a quarter.", levels=4.0),
        _pick("coarse-quantised", "Hand speed in steps of a third.", levels=3.0),
        _pick("pausing", "Freezes its hand on 65% of its steps.", pause=0.65),
        _pick("high-approach", "Comes down onto the cube from 20 cm.", approach_height=0.2),
    ]


NOVEL_SETS = {"Reach": reach_novel, "Push": push_novel, "PickPlace": pick_place_novel}
