"""One registry of tasks: worldgym's own MuJoCo tasks and adapted Gymnasium envs."""

from __future__ import annotations

import importlib

import gymnasium

from envs.task import Task

NATIVE_TASKS = {"Reach": "envs.reach", "Push": "envs.push", "PickPlace": "envs.pick_place"}
"""worldgym's own tasks in rising difficulty: name -> module defining TASK and <Name>Env."""

ADAPTED_TASKS = {"Reacher-v5": "envs.adapters:reacher_v5_task"}
"""Gymnasium environments adapted into Tasks: name -> factory returning the Task."""

TASK_NAMES = (*NATIVE_TASKS, *ADAPTED_TASKS)
DEFAULT_TASK = "Push"


def register_tasks() -> None:
    """Register worldgym/<Name>-v0 for each native task (idempotent).

    The entry point is a string, as Gymnasium 1.x expects, and the TimeLimit is
    the task's horizon.
    """
    for _name, module_name in NATIVE_TASKS.items():
        task = importlib.import_module(module_name).TASK
        if task.env_id not in gymnasium.registry:
            gymnasium.register(
                id=task.env_id,
                entry_point=f"{module_name}:{task.name}Env",
                max_episode_steps=task.horizon,
            )


def get_task(name: str) -> Task:
    """The Task called `name` (or with that Gymnasium id); one clear error otherwise."""
    short_name = name
    if name.startswith("worldgym/") and name.endswith("-v0"):
        short_name = name[len("worldgym/") : -len("-v0")]
    if short_name in NATIVE_TASKS:
        return importlib.import_module(NATIVE_TASKS[short_name]).TASK
    if short_name in ADAPTED_TASKS:
        module_name, factory = ADAPTED_TASKS[short_name].split(":")
        return getattr(importlib.import_module(module_name), factory)()
    raise ValueError(f"Unknown task {name!r}; known tasks are {', '.join(TASK_NAMES)}.")
