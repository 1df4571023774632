"""Throughput figures, measured in one run on this machine.

So far: the ground-truth tasks (environment steps/s, the physics alone, and
rendering at 64x64 with and without shadows). Numbers, not assumptions: every
ratio printed is between figures measured in the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mujoco
import numpy as np

from envs import get_task
from envs.registry import NATIVE_TASKS
from envs.rendering import close_renderer, make_renderer, render_frame


@dataclass(frozen=True)
class BenchConfig:
    tasks: tuple[str, ...] = tuple(NATIVE_TASKS)
    """Tasks to measure."""
    steps: int = 2000
    """Environment steps timed per measurement."""
    frames: int = 300
    """Frames rendered per rendering measurement."""
    seed: int = 0
    """Seed of the reset and of the random actions."""


def _rate(count: int, seconds: float) -> float:
    return count / max(seconds, 1e-12)


def env_steps_per_second(task_name: str, steps: int, seed: int) -> float:
    """Single-env Gymnasium steps/s with random actions (resets included)."""
    task = get_task(task_name)
    env = task.make_env()
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, task.action_dim))
    actions = actions.astype(np.float32)
    env.reset(seed=seed)
    env.step(actions[0])  # compile the scoring function outside the timing
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return _rate(steps, time.perf_counter() - start)


def physics_steps_per_second(task_name: str, steps: int, seed: int) -> float:
    """The same number of environment steps as bare mj_step calls: the upper bound."""
    env = get_task(task_name).make_env().unwrapped
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(env.model, env.data, nstep=env.FRAME_SKIP)
    return _rate(steps, time.perf_counter() - start)


def render_frames_per_second(task_name: str, frames: int, full_quality: bool, size=64) -> float:
    """Frames/s at size x size: as worldgym renders them, or with MuJoCo's full quality
    (4x antialiasing, a 4096 shadow map, shadows and reflections on)."""
    env = get_task(task_name).make_env().unwrapped
    env.reset(seed=0)
    if full_quality:
        env.model.vis.quality.shadowsize = 4096
        env.model.vis.quality.offsamples = 4
        renderer = mujoco.Renderer(env.model, size, size)
    else:
        renderer = make_renderer(env.model, size, size)
    render_frame(renderer, env.data, "overview")
    start = time.perf_counter()
    for _ in range(frames):
        render_frame(renderer, env.data, "overview")
    close_renderer(renderer)
    return _rate(frames, time.perf_counter() - start)


def run_bench(config: BenchConfig) -> list[dict]:
    rows = []
    for name in config.tasks:
        env_rate = env_steps_per_second(name, config.steps, config.seed)
        physics_rate = physics_steps_per_second(name, config.steps, config.seed)
        plain = render_frames_per_second(name, config.frames, full_quality=False)
        fancy = render_frames_per_second(name, config.frames, full_quality=True)
        rows.append(
            {
                "task": name,
                "env_steps_per_s": env_rate,
                "physics_steps_per_s": physics_rate,
                "env_over_physics": env_rate / physics_rate,
                "render_64_fps": plain,
                "render_64_fps_full_quality": fancy,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    header = (
        "| task | env steps/s (1 env) | physics-only steps/s | env / physics "
        "| render 64x64 fps | full quality (MSAA, shadows) |\n|---|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['task']} | {r['env_steps_per_s']:,.0f} | {r['physics_steps_per_s']:,.0f} "
        f"| {r['env_over_physics']:.2f} | {r['render_64_fps']:,.0f} "
        f"| {r['render_64_fps_full_quality']:,.0f} |"
        for r in rows
    ]
    return "\n".join([header, *lines])
