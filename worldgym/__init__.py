"""worldgym: learned world models as Gymnasium environments, calibrated against
MuJoCo ground truth.

Importing worldgym registers the ground-truth tasks (`worldgym/Reach-v0`,
`worldgym/Push-v0`, `worldgym/PickPlace-v0`) with Gymnasium, so
`gymnasium.make("worldgym:worldgym/Push-v0")` works without an explicit import.
"""

from envs import TASK_NAMES, get_task

__version__ = "0.1.0"
__all__ = ["TASK_NAMES", "get_task", "__version__"]
