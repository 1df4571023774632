"""Refine: real episodes of chosen policies appended to the data, training continued."""

import shutil

import numpy as np
import pytest
from conftest import TINY_MODEL, TINY_TRAIN

from worldgym.data import dataset as dataset_module
from worldgym.data.dataset import load_dataset
from worldgym.data.splits import run_split, trained_episodes
from worldgym.envs import get_task
from worldgym.evaluation.model_eval import held_out_episodes
from worldgym.evaluation.support import load_or_build_reference
from worldgym.models.ensemble import EnsembleConfig
from worldgym.refine import REFINE_SEED, RefineConfig, refine
from worldgym.training.checkpoint import load_world_model
from worldgym.training.train import TrainConfig, train


@pytest.fixture
def own_run(tiny_push_dataset, tmp_path):
    """A tiny model trained on a copy of the tiny dataset (refine appends to its data)."""
    data = tmp_path / "data"
    shutil.copytree(tiny_push_dataset, data)
    run = tmp_path / "run"
    train(TrainConfig(dataset=str(data), out=str(run), **{**TINY_TRAIN, "epochs": 2}),
          EnsembleConfig(**TINY_MODEL), progress=False)  # fmt: skip
    return data, run


def settings(run, tmp_path, **changes):
    return RefineConfig(**{
        "task": "Push", "checkpoint": str(run), "policies": ("slow", "noisy"),
        "real_episodes": 3, "epochs": 2, "episodes": 2, "cache": str(tmp_path / "cache"),
        **changes,
    })  # fmt: skip


def test_refine_appends_exactly_the_new_episodes_and_trains_on(own_run, tmp_path):
    data, run = own_run
    before = load_dataset(data)
    summary = refine(settings(run, tmp_path), progress=False)
    after = load_dataset(data)
    assert summary.added == 6 and after.num_episodes == before.num_episodes + 6
    np.testing.assert_array_equal(
        after.observations[: len(before.observations)], before.observations
    )  # the old episodes, untouched
    assert after.behaviours[-6:] == ("refine:slow",) * 3 + ("refine:noisy",) * 3
    np.testing.assert_array_equal(after.seeds[-6:], REFINE_SEED + np.arange(6))
    assert summary.train.epochs == 2 and set(summary.after) == {"slow", "noisy"}
    again = refine(settings(run, tmp_path), progress=False)  # everything done: nothing added
    assert again.added == 0 and load_dataset(data).num_episodes == after.num_episodes


def test_an_interrupted_refine_leaves_the_dataset_whole_and_resumes(own_run, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    data, run = own_run
    before = load_dataset(data)
    real_write = dataset_module.write_episodes

    def dies_half_way(folder, first_id, episodes):
        real_write(folder, first_id, episodes[:2])
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_module, "write_episodes", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        refine(settings(run, tmp_path), progress=False)
    unchanged = load_dataset(data)
    assert unchanged.num_episodes == before.num_episodes
    np.testing.assert_array_equal(unchanged.observations, before.observations)
    leftovers = sorted(p.name for p in data.parent.iterdir() if p.name.startswith("."))
    assert not leftovers, leftovers  # no half-written dataset beside the real one
    monkeypatch.setattr(dataset_module, "write_episodes", real_write)
    summary = refine(settings(run, tmp_path), progress=False)  # the same command resumes
    assert summary.added == 6 and load_dataset(data).num_episodes == before.num_episodes + 6


def test_the_old_model_still_knows_its_data_after_refine_grew_it(own_run, tmp_path):
    """Support and model-eval find the old model's episodes as the grown dataset's
    first ones; the refined model's validation episodes are the old ones."""
    data, run = own_run
    task = get_task("Push")
    old = load_world_model(run, task)
    before = load_dataset(data)
    held_before, _ = held_out_episodes(before, old.metadata)
    summary = refine(settings(run, tmp_path), progress=False)
    grown = load_dataset(data)
    assert grown.fingerprint(before.num_episodes) == before.fingerprint() != grown.fingerprint()
    assert trained_episodes(grown, old.metadata["provenance"]) == before.num_episodes
    held_after, which = held_out_episodes(grown, old.metadata)
    np.testing.assert_array_equal(held_after, held_before)
    assert which == "the training run's validation episodes"
    (run / "support-reference.npz").unlink(missing_ok=True)  # e.g. a newer worldgym's key
    assert load_or_build_reference(old, task, run, key="after refine") is not None
    refined = load_world_model(summary.out, task)
    provenance = refined.metadata["provenance"]
    assert trained_episodes(grown, provenance) == grown.num_episodes
    train, validation = run_split(grown.num_episodes, provenance["train_config"])
    np.testing.assert_array_equal(validation, held_before)  # the new episodes all train
    assert set(range(before.num_episodes, grown.num_episodes)) <= set(train.tolist())
    assert len(train) == provenance["train_episodes"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"real_episodes": 0}, "needs at least one real episode per policy, got 0"),
        ({"policies": ("nouvel",)}, "Unknown policy 'nouvel' for task Push"),
        ({"policies": ()}, "Name the policies to refine for"),
    ],
)
def test_bad_refine_input_is_one_sentence(tiny_run, tmp_path, changes, message):
    with pytest.raises(ValueError) as error:
        refine(settings(tiny_run[1], tmp_path, **changes), progress=False)
    assert message in str(error.value) and "\n" not in str(error.value)
