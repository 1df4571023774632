"""Base class of worldgym's ground-truth MuJoCo tasks.

A task subclass supplies its MJCF asset and four small pure functions over
(model, data): how to sample an initial state, how an action becomes controls,
how to read the observation, and how to write an observation back into the
simulator (its inverse, used to draw imagined observations). Everything else —
validation, stepping, scoring with the task's jax.numpy functions, rendering —
lives here once.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any, ClassVar

import gymnasium
import mujoco
import numpy as np

from worldgym.envs.rendering import ObservationRenderer, close_renderer, make_renderer, render_frame
from worldgym.envs.task import Task
from worldgym.envs.validation import check_action

CAMERA = "overview"
"""Every task's MJCF defines a fixed camera with this name that shows the whole task."""


@functools.cache
def _compiled(asset: str) -> mujoco.MjModel:
    xml = resources.files("worldgym.envs").joinpath("assets", asset).read_text()
    return mujoco.MjModel.from_xml_string(xml)


def load_model(asset: str) -> mujoco.MjModel:
    """An MJCF file shipped in envs/assets, compiled once per process and copied for
    each caller (a copy costs ~0.3 ms, compiling ~8 ms: the real runner makes one
    environment per episode), so changing one environment's model changes no other."""
    return copy.deepcopy(_compiled(asset))


class MujocoTaskEnv(gymnasium.Env):
    """A MuJoCo task whose success and reward come from its Task's jax.numpy functions."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}

    ASSET: ClassVar[str]
    """File name of the MJCF asset in envs/assets."""
    FRAME_SKIP: ClassVar[int] = 20
    """Physics steps per environment step (0.002 s each: 25 Hz control)."""

    task: ClassVar[Task]
    """Set by each task module once its Task exists."""

    def __init__(self, render_mode: str | None = None, width: int = 256, height: int = 256):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"{type(self).__name__} supports render_mode None or 'rgb_array', "
                f"got {render_mode!r}."
            )
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.model = load_model(self.ASSET)
        self.data = mujoco.MjData(self.model)
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.dt)}
        self._renderer: mujoco.Renderer | None = None
        self._observation: np.ndarray | None = None

    @property
    def dt(self) -> float:
        """Seconds of simulated time per environment step."""
        return self.model.opt.timestep * self.FRAME_SKIP

    # --- what each task defines -------------------------------------------------
    @staticmethod
    def sample_initial_state(model: mujoco.MjModel, data: mujoco.MjData, rng) -> None:
        """Write a random initial state (and goal) into freshly reset `data`."""
        raise NotImplementedError

    @staticmethod
    def controls_from_action(action: np.ndarray) -> np.ndarray:
        """Map a validated action in the action space to MuJoCo controls."""
        raise NotImplementedError

    @staticmethod
    def read_observation(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        """The Markov observation of the current state (float32)."""
        raise NotImplementedError

    @staticmethod
    def apply_observation(model: mujoco.MjModel, data: mujoco.MjData, obs: np.ndarray) -> None:
        """Inverse of read_observation: write the state `obs` describes into `data`."""
        raise NotImplementedError

    # --- the Gymnasium API ------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.sample_initial_state(self.model, self.data, self.np_random)
        mujoco.mj_forward(self.model, self.data)
        self._observation = self.read_observation(self.model, self.data)
        _, success = self.task.score_on_host(
            self._observation, np.zeros(self.action_space.shape, np.float32), self._observation
        )
        return self._observation.copy(), {"success": success}

    def step(self, action):
        if self._observation is None:
            raise RuntimeError(f"Call {type(self).__name__}.reset() before step().")
        action = check_action(action, self.action_space, type(self).__name__)
        self.data.ctrl[:] = self.controls_from_action(action)
        mujoco.mj_step(self.model, self.data, nstep=self.FRAME_SKIP)
        # mj_step leaves derived quantities (site and geom poses) one substep behind
        # qpos; recompute them so observation, render and state agree exactly.
        mujoco.mj_forward(self.model, self.data)
        previous, self._observation = (
            self._observation,
            self.read_observation(self.model, self.data),
        )
        reward, success = self.task.score_on_host(
            previous, action.astype(np.float32), self._observation
        )
        terminated = success and self.task.terminate_on_success
        return self._observation.copy(), reward, terminated, False, {"success": success}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = make_renderer(self.model, self.width, self.height)
        return render_frame(self._renderer, self.data, CAMERA)

    def close(self):
        if self._renderer is not None:
            close_renderer(self._renderer)
            self._renderer = None

    @classmethod
    def observation_renderer(cls, width: int = 256, height: int = 256) -> ObservationRenderer:
        """A renderer of arbitrary observations of this task (see Task.render_observations)."""
        return ObservationRenderer(
            load_model(cls.ASSET), cls.apply_observation, CAMERA, width, height
        )
