"""Writing videos and images atomically (temp file + rename)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from worldgym.files import atomic_file


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write frames [T, H, W, 3] uint8 to an MP4 (H.264) or GIF, replacing `path` whole.

    A crash mid-write leaves the previous file (or none), never a truncated one.
    """
    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"Expected frames of shape [T, H, W, 3], got {frames.shape}.")
    with atomic_file(path) as temp, warnings.catch_warnings():
        # imageio starts ffmpeg with fork+exec; JAX warns about any fork, but an
        # immediate exec cannot deadlock on JAX's threads.
        warnings.filterwarnings(
            "ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning
        )
        if path.suffix == ".gif":
            iio.imwrite(temp, frames, duration=1000.0 / fps, loop=0)
        else:
            # H.264 in yuv420p needs even sizes; macro_block_size=2 pads odd ones.
            iio.imwrite(temp, frames, fps=fps, codec="libx264", macro_block_size=2)
    return path


def write_image(path: str | os.PathLike, frame: np.ndarray) -> Path:
    """Write one frame [H, W, 3] uint8 as a PNG, replacing `path` whole."""
    path = Path(path)
    with atomic_file(path) as temp:
        iio.imwrite(temp, np.asarray(frame, dtype=np.uint8), extension=".png")
    return path


HOLD_FRAMES = 12
"""Frames the last image of an episode clip is held for, so the ending can be seen."""


def episode_clip(frames: np.ndarray, success: bool) -> np.ndarray:
    """The episode's frames with the last held and a green/red border for the outcome."""
    clip = np.concatenate([frames, np.repeat(frames[-1:], HOLD_FRAMES, axis=0)])
    return outcome_border(clip, success)


def outcome_border(frames: np.ndarray, success: bool, width: int = 4) -> np.ndarray:
    """A copy of frames [T, H, W, 3] with a green (success) or red (failure) border."""
    framed = np.array(frames, dtype=np.uint8)
    colour = np.array([40, 180, 70] if success else [210, 50, 40], np.uint8)
    framed[:, :width], framed[:, -width:] = colour, colour
    framed[:, :, :width], framed[:, :, -width:] = colour, colour
    return framed
