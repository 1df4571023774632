"""The task door: every way to name a task, and one registry behind them.

Wherever worldgym takes a task (every subcommand, `gymnasium.make` of the imagined
twin, `evaluate_policies`, worker processes) it takes any of

- a registered name: worldgym's own tasks ("Push"), the adapted example
  ("Reacher-v5"), and whatever was registered with `register_task(...)`;
- the name of an installed package's entry point in the group `worldgym.tasks`
  (Gymnasium 1.x has no plugin mechanism, so this one is ours), whose value is a
  `module:attribute`;
- a `module:attribute` spec naming a Task, or a zero-argument function returning one.

The Task comes back with `spec` set to the string that finds it again, so worker
processes rebuild the same task from the same spec. worldgym's own tasks are
registered through this same door, so the door is always exercised.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import replace

import gymnasium

from worldgym.envs.task import Task
from worldgym.specs import first_line, import_attribute, is_attribute_spec

ENTRY_POINT_GROUP = "worldgym.tasks"
"""Entry-point group through which installed packages announce their tasks."""
DEFAULT_TASK = "Push"
NATIVE_TASKS = ("Reach", "Push", "PickPlace")
"""worldgym's own MuJoCo tasks, in rising difficulty (registered below)."""
SUITE_TASKS = {
    "MetaWorld-reach-v3": "worldgym.envs.suites.metaworld:reach_task",
    "MetaWorld-push-v3": "worldgym.envs.suites.metaworld:push_task",
    "FetchReach-v4": "worldgym.envs.suites.fetch:reach_task",
    "FetchPush-v4": "worldgym.envs.suites.fetch:push_task",
}
"""Tasks of outside suites (worked examples; each needs its suite installed, see
envs/suites): registered by name, imported only when used."""
IMAGINED_ID = "worldgym/{name}-imagined-v0"
"""Gymnasium id of a named task's imagined twin (see worldgym.imagination.env)."""

TaskSource = Task | Callable[[], Task] | str
"""What a name can stand for: a Task, a zero-argument factory, or "module:attribute"."""

_sources: dict[str, TaskSource] = {}
_builtin: set[str] = set()
_resolved: dict[str, Task] = {}


def register_task(source: TaskSource, name: str | None = None, *, overwrite: bool = False) -> str:
    """Make a task available by name to every part of worldgym; return the name.

    `source` is a Task, a zero-argument function returning one, or a
    "module:attribute" string (resolved lazily when `name` is given). The
    imagined twin `worldgym/<name>-imagined-v0` is registered with Gymnasium too.
    Worker processes receive run-time registrations (see `runtime_registrations`).
    """
    if name is None:
        name = get_task(source).name if isinstance(source, str) else _load(source, "task").name
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"A task name must be a non-empty string without ':', got {name!r}.")
    existing = _sources.get(name)
    if existing is not None and existing is not source and existing != source and not overwrite:
        raise ValueError(f"A task called {name!r} is already registered; pass overwrite=True "
                         "to replace it.")  # fmt: skip
    _sources[name] = source
    _resolved.pop(name, None)
    register_imagined_twin(name, source)
    return name


def register_imagined_twin(name: str, source: TaskSource) -> None:
    """worldgym/<name>-imagined-v0 with Gymnasium (string entry point: nothing imported)."""
    env_id = IMAGINED_ID.format(name=name)
    if env_id in gymnasium.registry and gymnasium.registry[env_id].kwargs == {"task": name}:
        return
    try:
        gymnasium.envs.registration.parse_env_id(env_id)
    except gymnasium.error.Error:  # a name Gymnasium cannot spell: the generic id remains
        return
    horizon = source.horizon if isinstance(source, Task) else None
    gymnasium.register(
        id=env_id,
        entry_point="worldgym.imagination.env:ImaginedEnv",
        vector_entry_point="worldgym.imagination.env:ImaginedVectorEnv",
        max_episode_steps=horizon,
        kwargs={"task": name},
    )


def entry_point_tasks() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def task_names() -> tuple[str, ...]:
    """Every task name this process knows: registered ones, then entry points."""
    return (*_sources, *(name for name in entry_point_tasks() if name not in _sources))


def runtime_registrations() -> dict[str, TaskSource]:
    """Tasks registered by user code in this process (not worldgym's own), so worker
    processes can register them too before rebuilding tasks from their specs."""
    return {name: source for name, source in _sources.items() if name not in _builtin}


def _load(source: TaskSource, label: str) -> Task:
    """The Task a source stands for, or one sentence saying why it is none."""
    value = import_attribute(source, "task") if isinstance(source, str) else source
    if not isinstance(value, Task) and callable(value):
        try:
            value = value()
        except Exception as error:  # a user's factory: whatever it raised
            raise ValueError(
                f"The task factory {label!r} failed: {type(error).__name__}: {first_line(error)}"
            ) from None
    if not isinstance(value, Task):
        raise ValueError(
            f"{label!r} is a {type(value).__name__}, not a worldgym Task (or a zero-argument "
            "function returning one)."
        )
    return value


def _short_name(spec: str) -> str:
    """ "worldgym/Push-v0" (a native task's Gymnasium id) -> "Push"."""
    if spec.startswith("worldgym/") and spec.endswith("-v0"):
        return spec[len("worldgym/") : -len("-v0")]
    return spec


def get_task(spec: str | Task) -> Task:
    """The Task named by `spec` (a name, an entry point, or module:attribute).

    The result's `spec` finds it again in any process; one clear error otherwise.
    """
    if isinstance(spec, Task):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"A task is named by a non-empty string, got {spec!r}.")
    name = _short_name(spec)
    if name in _resolved:
        return _resolved[name]
    if name in _sources:
        task = _load(_sources[name], name)
    elif name in (points := entry_point_tasks()):
        task = _load(points[name].value, name)
    elif is_attribute_spec(name):
        task = _load(name, name)
    else:
        known = ", ".join(task_names())
        raise ValueError(
            f"Unknown task {spec!r}; known tasks are {known}, or give module:attribute."
        )
    if task.spec != name:
        task = replace(task, spec=name)
    _resolved[name] = task
    return task


def task_spec(task: Task) -> str:
    """The spec worker processes rebuild `task` from; one sentence if it has none."""
    if task.spec:
        return task.spec
    if task.name in _sources:
        return task.name
    raise ValueError(
        f"Task {task.name!r} has no spec that another process could rebuild it from: "
        "register it with worldgym.register_task(...) or name it module:attribute."
    )


def _register_builtin() -> None:
    """worldgym's own tasks, through the same door a user's go through."""
    for name, module in zip(NATIVE_TASKS, ("reach", "push", "pick_place"), strict=True):
        task = importlib.import_module(f"worldgym.envs.{module}").TASK
        register_task(task, name)
        if task.env_id not in gymnasium.registry:
            gymnasium.register(
                id=task.env_id,
                entry_point=f"worldgym.envs.{module}:{name}Env",
                max_episode_steps=task.horizon,
            )
    register_task("worldgym.envs.adapters:reacher_v5_task", "Reacher-v5")
    for name, source in SUITE_TASKS.items():
        register_task(source, name)
    _builtin.update(_sources)


_register_builtin()
