"""Which episodes train and which validate, and where training windows start.

Shared by training and model-eval, so both agree on which episodes a model never saw.
"""

from __future__ import annotations

import numpy as np

from worldgym.data.episodes import EpisodeDataset


def split_episodes(num_episodes: int, fraction: float, seed: int):
    """(train, validation) episode numbers, split by episode."""
    if num_episodes < 2:
        raise ValueError("Training needs a dataset of at least 2 episodes (train + validation).")
    order = np.random.default_rng(seed).permutation(num_episodes)
    held_out = min(max(1, round(fraction * num_episodes)), num_episodes - 1)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def run_split(num_episodes: int, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) episode numbers of a training run with `settings` (its
    train config as a dict) on a dataset of `num_episodes` episodes.

    The first max_episodes (all if None) are used; of those, the first
    base_episodes (all if None) are split by validation_fraction and seed, and any
    later ones (appended by refine) all train.
    """
    episodes = np.arange(num_episodes)
    if settings.get("max_episodes") is not None:
        episodes = episodes[: settings["max_episodes"]]
    base = len(episodes)
    if settings.get("base_episodes") is not None:
        base = min(settings["base_episodes"], base)
    train, validation = split_episodes(base, settings["validation_fraction"], settings["seed"])
    return np.concatenate([episodes[train], episodes[base:]]), episodes[validation]


def trained_episodes(data: EpisodeDataset, provenance: dict) -> int | None:
    """How many leading episodes of `data` are the data a model was trained on
    (its checkpoint's provenance), or None if `data` is not that dataset.

    A dataset that refine has grown since still matches on its first episodes.
    """
    if data.fingerprint() == provenance.get("dataset_fingerprint"):
        return data.num_episodes
    count = provenance.get("dataset_episodes")
    if count is None:  # runs from before dataset_episodes was recorded
        count = provenance.get("train_episodes", 0) + provenance.get("validation_episodes", 0)
    if 0 < count < data.num_episodes and data.fingerprint(count) == provenance.get(
        "dataset_fingerprint"
    ):
        return count
    return None


def window_starts(data: EpisodeDataset, episodes: np.ndarray, steps: int) -> np.ndarray:
    """Transition indices t where a k-step window t..t+k-1 stays in one episode."""
    starts = []
    for episode in episodes:
        length = int(data.episode_lengths[episode])
        first = int(data.transition_starts[episode])
        starts.append(first + np.arange(max(0, length - steps + 1)))
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)
