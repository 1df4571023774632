"""worldgym: learned world models as Gymnasium environments, calibrated against
MuJoCo ground truth.

Importing worldgym registers the ground-truth tasks (`worldgym/Reach-v0`,
`worldgym/Push-v0`, `worldgym/PickPlace-v0`) with Gymnasium, so
`gymnasium.make("worldgym:worldgym/Push-v0")` works without an explicit import.
It also registers the imagined twins, `worldgym/Push-imagined-v0` etc., which
take `checkpoint=PATH` (a run folder from `worldgym train`).
"""

from envs import TASK_NAMES, get_task
from worldgym.env import register_imagined_envs

register_imagined_envs()

__version__ = "0.1.0"
__all__ = ["TASK_NAMES", "get_task", "__version__"]
