"""Each task is solvable: its oracle succeeds in >= 90% of 50 seeded episodes."""

import jax
import numpy as np
import pytest

from worldgym.envs import get_task
from worldgym.envs.registry import NATIVE_TASKS
from worldgym.policies import load_policy
from worldgym.rollouts.real import run_episodes


@pytest.mark.parametrize("name", list(NATIVE_TASKS))
def test_oracle_solves_the_task(name):
    task = get_task(name)
    episodes = run_episodes(task, load_policy(name, "oracle"), range(50), progress=False)
    success_rate = np.mean([e.success for e in episodes])
    assert success_rate >= 0.9, f"{name} oracle succeeded in only {success_rate:.0%}"


@pytest.mark.parametrize("name", list(NATIVE_TASKS))
def test_random_policy_rarely_succeeds(name):
    """The tasks are not trivially solved: random actions mostly fail."""
    task = get_task(name)
    episodes = run_episodes(task, load_policy(name, "random"), range(20), progress=False)
    assert np.mean([e.success for e in episodes]) <= 0.3


@pytest.mark.parametrize("name", list(NATIVE_TASKS))
@pytest.mark.parametrize("policy_name", ["oracle", "random"])
def test_policies_are_jittable_and_vmappable(name, policy_name):
    task = get_task(name)
    policy = load_policy(name, policy_name)
    env = task.make_env()
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(8)])
    keys = jax.random.split(jax.random.key(0), 8)
    batched = jax.jit(jax.vmap(policy.act, in_axes=(None, 0, 0)))(policy.params, observations, keys)
    act = jax.jit(policy.act)
    single = np.stack(
        [np.asarray(act(policy.params, o, k)) for o, k in zip(observations, keys, strict=True)]
    )
    assert batched.shape == (8, task.action_dim)
    np.testing.assert_allclose(np.asarray(batched), single, atol=1e-6)
    assert np.all(np.abs(single) <= 1.0)
