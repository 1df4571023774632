"""Offscreen MuJoCo rendering of live simulations and of arbitrary observations."""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

ApplyObservation = Callable[[mujoco.MjModel, mujoco.MjData, np.ndarray], None]
"""Writes the state an observation describes into MjData (qpos, qvel, mocap)."""


SMALL_FRAME = 128
"""Frames up to this size (pixels) are rendered without multisample antialiasing:
at 64x64 it costs about 3x the frame rate (`worldgym bench`) and image datasets
are made of such frames; larger frames are for people and keep it."""


def make_renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    """A headless renderer; shadows and reflections off (the assets set no shadow map)
    because they cost frame rate and show nothing a world model needs."""
    if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
        raise ValueError(
            f"Render size {width}x{height} exceeds the offscreen buffer "
            f"{model.vis.global_.offwidth}x{model.vis.global_.offheight} of this task."
        )
    model.vis.quality.offsamples = 0 if max(width, height) <= SMALL_FRAME else 4
    renderer = mujoco.Renderer(model, height=height, width=width)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    return renderer


def close_renderer(renderer: mujoco.Renderer) -> None:
    """Free the renderer's GL context (MuJoCo 3.0's Renderer has no close())."""
    close = getattr(renderer, "close", None)
    if close is not None:
        close()


def render_frame(
    renderer: mujoco.Renderer, data: mujoco.MjData, camera: str | int | mujoco.MjvCamera
) -> np.ndarray:
    """One RGB frame [H, W, 3] uint8 of `data` seen from `camera`."""
    renderer.update_scene(data, camera=camera)
    return renderer.render().copy()


class ObservationRenderer:
    """Draws arbitrary observations with a task's real scene and camera.

    Owns a private MjData, so drawing an imagined observation never disturbs a
    running simulation.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        apply_observation: ApplyObservation,
        camera: str | int | mujoco.MjvCamera,
        width: int,
        height: int,
    ):
        self._model = model
        self._data = mujoco.MjData(model)
        self._apply_observation = apply_observation
        self._camera = camera
        self._renderer = make_renderer(model, width, height)

    def render(self, observation: np.ndarray) -> np.ndarray:
        mujoco.mj_resetData(self._model, self._data)
        self._apply_observation(self._model, self._data, np.asarray(observation, np.float64))
        mujoco.mj_forward(self._model, self._data)
        return render_frame(self._renderer, self._data, self._camera)

    def close(self) -> None:
        close_renderer(self._renderer)
