"""The world model as a Gymnasium environment (thin over the pure-JAX model).

`ImaginedEnv` has the ground-truth task's spaces; `reset(seed=s)` starts from the
very observation the real task starts from with seed s; `step` advances the
world model; reward and success come from the task's own jax.numpy functions
(or the learned success head), and `render()` draws the imagined observation
with the task's real renderer.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import gymnasium
import jax
import numpy as np

from envs.validation import check_action
from worldgym.imagine import make_guarded_step

SUCCESS_SOURCES = ("predicate", "head")
"""How imagined success is judged: the task's predicate on the predicted
observation, or the model's learned success head (probability > 0.5)."""


def default_checkpoint(task_name: str) -> Path:
    """Where `make demo` and the README put a task's world model."""
    return Path("runs/models") / task_name.lower()


def resolve_checkpoint(task_name: str, checkpoint: str | None) -> Path:
    path = Path(checkpoint) if checkpoint else default_checkpoint(task_name)
    if checkpoint is None and not path.exists():
        raise FileNotFoundError(
            f"No world model for {task_name} at {path}: pass checkpoint=PATH, or make one "
            f"with `worldgym collect {task_name}` then `worldgym train "
            f"runs/datasets/worldgym/{task_name.lower()}/behaviour-v0 --out {path}`."
        )
    return path


def _check_success_source(success_source: str) -> None:
    if success_source not in SUCCESS_SOURCES:
        raise ValueError(
            f"success_source must be one of {', '.join(SUCCESS_SOURCES)}, got {success_source!r}."
        )


def _load(task, checkpoint: str | None, sampling: str | None):
    from worldgym.checkpoint import load_world_model

    return load_world_model(resolve_checkpoint(task.name, checkpoint), task, sampling)


class ImaginedEnv(gymnasium.Env):
    """One episode at a time inside a learned world model.

    Give `checkpoint` (a run folder; default runs/models/<task>), or, from Python,
    an already loaded WorldModel as `model`.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str,
        checkpoint: str | None = None,
        render_mode: str | None = None,
        width: int = 256,
        height: int = 256,
        sampling: str | None = None,
        success_source: str = "predicate",
        model=None,
    ):
        from envs import get_task

        _check_success_source(success_source)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(
                f"ImaginedEnv supports render_mode None or 'rgb_array', got {render_mode!r}."
            )
        self.task = get_task(task)
        self.model = model or _load(self.task, checkpoint, sampling)
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.task.dt)}
        self.render_mode, self.width, self.height = render_mode, int(width), int(height)
        self.success_source = success_source
        self._init = jax.jit(self.model.init_fn)
        self._step = jax.jit(make_guarded_step(self.model, self.task))
        self._real = self.task.make_env()  # only for its reset distribution
        self._renderer = None
        self._carry = self._obs = self._key = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, _ = self._real.reset(
            seed=int(self.np_random.integers(2**31)) if seed is None else seed
        )
        self._key = jax.random.key(int(self.np_random.integers(2**31)))
        self._key, init_key = jax.random.split(self._key)
        self._carry = self._init(self.model.params, obs, init_key)
        self._obs = obs.astype(np.float32)
        success = bool(self.task.success_fn(self._obs)) if self.task.success_fn else False
        return self._obs.copy(), {"success": success, "success_probability": float(success),
                                  "uncertainty": 0.0, "diverged": False}  # fmt: skip

    def step(self, action):
        if self._carry is None:
            raise RuntimeError("Call ImaginedEnv.reset() before step().")
        action = check_action(action, self.action_space, "ImaginedEnv").astype(np.float32)
        self._key, step_key = jax.random.split(self._key)
        result = self._step(self.model.params, self._carry, self._obs, action, step_key)
        next_obs, reward, predicate, probability, uncertainty, diverged = jax.device_get(
            (result.obs, result.reward, result.predicate_success, result.success_probability,
             result.uncertainty, result.diverged)
        )  # fmt: skip
        success = bool(predicate) if self.success_source == "predicate" else probability > 0.5
        self._carry, self._obs = result.carry, np.asarray(next_obs, np.float32)
        terminated = bool(self.task.terminate_on_success and success) or bool(diverged)
        info = {"success": bool(success), "success_probability": float(probability),
                "uncertainty": float(uncertainty), "diverged": bool(diverged)}  # fmt: skip
        return self._obs.copy(), float(reward), terminated, False, info

    def render(self):
        if self.render_mode != "rgb_array" or self._obs is None:
            return None
        if self._renderer is None:
            self._renderer = self.task.observation_renderer(self.width, self.height)
        return self._renderer.render(self._obs)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._real.close()


def register_imagined_envs() -> None:
    """worldgym/<Task>-imagined-v0 for each native task (checkpoint=PATH as kwarg)."""
    from envs.registry import NATIVE_TASKS, get_task

    for name in NATIVE_TASKS:
        env_id = f"worldgym/{name}-imagined-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point="worldgym.env:ImaginedEnv",
                vector_entry_point="worldgym.env:ImaginedVectorEnv",
                max_episode_steps=get_task(name).horizon,
                kwargs={"task": name},
            )


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

    def __init__(
        self,
        task: str,
        num_envs: int = 8,
        checkpoint: str | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        width: int = 128,
        height: int = 128,
        sampling: str | None = None,
        success_source: str = "predicate",
        model=None,
    ):
        from envs import get_task

        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}.")
        _check_success_source(success_source)
        self.task = get_task(task)
        self.model = model or _load(self.task, checkpoint, sampling)
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
        self.success_source = success_source
        self._init = jax.jit(jax.vmap(self.model.init_fn, in_axes=(None, 0, 0)))
        self._step = jax.jit(
            jax.vmap(make_guarded_step(self.model, self.task), in_axes=(None, 0, 0, 0, 0))
        )
        self._real = self.task.make_env()
        self._renderer = None
        self._carry = self._obs = None
        self._steps = np.zeros(num_envs, np.int64)
        self._done = np.zeros(num_envs, bool)

    def _initial(self, seeds) -> np.ndarray:
        return np.stack([self._real.reset(seed=int(seed))[0] for seed in seeds])

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
        self._key = jax.random.key(int(self.np_random.integers(2**31)))
        self._obs = self._initial(seeds).astype(np.float32)
        self._key, init_key = jax.random.split(self._key)
        keys = jax.random.split(init_key, self.num_envs)
        self._carry = self._init(self.model.params, self._obs, keys)
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
        self._key, step_key = jax.random.split(self._key)
        result = self._step(
            self.model.params, self._carry, self._obs, actions,
            jax.random.split(step_key, self.num_envs),
        )  # fmt: skip
        next_obs, reward, predicate, probability, uncertainty, diverged = (
            np.array(x) for x in jax.device_get(
                (result.obs, result.reward, result.predicate_success,
                 result.success_probability, result.uncertainty, result.diverged)
            )
        )  # fmt: skip
        next_obs = next_obs.astype(np.float32)
        success = predicate if self.success_source == "predicate" else probability > 0.5
        self._steps += 1
        terminated = (self.task.terminate_on_success & success) | diverged
        truncated = self._steps >= self.max_episode_steps
        carry = result.carry
        reward = reward.astype(np.float32)

        # NEXT_STEP autoreset: environments that ended last step start anew now.
        restart = self._done
        if restart.any():
            fresh = self._initial(self._draw_seeds(int(restart.sum()))).astype(np.float32)
            next_obs[restart] = fresh
            self._key, init_key = jax.random.split(self._key)
            fresh_carry = self._init(
                self.model.params, next_obs, jax.random.split(init_key, self.num_envs)
            )
            carry = jax.tree_util.tree_map(
                lambda new, old: jnp_where(restart, new, old), fresh_carry, carry
            )
            self._steps[restart] = 0
            reward[restart] = 0.0
            terminated[restart] = False
            truncated[restart] = False
            diverged[restart] = False
            success[restart] = False
        self._carry, self._obs = carry, next_obs
        self._done = terminated | truncated
        all_true = np.ones(self.num_envs, bool)
        info = {
            "success": success.copy(), "_success": all_true,
            "success_probability": probability, "_success_probability": all_true,
            "uncertainty": uncertainty, "_uncertainty": all_true,
            "diverged": diverged, "_diverged": all_true,
        }  # fmt: skip
        return next_obs.copy(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self._obs is None:
            return None
        if self._renderer is None:
            self._renderer = self.task.observation_renderer(self.width, self.height)
        return np.stack([self._renderer.render(obs) for obs in self._obs])

    def close_extras(self, **kwargs):
        if self._renderer is not None:
            self._renderer.close()
        self._real.close()


def jnp_where(mask, new, old):
    """Select per environment (mask [N]) between two batched carry leaves."""
    mask = np.asarray(mask).reshape((-1,) + (1,) * (np.ndim(new) - 1))
    return jax.numpy.where(mask, new, old)
