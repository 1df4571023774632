"""A stand-in that does not repeat itself: the native tasks in a robot-like mode.

A real robot never replays an episode exactly, but the MuJoCo tasks are
deterministic, and imagination replays the policy's own noise from the same seed,
so per-episode agreement, Cohen's kappa and the savings of prediction-powered
estimates measured on them are upper bounds. In robot-like mode every episode,
seeded by its reset seed (the same seed gives the same episode, so results stay
reproducible and cacheable), differs from the deterministic task by

- actuator noise: Gaussian noise on every command, ACTUATOR_NOISE of the half-range;
- sensor noise: Gaussian noise on every observation the policy (and imagination's
  first step) sees, SENSOR_NOISE (in the observation's own units);
- reset jitter: the joints' initial positions moved by up to RESET_JITTER;
- episode-to-episode physics: every geom's sliding friction and every body's mass
  scaled by a factor drawn in [1 - CHANGE, 1 + CHANGE].

The tasks keep their names (the same zoo, the same models) and are found as
`worldgym.envs.robot_like:push` (and `:reach`, `:pick_place`); worker processes
rebuild them from that spec, and the result cache keeps their episodes apart.

    worldgym calibrate worldgym.envs.robot_like:push --checkpoint runs/models/push
"""

from __future__ import annotations

from dataclasses import replace

import gymnasium
import mujoco
import numpy as np

from worldgym.envs.registry import get_task

ACTUATOR_NOISE = 0.05
SENSOR_NOISE = 0.002
RESET_JITTER = 0.003
CHANGE = 0.1


class RobotLike(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Seeded per-episode imperfections over a MujocoTaskEnv (see the module)."""

    def __init__(self, env: gymnasium.Env):
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        gymnasium.Wrapper.__init__(self, env)
        base = env.unwrapped
        self._friction = base.model.geom_friction.copy()
        self._mass = base.model.body_mass.copy()
        self._stream = np.random.default_rng()
        self._rng = np.random.default_rng()
        low, high = env.action_space.low, env.action_space.high
        self._half_range = (high - low) / 2

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        # The imperfections draw from their own stream of the reset seed, apart from
        # the task's initial-state sampling (which stays exactly the task's); a reset
        # without a seed continues the stream, as Gymnasium asks.
        if seed is not None:
            self._stream = np.random.default_rng([int(seed), 104_729])
        self._rng = np.random.default_rng(self._stream.integers(2**63))
        base = self.env.unwrapped
        model, data = base.model, base.data
        scale = self._rng.uniform(1 - CHANGE, 1 + CHANGE, size=(model.ngeom, 1))
        model.geom_friction[:] = self._friction
        model.geom_friction[:, :1] *= scale
        model.body_mass[:] = self._mass * self._rng.uniform(1 - CHANGE, 1 + CHANGE,
                                                            size=model.nbody)  # fmt: skip
        obs, info = self.env.reset(seed=seed, options=options)
        data.qpos[:] += self._rng.uniform(-RESET_JITTER, RESET_JITTER, size=model.nq)
        mujoco.mj_forward(model, data)
        obs = np.asarray(base.read_observation(model, data), dtype=obs.dtype)
        return self._sensed(obs), info

    def step(self, action):
        action = np.asarray(action, np.float32)
        noisy = action + ACTUATOR_NOISE * self._half_range * self._rng.normal(size=action.shape)
        noisy = np.clip(noisy, self.action_space.low, self.action_space.high)
        obs, reward, terminated, truncated, info = self.env.step(noisy.astype(np.float32))
        return self._sensed(obs), reward, terminated, truncated, info

    def _sensed(self, obs: np.ndarray) -> np.ndarray:
        noise = SENSOR_NOISE * self._rng.normal(size=np.shape(obs))
        return (np.asarray(obs) + noise).astype(np.asarray(obs).dtype)


def robot_like(name: str):
    """The native task `name` in robot-like mode (same name, zoo and models)."""
    task = get_task(name)
    inner = task.wrap_env
    return replace(task, wrap_env=lambda env: RobotLike(inner(env) if inner else env),
                   description=f"{task.description} Robot-like mode: seeded actuator and "
                   "sensor noise, reset jitter, friction and mass changes per episode.",
                   spec="")  # fmt: skip


reach = robot_like("Reach")
push = robot_like("Push")
pick_place = robot_like("PickPlace")
