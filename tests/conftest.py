"""Shared fixtures: every task-level test runs over every task."""

import pytest
from worldgym.envs.registry import NATIVE_TASKS, task_names

NATIVE = tuple(NATIVE_TASKS)
ALL = task_names()


@pytest.fixture(params=NATIVE)
def native_task(request):
    from worldgym.envs import get_task

    return get_task(request.param)


@pytest.fixture(params=ALL)
def any_task(request):
    from worldgym.envs import get_task

    return get_task(request.param)


@pytest.fixture(scope="session")
def tiny_push_dataset(tmp_path_factory):
    """A small real Push dataset, collected once per test session."""
    from worldgym.data.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("datasets") / "push"
    collect(CollectConfig(task="Push", episodes=24, out=str(out), workers=1), progress=False)
    return out


TINY_TRAIN = dict(epochs=8, batch_size=64, warmup_steps=20, learning_rate=3e-3, patience=10)
TINY_MODEL = dict(members=3, hidden=(64, 64))


@pytest.fixture(scope="session")
def tiny_run(tiny_push_dataset, tmp_path_factory):
    """A tiny world model trained on the tiny dataset: (summary, run folder)."""
    from worldgym.models.ensemble import EnsembleConfig
    from worldgym.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "push"
    config = TrainConfig(dataset=str(tiny_push_dataset), out=str(out), **TINY_TRAIN)
    return train(config, EnsembleConfig(**TINY_MODEL), progress=False), out
