"""Where a pipeline run keeps its files by default, in one place.

    runs/datasets/worldgym/<task>/behaviour-v0   collected data (a Minari id under
                                                 MINARI_DATASETS_PATH=runs/datasets)
    runs/models/<task>                           the trained world model
    runs/eval/                                   cached rollouts of both worlds
    runs/models/<task>-<family>                  another family's model (demo --compare)
    runs/datasets/.../behaviour-v0-frames-WxH    the same recipe with camera frames
    runs/agents/<task>-ppo[-penalty<λ>]          agents trained inside a model (rl)
    runs/sessions/<task>                         operator sessions
    runs/reports/<task>                          calibration reports
    runs/demo/                                   the demo's oracle video

<task> is the task's name in lower case, made safe for a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


def task_slug(task_name: str) -> str:
    """A task name as one safe path component: "PickPlace" -> "pickplace"."""
    return re.sub(r"[^a-z0-9_.-]+", "-", task_name.lower()).strip("-.") or "task"


@dataclass(frozen=True)
class RunPaths:
    """The default folders of a pipeline run, under one root folder."""

    root: Path = Path("runs")

    def dataset_id(self, task_name: str) -> str:
        return f"worldgym/{task_slug(task_name)}/behaviour-v0"

    def dataset(self, task_name: str) -> Path:
        return Path(self.root) / "datasets" / self.dataset_id(task_name)

    def frames_dataset(self, task_name: str, images: str) -> Path:
        """The behaviour dataset with camera frames of `images` (WIDTHxHEIGHT)."""
        dataset = self.dataset(task_name)
        return dataset.with_name(f"{dataset.name}-frames-{images}")

    def model(self, task_name: str, family: str = "") -> Path:
        """The task's model; with `family`, another family's model beside it."""
        return (
            Path(self.root) / "models" / (task_slug(task_name) + (f"-{family}" if family else ""))
        )

    def agent(self, task_name: str, penalty: float = 0.0) -> Path:
        """An agent trained inside the task's model (with its uncertainty penalty)."""
        suffix = f"-penalty{penalty:g}" if penalty else ""
        return Path(self.root) / "agents" / f"{task_slug(task_name)}-ppo{suffix}"

    @property
    def eval_cache(self) -> Path:
        return Path(self.root) / "eval"

    def session(self, task_name: str) -> Path:
        return Path(self.root) / "sessions" / task_slug(task_name)

    def report(self, task_name: str) -> Path:
        return Path(self.root) / "reports" / task_slug(task_name)

    @property
    def demo(self) -> Path:
        return Path(self.root) / "demo"
