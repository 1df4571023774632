"""The policy zoo: every policy is a pure JAX policy and the zoo spans the range."""

import jax
import numpy as np
import pytest
from worldgym.envs import get_task
from worldgym.envs.registry import NATIVE_TASKS
from worldgym.policies import load_policy, policy_names, zoo
from worldgym.policies.perturbed import perturbation_params

from worldgym.evaluation.measure import measure_policies

TASKS = list(NATIVE_TASKS)


@pytest.mark.parametrize("task_name", TASKS)
def test_zoo_is_large_and_described(task_name):
    policies = zoo(task_name)
    names = [policy.name for policy in policies]
    assert len(policies) >= 12 and len(set(names)) == len(names)
    assert all(policy.description and "\n" not in policy.description for policy in policies)
    assert sum(name.startswith("bc-") for name in names) >= 2, "two neural policies per task"


@pytest.mark.parametrize("task_name", TASKS)
def test_every_zoo_policy_is_jittable_and_vmappable(task_name):
    task = get_task(task_name)
    env = task.make_env()
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(6)])
    keys = jax.random.split(jax.random.key(1), 6)
    compiled = {}  # one jit per act function: zoo policies share theirs
    for policy in zoo(task_name):
        if policy.act not in compiled:
            compiled[policy.act] = (
                jax.jit(jax.vmap(policy.act, in_axes=(None, 0, 0))),
                jax.jit(policy.act),
            )
        batched_act, act = compiled[policy.act]
        batched = batched_act(policy.params, observations, keys)
        single = np.stack(
            [act(policy.params, o, k) for o, k in zip(observations, keys, strict=True)]
        )
        assert batched.shape == (6, task.action_dim), policy.name
        np.testing.assert_allclose(np.asarray(batched), single, atol=1e-5, err_msg=policy.name)
        assert np.all(np.abs(single) <= 1.0), policy.name


@pytest.mark.parametrize("task_name", TASKS)
def test_scripted_policies_share_one_structure(task_name):
    """All scripted zoo policies of a task can be stacked into one vmapped batch."""
    scripted = [p for p in zoo(task_name) if not p.name.startswith("bc-")]
    assert len({p.act for p in scripted}) == 1
    structures = {jax.tree_util.tree_structure(p.params) for p in scripted}
    assert len(structures) == 1
    stacked = jax.tree_util.tree_map(
        lambda *leaves: np.stack(leaves), *[p.params for p in scripted]
    )
    obs = get_task(task_name).make_env().reset(seed=0)[0]
    keys = jax.random.split(jax.random.key(0), len(scripted))
    actions = jax.vmap(scripted[0].act, in_axes=(0, None, 0))(stacked, obs, keys)
    assert actions.shape == (len(scripted), get_task(task_name).action_dim)


@pytest.mark.parametrize("task_name", TASKS)
def test_zoo_spans_the_range(task_name):
    """A fast sample of the zoo (extremes and a middle policy) keeps its spread:
    a change that collapses the zoo fails here."""
    sample = {"Reach": ["oracle", "biased-4cm", "feeble", "frozen"],
              "Push": ["oracle", "slow", "half-speed", "frozen"],
              "PickPlace": ["oracle", "laggy", "slow", "frozen"]}[task_name]  # fmt: skip
    rates = {
        row.name: row.success_rate
        for row in measure_policies(task_name, sample, episodes=16, workers=1, progress=False)
    }
    assert min(rates.values()) < 0.2 and max(rates.values()) > 0.8, rates
    assert 0.05 < rates[sample[2]] < 0.95 or 0.05 < rates[sample[1]] < 0.95, rates


def test_unknown_knob_is_one_sentence():
    with pytest.raises(ValueError, match=r"Unknown knob\(s\) \['elbow'\] for Reach"):
        perturbation_params("Reach", elbow=1.0)


def test_policy_names_follow_zoo_order():
    assert policy_names("Push")[0] == "oracle"
    assert load_policy("Push", "bc-dart").name == "bc-dart"
