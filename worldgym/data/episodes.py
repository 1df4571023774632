"""A dataset of episodes in memory: flat, training-ready arrays.

Every reader (worldgym's own Minari files in data.dataset, other Minari
datasets in data.foreign) returns one, and training, evaluation and advice read
it; it knows nothing of files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpisodeDataset:
    """A whole dataset as flat, training-ready arrays.

    Observations keep each episode's T+1 entries back to back; `transitions()`
    pairs them into (obs, action, next_obs) without copying episodes one by one.
    """

    observations: np.ndarray  # [steps + episodes, obs_dim] float32
    actions: np.ndarray  # [steps, action_dim] float32
    rewards: np.ndarray  # [steps] float32
    terminations: np.ndarray  # [steps] bool
    truncations: np.ndarray  # [steps] bool
    success: np.ndarray  # [steps + episodes] bool, per observation
    episode_lengths: np.ndarray  # [episodes] int: T of each episode
    seeds: np.ndarray  # [episodes] int: reset seed of each episode
    behaviours: tuple[str, ...]  # [episodes]: behaviour policy of each episode
    metadata: dict  # the dataset header (Minari's, with worldgym's additions)
    images: np.ndarray | None = None  # [steps + episodes, H, W, 3] uint8

    @property
    def num_episodes(self) -> int:
        return len(self.episode_lengths)

    def fingerprint(self, episodes: int | None = None) -> str:
        """SHA-256 over the arrays a model learns from (changes if any value does).

        With `episodes`, over the first that-many episodes only: a dataset that
        grew by appending (as `worldgym refine` does) still matches what a model
        was trained on before it grew.
        """
        episodes = self.num_episodes if episodes is None else episodes
        observations = int(np.sum(self.episode_lengths[:episodes] + 1))
        steps = int(np.sum(self.episode_lengths[:episodes]))
        digest = hashlib.sha256()
        for array in (self.observations[:observations], self.actions[:steps],
                      self.success[:observations], self.episode_lengths[:episodes]):  # fmt: skip
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    @property
    def num_transitions(self) -> int:
        return len(self.actions)

    @property
    def observation_starts(self) -> np.ndarray:
        """Index of each episode's first observation in `observations`."""
        return np.concatenate([[0], np.cumsum(self.episode_lengths + 1)[:-1]])

    @property
    def transition_starts(self) -> np.ndarray:
        """Index of each episode's first transition in `actions`."""
        return np.concatenate([[0], np.cumsum(self.episode_lengths)[:-1]])

    def episode_index(self) -> np.ndarray:
        """[steps] the episode each transition belongs to."""
        return np.repeat(np.arange(self.num_episodes), self.episode_lengths)

    def observation_index(self) -> np.ndarray:
        """[steps] index in `observations` of each transition's first observation."""
        return np.arange(self.num_transitions) + self.episode_index()

    def transitions(self) -> dict[str, np.ndarray]:
        """Flat (obs, action, next_obs, reward, next_success, termination) arrays."""
        index = self.observation_index()
        return {
            "observations": self.observations[index],
            "actions": self.actions,
            "next_observations": self.observations[index + 1],
            "rewards": self.rewards,
            "next_success": self.success[index + 1],
            "terminations": self.terminations,
            "episodes": self.episode_index(),
        }

    def episode(self, number: int) -> dict[str, np.ndarray]:
        """One episode's arrays (observations [T+1], actions [T], ...)."""
        length = self.episode_lengths[number]
        obs, step = self.observation_starts[number], self.transition_starts[number]
        return {
            "observations": self.observations[obs : obs + length + 1],
            "actions": self.actions[step : step + length],
            "rewards": self.rewards[step : step + length],
            "success": self.success[obs : obs + length + 1],
            "terminations": self.terminations[step : step + length],
            "truncations": self.truncations[step : step + length],
        }
