"""Training lowers the loss, beats the copy baseline, checkpoints, and resumes exactly."""

import json
import shutil
from dataclasses import replace

import gymnasium
import jax
import numpy as np
import pytest
from conftest import TINY_MODEL, TINY_TRAIN, assert_same_training, kill_during_save

from worldgym.data.dataset import load_dataset
from worldgym.envs import get_task
from worldgym.evaluation.model_eval import ModelEvalConfig, ModelEvaluation, evaluate_model
from worldgym.imagination.engine import open_loop
from worldgym.models.ensemble import EnsembleConfig, make_world_model
from worldgym.training.checkpoint import load_world_model
from worldgym.training.train import TrainConfig, train


def test_training_lowers_the_loss_and_beats_copying(tiny_run, tiny_push_dataset):
    summary, run = tiny_run
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == TINY_TRAIN["epochs"]
    validation = [epoch["validation_loss"] for epoch in history]
    # 24 episodes overfit after a few epochs; the checkpoint keeps the best epoch
    assert min(validation[1:]) < validation[0], validation
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    config = ModelEvalConfig(
        checkpoint=str(run), dataset=str(tiny_push_dataset), videos=0, out=str(run / "eval")
    )
    metrics = evaluate_model(config)
    one_step = metrics.one_step
    assert one_step.model_nmse < 0.5 * one_step.copy_nmse, one_step
    assert ModelEvaluation.read(run / "eval") == metrics  # metrics.json holds all of it


def test_a_saved_model_evaluation_this_version_cannot_read_is_none(tmp_path):
    """An older worldgym's metrics.json (other fields), a damaged one or none: the demo
    evaluates again and the report leaves its section out, no traceback."""
    assert ModelEvaluation.read(tmp_path) is None
    (tmp_path / "metrics.json").write_text('{"task": "Push", "one_step": {"model_nmse": 1}}')
    assert ModelEvaluation.read(tmp_path) is None
    (tmp_path / "metrics.json").write_text("{not json")
    assert ModelEvaluation.read(tmp_path) is None


def test_checkpoint_round_trip_reproduces_predictions_exactly(tiny_run, tiny_push_dataset):
    summary, run = tiny_run
    loaded = load_world_model(run, get_task("Push"))
    in_memory = make_world_model(
        summary.best_params, 13, 2, EnsembleConfig(**TINY_MODEL, features="Push", prior="none")
    )
    data = load_dataset(tiny_push_dataset)
    obs = data.observations[:32]
    actions = np.repeat(data.actions[:32, None], 5, axis=1)
    key = jax.random.key(3)
    first = open_loop(loaded, obs, actions, key)
    second = open_loop(in_memory, obs, actions, key)
    np.testing.assert_array_equal(np.asarray(first.obs), np.asarray(second.obs))
    np.testing.assert_array_equal(np.asarray(first.success_logit), np.asarray(second.success_logit))
    assert (
        loaded.metadata["task"] == "Push" and loaded.metadata["provenance"]["dataset_fingerprint"]
    )


def test_resume_after_kill_matches_an_uninterrupted_run(tiny_run, tiny_push_dataset, tmp_path,
                                                       monkeypatch):  # fmt: skip
    summary, _ = tiny_run
    out = tmp_path / "resumed"
    config = TrainConfig(dataset=str(tiny_push_dataset), out=str(out), **TINY_TRAIN)
    restore = kill_during_save(monkeypatch)  # killed in the middle of epoch 2's checkpointing
    with pytest.raises(KeyboardInterrupt):
        train(config, EnsembleConfig(**TINY_MODEL), progress=False)
    restore()
    resumed = train(config, EnsembleConfig(**TINY_MODEL), progress=False)
    assert_same_training(summary, tiny_run[1], resumed, out)


def test_resuming_with_another_config_is_refused(tiny_run, tiny_push_dataset):
    _, run = tiny_run
    config = TrainConfig(dataset=str(tiny_push_dataset), out=str(run), **{**TINY_TRAIN, "seed": 9})
    with pytest.raises(ValueError, match="another config or dataset"):
        train(config, EnsembleConfig(**TINY_MODEL), progress=False)


def test_loading_a_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint at .*worldgym train DATASET"):
        load_world_model(tmp_path / "nothing")


def test_loading_a_folder_that_is_no_checkpoint(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.raises(ValueError, match="holds no finished checkpoint"):
        load_world_model(tmp_path / "junk")


def test_loading_for_another_task(tiny_run):
    _, run = tiny_run
    with pytest.raises(ValueError, match="was trained for task Push, not Reach"):
        load_world_model(run, get_task("Reach"))


def test_loading_for_other_spaces(tiny_run):
    _, run = tiny_run
    wider = replace(
        get_task("Push"),
        observation_names=(),
        observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (15,), np.float32),
    )
    with pytest.raises(ValueError, match=r"expects observations of shape \(13,\)"):
        load_world_model(run, wider)


def test_loading_a_corrupted_checkpoint(tiny_run, tmp_path):
    _, run = tiny_run
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    best = next((broken / "best").iterdir())
    for file in (best / "state").rglob("*"):
        if file.is_file() and file.stat().st_size > 100:
            file.write_bytes(b"\0" * 16)
    with pytest.raises(ValueError, match="corrupted or incomplete"):
        load_world_model(broken)
    (best / "meta" / "metadata").write_text("{not json")
    with pytest.raises(ValueError, match="is corrupted"):
        load_world_model(broken)


def test_a_model_without_task_features_trains_saves_and_loads(tiny_push_dataset, tmp_path):
    config = TrainConfig(
        dataset=str(tiny_push_dataset), out=str(tmp_path / "run"), **{**TINY_TRAIN, "epochs": 1}
    )
    summary = train(config, EnsembleConfig(**TINY_MODEL, features="none"), progress=False)
    model = load_world_model(tmp_path / "run", get_task("Push"))
    assert model.config["features"] == "none"
    assert "feature_mean" not in model.params["normalizer"]
    assert summary.epochs == 1


def test_multi_step_loss_trains_with_finite_decreasing_loss(tiny_push_dataset, tmp_path):
    """k-step windows feed predictions back in, through the task features too."""
    config = TrainConfig(
        dataset=str(tiny_push_dataset), out=str(tmp_path / "run"),
        **{**TINY_TRAIN, "epochs": 4, "rollout_steps": 3},
    )  # fmt: skip
    train(config, EnsembleConfig(**TINY_MODEL), progress=False)
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    losses = [row["validation_loss"] for row in history]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0]
