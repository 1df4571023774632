"""Exploration behaviours whose randomness is a schedule drawn per episode.

Temporally correlated noise and play cannot be pure functions of the
observation: they remember where they are going. Here that memory is a
*schedule*, drawn up front from the episode's seed (on a stream apart from the
environment's own): arrays over the episode's steps. The action at step t is a
function of the observation and row t of the schedule, so many episodes step in
lockstep with one batched call per step (`lockstep`), and a single episode runs
in a Gymnasium loop (`ScheduledActor`). Either way an episode is reproducible
from its seed.

- `ou`, `pink`: exploration noise in the action box.
- `play`: goal-directed play (for tasks with an oracle): the oracle sent to random
  waypoints across the whole workspace (wider and higher than the task's goals),
  each held for a random duration, with random grip levels held for random
  durations, pauses, and Ornstein-Uhlenbeck noise on top. The data then covers
  what other controllers do, not only the oracle's own faults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.policies.oracles import require_oracle

OU_THETA, OU_SIGMA = 0.15, 0.3
"""Ornstein-Uhlenbeck mean reversion per step and noise per step (in half-ranges),
the values DDPG (Lillicrap et al. 2016) used."""
PINK_SIGMA = 0.5
"""Standard deviation of pink noise, in half-ranges of the action box."""
SEGMENT_STEPS = (15, 50)
"""Play holds each waypoint, grip and pause for a uniform number of steps in this range."""
GRIP_OVERRIDE, PAUSE = 0.35, 0.1
"""Chance per play segment of a random grip level, and of a pause (no motion)."""
PLAY_NOISE = 0.5
"""Scale of the Ornstein-Uhlenbeck noise added to play's actions."""


def ou_noise(rng: np.random.Generator, steps: int, dims: int) -> np.ndarray:
    """[steps, dims] Ornstein-Uhlenbeck noise started from its stationary law, in [-1, 1]."""
    stationary = OU_SIGMA / math.sqrt(2 * OU_THETA - OU_THETA**2)
    values = np.empty((steps, dims))
    x = rng.normal(0.0, stationary, dims)
    for t in range(steps):
        values[t] = x
        x = x - OU_THETA * x + OU_SIGMA * rng.normal(size=dims)
    return np.clip(values, -1.0, 1.0)


def pink_noise(rng: np.random.Generator, steps: int, dims: int, beta: float = 1.0) -> np.ndarray:
    """[steps, dims] Gaussian noise with power spectrum 1/f^beta (pink for beta = 1),
    drawn in the frequency domain and scaled to PINK_SIGMA, in [-1, 1]."""
    frequencies = np.fft.rfftfreq(steps)
    frequencies[0] = frequencies[1] if steps > 1 else 1.0
    amplitude = frequencies ** (-beta / 2)
    spectrum = amplitude[:, None] * (rng.normal(size=(len(frequencies), dims))
                                     + 1j * rng.normal(size=(len(frequencies), dims)))  # fmt: skip
    values = np.fft.irfft(spectrum, n=steps, axis=0)
    values = values / max(float(values.std()), 1e-8)
    return np.clip(PINK_SIGMA * values, -1.0, 1.0)


def episode_rng(seed: int) -> np.random.Generator:
    """The schedule's own stream for an episode (not the environment's reset stream)."""
    return np.random.default_rng([int(seed), 0x5EED])


class NoiseBehaviour:
    """Exploration noise (`ou` or `pink`) in the action box."""

    def __init__(self, kind: str, action_space, horizon: int):
        self.name = kind
        self.center = ((action_space.high + action_space.low) / 2).astype(np.float32)
        self.half_range = ((action_space.high - action_space.low) / 2).astype(np.float32)
        self.horizon = horizon

    def schedule(self, seed: int) -> dict[str, np.ndarray]:
        draw = ou_noise if self.name == "ou" else pink_noise
        return {"noise": draw(episode_rng(seed), self.horizon, self.center.shape[0])}

    def act(self, observations: np.ndarray, rows: dict) -> np.ndarray:
        return (self.center + self.half_range * rows["noise"]).astype(np.float32)


class PlayBehaviour:
    """Goal-directed play: the task's oracle pursuing random waypoints (see module)."""

    def __init__(self, task_name: str, horizon: int, action_dim: int):

        self.name, self.task_name = "play", task_name
        self.spec = require_oracle(task_name)
        self.horizon, self.action_dim = horizon, action_dim

    def schedule(self, seed: int) -> dict[str, np.ndarray]:
        rng = episode_rng(seed)
        low, high = (np.asarray(bound, np.float32) for bound in self.spec.workspace)
        steps = self.horizon
        waypoints = np.empty((steps, len(low)), np.float32)
        grips = np.full(steps, np.nan, np.float32)  # nan: the oracle's own grip
        pauses = np.zeros(steps, bool)
        start = 0
        while start < steps:
            end = min(steps, start + int(rng.integers(SEGMENT_STEPS[0], SEGMENT_STEPS[1] + 1)))
            waypoints[start:end] = rng.uniform(low, high)
            if rng.uniform() < GRIP_OVERRIDE:
                grips[start:end] = rng.uniform(-1.0, 1.0)
            pauses[start:end] = rng.uniform() < PAUSE
            start = end
        noise = PLAY_NOISE * ou_noise(rng, steps, self.action_dim)
        return {"waypoint": waypoints, "grip": grips, "pause": pauses,
                "noise": noise.astype(np.float32)}  # fmt: skip

    def act(self, observations: np.ndarray, rows: dict) -> np.ndarray:
        return np.asarray(_play_act(self.task_name)(
            jnp.asarray(observations, jnp.float32), rows["waypoint"], rows["grip"],
            rows["pause"], rows["noise"],
        ))  # fmt: skip


@cache
def _play_act(task_name: str):
    """jit(vmap) of one play step for a task (compiled once per task)."""

    spec = require_oracle(task_name)
    knobs = {name: jnp.float32(value) for name, value in spec.default_knobs.items()}

    def one(obs, waypoint, grip, pause, noise):
        action = spec.command(obs.at[spec.goal].set(waypoint), knobs)
        motion = jnp.arange(action.shape[0]) < spec.motion_dims
        action = jnp.where(motion & pause, 0.0, action)
        action = jnp.where(~motion & ~jnp.isnan(grip), grip, action)
        return jnp.clip(action + noise, -1.0, 1.0)

    return jax.jit(jax.vmap(one))


class ScheduledActor:
    """One episode of a scheduled behaviour in a Gymnasium loop: reset(seed), obs -> action."""

    def __init__(self, behaviour):
        self.behaviour, self.name = behaviour, behaviour.name
        self._rows, self._step = None, 0

    def reset(self, seed: int) -> None:
        self._rows, self._step = self.behaviour.schedule(seed), 0

    def __call__(self, obs) -> np.ndarray:
        step = min(self._step, self.behaviour.horizon - 1)
        rows = {key: value[step][None] for key, value in self._rows.items()}
        self._step += 1
        return self.behaviour.act(np.asarray(obs, np.float32)[None], rows)[0]


def lockstep(behaviours, seeds) -> Callable:
    """act(observations [W, d], episodes [W], steps [W], active [W]) for episodes of
    one scheduled behaviour kind, each with its own seed's schedule, run by W
    environments (see rollouts/real.py batched_actions): one batched call per step."""
    schedules = [b.schedule(seed) for b, seed in zip(behaviours, seeds, strict=True)]
    stacked = {key: np.stack([s[key] for s in schedules]) for key in schedules[0]}
    behaviour = behaviours[0]

    def act(observations, episodes, steps, active):
        del active  # every row is computed: schedules are cheap to index
        steps = np.minimum(steps, behaviour.horizon - 1)
        rows = {key: value[episodes, steps] for key, value in stacked.items()}
        return behaviour.act(observations, rows)

    return act


SCHEDULED = (NoiseBehaviour, PlayBehaviour)
