"""`worldgym demo` (`make demo`): the main job, the whole pipeline for one task.

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
`make demo` takes seconds. The command owns this glue; each stage is the library
call its own command makes.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldgym.config import config_from_args
from worldgym.data.collect import CollectConfig, collect
from worldgym.envs import get_task
from worldgym.envs.registry import task_spec
from worldgym.evaluation.calibrate import Calibration
from worldgym.evaluation.model_eval import (
    ModelEvalConfig,
    ModelEvaluation,
    evaluate_model,
    format_metrics,
)
from worldgym.evaluation.paired import EvaluateConfig, load_policies
from worldgym.models import DEFAULT_FAMILY, get_family
from worldgym.options import PolicyNames, TaskChoice
from worldgym.paths import RunPaths
from worldgym.policies import load_policy
from worldgym.policies.oracles import oracle_spec
from worldgym.report import ReportConfig, make_report, print_headline
from worldgym.rollouts.real import run_episodes
from worldgym.training.train import TrainConfig, train
from worldgym.video import episode_clip, write_video

NAME = "demo"
HELP = "The main job: collect, train, evaluate, calibrate and report for a task."


@dataclass(frozen=True)
class DemoConfig(PolicyNames, TaskChoice):
    episodes: int = 100
    """Evaluation episodes per policy in each world."""
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


CONFIGS = ((DemoConfig, ()),)
"""(config class, positional fields) of the options."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo made, and how long each stage took."""

    task: str
    oracle_video: Path | None
    model: ModelEvaluation
    calibration: Calibration
    report: Path
    seconds: dict[str, float]
    """Wall-clock seconds per stage (a skipped stage takes about none), and "total"."""


def run(args) -> int:
    result = run_demo(config_from_args(DemoConfig, args))
    print()
    if result.oracle_video:
        print(f"oracle video: {result.oracle_video}")
    print(format_metrics(result.model))
    print()
    print_headline(result.calibration)
    timing = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in result.seconds.items())
    print(f"\nstages: {timing}")
    print(f"report: {result.report}")
    return 0


def run_demo(config: DemoConfig) -> DemoResult:
    """Run every stage for config.task, each skipped when its outputs are up to date."""

    task = get_task(config.task)
    spec = task_spec(task)
    load_policies(task, config.policies)  # a task without a zoo needs policies: say so now
    paths = RunPaths(Path(config.root))
    dataset, run = paths.dataset(task.name), paths.model(task.name)
    stages = Stages()

    with stages.stage("oracle video", f"{task.name}: oracle video"):
        video = oracle_video(task, config.oracle_episodes, config.size, paths.demo)
    if (dataset / "data" / "metadata.json").exists():
        stages.skip("collect", f"dataset {dataset} exists: skipped")
    else:
        with stages.stage("collect", f"collecting the {task.name} behaviour dataset -> {dataset}"):
            collect(CollectConfig(task=spec, episodes=config.collect_episodes, out=str(dataset),
                                  behaviour=config.behaviour))  # fmt: skip
    with stages.stage("train", f"training the world model -> {run} (resumes; returns at once "
                               "if done)"):  # fmt: skip
        train(TrainConfig(dataset=str(dataset), out=str(run), epochs=config.epochs,
                          family=config.family))  # fmt: skip
    model = None
    if _newer(run / "eval" / "metrics.json", run / "metrics.jsonl"):
        model = ModelEvaluation.read(run / "eval")  # None: another version's: evaluate again
    if model is not None:
        stages.skip("model-eval", f"model evaluation {run / 'eval'} is up to date: skipped")
    else:
        with stages.stage("model-eval", "evaluating the world model on held-out episodes -> "
                                        f"{run / 'eval'}"):  # fmt: skip
            model = evaluate_model(ModelEvalConfig(checkpoint=str(run), dataset=str(dataset)))
    compare = []
    for family_name in config.compare:
        with stages.stage(f"{family_name} family",
                          f"the {family_name} family for the side-by-side comparison"):  # fmt: skip
            compare.append(str(other_family(task, spec, family_name, config, paths)))
    with stages.stage("evaluate + report",
                      f"evaluating the {task.name} {'policies' if config.policies else 'zoo'} "
                      f"in both worlds ({config.episodes} episodes each), calibrating, writing "
                      "the report"):  # fmt: skip
        report, calibration = make_report(
            EvaluateConfig(task=spec, checkpoint=str(run), episodes=config.episodes,
                           policies=config.policies, cache=str(paths.eval_cache)),
            ReportConfig(out=str(paths.report(task.name)), compare=tuple(compare)),
        )  # fmt: skip
    return DemoResult(task.name, video, model, calibration, report, stages.total())


class Stages:
    """Prints each stage as it starts and keeps its wall-clock seconds."""

    def __init__(self):
        self.begin = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, text: str):
        print(f"[demo] {text}", flush=True)
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start

    def skip(self, name: str, text: str) -> None:
        print(f"[demo] {text}", flush=True)
        self.seconds[name] = 0.0

    def total(self) -> dict[str, float]:
        return {**self.seconds, "total": time.perf_counter() - self.begin}


def _newer(path: Path, than: Path) -> bool:
    return path.exists() and than.exists() and path.stat().st_mtime >= than.stat().st_mtime


def oracle_video(task, episodes: int, size: int, folder: Path) -> Path | None:
    """Roll the task's oracle and write <folder>/<Task>-oracle.mp4 (skipped if present,
    or if the task has no oracle)."""

    video = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', task.name)}-oracle.mp4"
    if episodes < 1 or video.exists() or oracle_spec(task.name) is None:
        return video if video.exists() else None
    clips = [episode_clip(e.frames, e.success)
             for e in run_episodes(task, load_policy(task.name, "oracle"), range(episodes),
                                   True, size, size)]  # fmt: skip
    return write_video(video, np.concatenate(clips), fps=round(1.0 / task.dt))


def other_family(task, spec: str, family_name: str, config: DemoConfig,
                 paths: RunPaths) -> Path:  # fmt: skip
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
