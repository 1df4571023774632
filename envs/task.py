"""The Task contract: everything worldgym needs to know about a ground-truth task.

A Task bundles the Gymnasium id of the real environment with the pure jax.numpy
functions that score an observation (success predicate, shaped reward). The same
functions score both real and imagined observations, so the two worlds are judged
by one rule. A Task also knows how to draw an arbitrary observation with the real
renderer, so imagined trajectories can be shown next to real ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from worldgym.specs import first_line

SuccessFn = Callable[[jax.Array], jax.Array]
"""obs [..., obs_dim] -> bool [...]: is this observation a success?"""

RewardFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
"""(obs [..., obs_dim], action [..., act_dim], next_obs [..., obs_dim]) -> reward [...]."""


@dataclass(frozen=True)
class Task:
    """A ground-truth task and the functions that score it."""

    name: str
    """Short name used on the command line, e.g. "Push"."""
    env_id: str
    """Gymnasium id of the ground-truth environment, e.g. "worldgym/Push-v0"."""
    horizon: int
    """Episode length in environment steps (the TimeLimit of the registration)."""
    observation_space: gymnasium.spaces.Box
    """Flat Box space of the observation the world model sees."""
    action_space: gymnasium.spaces.Box
    """Flat Box space of the action."""
    success_fn: SuccessFn | None = None
    """Success predicate on the observation alone, in jax.numpy; None when success
    comes only from an info key (a learned success head then scores imagination).
    Written against an array namespace, `success(obs, xp=jnp)`, it is also run
    with numpy on every real step (score_on_host), which is much cheaper."""
    reward_fn: RewardFn | None = None
    """Shaped reward on (obs, action, next_obs) in jax.numpy; None if unknown. May
    take `xp` like success_fn."""
    terminate_on_success: bool = False
    """Episode rule. True: the episode ends at the first successful step and its
    outcome is "succeeded at any step". False: it runs to the horizon and its
    outcome is "successful at the final step"."""
    observation_names: tuple[str, ...] = ()
    """One name per observation dimension, for plots and error messages
    (default: obs_0, obs_1, ...)."""
    dt: float = 0.04
    """Seconds of simulated time per environment step (sets video frame rates)."""
    description: str = ""
    """One line saying what the task asks for."""
    success_key: str | None = None
    """The info key under which the real environment reports success, for tasks
    without a success_fn; datasets of such tasks must carry it."""
    spec: str = ""
    """The string that finds this task again in any process: a registered name or
    `module:attribute` (set by `get_task`; worker processes rebuild tasks from it)."""
    make_env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments passed to gymnasium.make (or env_factory) for this task."""
    env_factory: Callable[..., gymnasium.Env] | None = None
    """Builds the environment instead of `gymnasium.make(env_id)`, for environments
    that are made by a function rather than registered (a module-level function
    taking make_env_kwargs and render_mode/width/height); env_id then only names it."""
    wrap_env: Callable[[gymnasium.Env], gymnasium.Env] | None = None
    """Applied after gymnasium.make: adapted environments get their observation
    flattened and info["success"] added here."""
    observation_renderer: Callable[..., Any] | None = None
    """Factory (width, height) -> ObservationRenderer that draws arbitrary
    observations with the task's real renderer; None if the task cannot."""
    model_features: Callable[[jax.Array, jax.Array], jax.Array] | None = None
    """(obs [..., obs_dim], action [..., act_dim]) -> features [..., k] in jax.numpy:
    extra inputs for learned models, like PETS' per-task observation preprocessing.
    Quantities an MLP finds hard to compute from the raw observation (products such
    as a position rotated into an object's frame) but on which the dynamics hinge."""
    model_prior: Callable[[jax.Array, jax.Array], jax.Array] | None = None
    """(obs [..., obs_dim], action [..., act_dim]) -> the change of the observation that
    physics already says [..., obs_dim] (a velocity-controlled hand moves by its
    commanded velocity; zeros where nothing is known). Learned models may predict
    only the rest, so a hand told to stand still does not drift by the network's
    rounding."""

    def __post_init__(self):
        for label, space in (("observation", self.observation_space),
                             ("action", self.action_space)):  # fmt: skip
            if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
                raise ValueError(
                    f"Task {self.name!r} needs a flat Box {label} space, got {space}; "
                    "adapt_gym_env flattens Dict and image-shaped observations."
                )
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"Task {self.name!r} needs a horizon of at least 1 step, "
                             f"got {self.horizon!r}.")  # fmt: skip
        if not self.observation_names:
            names = tuple(f"obs_{i}" for i in range(self.observation_space.shape[0]))
            object.__setattr__(self, "observation_names", names)
        if len(self.observation_names) != self.observation_space.shape[0]:
            raise ValueError(
                f"Task {self.name!r} names {len(self.observation_names)} observation entries "
                f"but observes {self.observation_space.shape[0]}."
            )

    def __getstate__(self) -> dict:
        """Pickle without the compiled scoring function (rebuilt where it is used)."""
        return {k: v for k, v in self.__dict__.items() if k != "score_transition"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def obs_dim(self) -> int:
        return int(self.observation_space.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.action_space.shape[0])

    def make_env(self, **kwargs: Any) -> gymnasium.Env:
        """The ground-truth environment, with the TimeLimit of its registration.

        Whatever goes wrong making a user's environment is one sentence here, and an
        environment whose spaces are not the task's is refused.
        """
        make = self.env_factory or partial(gymnasium.make, self.env_id)
        try:
            env = make(**{**self.make_env_kwargs, **kwargs})
            env = self.wrap_env(env) if self.wrap_env else env
        except Exception as error:  # a user's environment: report it, whatever it raised
            raise ValueError(
                f"Cannot make the environment {self.env_id!r} of task {self.name}: "
                f"{type(error).__name__}: {first_line(error)}"
            ) from None
        for label, ours, theirs in (
            ("observation", self.observation_space, env.observation_space),
            ("action", self.action_space, env.action_space),
        ):
            if getattr(theirs, "shape", None) != ours.shape:
                env.close()
                raise ValueError(
                    f"The environment {self.env_id!r} of task {self.name} has {label} space "
                    f"{theirs}, but the task declares {ours}."
                )
        return env

    def episode_success(self, step_success: jax.Array, xp=jnp) -> jax.Array:
        """Episode outcome from per-step success flags [..., T] by this task's rule.

        Steps after an episode ended must already be False (terminate rule) or the
        last column must be the final step (final-step rule). `xp=np` scores a real
        episode on the host without a JAX dispatch.
        """
        step_success = xp.asarray(step_success, dtype=bool)
        if self.terminate_on_success:
            return xp.any(step_success, axis=-1)
        return step_success[..., -1]

    @cached_property
    def score_transition(self) -> Callable[[Any, Any, Any], tuple[jax.Array, jax.Array]]:
        """Jitted (obs, action, next_obs) -> (reward, success of next_obs).

        Compiled once per task (not per environment instance); the real
        environments call it every step, so the real and imagined worlds are scored
        by the very same function.
        """
        success_fn, reward_fn = self.success_fn, self.reward_fn

        def score(obs, action, next_obs):
            reward = reward_fn(obs, action, next_obs) if reward_fn else jnp.float32(0.0)
            success = success_fn(next_obs) if success_fn else jnp.bool_(False)
            return reward, success

        return jax.jit(score)

    @cached_property
    def score_on_host(self) -> Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, bool]]:
        """(obs, action, next_obs) -> (reward, success) of one real step, in numpy.

        A task whose success_fn and reward_fn take an array namespace (`xp`, as the
        native tasks' do) is scored by the very same functions run with numpy: no
        JAX dispatch and device transfer on every real step, which cost more than
        the physics. Other tasks are scored by the jitted score_transition.
        """
        success_fn, reward_fn = self.success_fn, self.reward_fn
        if all(fn is None or takes_namespace(fn) for fn in (success_fn, reward_fn)):

            def score(obs, action, next_obs):
                success = bool(success_fn(next_obs, xp=np)) if success_fn else False
                reward = float(reward_fn(obs, action, next_obs, xp=np)) if reward_fn else 0.0
                return reward, success

            return score
        jitted = self.score_transition

        def score_with_jax(obs, action, next_obs):
            reward, success = jitted(obs, action, next_obs)
            return float(reward), bool(success)

        return score_with_jax

    def render_observations(
        self, observations: np.ndarray, width: int = 256, height: int = 256
    ) -> np.ndarray:
        """Draw observations [T, obs_dim] (real or imagined) as frames [T, H, W, 3]."""
        if self.observation_renderer is None:
            raise ValueError(
                f"Task {self.name!r} cannot draw arbitrary observations: adapt it with an "
                "apply_observation function (or give an observation_renderer) to draw them."
            )
        observations = np.asarray(observations, dtype=np.float64)
        if observations.ndim != 2 or observations.shape[1] != self.obs_dim:
            raise ValueError(
                f"Task {self.name!r} renders observations of shape [T, {self.obs_dim}], "
                f"got shape {observations.shape}."
            )
        renderer = self.observation_renderer(width, height)
        try:
            return np.stack([renderer.render(obs) for obs in observations])
        finally:
            renderer.close()


def takes_namespace(function) -> bool:
    """Whether `function` takes an array namespace `xp` (jax.numpy or numpy)."""

    try:
        return "xp" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False
