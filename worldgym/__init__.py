"""worldgym: learned world models as Gymnasium environments, calibrated against
MuJoCo ground truth.

Importing worldgym registers the ground-truth tasks (`worldgym/Reach-v0`,
`worldgym/Push-v0`, `worldgym/PickPlace-v0`) with Gymnasium, so
`gymnasium.make("worldgym:worldgym/Push-v0")` works without an explicit import.
It also registers the imagined twins: `worldgym/<Task>-imagined-v0` for every
registered or installed (entry-point) task, and `worldgym/Imagined-v0`, which
takes the task from its `checkpoint=PATH` (or `task=SPEC`), for any task at all.

The doors a user's code comes through, without editing worldgym:
`register_task` / `get_task` (tasks), `worldgym.policies.load_policy` (policies),
`worldgym.models.register_family` (world-model families).
"""

from worldgym.envs import Task, adapt_gym_env, get_task, register_task, task_names
from worldgym.imagination.env import register_imagined_envs

register_imagined_envs()

__version__ = "0.3.0"
__all__ = [
    "Task", "adapt_gym_env", "get_task", "register_task", "task_names", "__version__",
]  # fmt: skip
