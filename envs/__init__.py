"""worldgym's ground-truth tasks, the Task contract and the door tasks come through.

Importing this package registers worldgym's own tasks with Gymnasium in the
`worldgym` namespace (`gymnasium.make("worldgym/Push-v0")`), with string entry
points so nothing heavy is imported until an environment is made, and registers
every task (with its imagined twin) in worldgym's task registry.
"""

from __future__ import annotations

import os
import sys

# Headless rendering by default; a backend the user chose (glfw, osmesa) wins.
if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "egl")

from worldgym.envs.adapters import adapt_gym_env  # noqa: E402
from worldgym.envs.registry import (  # noqa: E402
    DEFAULT_TASK,
    NATIVE_TASKS,
    get_task,
    register_task,
    task_names,
)
from worldgym.envs.task import Task  # noqa: E402

__all__ = [
    "DEFAULT_TASK", "NATIVE_TASKS", "Task", "adapt_gym_env", "get_task", "register_task",
    "task_names",
]  # fmt: skip
