"""The policy zoo: every policy is a pure JAX policy and the zoo spans the range."""

import jax
import numpy as np
import pytest

from worldgym.envs import get_task
from worldgym.envs.registry import NATIVE_TASKS
from worldgym.evaluation.measure import measure_policies
from worldgym.policies import load_policy, policy_names, zoo
from worldgym.policies.perturbed import perturbation_params

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
        seen = observations  # what the policy acts on: the state, or the camera's frames
        if policy.looks_at_frames:
            height, width = policy.frame_size
            seen = task.render_observations(observations, width, height)
        batched = batched_act(policy.params, seen, keys)
        single = np.stack([act(policy.params, o, k) for o, k in zip(seen, keys, strict=True)])
        assert batched.shape == (6, task.action_dim), policy.name
        np.testing.assert_allclose(np.asarray(batched), single, atol=1e-5, err_msg=policy.name)
        assert np.all(np.abs(single) <= 1.0), policy.name


@pytest.mark.parametrize("task_name", TASKS)
def test_scripted_policies_share_one_structure(task_name):
    """All scripted zoo policies of a task can be stacked into one vmapped batch."""
    from worldgym.policies.perturbed import perturbed_act

    scripted = [p for p in zoo(task_name) if p.act is perturbed_act(task_name)]
    assert len(scripted) >= 12
    assert all(not p.name.startswith(("bc-", "pixels-", "ppo-")) for p in scripted)
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


@pytest.mark.parametrize("task_name", TASKS)
def test_the_novel_set_is_other_controllers_and_names_are_unique_across_sets(task_name):
    from worldgym.policies.perturbed import perturbed_act
    from worldgym.policies.sets import expand_sets, find_policy, policy_set

    novel = policy_set(task_name, "novel")
    assert len(novel) >= 10
    assert all(p.act is not perturbed_act(task_name) for p in novel), "not the oracle's knobs"
    names = [p.name for p in zoo(task_name)] + [p.name for p in novel]
    assert len(set(names)) == len(names)
    assert all(find_policy(task_name, p.name) is p for p in novel)
    assert expand_sets(task_name, ["novel", "oracle"]) == (*[p.name for p in novel], "oracle")


@pytest.mark.parametrize("task_name", TASKS)
def test_novel_policies_are_jittable_vmappable_and_in_bounds(task_name):
    from worldgym.policies.sets import policy_set

    task = get_task(task_name)
    env = task.make_env()
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(5)])
    keys = jax.random.split(jax.random.key(2), 5)
    for policy in policy_set(task_name, "novel"):
        batched = jax.jit(jax.vmap(policy.act, in_axes=(None, 0, 0)))
        actions = batched(policy.params, observations, keys)
        assert actions.shape == (5, task.action_dim) and np.all(np.abs(actions) <= 1.0)


@pytest.mark.parametrize("task_name", TASKS)
def test_the_novel_set_spans_the_range(task_name):
    """A fast sample (a strong, a middle and a failing novel policy) keeps its spread."""
    sample = {"Reach": ["jacobian", "sequential", "mirrored"],
              "Push": ["gentle", "pausing", "far-standoff"],
              "PickPlace": ["planner", "bang-bang", "hover-6cm"]}[task_name]  # fmt: skip
    rates = [
        row.success_rate
        for row in measure_policies(task_name, sample, 16, workers=1, progress=False)
    ]
    assert rates[0] > 0.7 and 0.15 < rates[1] < 0.85 and rates[2] < 0.2, rates


def test_unknown_policy_set_or_name_is_one_sentence():
    with pytest.raises(ValueError, match=r"Unknown policy 'nouvel' for task Push.*sets: zoo, nov"):
        load_policy("Push", "nouvel")
