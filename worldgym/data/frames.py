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
from PIL import Image

from worldgym.data.episodes import EpisodeDataset


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


def recorded_previous_actions(data: EpisodeDataset, observation_index, history: int):
    """The `history` actions recorded before these observations [N, h, action_dim],
    oldest first; zeros before each episode's reset."""
    observation_index = np.asarray(observation_index)
    episode = np.searchsorted(data.observation_starts, observation_index, side="right") - 1
    step = observation_index - data.observation_starts[episode]  # steps since the reset
    back = step[:, None] - np.arange(history, 0, -1)[None, :]  # [N, h]
    index = data.transition_starts[episode][:, None] + np.maximum(back, 0)
    return np.where((back >= 0)[..., None], data.actions[index], 0.0).astype(np.float32)


def recorded_inputs(model, data: EpisodeDataset, observation_index):
    """What `model` starts from at these recorded observations, where that is more
    than the observation: the frame stacks ending there (a model that starts from
    frames), or the observation with the actions before it (a model that reads
    previous actions); None where the observation is all it needs."""
    if model.frame_stack:
        return recorded_frame_stacks(data, observation_index, model.frame_stack)
    if model.action_history:
        observation_index = np.asarray(observation_index)
        return {"obs": data.observations[observation_index],
                "previous_actions": recorded_previous_actions(data, observation_index,
                                                              model.action_history)}  # fmt: skip
    return None


def stacks_at_reset(frames, stack: int, image_size=None) -> np.ndarray:
    """Episodes' first camera frames [E, H, W, 3] uint8 -> the frame stacks a model
    starts from at a reset [E, h, w, 3 stack]: each frame resized to the model's
    `image_size` (height, width; bilinear, as PIL resizes, antialiased when it
    shrinks) where it differs, then repeated `stack` times (nothing before a reset)."""

    frames = np.asarray(frames, np.uint8)
    if image_size is not None and tuple(frames.shape[1:3]) != tuple(image_size):
        height, width = image_size
        frames = np.stack([np.asarray(Image.fromarray(frame).resize((width, height),
                                                                    Image.BILINEAR))
                           for frame in frames])  # fmt: skip
    return np.concatenate([frames] * stack, axis=-1)
