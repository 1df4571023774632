"""The ground truth seen through its camera: a task's environment whose observations
are rendered frames, for policies that look at pixels.

`frame_env(task, size)` is the task's own environment, rendering its fixed
overview camera at size x size (the frames `worldgym collect --images` records
and the latent family learns from), with Gymnasium's AddRenderObservation
replacing the state by the frame. Reward, success and termination are unchanged;
the state is still in `env.unwrapped` for scoring. Stack frames with
gymnasium.wrappers.FrameStackObservation where a policy must see motion.
"""

from __future__ import annotations

import gymnasium
from gymnasium.wrappers import AddRenderObservation

from worldgym.envs import get_task


def frame_env(task, size: int = 64) -> gymnasium.Env:
    """The task's environment observing size x size RGB frames (uint8 [size, size, 3])."""

    task = get_task(task)
    if size < 1:
        raise ValueError(f"Frames need a positive size, got {size}.")
    env = task.make_env(render_mode="rgb_array", width=size, height=size)
    return AddRenderObservation(env, render_only=True)
