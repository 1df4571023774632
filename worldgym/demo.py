"""The main job (`make demo`): the most complete pipeline that exists so far.

1. roll the oracle of every native task and write one MP4 per task;
2. for the default task: collect the behaviour dataset, train the world model
   and evaluate its predictions (plot, video, headline numbers).

Stages whose outputs exist are skipped (training resumes or returns at once),
so a second `make demo` is fast. The paired evaluation and the calibration
report join here when they exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs import get_task
from envs.registry import DEFAULT_TASK, NATIVE_TASKS
from policies import load_policy
from worldgym.rollout import run_episodes
from worldgym.video import write_video

HOLD_FRAMES = 12
"""Frames the last image of each episode is held for, so the ending can be seen."""


@dataclass(frozen=True)
class DemoConfig:
    tasks: tuple[str, ...] = tuple(NATIVE_TASKS)
    """Tasks to show."""
    episodes: int = 3
    """Episodes per task in each video (seeds seed, seed+1, ...)."""
    seed: int = 0
    """First reset seed."""
    size: int = 320
    """Video width and height in pixels."""
    out: str = "runs/demo"
    """Folder the videos are written to."""
    model_task: str = DEFAULT_TASK
    """Task whose world model is trained and evaluated ("" to skip)."""


def episode_clip(frames: np.ndarray, success: bool) -> np.ndarray:
    """The episode's frames with the last held and a green/red border for the outcome."""
    clip = np.concatenate([frames, np.repeat(frames[-1:], HOLD_FRAMES, axis=0)])
    colour = np.array([40, 180, 70] if success else [210, 50, 40], np.uint8)
    clip[:, :4], clip[:, -4:], clip[:, :, :4], clip[:, :, -4:] = colour, colour, colour, colour
    return clip


def run_demo(config: DemoConfig) -> dict[str, dict]:
    """Roll each task's oracle and write <out>/<Task>-oracle.mp4; return a summary."""
    summary = {}
    for task_name in config.tasks:
        task = get_task(task_name)
        seeds = range(config.seed, config.seed + config.episodes)
        episodes = run_episodes(
            task, load_policy(task.name, "oracle"), seeds, True, config.size, config.size
        )
        clips = [episode_clip(e.frames, e.success) for e in episodes]
        video = Path(config.out) / f"{task.name}-oracle.mp4"
        write_video(video, np.concatenate(clips), fps=round(1.0 / task.dt))
        summary[task.name] = {
            "success_rate": float(np.mean([e.success for e in episodes])),
            "episodes": len(episodes),
            "video": str(video),
        }
    return summary


def run_model_stages(config: DemoConfig) -> dict:
    """Collect, train and evaluate the world model of `config.model_task`."""
    from worldgym.collect import CollectConfig, collect, default_output
    from worldgym.model_eval import ModelEvalConfig, evaluate_model
    from worldgym.models.ensemble import EnsembleConfig
    from worldgym.train import TrainConfig, train

    task = get_task(config.model_task)
    dataset = default_output(task.name)
    if not (dataset / "data" / "metadata.json").exists():
        print(f"[demo] collecting the {task.name} behaviour dataset -> {dataset}")
        collect(CollectConfig(task=task.name, out=str(dataset)))
    else:
        print(f"[demo] dataset {dataset} exists: skipped")
    run = Path("runs/models") / task.name.lower()
    print(f"[demo] training the {task.name} world model -> {run} (resumes if interrupted)")
    train(TrainConfig(dataset=str(dataset), out=str(run)), EnsembleConfig())
    print(f"[demo] evaluating the world model on held-out episodes -> {run / 'eval'}")
    return evaluate_model(ModelEvalConfig(checkpoint=str(run), dataset=str(dataset)))
