"""Behaviour data never contains an evaluation policy (same function and parameters)."""

import numpy as np
import pytest

from worldgym.data.collect import behaviour_mixture, plan_episodes
from worldgym.envs import get_task
from worldgym.policies import behaviour
from worldgym.policies.behaviour import (
    behaviour_policy,
    evaluation_identities,
    policy_identity,
)
from worldgym.policies.sets import policy_set

NATIVE = ("Reach", "Push", "PickPlace")


@pytest.mark.parametrize("task_name", NATIVE)
def test_the_default_data_holds_no_evaluation_policy(task_name):
    task = get_task(task_name)
    forbidden = evaluation_identities(task_name)
    assert "zoo/oracle" in forbidden.values() and "zoo/random" in forbidden.values()
    mixture = behaviour_mixture(task, (), include_zoo=False)
    plan = plan_episodes(task_name, 600, 1_000_000, mixture)
    for planned in plan:
        policy = behaviour_policy(task, planned.behaviour, planned.perturbation)
        assert policy_identity(policy) not in forbidden, (planned.behaviour, planned.perturbation)


def test_the_identity_tells_parameters_apart():
    zoo = {p.name: p for p in policy_set("Push", "zoo")}
    again = {p.name: p for p in policy_set("Push", "zoo")}  # built anew: same identities
    assert policy_identity(zoo["noisy"]) == policy_identity(again["noisy"])
    assert policy_identity(zoo["noisy"]) != policy_identity(zoo["oracle"])
    assert policy_identity(zoo["noisy"]) != policy_identity(zoo["very-noisy"])


def test_a_behaviour_that_is_an_evaluation_policy_is_refused():
    """PickPlace's zoo `noisy` is the oracle with noise 0.3, which its mixture once held."""
    task = get_task("PickPlace")
    with pytest.raises(ValueError, match="is the evaluation policy zoo/noisy of PickPlace"):
        behaviour_mixture(task, ("noisy-oracle-0.3=1",), include_zoo=False)
    # asked for on purpose, it is allowed (and named zoo: in the data)
    assert "zoo:noisy" in behaviour_mixture(task, ("random=1",), include_zoo=True)


def test_faults_that_make_the_oracle_are_drawn_again(monkeypatch):
    monkeypatch.setattr(behaviour, "FAULT_PROBABILITY", 0.03)  # most draws: every fault off
    forbidden = evaluation_identities("Push")
    rng = np.random.default_rng(0)
    task = get_task("Push")
    raw = [behaviour_policy(task, "perturbed-oracle", behaviour.draw_perturbation("Push", rng))
           for _ in range(50)]  # fmt: skip
    assert sum(forbidden.get(policy_identity(p)) == "zoo/oracle" for p in raw) > 30
    for _ in range(20):
        faults = behaviour.draw_fresh_perturbation("Push", rng, forbidden)
        policy = behaviour_policy(task, "perturbed-oracle", faults)
        assert policy_identity(policy) not in forbidden
    monkeypatch.setattr(behaviour, "FAULT_PROBABILITY", 0.0)
    with pytest.raises(ValueError, match="were all evaluation policies"):
        behaviour.draw_fresh_perturbation("Push", rng, forbidden)


def test_the_report_column_names_each_policys_relation_to_the_data():
    from worldgym.policies.behaviour import data_family

    zoo = {p.name: p for p in policy_set("Push", "zoo")}
    mixture = behaviour_mixture(get_task("Push"), (), include_zoo=False)
    assert data_family("Push", zoo["noisy"], mixture).startswith("family: ")
    assert "perturbed-oracle" in data_family("Push", zoo["noisy"], mixture)
    assert data_family("Push", zoo["random"], mixture) == "family: random actions"
    assert data_family("Push", zoo["bc-dart"], mixture) == "-"
    assert data_family("Push", zoo["noisy"], {"zoo:noisy": 1.0}) == "in the data"
    assert data_family("Push", zoo["noisy"], None) == "unknown"
