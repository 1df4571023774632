"""`worldgym policies`: list a task's policy zoo; --measure its real success rates."""

from __future__ import annotations

from dataclasses import dataclass

from worldgym.config import TASK, config_from_args
from worldgym.envs import get_task
from worldgym.evaluation.measure import format_measurements, measure_policies
from worldgym.options import PolicyNames, TaskChoice, Workers
from worldgym.policies import policy_names, zoo
from worldgym.policies.sets import expand_sets, policy_set, set_names

NAME = "policies"
HELP = "List a task's policy zoo; --measure its real success rates."


@dataclass(frozen=True)
class PoliciesConfig(PolicyNames, Workers, TaskChoice):
    measure: bool = False
    """Measure each policy's real success rate (else only list them)."""
    episodes: int = 100
    """Episodes per policy when measuring, from reset seeds seed, seed+1, ..."""
    seed: int = 0
    """First reset seed."""


CONFIGS = ((PoliciesConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    config = config_from_args(PoliciesConfig, args)
    task = get_task(config.task)
    specs = (
        expand_sets(task.name, config.policies) if config.policies else tuple(policy_names(task))
    )
    if not config.measure:
        if not zoo(task.name):
            print(f"{task.name} has no policy zoo; name policies as module:attribute "
                  "(--policies) to measure or evaluate them.")  # fmt: skip
        for set_name in set_names(task.name):
            print(f"{set_name}:")
            for policy in policy_set(task.name, set_name):
                print(f"  {policy.name:<18} {policy.description}")
        return 0
    if not specs:
        raise ValueError(f"Task {task.name} has no policy zoo: name the policies to measure "
                         "(--policies module:attribute ...).")  # fmt: skip
    rows = measure_policies(task, specs, config.episodes, config.seed, config.workers)
    print(format_measurements(task.name, rows))
    return 0
