"""One type for a policy's episodes in either world: `Outcomes`.

The real runner, the imagination engine, the result cache, calibration and the
report all read and write this one type (arrays over episodes), instead of
dicts, npz files and dataclasses reshaped for each.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from worldgym.evaluation.differences import wilson_interval


@dataclass(frozen=True)
class Outcomes:
    """A policy's E episodes in one world, from E reset seeds.

    Imagination adds what only a model knows: the success head's probability, the
    ensemble's uncertainty, divergence, and the outcome when each member imagines
    alone. Real outcomes leave those None.
    """

    success: np.ndarray  # [E] bool, episode outcome by the task's rule
    returns: np.ndarray  # [E] float64, the task's reward summed over the episode
    observations: np.ndarray  # [E, H + 1, obs_dim]; after an early end, the last one repeats
    lengths: np.ndarray  # [E] int, steps the episode ran
    actions: np.ndarray | None = None  # [E, H, action_dim]; zeros after an early end
    success_probability: np.ndarray | None = None  # [E] the success head, for the outcome
    uncertainty: np.ndarray | None = None  # [E] mean model uncertainty over the episode
    diverged: np.ndarray | None = None  # [E] bool, the model left its plausible range
    member_success: np.ndarray | None = None  # [M, E] bool, outcome with one member alone
    step_uncertainty: np.ndarray | None = None  # [E, H] the model's uncertainty per step (0 after)

    @property
    def episodes(self) -> int:
        return len(self.success)

    @property
    def rate(self) -> float:
        return float(np.mean(self.success))

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of the success rate."""
        low, high = wilson_interval(int(np.sum(self.success)), self.episodes, confidence)
        return float(low), float(high)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fields that are set, as named arrays (for an .npz cache entry)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: dict) -> Outcomes:
        known = {f.name for f in fields(cls)}
        return cls(**{name: np.asarray(value) for name, value in arrays.items() if name in known})

    @classmethod
    def concatenate(cls, parts: list[Outcomes]) -> Outcomes:
        """Episodes of several Outcomes of the same policy, in order."""
        arrays = [part.to_arrays() for part in parts]
        return cls.from_arrays({name: np.concatenate([a[name] for a in arrays])
                                for name in arrays[0]})  # fmt: skip

    @classmethod
    def from_episodes(cls, episodes, task) -> Outcomes:
        """Real episodes (worldgym.rollouts.real.Episode) with observations padded to
        the horizon by repeating the last one (episodes that end on success are shorter)."""
        observations = np.zeros((len(episodes), task.horizon + 1, task.obs_dim), np.float32)
        actions = np.zeros((len(episodes), task.horizon, task.action_dim), np.float32)
        for row, episode in enumerate(episodes):
            observations[row, : episode.length + 1] = episode.observations
            observations[row, episode.length + 1 :] = episode.observations[-1]
            actions[row, : episode.length] = episode.actions
        return cls(
            success=np.array([e.success for e in episodes], bool),
            returns=np.array([e.episode_return for e in episodes], np.float64),
            observations=observations,
            lengths=np.array([e.length for e in episodes]),
            actions=actions,
        )

    @classmethod
    def from_trajectories(cls, trajectories, task, member_success=None) -> Outcomes:
        """Imagined Trajectories [E, ...] (the engine's output), scored by the task's
        episode rule: the task's predicate where it has one, else the success head."""
        active = np.asarray(trajectories.active)
        probability = np.asarray(trajectories.success_probability) * active
        if task.success_fn is not None:
            step_success = np.asarray(trajectories.predicate_success) & active
        else:
            step_success = (np.asarray(trajectories.success_probability) > 0.5) & active
        if task.terminate_on_success:
            success = step_success.any(axis=1)
            episode_probability = probability.max(axis=1)
        else:
            success = step_success[:, -1]
            episode_probability = probability[:, -1]
        observations = np.asarray(trajectories.observations)
        lengths = active.sum(axis=1)
        steps = np.maximum(lengths, 1)
        step_uncertainty = np.asarray(trajectories.uncertainty) * active
        last = np.take_along_axis(observations, lengths[:, None, None], axis=1)
        held = np.arange(observations.shape[1])[None, :, None] > lengths[:, None, None]
        return cls(
            success=success,
            returns=np.asarray(trajectories.rewards).sum(axis=1, dtype=np.float64),
            observations=np.where(held, last, observations),
            lengths=lengths,
            actions=np.asarray(trajectories.actions) * active[..., None],
            success_probability=episode_probability,
            uncertainty=step_uncertainty.sum(axis=1) / steps,
            diverged=np.asarray(trajectories.diverged),
            member_success=member_success,
            step_uncertainty=step_uncertainty,
        )
