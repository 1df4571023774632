"""What the commands that judge policies name, declared once, and resolved once.

`evaluate`, `calibrate`, `report`, `estimate`, `imagine`, `session`, `refine` and
`rl` all name a task and a world model, most of them policies, a cache and the
randomness inside imagination. Their configs extend these dataclasses instead of
copying the fields, so each option has one declaration and one help text (the
command line reads the docstrings through the class hierarchy).

`resolve` turns a selection into a `Setup` once per command: the task, the run
folder, the loaded world model and the policies. The library functions below a
command take the Setup, so a command loads its checkpoint once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from worldgym.data.recorded import recorded_policies
from worldgym.envs import get_task
from worldgym.options import Cache, PolicyNames, TaskChoice, Workers
from worldgym.training.checkpoint import load_world_model, resolve_checkpoint


@dataclass(frozen=True)
class ModelChoice(TaskChoice):
    checkpoint: str = ""
    """World-model run folder (default: runs/models/<task>)."""


@dataclass(frozen=True)
class PolicyChoice(Cache, PolicyNames, ModelChoice):
    imagination_seed: int = 0
    """Seed of the randomness inside imagination (policy noise, member draws)."""


@dataclass(frozen=True)
class Selection(Workers, PolicyChoice):
    """What the commands that run real episodes of policies name."""


@dataclass(frozen=True)
class RecordedSelection(Selection):
    real_from: str = ""
    """Recorded real episodes (a folder in worldgym.data.recorded's layout) as ground
    truth instead of running the task: imagination starts each paired episode from
    the recorded start (--episodes and --seed are then the recording's; estimate
    takes all of them as its fixed n)."""
    real_camera: str = ""
    """With --real-from and a model that starts from frames: the recording's camera
    whose first frames it starts from (default: the only one)."""


class Setup(NamedTuple):
    """A selection resolved: what a command works on, made once (unpacks as task,
    checkpoint, model)."""

    task: object
    """The Task (worldgym.envs.task)."""
    checkpoint: Path
    """The world model's run folder."""
    model: object
    """The WorldModel loaded from it (worldgym.models.base)."""


def resolve(choice: ModelChoice, sampling: str | None = None, task=None) -> Setup:
    """The task, run folder and world model a selection names (one sentence for a
    missing run or one made for another task); `sampling` overrides the model's
    sampling mode where the family has one."""
    task = get_task(choice.task) if task is None else task
    checkpoint = resolve_checkpoint(task, choice.checkpoint or None)
    return Setup(task, checkpoint, load_world_model(checkpoint, task, sampling or None))


def named_policies(selection: PolicyChoice) -> tuple[str, ...]:
    """The policies a selection names: its own, or where it gives none and reads a
    recording, the ones the recording holds (else the zoo, by load_policies)."""
    if getattr(selection, "real_from", "") and not selection.policies:
        return tuple(recorded_policies(selection.real_from))
    return selection.policies
