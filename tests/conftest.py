"""Shared fixtures: every task-level test runs over every task."""

import importlib.util
import os
import tempfile
from pathlib import Path

# Compiled XLA programs are kept on disk for the session: many tests (and the
# worker processes and CLI subprocesses they start) compile the same tiny
# programs; JAX keys each entry by the program and its devices, so a hit gives
# the very same executable (results are unchanged, only compile time is saved).
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", str(Path(tempfile.gettempdir()) / "worldgym-tests-jax-cache")
)

import pytest  # noqa: E402

from worldgym.envs.registry import NATIVE_TASKS, SUITE_TASKS, task_names

SUITE_PACKAGES = {"MetaWorld": "metaworld", "Fetch": "gymnasium_robotics"}
"""The package each outside suite's tasks need (installed by `make test-suites`)."""


def suite_installed(name: str) -> bool:
    package = next(p for prefix, p in SUITE_PACKAGES.items() if name.startswith(prefix))
    return importlib.util.find_spec(package) is not None


NATIVE = tuple(NATIVE_TASKS)
ALL = tuple(name for name in task_names() if name not in SUITE_TASKS or suite_installed(name))
"""Every task this environment can make: the outside suites' only where installed."""


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


LAB_TASK = "lab_reacher.task:reacher_task"
"""A user's task from outside worldgym (tests/lab_reacher), named by module:attribute."""


@pytest.fixture(scope="session")
def lab_on_path():
    """Put the lab's package on sys.path, as a user's project would be."""
    import sys
    from pathlib import Path

    folder = str(Path(__file__).parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lab_run(lab_on_path, tmp_path_factory):
    """A tiny state-ensemble of the lab's reacher, trained on noise and the lab's PD
    controller: (run folder, dataset folder)."""
    from worldgym.data.collect import CollectConfig, collect
    from worldgym.models.ensemble import EnsembleConfig
    from worldgym.training.train import TrainConfig, train

    data = tmp_path_factory.mktemp("lab-data") / "reacher"
    behaviour = ("random=0.3", "ou=0.3", "lab_reacher.policies:pd_numpy=0.4")
    collect(CollectConfig(task=LAB_TASK, episodes=24, behaviour=behaviour, out=str(data),
                          workers=1), progress=False)  # fmt: skip
    run = tmp_path_factory.mktemp("lab-runs") / "reacher"
    train(TrainConfig(dataset=str(data), out=str(run), **TINY_TRAIN),
          EnsembleConfig(**TINY_MODEL), progress=False)  # fmt: skip
    return run, data


# --- the latent family (frames) ------------------------------------------------------
TINY_LATENT = dict(image_size=(32, 32), channels=(8, 16), latent=16, members=3, hidden=(32,))
TINY_LATENT_TRAIN = dict(epochs=3, batch_size=16, rollout_steps=3, warmup_steps=5,
                         learning_rate=3e-3, patience=10)  # fmt: skip


@pytest.fixture(scope="session")
def reach_frames(tmp_path_factory):
    """A small Reach dataset with 32x32 frames."""
    from worldgym.data.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("datasets") / "reach-frames"
    collect(CollectConfig(task="Reach", episodes=12, out=str(out), images="32x32", workers=1),
            progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def latent_run(reach_frames, tmp_path_factory):
    from worldgym.models.latent import LatentConfig
    from worldgym.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "latent"
    config = TrainConfig(dataset=str(reach_frames), out=str(out), family="latent",
                         **TINY_LATENT_TRAIN)  # fmt: skip
    return train(config, LatentConfig(**TINY_LATENT), progress=False), out


@pytest.fixture(scope="session")
def reach_ensemble_run(reach_frames, tmp_path_factory):
    """A tiny state ensemble trained on the same Reach dataset (it ignores the frames)."""
    from worldgym.models.ensemble import EnsembleConfig
    from worldgym.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "reach-ensemble"
    config = TrainConfig(dataset=str(reach_frames), out=str(out), **TINY_TRAIN)
    return train(config, EnsembleConfig(**TINY_MODEL), progress=False), out


def kill_during_save(monkeypatch, count: int = 3):
    """Make training's checkpoint save raise KeyboardInterrupt on its `count`-th call
    (killed mid-checkpoint); returns a function that restores the real save."""
    from worldgym.training import train as train_module

    real_save = train_module.checkpoint.save
    calls = {"count": 0}

    def killed(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == count:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    monkeypatch.setattr(train_module.checkpoint, "save", killed)
    return lambda: monkeypatch.setattr(train_module.checkpoint, "save", real_save)


def assert_same_training(summary, run, other_summary, other_run) -> None:
    """Two training runs ended with identical parameters and logged the same history
    (wall-clock timings aside)."""
    import json

    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves(summary.final_params), leaves(other_summary.final_params),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    def history(folder):
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k not in ("seconds", "samples_per_second")}
                for row in rows]  # fmt: skip

    assert history(run) == history(other_run)
