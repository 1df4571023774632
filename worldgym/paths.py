"""Where a pipeline run keeps its files by default, in one place.

    runs/datasets/worldgym/<task>/behaviour-v0   collected data (a Minari id under
                                                 MINARI_DATASETS_PATH=runs/datasets)
    runs/models/<task>                           the trained world model
    runs/eval/                                   cached rollouts of both worlds
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

    def model(self, task_name: str) -> Path:
        return Path(self.root) / "models" / task_slug(task_name)

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
