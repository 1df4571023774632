"""Adapting any Gymnasium environment with Box (or Dict) spaces into a Task.

Users bring their own MuJoCo tasks, registered under an id (with a string or a
callable entry point) or built by a factory function: the observation is
flattened to float32, info["success"] is added every step, either copied from
an info key the env already reports (such as "is_success") or computed by a
predicate on the flat observation, and every reset with a seed is made to
depend on that seed alone. Gymnasium's own Reacher-v5 is the worked example
here; Meta-World and Gymnasium-Robotics are in worldgym.envs.suites.
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
from worldgym.envs.task import SuccessFn, Task, takes_namespace
from worldgym.specs import first_line


class SuccessInfo(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Adds info["success"] (a Python bool) after reset and every step, and ends the
    episode at the first success for a task whose episodes end there.

    A predicate written against an array namespace (`success(obs, xp=np)`) runs in
    numpy on every real step; others are jitted once (a JAX dispatch per step costs
    more than many environments' physics)."""

    def __init__(self, env, success_fn: SuccessFn | None, success_key: str | None,
                 terminate_on_success: bool = False):  # fmt: skip
        gymnasium.utils.RecordConstructorArgs.__init__(
            self, success_fn=success_fn, success_key=success_key,
            terminate_on_success=terminate_on_success,
        )  # fmt: skip
        self._terminate_on_success = terminate_on_success
        gymnasium.Wrapper.__init__(self, env)
        if success_fn is not None and takes_namespace(success_fn):
            self._success_fn = partial(success_fn, xp=np)
        else:
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
        success = self._success(obs, info)
        info = {**info, "success": success}
        terminated = bool(terminated) or (self._terminate_on_success and success)
        return obs, reward, terminated, bool(truncated) and not terminated, info


class SeededReset(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Makes reset(seed=s) depend on s alone, for environments that draw their
    initial state before (or instead of) seeding: it seeds the environment's own
    generator, and numpy's global one (restored afterwards), before every reset
    with a seed. worldgym pairs real and imagined episodes by reset seed, and
    reuses one environment for many episodes, so the state an episode starts from
    must not depend on the episodes before it. Meta-World's MT1 picks its task
    variant from the generator before seeding it, and its environments draw goals
    from numpy's global generator; well-behaved environments are unaffected."""

    def __init__(self, env: gymnasium.Env):
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        gymnasium.Wrapper.__init__(self, env)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None:
            return self.env.reset(options=options)
        self.env.unwrapped.np_random = np.random.default_rng(seed)
        saved = np.random.get_state()
        np.random.seed(seed % 2**32)
        try:
            return self.env.reset(seed=seed, options=options)
        finally:
            np.random.set_state(saved)


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
            env, partial(np.asarray, dtype=np.float32), float32_space
        )
    return env


def _wrap(env, success_fn, success_key, horizon: int | None = None,
          terminate_on_success: bool = False):  # fmt: skip
    """Seeded resets, a flat float32 observation, info["success"] (ending the episode
    on it if asked), and for an environment made by a factory the time limit of
    its horizon."""
    if horizon is not None:  # outermost, whatever limit the factory's env has inside
        env = gymnasium.wrappers.TimeLimit(env, max_episode_steps=horizon)
    return SuccessInfo(_flat_float32(SeededReset(env)), success_fn, success_key,
                       terminate_on_success)  # fmt: skip


def flat_observation_names(space: gymnasium.Space) -> tuple[str, ...]:
    """One name per entry of the flattened observation: a Dict's keys with an index
    (Gymnasium-Robotics' achieved_goal_0, ..., observation_24), else obs_0, ..."""
    if isinstance(space, gymnasium.spaces.Dict):
        names = []
        for key, sub in space.spaces.items():
            size = gymnasium.spaces.flatdim(sub)
            names += [f"{key}_{i}" for i in range(size)] if size > 1 else [key]
        return tuple(names)
    return tuple(f"obs_{i}" for i in range(gymnasium.spaces.flatdim(space)))


def _mujoco_renderer(make_env: Callable[[], gymnasium.Env], apply_observation: ApplyObservation,
                     camera: str | dict | None, width, height):  # fmt: skip
    """Draw observations with the env's own model: from its camera called `camera`, or
    a free camera with the given settings (lookat, distance, azimuth, elevation), or
    one framing the whole model."""
    model = make_env().unwrapped.model
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


def _maker(env: str | Callable[..., gymnasium.Env], env_kwargs: dict):
    """(name of the environment, a zero-argument function making it)."""
    if isinstance(env, str):
        return env, partial(gymnasium.make, env, **env_kwargs)
    if not callable(env):
        raise ValueError(f"adapt_gym_env takes a Gymnasium id or a function making an "
                         f"environment, got {type(env).__name__}.")  # fmt: skip
    return _callable_name(env), partial(env, **env_kwargs)


def _callable_name(function: Callable) -> str:
    """module:qualname of a function, with a partial's bound arguments shown."""
    if isinstance(function, partial):
        arguments = [repr(a) for a in function.args]
        arguments += [f"{k}={v!r}" for k, v in function.keywords.items()]
        return f"{_callable_name(function.func)}({', '.join(arguments)})"
    module = getattr(function, "__module__", "?")
    return f"{module}:{getattr(function, '__qualname__', repr(function))}"


def check_seeded_reset(env: gymnasium.Env, label: str) -> None:
    """Refuse, in one sentence, an environment whose reset(seed=s) depends on what
    ran before it: worldgym starts real and imagined episodes from the same seed."""
    first, _ = env.reset(seed=0)
    env.reset(seed=1)
    env.action_space.seed(0)
    for _ in range(3):
        if any(env.step(env.action_space.sample())[2:4]):
            break
    again, _ = env.reset(seed=0)
    if not np.array_equal(np.asarray(first), np.asarray(again)):
        raise ValueError(
            f"{label}: reset(seed=0) gave two different initial observations, so episodes "
            "cannot be repeated by seed; make its reset draw from the seed it is given "
            "(e.g. self.np_random after super().reset(seed=seed))."
        )


def adapt_gym_env(
    env: str | Callable[..., gymnasium.Env],
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
    """A Task for the Gymnasium environment `env` (called `name`, default its id).

    `env` is a registered id (string or callable entry point alike) or a
    module-level function that makes the environment from `env_kwargs` (and
    render_mode, width, height when frames are asked for). Success comes from
    `success_fn` (a predicate on the flat observation, in jax.numpy; written as
    `success(obs, xp=jnp)` it also runs in numpy on every real step) or, failing
    that, from `info[success_key]`. For MuJoCo envs, pass
    `apply_observation(model, data, flat_obs)` to draw arbitrary observations, from
    `camera` (a camera's name, or free-camera settings such as {"distance": 0.6,
    "elevation": -90}; default: a view of the whole model). `horizon` sets the
    episode length (the time limit) when given. Everything here must be
    importable by name (module-level functions, not lambdas), because worker
    processes rebuild the task.
    """
    if (success_fn is None) == (success_key is None):
        raise ValueError(f"Adapting {env!r} needs exactly one of success_fn or success_key.")
    env_kwargs = dict(env_kwargs or {})
    registered = isinstance(env, str)
    if horizon is not None and registered:
        env_kwargs["max_episode_steps"] = int(horizon)
    env_id, make = _maker(env, env_kwargs)
    factory_horizon = None if registered else horizon
    try:
        raw = make()
        probe = _wrap(raw, success_fn, success_key, factory_horizon, terminate_on_success)
    except Exception as error:  # a user's environment: whatever making it raised
        raise ValueError(f"Cannot adapt {env_id!r}: {type(error).__name__}: "
                         f"{first_line(error)}") from None  # fmt: skip
    try:
        if not isinstance(probe.action_space, gymnasium.spaces.Box):
            raise ValueError(
                f"worldgym adapts environments with Box actions; {env_id!r} has "
                f"{type(probe.action_space).__name__} actions."
            )
        limit = horizon if horizon is not None else (raw.spec.max_episode_steps
                                                     if raw.spec else None)  # fmt: skip
        if limit is None:
            raise ValueError(f"{env_id!r} has no max_episode_steps; pass horizon=... to adapt it.")
        check_seeded_reset(probe, f"Cannot adapt {env_id!r}")
        names = tuple(observation_names) or flat_observation_names(raw.observation_space)
        dt = getattr(raw.unwrapped, "dt", 1.0 / (raw.metadata.get("render_fps") or 30))
    finally:
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
        observation_names=names,
        dt=float(dt),
        description=description or f"{env_id}, adapted.",
        success_key=success_key,
        make_env_kwargs=env_kwargs if registered else {},
        env_factory=None if registered else partial(env, **env_kwargs),
        wrap_env=partial(
            _wrap,
            success_fn=success_fn,
            success_key=success_key,
            horizon=factory_horizon,
            terminate_on_success=terminate_on_success,
        ),  # fmt: skip
        observation_renderer=(
            partial(_mujoco_renderer, make, apply_observation, camera)
            if apply_observation
            else None
        ),  # fmt: skip
    )


# --- Gymnasium's Reacher-v5 ---------------------------------------------------------
REACHER_SUCCESS_RADIUS = 0.02
"""Fingertip-target distance (metres) that counts as reached at the episode's end."""


def reacher_success(obs, xp=jnp):
    """Reacher-v5's last two observation entries are fingertip minus target (x, y)."""
    return xp.linalg.norm(obs[..., 8:10], axis=-1) < REACHER_SUCCESS_RADIUS


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
