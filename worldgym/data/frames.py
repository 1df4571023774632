"""Stacks of recorded frames: what a model that learns from frames reads.

A frame stack ending at observation i is that observation's frame and the
stack - 1 before it in its episode, channels concatenated oldest first (an
episode's first frame stands in for the ones before it). The trainer gathers
them inside its jitted epoch, model-eval and the support reference from the
dataset: one definition for all three.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from worldgym.data.dataset import EpisodeDataset


def previous_observations(data: EpisodeDataset) -> np.ndarray:
    """[observations] the index of each observation's predecessor in its episode
    (an episode's first observation points at itself)."""
    index = np.arange(len(data.observations)) - 1
    index[data.observation_starts] = data.observation_starts
    return index.astype(np.int32)


def frame_stacks(frames, previous, ends, stack: int):
    """frames [N, H, W, 3] -> [..., H, W, 3 stack]: for each observation index in
    `ends`, its frame and the stack - 1 before it, oldest first, each step back
    following `previous`, so a stack never reaches into another episode. Works on
    numpy and on traced JAX arrays."""
    indices = [ends]
    for _ in range(stack - 1):
        indices.insert(0, previous[indices[0]])
    picked = jnp.stack([frames[index] for index in indices], axis=-2)  # [..., H, W, s, 3]
    return picked.reshape(*picked.shape[:-2], -1)


def recorded_frame_stacks(data: EpisodeDataset, observation_index, stack: int):
    """The dataset's frame stacks ending at these observations, or None where there
    is nothing to stack (a model that does not start from frames, stack 0, or a
    dataset without frames): callers then start the model from its own inputs."""
    if not stack or data.images is None:
        return None
    return frame_stacks(data.images, previous_observations(data), np.asarray(observation_index),
                        stack)  # fmt: skip
