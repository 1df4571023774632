"""World-model families come through one door: a family from outside worldgym trains,
saves, loads and evaluates like the built-in ensemble."""

import numpy as np
import pytest
from conftest import LAB_TASK, TINY_TRAIN

from worldgym.envs import get_task
from worldgym.evaluation.paired import evaluate_policies, load_policies
from worldgym.models import family_names, get_family, register_family
from worldgym.training.checkpoint import load_world_model
from worldgym.training.train import TrainConfig, train

LAB_FAMILY = "lab_reacher.family:family"


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


def test_a_family_from_outside_trains_saves_loads_and_evaluates(tiny_lab_run, tmp_path):
    _, data = tiny_lab_run
    family = get_family(LAB_FAMILY)
    run = tmp_path / "mlp"
    summary = train(TrainConfig(dataset=str(data), out=str(run), family=LAB_FAMILY,
                                **{**TINY_TRAIN, "epochs": 4}),
                    family.Config(hidden=16), progress=False)  # fmt: skip
    history = summary.best
    assert summary.epochs == 4 and np.isfinite(history["validation_loss"])
    assert "validation_mse" in history  # the family's own metrics are recorded
    task = get_task(LAB_TASK)
    model = load_world_model(run, task)
    assert model.family == "lab-deterministic-mlp" and model.config == {"hidden": 16}
    assert model.metadata["family_spec"] == LAB_FAMILY
    policies = load_policies(task, ["lab_reacher.policies:pd_jax",
                                    "lab_reacher.policies:gentle_jax"])  # fmt: skip
    evaluation = evaluate_policies(task, model, policies, range(4), tmp_path / "cache",
                                   str(run), workers=1, progress=False)  # fmt: skip
    for policy in evaluation.policies:
        assert policy.member_success.shape == (1, 4)  # no ensemble: one member, itself
        assert np.all(policy.uncertainty == 0.0)
    # Resuming the finished run with the same command changes nothing.
    again = train(TrainConfig(dataset=str(data), out=str(run), family=LAB_FAMILY,
                              **{**TINY_TRAIN, "epochs": 4}),
                  family.Config(hidden=16), progress=False)  # fmt: skip
    assert again.epochs == 4


def test_families_register_by_name(tmp_path):
    name = register_family(LAB_FAMILY, "lab-mlp")
    assert name == "lab-mlp" and "lab-mlp" in family_names()
    assert get_family("lab-mlp") is get_family(LAB_FAMILY)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-family", "Unknown world-model family 'no-such-family'; known families are"),
        ("lab_reacher.family:MLPConfig", "is a type, not a worldgym model family: it lacks"),
        ("lab_reacher.nothing:family", "Cannot import module 'lab_reacher.nothing'"),
    ],
)
def test_bad_family_specs_are_one_sentence(lab_on_path, spec, message):
    with pytest.raises(ValueError) as error:
        get_family(spec)
    assert message in str(error.value) and one_sentence(str(error.value))


def test_a_config_of_another_family_is_refused(tiny_lab_run, tmp_path):
    from worldgym.models.ensemble import EnsembleConfig

    _, data = tiny_lab_run
    with pytest.raises(ValueError, match=r"takes its own config \(MLPConfig\), not EnsembleConfig"):
        train(TrainConfig(dataset=str(data), out=str(tmp_path / "x"), family=LAB_FAMILY),
              EnsembleConfig(), progress=False)  # fmt: skip
