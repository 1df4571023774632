"""The main job (`make demo`, `worldgym demo --task T`): the whole pipeline.

1. roll the task's oracle and write a short MP4 of it;
2. collect the behaviour dataset;
3. train the world model (resumes an interrupted run);
4. measure its predictions on held-out episodes (model-eval);
5. evaluate the task's policy zoo (or the policies named) in both worlds from
   the same seeds, calibrate and write the report; print the headline numbers
   and the report's path.

Any task works, a user's included; one without an oracle gets no oracle video
and is collected with exploration noise (or --behaviour), one without a zoo
needs --policies.

Every stage whose outputs exist and are up to date is skipped, so a second
`make demo` takes seconds.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldgym.data.collect import CollectConfig, collect
from worldgym.envs import get_task
from worldgym.envs.registry import DEFAULT_TASK, task_spec
from worldgym.evaluation.model_eval import ModelEvalConfig, evaluate_model
from worldgym.evaluation.paired import EvaluateConfig, load_policies
from worldgym.models import DEFAULT_FAMILY, get_family
from worldgym.paths import RunPaths
from worldgym.policies import load_policy
from worldgym.policies.oracles import oracle_spec
from worldgym.report import ReportConfig, make_report
from worldgym.rollouts.real import run_episodes
from worldgym.training.train import TrainConfig, train
from worldgym.video import outcome_border, write_video

HOLD_FRAMES = 12
"""Frames the last image of each episode is held for, so the ending can be seen."""


@dataclass(frozen=True)
class DemoConfig:
    task: str = DEFAULT_TASK
    """Task to run the pipeline on: a name (see `worldgym tasks`) or module:attribute."""
    episodes: int = 100
    """Evaluation episodes per policy in each world."""
    policies: tuple[str, ...] = ()
    """Policies to evaluate (default: the task's whole zoo; a task without one needs them)."""
    behaviour: tuple[str, ...] = ()
    """Behaviour mixture of the collected data, as NAME=WEIGHT items (default: the task's)."""
    collect_episodes: int = 2500
    """Episodes of behaviour data to collect."""
    epochs: int = 40
    """Maximum training epochs of the world model (and a cap on those of the families
    in --compare, which otherwise train for their own default epochs)."""
    family: str = DEFAULT_FAMILY
    """World-model family (its default config): a registered name or module:attribute."""
    oracle_episodes: int = 3
    """Episodes in the oracle video (0: no video)."""
    size: int = 320
    """Oracle video width and height in pixels."""
    root: str = "runs"
    """Folder for everything the demo makes: datasets/, models/, eval/, reports/, demo/."""
    compare: tuple[str, ...] = ()
    """Other world-model families to train at their defaults and put side by side with
    the main one in the report (e.g. latent: a dataset with 64x64 frames is collected
    for it, and its training takes about 20 minutes for Reach on 2 cores and over an
    hour for Push, whose episodes are three times longer). Empty keeps the demo fast."""


def episode_clip(frames: np.ndarray, success: bool) -> np.ndarray:
    """The episode's frames with the last held and a green/red border for the outcome."""
    clip = np.concatenate([frames, np.repeat(frames[-1:], HOLD_FRAMES, axis=0)])
    return outcome_border(clip, success)


def oracle_video(task, config: DemoConfig) -> Path | None:
    """Roll the task's oracle and write <out>/<Task>-oracle.mp4 (skipped if present, or
    if the task has no oracle)."""

    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", task.name)
    video = RunPaths(Path(config.root)).demo / f"{name}-oracle.mp4"
    if config.oracle_episodes < 1 or video.exists() or oracle_spec(task.name) is None:
        return video if video.exists() else None
    seeds = range(config.oracle_episodes)
    episodes = run_episodes(
        task, load_policy(task.name, "oracle"), seeds, True, config.size, config.size
    )
    clips = [episode_clip(e.frames, e.success) for e in episodes]
    return write_video(video, np.concatenate(clips), fps=round(1.0 / task.dt))


def _stage(text: str) -> float:
    print(f"[demo] {text}", flush=True)
    return time.perf_counter()


def _newer(path: Path, than: Path) -> bool:
    return path.exists() and than.exists() and path.stat().st_mtime >= than.stat().st_mtime


def run_demo(config: DemoConfig) -> dict:
    """Run every stage for config.task; return the paths and headline numbers."""

    task = get_task(config.task)
    spec = task_spec(task)
    load_policies(task, config.policies)  # a task without a zoo needs policies: say so now
    begin = time.perf_counter()
    seconds = {}
    start = _stage(f"{task.name}: oracle video")
    video = oracle_video(task, config)
    seconds["oracle video"] = time.perf_counter() - start

    paths = RunPaths(Path(config.root))
    dataset = paths.dataset(task.name)
    if (dataset / "data" / "metadata.json").exists():
        start = _stage(f"dataset {dataset} exists: skipped")
    else:
        start = _stage(f"collecting the {task.name} behaviour dataset -> {dataset}")
        collect(CollectConfig(task=spec, episodes=config.collect_episodes, out=str(dataset),
                              behaviour=config.behaviour))  # fmt: skip
    seconds["collect"] = time.perf_counter() - start

    run = paths.model(task.name)
    start = _stage(f"training the world model -> {run} (resumes; returns at once if done)")
    train(TrainConfig(dataset=str(dataset), out=str(run), epochs=config.epochs,
                      family=config.family))  # fmt: skip
    seconds["train"] = time.perf_counter() - start

    eval_metrics = run / "eval" / "metrics.json"
    if _newer(eval_metrics, run / "metrics.jsonl"):
        start = _stage(f"model evaluation {eval_metrics} is up to date: skipped")
        model_metrics = {**json.loads(eval_metrics.read_text()), "out": str(eval_metrics.parent)}
    else:
        start = _stage(f"evaluating the world model on held-out episodes -> {run / 'eval'}")
        model_metrics = evaluate_model(ModelEvalConfig(checkpoint=str(run), dataset=str(dataset)))
    seconds["model-eval"] = time.perf_counter() - start

    compare = []
    for family_name in config.compare:
        start = _stage(f"the {family_name} family for the side-by-side comparison")
        compare.append(str(other_family(task, spec, family_name, config, paths)))
        seconds[f"{family_name} family"] = time.perf_counter() - start

    start = _stage(
        f"evaluating the {task.name} {'policies' if config.policies else 'zoo'} in both worlds "
        f"({config.episodes} episodes each), calibrating, writing the report"
    )
    report, calibration = make_report(
        EvaluateConfig(
            task=spec, checkpoint=str(run), episodes=config.episodes,
            policies=config.policies, cache=str(paths.eval_cache),
        ),
        ReportConfig(out=str(paths.report(task.name)), compare=tuple(compare)),
    )  # fmt: skip
    seconds["evaluate + report"] = time.perf_counter() - start
    seconds["total"] = time.perf_counter() - begin
    return {
        "task": task.name, "oracle_video": video, "model_metrics": model_metrics,
        "calibration": calibration, "report": report, "seconds": seconds,
    }  # fmt: skip


def other_family(task, spec: str, family_name: str, config: DemoConfig, paths: RunPaths) -> Path:
    """Collect (with frames, for a family that learns from them) and train another
    world-model family at its defaults; return its run folder. Both stages skip or
    resume as the main ones do."""

    family = get_family(family_name)
    frames = getattr(family, "frames", None)
    images = None
    dataset = paths.dataset(task.name)
    if frames is not None:
        height, width, _ = frames(family.Config())
        images = f"{width}x{height}"
        dataset = paths.frames_dataset(task.name, images)
    if not (dataset / "data" / "metadata.json").exists():
        collect(CollectConfig(task=spec, episodes=config.collect_episodes, out=str(dataset),
                              behaviour=config.behaviour, images=images))  # fmt: skip
    run = paths.model(task.name, family.name)
    defaults = dict(getattr(family, "train_defaults", {}))
    defaults["epochs"] = min(config.epochs, defaults.get("epochs", config.epochs))  # a cap
    train(TrainConfig(dataset=str(dataset), out=str(run), family=family.name, **defaults))
    return run
