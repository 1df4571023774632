"""Action checks that turn bad input into one clear sentence."""

from __future__ import annotations

import gymnasium
import numpy as np

TOLERANCE = 1e-6
"""Slack on the action bounds, so float32 round-off of a clipped action passes."""


def check_action(action, space: gymnasium.spaces.Box, owner: str) -> np.ndarray:
    """Return `action` as a float64 array, or raise ValueError saying what is wrong."""
    try:
        array = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner} expects a numeric action of shape {space.shape}, got {action!r}."
        ) from None
    if array.shape != space.shape:
        raise ValueError(
            f"{owner} expects an action of shape {space.shape}, got shape {array.shape}."
        )
    # Array methods rather than np.all/np.any: this runs on every real step, where
    # numpy's dispatch wrappers cost as much as the checks.
    if not np.isfinite(array).all():
        raise ValueError(f"{owner} got a non-finite action {array.tolist()} (NaN or inf).")
    clipped = array.clip(space.low, space.high)
    if np.abs(clipped - array).max(initial=0.0) > TOLERANCE:
        raise ValueError(
            f"{owner} got action {np.round(array, 4).tolist()} outside its bounds "
            f"[{space.low.min():g}, {space.high.max():g}]; clip it first "
            "(e.g. gymnasium.wrappers.ClipAction)."
        )
    return clipped
