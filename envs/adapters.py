"""Adapting any Gymnasium environment with Box (or Dict) spaces into a Task.

Users bring their own MuJoCo tasks: the observation is flattened to float32, and
info["success"] is added every step, either copied from an info key the env
already reports (such as "is_success") or computed by a jax.numpy predicate on
the flat observation. Gymnasium's own Reacher-v5 is the worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import gymnasium
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from worldgym.envs.rendering import ApplyObservation, ObservationRenderer
from worldgym.envs.task import SuccessFn, Task
from worldgym.specs import first_line


class SuccessInfo(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Adds info["success"] (a Python bool) after reset and every step."""

    def __init__(self, env, success_fn: SuccessFn | None, success_key: str | None):
        gymnasium.utils.RecordConstructorArgs.__init__(
            self, success_fn=success_fn, success_key=success_key
        )
        gymnasium.Wrapper.__init__(self, env)
        self._success_fn = jax.jit(success_fn) if success_fn else None
        self._success_key = success_key

    def _success(self, obs, info) -> bool:
        if self._success_fn is not None:
            return bool(self._success_fn(obs))
        return bool(info.get(self._success_key, False))

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, "success": self._success(obs, info)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "success": self._success(obs, info)}
        return obs, reward, terminated, truncated, info


def _flat_float32(env: gymnasium.Env) -> gymnasium.Env:
    """Flatten Dict or multi-dimensional Box observations to a float32 vector."""
    if (
        not isinstance(env.observation_space, gymnasium.spaces.Box)
        or len(env.observation_space.shape) != 1
    ):
        env = gymnasium.wrappers.FlattenObservation(env)
    space = env.observation_space
    if space.dtype != np.float32:
        float32_space = gymnasium.spaces.Box(
            space.low.astype(np.float32), space.high.astype(np.float32), dtype=np.float32
        )
        env = gymnasium.wrappers.TransformObservation(
            env, lambda obs: np.asarray(obs, np.float32), float32_space
        )
    return env


def _wrap(env, success_fn, success_key):
    return SuccessInfo(_flat_float32(env), success_fn, success_key)


def _mujoco_renderer(env_id: str, env_kwargs: dict, apply_observation: ApplyObservation,
                     camera: str | dict | None, width, height):  # fmt: skip
    """Draw observations with the env's own model: from its camera called `camera`, or
    a free camera with the given settings (lookat, distance, azimuth, elevation), or
    one framing the whole model."""
    model = gymnasium.make(env_id, **env_kwargs).unwrapped.model
    if isinstance(camera, str):
        return ObservationRenderer(model, apply_observation, camera, width, height)
    free = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, free)
    for name, value in (camera or {}).items():
        if name == "lookat":
            free.lookat[:] = value
        else:
            setattr(free, name, value)
    return ObservationRenderer(model, apply_observation, free, width, height)


def adapt_gym_env(
    env_id: str,
    *,
    name: str | None = None,
    success_key: str | None = None,
    success_fn: SuccessFn | None = None,
    terminate_on_success: bool = False,
    apply_observation: ApplyObservation | None = None,
    reward_fn: Callable | None = None,
    horizon: int | None = None,
    env_kwargs: dict | None = None,
    camera: str | dict | None = None,
    observation_names: tuple[str, ...] = (),
    description: str = "",
) -> Task:
    """A Task for Gymnasium env `env_id` (called `name`, default the id).

    Success comes from `success_fn` (jax.numpy predicate on the flat observation)
    or, failing that, from `info[success_key]`. For MuJoCo envs, pass
    `apply_observation(model, data, flat_obs)` to draw arbitrary observations, from
    `camera` (a camera's name, or free-camera settings such as {"distance": 0.6,
    "elevation": -90}; default: a view of the whole model). `horizon` sets a time
    limit on envs registered without one; `env_kwargs` go to `gymnasium.make`.
    Everything here must be importable by name (module-level functions, not
    lambdas), because worker processes rebuild the task.
    """
    if (success_fn is None) == (success_key is None):
        raise ValueError(f"Adapting {env_id!r} needs exactly one of success_fn or success_key.")
    env_kwargs = dict(env_kwargs or {})
    if horizon is not None:
        env_kwargs["max_episode_steps"] = int(horizon)
    try:
        probe = _flat_float32(gymnasium.make(env_id, **env_kwargs))
    except Exception as error:  # a user's environment: whatever making it raised
        raise ValueError(f"Cannot adapt {env_id!r}: {type(error).__name__}: "
                         f"{first_line(error)}") from None  # fmt: skip
    if not isinstance(probe.action_space, gymnasium.spaces.Box):
        raise ValueError(
            f"worldgym adapts environments with Box actions; {env_id!r} has "
            f"{type(probe.action_space).__name__} actions."
        )
    limit = probe.spec.max_episode_steps if probe.spec else None
    if limit is None:
        raise ValueError(f"{env_id!r} has no max_episode_steps; pass horizon=... to adapt it.")
    dt = getattr(probe.unwrapped, "dt", 1.0 / probe.metadata.get("render_fps", 30))
    probe.close()
    return Task(
        name=name or env_id,
        env_id=env_id,
        horizon=int(limit),
        observation_space=probe.observation_space,
        action_space=probe.action_space,
        success_fn=success_fn,
        reward_fn=reward_fn,
        terminate_on_success=terminate_on_success,
        observation_names=tuple(observation_names),
        dt=float(dt),
        description=description or f"Gymnasium's {env_id}, adapted.",
        success_key=success_key,
        make_env_kwargs=env_kwargs,
        wrap_env=partial(_wrap, success_fn=success_fn, success_key=success_key),
        observation_renderer=(
            partial(_mujoco_renderer, env_id, env_kwargs, apply_observation, camera)
            if apply_observation else None
        ),  # fmt: skip
    )


# --- Gymnasium's Reacher-v5 ---------------------------------------------------------
REACHER_SUCCESS_RADIUS = 0.02
"""Fingertip-target distance (metres) that counts as reached at the episode's end."""


def reacher_success(obs):
    """Reacher-v5's last two observation entries are fingertip minus target (x, y)."""
    return jnp.linalg.norm(obs[..., 8:10], axis=-1) < REACHER_SUCCESS_RADIUS


def reacher_apply_observation(model, data, obs):
    """Reacher-v5 observes cos/sin of the two joints, the target, joint velocities."""
    data.qpos[:2] = np.arctan2(obs[2:4], obs[0:2])
    data.qpos[2:4] = obs[4:6]
    data.qvel[:2] = obs[6:8]
    data.qvel[2:4] = 0.0


REACHER_OBSERVATION_NAMES = (
    "cos_shoulder", "cos_elbow", "sin_shoulder", "sin_elbow", "target_x", "target_y",
    "shoulder_velocity", "elbow_velocity", "fingertip_minus_target_x",
    "fingertip_minus_target_y",
)  # fmt: skip
REACHER_CAMERA = {"lookat": (0.0, 0.0, 0.0), "distance": 0.75, "elevation": -90.0, "azimuth": 90.0}
"""Straight down on the arena, which the arm's reach (21 cm) nearly fills."""


def reacher_v5_task() -> Task:
    """Reacher-v5 as a Task: success is the fingertip within 2 cm at the final step."""
    return adapt_gym_env(
        "Reacher-v5",
        success_fn=reacher_success,
        apply_observation=reacher_apply_observation,
        camera=REACHER_CAMERA,
        observation_names=REACHER_OBSERVATION_NAMES,
        description="Gymnasium's Reacher-v5: fingertip within 2 cm of the target at the end.",
    )
