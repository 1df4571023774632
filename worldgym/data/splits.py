"""Which episodes train and which validate, and where training windows start.

Shared by training and model-eval, so both agree on which episodes a model never saw.
"""

from __future__ import annotations

import numpy as np

from worldgym.data.dataset import EpisodeDataset


def split_episodes(num_episodes: int, fraction: float, seed: int):
    """(train, validation) episode numbers, split by episode."""
    if num_episodes < 2:
        raise ValueError("Training needs a dataset of at least 2 episodes (train + validation).")
    order = np.random.default_rng(seed).permutation(num_episodes)
    held_out = min(max(1, round(fraction * num_episodes)), num_episodes - 1)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def window_starts(data: EpisodeDataset, episodes: np.ndarray, steps: int) -> np.ndarray:
    """Transition indices t where a k-step window t..t+k-1 stays in one episode."""
    starts = []
    for episode in episodes:
        length = int(data.episode_lengths[episode])
        first = int(data.transition_starts[episode])
        starts.append(first + np.arange(max(0, length - steps + 1)))
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)
