"""Run by tests/test_devices.py in a fresh process: train a tiny model, save its
parameters (the device count is fixed when JAX starts)."""

import sys

import jax
import numpy as np
from conftest import TINY_MODEL, TINY_TRAIN

from worldgym.envs import get_task
from worldgym.models.ensemble import EnsembleConfig
from worldgym.training.checkpoint import load_world_model
from worldgym.training.train import TrainConfig, train


def main(dataset: str, run: str, out: str) -> None:
    train(TrainConfig(dataset=dataset, out=run, **{**TINY_TRAIN, "epochs": 2}),
          EnsembleConfig(**TINY_MODEL), progress=False)  # fmt: skip
    model = load_world_model(run, get_task("Push"))
    leaves = jax.tree_util.tree_leaves(model.params)
    np.savez(out, *[np.asarray(leaf) for leaf in leaves])


if __name__ == "__main__":
    main(*sys.argv[1:4])
