"""Run by tests/test_devices.py in a fresh process: two PPO updates of a tiny agent
in a tiny model, save the agent's parameters (the device count is fixed when JAX
starts)."""

import sys

import jax
import numpy as np

from worldgym.envs import get_task
from worldgym.rl.ppo import PPOConfig, make_trainer, reset_starts
from worldgym.training.checkpoint import load_world_model


def main(run: str, out: str) -> None:
    task = get_task("Push")
    model = load_world_model(run, task)
    config = PPOConfig(envs=64, rollout_steps=8, minibatches=4, epochs=2)
    init, update = make_trainer(model, task, config, reset_starts(model, task, range(32)))
    state = init(jax.random.key(0))
    for _ in range(2):
        state, _ = update(state)
    leaves = jax.tree_util.tree_leaves(state.agent)
    np.savez(out, *[np.asarray(leaf) for leaf in leaves])
    print(len(state.env.obs.sharding.device_set))


if __name__ == "__main__":
    main(*sys.argv[1:3])
