"""`worldgym tasks`: list the tasks and their spaces."""

from __future__ import annotations

from worldgym.envs import get_task, task_names
from worldgym.policies.oracles import oracle_spec
from worldgym.policies.zoo import has_zoo

NAME = "tasks"
HELP = "List the tasks and their spaces."


CONFIGS = ()
"""(config class, positional fields) of the options."""


def run(args) -> int:

    print(f"{'task':<12} {'gymnasium id':<24} {'obs':>4} {'act':>4} {'horizon':>7}  rule")
    for name in task_names():
        try:
            task = get_task(name)
        except ValueError as error:  # a broken plugin is reported, the others still listed
            print(f"{name:<12} cannot be loaded: {error}")
            continue
        rule = "any step (terminates)" if task.terminate_on_success else "final step"
        extras = [label for label, present in (("oracle", oracle_spec(task.name)),
                                               ("zoo", has_zoo(task.name))) if present]  # fmt: skip
        print(
            f"{name:<12} {task.env_id:<24} {task.obs_dim:>4} {task.action_dim:>4} "
            f"{task.horizon:>7}  {rule}" + (f"; has {' and '.join(extras)}" if extras else "")
        )
        print(f"{'':<12} {task.description}")
    return 0
