"""The world model as a Gymnasium environment, single and natively vectorised.

Both classes are thin shells over one shared core, `Imagination`: the task and
the model, the real task's reset distribution, and the engine's guarded step
(worldgym.imagination.engine) jitted and vmapped over a batch of episodes.
`ImaginedEnv` is that core with a batch of one; `ImaginedVectorEnv` steps N
episodes at once with Gymnasium's NEXT_STEP autoreset.

Both have the ground-truth task's spaces; `reset(seed=s)` starts from the very
observation the real task starts from with seed s; reward and success come from
the task's own jax.numpy functions (or the learned success head), `render()`
draws imagined observations with the task's real renderer, and an episode ends
(truncated) at the task's horizon.

Ids: `worldgym/<Task>-imagined-v0` for every registered or installed task, and
`worldgym/Imagined-v0` for any task at all, which takes the task from its
checkpoint (`gymnasium.make("worldgym/Imagined-v0", checkpoint=PATH)`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, NamedTuple

import gymnasium
import jax
import numpy as np

from worldgym.envs import get_task
from worldgym.envs.registry import entry_point_tasks, register_imagined_twin
from worldgym.envs.validation import check_action
from worldgym.imagination.engine import episode_ends, make_guarded_step, world_of
from worldgym.training.checkpoint import (
    checkpoint_task,
    load_world_model,
    read_metadata,
    resolve_checkpoint,
)

SUCCESS_SOURCES = ("predicate", "head")
"""How imagined success is judged: the task's predicate on the predicted
observation, or the model's learned success head (probability > 0.5)."""
GENERIC_ID = "worldgym/Imagined-v0"
OBSERVATIONS = ("state", "frames")
"""What ImaginedEnv observes: the (predicted) state, or the frames a model that draws
frames imagines (decoded; the state then travels in info["state"])."""


class StepArrays(NamedTuple):
    """One batched imagined step, as numpy arrays over the batch."""

    obs: np.ndarray  # [N, obs_dim] float32
    reward: np.ndarray  # [N] float32
    success: np.ndarray  # [N] bool, by the chosen success source
    success_probability: np.ndarray  # [N] the learned success head
    uncertainty: np.ndarray  # [N]
    diverged: np.ndarray  # [N] bool


class Imagination:
    """The core both environments share: task, model and the compiled batched step."""

    def __init__(self, task=None, checkpoint: str | None = None, sampling: str | None = None,
                 success_source: str = "predicate", model=None):  # fmt: skip

        if success_source not in SUCCESS_SOURCES:
            raise ValueError(f"success_source must be one of {', '.join(SUCCESS_SOURCES)}, got "
                             f"{success_source!r}.")  # fmt: skip
        if task is None and model is None and not checkpoint:
            raise ValueError(f"{GENERIC_ID} needs checkpoint=PATH (a run folder from `worldgym "
                             "train`) or task=NAME.")  # fmt: skip
        if task is None:
            metadata = model.metadata if model is not None else read_metadata(Path(checkpoint))
            task = checkpoint_task(metadata)
        self.task = get_task(task)
        self.model = model or load_world_model(
            resolve_checkpoint(self.task, checkpoint), self.task, sampling
        )
        if self.task.success_fn is None and success_source == "predicate":
            success_source = "head"  # a task judged by an info key: the head is all there is
        self.success_source = success_source
        self.world = world_of(self.model)
        self._init = jax.jit(_batched_init(self.model.init_fn))
        self._step = jax.jit(_batched_step(make_guarded_step(self.model, self.task)))
        decode = self.model.decode_fn
        self._decode = jax.jit(jax.vmap(decode, in_axes=(None, 0))) if decode else None
        self._real = self.task.make_env()  # only for its reset distribution
        self._renderer = None

    def initial(self, seeds) -> np.ndarray:
        """The real task's reset observations for `seeds` [N, obs_dim] float32."""
        return np.stack([self._real.reset(seed=int(seed))[0] for seed in seeds]).astype(np.float32)

    def init(self, obs: np.ndarray, key):
        """(next key, carry) of fresh episodes starting from `obs` (or from what the
        model starts from instead, e.g. their frames)."""
        return self._init(self.world.params, self.model.initial_inputs(obs), key)

    def step(self, carry, obs: np.ndarray, actions: np.ndarray, key):
        """(next key, next carry, StepArrays) of one imagined step of every episode: one
        compiled call (the keys are split inside it) and one transfer back."""
        key, result = self._step(self.world, carry, obs, actions, key)
        arrays = [np.array(x) for x in jax.device_get((
            result.obs, result.reward, result.predicate_success, result.success_probability,
            result.uncertainty, result.diverged,
        ))]  # fmt: skip
        next_obs, reward, predicate, probability, uncertainty, diverged = arrays
        success = predicate if self.success_source == "predicate" else probability > 0.5
        return key, result.carry, StepArrays(
            next_obs.astype(np.float32), reward.astype(np.float32), success.astype(bool),
            probability, uncertainty, diverged.astype(bool),
        )  # fmt: skip

    def decode(self, carry) -> np.ndarray:
        """Frames [N, h, w, 3] uint8 the model imagines for each episode's carry (a
        model that draws frames; see WorldModel.decode_fn)."""
        if self.model.decode_fn is None:
            raise ValueError(
                f"The {self.model.family} model does not draw frames, so it cannot give "
                "frames as observations; use a family that does (e.g. latent)."
            )
        return np.asarray(self._decode(self.world.params, carry))

    def render(self, observations: np.ndarray, width: int, height: int) -> np.ndarray:
        """Frames [N, H, W, 3] of imagined observations, with the task's real renderer."""
        if self._renderer is None:
            if self.task.observation_renderer is None:
                raise ValueError(f"Task {self.task.name!r} cannot draw arbitrary observations.")
            self._renderer = self.task.observation_renderer(width, height)
        return np.stack([self._renderer.render(obs) for obs in observations])

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._real.close()


def _batched_init(init_fn):
    """(params, obs [N, d], key) -> (next key, carry [N, ...]), keys split inside."""

    def init(params, inputs, key):
        key, init_key = jax.random.split(key)
        keys = jax.random.split(init_key, len(jax.tree_util.tree_leaves(inputs)[0]))
        return key, jax.vmap(init_fn, in_axes=(None, 0, 0))(params, inputs, keys)

    return init


def _batched_step(guarded_step):
    """(world, carry, obs, actions, key) -> (next key, GuardedStep over the batch)."""

    def step(world, carry, obs, actions, key):
        key, step_key = jax.random.split(key)
        keys = jax.random.split(step_key, obs.shape[0])
        vmapped = jax.vmap(guarded_step, in_axes=(None, 0, 0, 0, 0))
        return key, vmapped(world, carry, obs, actions, keys)

    return step


def _check_render_mode(render_mode) -> None:
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"Imagined environments support render_mode None or 'rgb_array', got "
                         f"{render_mode!r}.")  # fmt: skip


class ImaginedEnv(gymnasium.Env):
    """One episode at a time inside a learned world model.

    Give `checkpoint` (a run folder; default runs/models/<task>) and/or `task` (a
    name or module:attribute; default the checkpoint's own), or, from Python, an
    already loaded WorldModel as `model`.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, task: str | None = None, checkpoint: str | None = None,
                 render_mode: str | None = None, width: int = 256, height: int = 256,
                 sampling: str | None = None, success_source: str = "predicate",
                 model=None, observation: str = "state"):  # fmt: skip
        _check_render_mode(render_mode)
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, got "
                             f"{observation!r}.")  # fmt: skip
        self.core = Imagination(task, checkpoint, sampling, success_source, model)
        self.task, self.model = self.core.task, self.core.model
        self.observation = observation
        self.observation_space = self.task.observation_space
        if observation == "frames":  # the decoded frame of a model that draws frames
            start = self.core.initial([0])
            _, carry = self.core.init(start, jax.random.key(0))
            shape = self.core.decode(carry).shape[1:]
            self.observation_space = gymnasium.spaces.Box(0, 255, shape, np.uint8)
        self.action_space = self.task.action_space
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.task.dt)}
        self.render_mode, self.width, self.height = render_mode, int(width), int(height)
        self._carry = self._obs = self._key = None
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        real_seed = int(self.np_random.integers(2**31)) if seed is None else seed
        self._obs = self.core.initial([real_seed])
        key = jax.random.key(int(self.np_random.integers(2**31)))
        self._key, self._carry = self.core.init(self._obs, key)
        self._steps = 0
        task = self.task
        success = bool(task.success_fn(self._obs[0])) if task.success_fn else False
        info = {"success": success, "success_probability": float(success), "uncertainty": 0.0,
                "diverged": False}  # fmt: skip
        return self._observe(info), info

    def _observe(self, info: dict):
        """The observation the env gives: the (predicted) state, or the decoded frame
        with the state in info["state"]."""
        if self.observation == "state":
            return self._obs[0].copy()
        info["state"] = self._obs[0].copy()
        return self.core.decode(self._carry)[0]

    def step(self, action):
        if self._carry is None:
            raise RuntimeError("Call ImaginedEnv.reset() before step().")
        action = check_action(action, self.action_space, "ImaginedEnv").astype(np.float32)
        self._key, self._carry, result = self.core.step(self._carry, self._obs, action[None],
                                                        self._key)  # fmt: skip
        self._obs, self._steps = result.obs, self._steps + 1
        success, diverged = bool(result.success[0]), bool(result.diverged[0])
        terminated, truncated = episode_ends(self.task, success, diverged, self._steps,
                                             self.task.horizon)  # fmt: skip
        info = {"success": success, "success_probability": float(result.success_probability[0]),
                "uncertainty": float(result.uncertainty[0]), "diverged": diverged}  # fmt: skip
        return self._observe(info), float(result.reward[0]), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self._obs is None:
            return None
        return self.core.render(self._obs, self.width, self.height)[0]

    def close(self):
        self.core.close()


class ImaginedVectorEnv(gymnasium.vector.VectorEnv):
    """num_envs episodes at once inside a learned world model, natively batched:
    one jitted, vmapped model step per call, not N single environments.

    Autoreset is NEXT_STEP, as in Gymnasium's CartPoleVectorEnv: the step after an
    episode ends returns the new episode's first observation with reward 0.
    """

    metadata: ClassVar[dict] = {
        "render_modes": ["rgb_array"],
        "render_fps": 25,
        "autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP,
    }

    def __init__(self, task: str | None = None, num_envs: int = 8,
                 checkpoint: str | None = None, max_episode_steps: int | None = None,
                 render_mode: str | None = None, width: int = 128, height: int = 128,
                 sampling: str | None = None, success_source: str = "predicate",
                 model=None):  # fmt: skip
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}.")
        _check_render_mode(render_mode)
        self.core = Imagination(task, checkpoint, sampling, success_source, model)
        self.task, self.model = self.core.task, self.core.model
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps or self.task.horizon
        self.single_observation_space = self.task.observation_space
        self.single_action_space = self.task.action_space
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.task.dt)}
        self.render_mode, self.width, self.height = render_mode, int(width), int(height)
        self._carry = self._obs = self._key = None
        self._steps = np.zeros(num_envs, np.int64)
        self._done = np.zeros(num_envs, bool)

    def _draw_seeds(self, count: int) -> np.ndarray:
        return self.np_random.integers(2**31, size=count)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if isinstance(seed, int | np.integer):
            seeds = [int(seed) + index for index in range(self.num_envs)]
            super().reset(seed=int(seed))
        elif seed is None:
            super().reset(seed=None)
            seeds = self._draw_seeds(self.num_envs)
        else:
            if len(seed) != self.num_envs:
                raise ValueError(f"Got {len(seed)} seeds for {self.num_envs} environments.")
            super().reset(seed=int(seed[0]) if seed[0] is not None else None)
            seeds = seed
        self._obs = self.core.initial(seeds)
        key = jax.random.key(int(self.np_random.integers(2**31)))
        self._key, self._carry = self.core.init(self._obs, key)
        self._steps[:] = 0
        self._done[:] = False
        return self._obs.copy(), {}

    def step(self, actions):
        if self._carry is None:
            raise RuntimeError("Call ImaginedVectorEnv.reset() before step().")
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != self.action_space.shape:
            raise ValueError(
                f"ImaginedVectorEnv expects actions of shape {self.action_space.shape}, got "
                f"shape {actions.shape}."
            )
        # One vectorised check of the whole batch (the batched Box holds the bounds).
        actions = check_action(actions, self.action_space, "ImaginedVectorEnv").astype(np.float32)
        self._key, carry, result = self.core.step(self._carry, self._obs, actions, self._key)
        next_obs, reward, success = result.obs, result.reward, result.success
        diverged = result.diverged
        self._steps += 1
        terminated, truncated = episode_ends(self.task, success, diverged, self._steps,
                                             self.max_episode_steps)  # fmt: skip

        # NEXT_STEP autoreset: environments that ended last step start anew now.
        restart = self._done
        if restart.any():
            next_obs[restart] = self.core.initial(self._draw_seeds(int(restart.sum())))
            self._key, fresh = self.core.init(next_obs, self._key)
            carry = jax.tree_util.tree_map(lambda new, old: _where(restart, new, old), fresh, carry)
            self._steps[restart] = 0
            for flags in (terminated, truncated, diverged, success):
                flags[restart] = False
            reward[restart] = 0.0
        self._carry, self._obs = carry, next_obs
        self._done = terminated | truncated
        all_true = np.ones(self.num_envs, bool)
        info = {
            "success": success.copy(), "_success": all_true,
            "success_probability": result.success_probability, "_success_probability": all_true,
            "uncertainty": result.uncertainty, "_uncertainty": all_true,
            "diverged": diverged, "_diverged": all_true,
        }  # fmt: skip
        return next_obs.copy(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self._obs is None:
            return None
        return self.core.render(self._obs, self.width, self.height)

    def close_extras(self, **kwargs):
        self.core.close()


def _where(mask, new, old):
    """Select per environment (mask [N]) between two batched carry leaves."""
    mask = np.asarray(mask).reshape((-1,) + (1,) * (np.ndim(new) - 1))
    return jax.numpy.where(mask, new, old)


def register_imagined_envs() -> None:
    """The generic id worldgym/Imagined-v0 (any task, from its checkpoint), and the
    twins worldgym/<name>-imagined-v0 of installed packages' entry-point tasks
    (registered tasks get theirs from register_task)."""

    if GENERIC_ID not in gymnasium.registry:
        gymnasium.register(
            id=GENERIC_ID,
            entry_point="worldgym.imagination.env:ImaginedEnv",
            vector_entry_point="worldgym.imagination.env:ImaginedVectorEnv",
        )
    for name, point in entry_point_tasks().items():
        register_imagined_twin(name, point.value)
