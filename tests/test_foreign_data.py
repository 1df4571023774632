"""Data from anywhere: Minari datasets worldgym did not write, found by path or by id."""

import sys
from dataclasses import replace
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from conftest import TINY_MODEL, TINY_TRAIN

from worldgym.data.dataset import find_dataset, load_dataset
from worldgym.envs import get_task
from worldgym.models.ensemble import EnsembleConfig
from worldgym.training.checkpoint import load_world_model
from worldgym.training.train import TrainConfig, train

sys.path.insert(0, str(Path(__file__).parent))  # the lab's package, as a user's code

EPISODES = 12
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:minari")  # its metadata advice


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


def record_with_minari(root: Path, dataset_id: str, env_id: str, record_infos: bool,
                       env=None) -> Path:  # fmt: skip
    """A dataset as a lab logs it: Minari's own DataCollector around the raw env."""
    from minari import DataCollector

    collector = DataCollector(env or gymnasium.make(env_id), record_infos=record_infos,
                              data_format="arrow")  # fmt: skip
    rng = np.random.default_rng(0)
    for episode in range(EPISODES):
        collector.reset(seed=episode)
        done = False
        while not done:
            action = rng.uniform(-1, 1, collector.action_space.shape).astype(np.float32)
            _, _, terminated, truncated, _ = collector.step(action)
            done = terminated or truncated
    collector.create_dataset(dataset_id, algorithm_name="uniform random")
    collector.close()
    return root / dataset_id


@pytest.fixture(scope="module")
def minari_root(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("minari")
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    record_with_minari(root, "lab/reacher-v0", "Reacher-v5", record_infos=False)
    yield root
    if old is None:
        del os.environ["MINARI_DATASETS_PATH"]
    else:
        os.environ["MINARI_DATASETS_PATH"] = old


def test_a_data_collector_dataset_loads_by_id_flattened_and_scored_by_the_task(minari_root):
    task = get_task("lab_reacher.task:reacher_task")
    assert find_dataset("lab/reacher-v0") == minari_root / "lab/reacher-v0" / "data"
    data = load_dataset("lab/reacher-v0", task)
    assert data.num_episodes == EPISODES and data.observations.dtype == np.float32
    assert data.observations.shape == (EPISODES * 51, 10) and data.actions.shape == (600, 2)
    np.testing.assert_array_equal(data.success, np.asarray(task.success_fn(data.observations)))
    with pytest.raises(ValueError, match="was not written by worldgym: say which task"):
        load_dataset("lab/reacher-v0")


def test_train_takes_a_data_collector_dataset_by_id_or_path(minari_root, tmp_path,
                                                            monkeypatch):  # fmt: skip
    from worldgym.envs import registry

    # only worldgym's own tasks: another test in this process may have registered a
    # second Reacher-v5 task, and two matches are rightly refused as ambiguous
    monkeypatch.setattr(registry, "_sources", {name: source for name, source
                                               in registry._sources.items()
                                               if name in registry._builtin})  # fmt: skip
    settings = {**TINY_TRAIN, "epochs": 2, "batch_size": 32}
    by_id = train(TrainConfig(dataset="lab/reacher-v0", task="lab_reacher.task:reacher_task",
                              out=str(tmp_path / "by-id"), **settings),
                  EnsembleConfig(**TINY_MODEL), progress=False)  # fmt: skip
    assert by_id.epochs == 2 and by_id.transitions == 600
    # Without --task, the dataset's environment id finds the registered Reacher-v5 task.
    path = str(minari_root / "lab/reacher-v0")
    train(TrainConfig(dataset=path, out=str(tmp_path / "by-path"), **settings),
          EnsembleConfig(**TINY_MODEL), progress=False)  # fmt: skip
    model = load_world_model(tmp_path / "by-path")
    assert model.metadata["task"] == "Reacher-v5"
    assert model.metadata["provenance"]["dataset_fingerprint"]


def test_a_dataset_for_other_spaces_is_refused(minari_root, tmp_path):
    with pytest.raises(ValueError) as error:
        train(TrainConfig(dataset="lab/reacher-v0", task="Push", out=str(tmp_path / "x")),
              progress=False)  # fmt: skip
    assert "observations/actions of sizes 10/2, but task Push has 13/2" in str(error.value)
    assert one_sentence(str(error.value))


def test_a_dataset_without_the_success_info_a_task_needs_is_refused(minari_root, tmp_path):
    task = replace(get_task("lab_reacher.task:reacher_task"), success_fn=None,
                   success_key="is_success")  # fmt: skip
    with pytest.raises(ValueError) as error:
        load_dataset("lab/reacher-v0", task)
    assert "records no 'is_success' info" in str(error.value)
    assert one_sentence(str(error.value))


def test_recorded_success_infos_are_used_for_a_task_judged_by_an_info_key(minari_root):
    """A task whose success is an info key learns it from the dataset's infos."""
    env = gymnasium.make("Reacher-v5")

    class WithSuccess(gymnasium.Wrapper):  # what an env reporting is_success looks like
        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            return obs, {"is_success": np.linalg.norm(obs[8:10]) < 0.05}

        def step(self, action):
            obs, reward, terminated, truncated, _ = self.env.step(action)
            return obs, reward, terminated, truncated, {"is_success": np.linalg.norm(obs[8:10])
                                                        < 0.05}  # fmt: skip

    record_with_minari(minari_root, "lab/reacher-infos-v0", "Reacher-v5", True, WithSuccess(env))
    task = replace(get_task("lab_reacher.task:reacher_task"), success_fn=None,
                   success_key="is_success")  # fmt: skip
    data = load_dataset("lab/reacher-infos-v0", task)
    expected = np.linalg.norm(data.observations[:, 8:10], axis=1) < 0.05
    np.testing.assert_array_equal(data.success, expected)


def test_episodes_shorter_than_the_training_window_are_one_sentence(minari_root, tmp_path):
    with pytest.raises(ValueError) as error:
        train(TrainConfig(dataset="lab/reacher-v0", task="Reacher-v5", rollout_steps=60,
                          out=str(tmp_path / "x")), progress=False)  # fmt: skip
    assert "shorter than the 60-step training window" in str(error.value)
    assert one_sentence(str(error.value))


def test_a_missing_dataset_names_both_places_it_looked(minari_root):
    with pytest.raises(FileNotFoundError) as error:
        find_dataset("lab/nothing-v0")
    assert "No dataset at lab/nothing-v0, and no Minari dataset with that id under" in str(
        error.value
    )
