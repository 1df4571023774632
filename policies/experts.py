"""Scripted experts of the outside suites, as host functions on the flat observation.

Meta-World ships a scripted expert for each of its tasks (`metaworld.policies`);
they are used here as they are. Gymnasium-Robotics ships none for Fetch, so its
two are written here the way Meta-World writes its own: a proportional move to
a waypoint that depends on the phase of the task. Each expert takes a batch of
observations [B, obs_dim] and returns actions [B, 4] (numpy, float32); they are
deterministic functions of the observation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache

import numpy as np

from worldgym.envs.suites import fetch, require

Expert = Callable[[np.ndarray], np.ndarray]
"""observations [B, obs_dim] -> actions [B, action_dim], on the host."""


@cache
def metaworld_expert(env_name: str) -> Expert:
    """Meta-World's own scripted policy for `env_name` (e.g. "push-v3"), batched."""

    policy = require("metaworld.policies", "Meta-World").ENV_POLICY_MAP[env_name]()

    def act(observations: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():  # "Constant(s) may be too high": by design
            warnings.simplefilter("ignore")
            rows = [policy.get_action(np.asarray(obs, np.float64)) for obs in observations]
        return np.asarray(rows, np.float32).reshape(len(observations), -1)

    return act


FETCH_STEP = 0.05
"""Metres the Fetch gripper's target moves per unit of action and step."""


def _move(position: np.ndarray, target: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Proportional motion towards `target`, in action units, clipped to [-1, 1]."""
    return np.clip(gain * (target - position) / FETCH_STEP, -1.0, 1.0)


def fetch_reach_expert(observations: np.ndarray) -> np.ndarray:
    """Straight to the goal, fingers left alone."""
    observations = np.asarray(observations, np.float64)
    motion = _move(observations[:, fetch.GRIP], observations[:, fetch.DESIRED], GAIN)
    return np.concatenate([motion, np.zeros((len(motion), 1))], axis=1).astype(np.float32)


PUSH_BEHIND = 0.06
"""How far behind the block (against the push direction) the gripper lines up, m."""
PUSH_ABOVE = 0.05
"""How high above the block's centre it travels to that point, m."""
GAIN = 0.6
"""Proportional gain: the position controller lags, so a full step overshoots."""


def fetch_push_expert(observations: np.ndarray) -> np.ndarray:
    """Rise, move above a point behind the block on the goal's far side, go down,
    push through to the goal; fingers closed, as a flat pusher."""
    observations = np.asarray(observations, np.float64)
    gripper = observations[:, fetch.GRIP]
    block = observations[:, fetch.OBJECT]
    goal = observations[:, fetch.DESIRED]
    direction = goal[:, :2] - block[:, :2]
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-6)
    behind = block[:, :2] - PUSH_BEHIND * direction
    offset = gripper[:, :2] - behind
    along = np.sum(offset * direction, axis=1)  # how far along the push line
    across = np.abs(offset[:, 0] * direction[:, 1] - offset[:, 1] * direction[:, 0])
    low = gripper[:, 2] < block[:, 2] + 0.02
    high = gripper[:, 2] > block[:, 2] + PUSH_ABOVE - 0.015
    on_line = (across < 0.02) & (along > -0.02) & (along < 0.035)  # touching its back
    pushing = low & on_line
    lined_up = np.linalg.norm(offset, axis=1) < 0.02
    height = block[:, 2:3] + PUSH_ABOVE
    target = np.where(  # travel high; go down once above the point behind the block
        (lined_up | pushing)[:, None],
        np.concatenate([behind, block[:, 2:3]], axis=1),
        np.concatenate([behind, height], axis=1),
    )
    rising = ~high & ~lined_up & ~pushing  # low but not on the line: rise in place first
    target = np.where(rising[:, None], np.concatenate([gripper[:, :2], height], axis=1), target)
    push_to = goal[:, :2] + 0.015 * direction  # a little beyond: the block's centre arrives
    pushed = np.concatenate([gripper[:, :2] + push_to - block[:, :2], block[:, 2:3]], axis=1)
    target = np.where(pushing[:, None], pushed, target)
    motion = _move(gripper, target, GAIN)
    arrived = np.linalg.norm(goal[:, :2] - block[:, :2], axis=1) < 0.02
    motion = np.where(arrived[:, None], 0.0, motion)  # leave it there
    fingers = -np.ones((len(motion), 1))
    return np.concatenate([motion, fingers], axis=1).astype(np.float32)
