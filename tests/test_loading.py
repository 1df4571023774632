"""Policies load by zoo name or module:attribute; bad specs get one sentence."""

import sys
from pathlib import Path

import numpy as np
import pytest

from worldgym.evaluation.measure import measure_policies
from worldgym.policies import as_actor, load_policy
from worldgym.policies.protocol import CallablePolicy, NumpyPolicy, PredictPolicy

sys.path.insert(0, str(Path(__file__).parent))


def one_sentence(message):
    return "\n" not in message and message.endswith(".")


def test_callable_predict_and_policy_objects_load():
    assert isinstance(
        as_actor(load_policy("Push", "user_policies:push_towards_goal")), CallablePolicy
    )
    assert isinstance(as_actor(load_policy("Push", "user_policies:predict_model")), PredictPolicy)
    policy = load_policy("Push", "user_policies:push_oracle")
    assert isinstance(as_actor(policy), NumpyPolicy) and policy.name == "user_policies:push_oracle"


def test_user_policies_are_measured_like_zoo_policies():
    rows = measure_policies(
        "Push", ["user_policies:push_oracle", "user_policies:predict_model"], episodes=3,
        workers=1, progress=False,
    )  # fmt: skip
    assert rows[0].success_rate == 1.0 and rows[1].success_rate == 0.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("genius", "Unknown policy 'genius' for task Push; known policies are oracle"),
        ("no_such_module:act", "Cannot import module 'no_such_module'"),
        ("user_policies:missing", "Module 'user_policies' has no attribute 'missing'"),
        ("user_policies:wrong_shape", "returned an action of shape (5,), but task Push expects"),
        ("user_policies:crashes", "failed on an observation of shape (13,): RuntimeError"),
        ("user_policies:not_a_policy", "is a int; expected a worldgym Policy"),
    ],
)
def test_bad_policy_specs(spec, message):
    with pytest.raises(ValueError) as error:
        load_policy("Push", spec)
    assert message in str(error.value)
    assert one_sentence(str(error.value))


def test_numpy_policy_is_reproducible_per_seed():
    actor = as_actor(load_policy("Push", "noisy"))
    obs = np.zeros(13, np.float32)
    actor.reset(7)
    first = [actor(obs) for _ in range(3)]
    actor.reset(7)
    second = [actor(obs) for _ in range(3)]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])
