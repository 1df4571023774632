"""Run by tests/test_devices.py in a fresh process (the device count is fixed when JAX
starts): imagine episodes of JAX and host policies, save the trajectories."""

import sys

import jax
import numpy as np

from worldgym.devices import describe_devices
from worldgym.envs import get_task
from worldgym.imagination.engine import initial_observations, rollout_policies
from worldgym.policies import load_policy
from worldgym.policies.host import host_policy
from worldgym.training.checkpoint import load_world_model


def towards_the_block(obs):
    """A plain numpy policy (a host policy inside the compiled rollout)."""
    return np.clip((obs[..., 4:6] - obs[..., 0:2]) * 5.0, -1.0, 1.0)


def main(run: str, out: str) -> None:
    print(describe_devices())
    task = get_task("Push")
    model = load_world_model(run, task)
    policies = [load_policy("Push", "noisy"), load_policy("Push", "oracle"),
                host_policy(towards_the_block, "towards-the-block", task)]  # fmt: skip
    arrays = {}
    for size in (8, 6):  # divisible by 4 devices, and padded
        seeds = list(range(size))
        runs = rollout_policies(model, policies, initial_observations(task, seeds),
                                jax.random.key(3), task, horizon=12, seeds=seeds)  # fmt: skip
        for name, trajectories in runs.items():
            for field, value in trajectories._asdict().items():
                arrays[f"{name}/{size}/{field}"] = np.asarray(value)
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
