"""worldgym's ground-truth MuJoCo tasks and the registry that names them.

Importing this package registers every task with Gymnasium in the `worldgym`
namespace (`gymnasium.make("worldgym/Push-v0")`), with string entry points so
nothing heavy is imported until an environment is made.
"""

from __future__ import annotations

import os
import sys

# Headless rendering by default; a backend the user chose (glfw, osmesa) wins.
if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium  # noqa: E402

from envs.registry import TASK_NAMES, get_task, register_tasks  # noqa: E402

register_tasks()

__all__ = ["TASK_NAMES", "get_task", "register_tasks", "gymnasium"]
