"""The imagination engine: batched rollouts, zoo stacking, masks and divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from worldgym.envs import get_task
from worldgym.imagination.engine import initial_observations, rollout_policies, rollout_policy
from worldgym.models.base import Prediction, WorldModel
from worldgym.policies import load_policy, zoo
from worldgym.training.checkpoint import load_world_model


@pytest.fixture(scope="module")
def push_model(tiny_run):
    return load_world_model(tiny_run[1], get_task("Push"))


def test_zoo_in_one_call_equals_each_policy_alone(push_model):
    task = get_task("Push")
    policies = [
        p for p in zoo("Push") if p.name in ("oracle", "noisy", "slow", "bc-dart", "bc-few")
    ]
    init_obs = initial_observations(task, range(4))
    key = jax.random.key(0)
    together = rollout_policies(push_model, policies, init_obs, key, task, horizon=12)
    for index, policy in enumerate(policies):
        alone = rollout_policy(
            push_model, policy, init_obs, jax.random.fold_in(key, index), task, 12
        )
        np.testing.assert_allclose(together[policy.name].observations, alone.observations,
                                   rtol=1e-5, atol=1e-5, err_msg=policy.name)  # fmt: skip
        np.testing.assert_array_equal(together[policy.name].active, alone.active)


def test_initial_states_are_the_real_resets_and_shapes_hold(push_model):
    task = get_task("Push")
    init_obs = initial_observations(task, [5, 6])
    env = task.make_env()
    np.testing.assert_array_equal(init_obs[0], env.reset(seed=5)[0])
    out = rollout_policy(
        push_model, load_policy("Push", "oracle"), init_obs, jax.random.key(1), task
    )
    assert out.observations.shape == (2, task.horizon + 1, 13)
    assert out.actions.shape == (2, task.horizon, 2) and out.active.shape == (2, task.horizon)
    np.testing.assert_array_equal(out.observations[:, 0], init_obs)


def test_same_seed_same_result_and_no_recompilation(push_model):
    task = get_task("Push")
    policy = load_policy("Push", "noisy")
    init_obs = initial_observations(task, range(3))
    first = rollout_policy(push_model, policy, init_obs, jax.random.key(7), task, 10)
    second = rollout_policy(push_model, policy, init_obs, jax.random.key(7), task, 10)
    np.testing.assert_array_equal(first.observations, second.observations)
    other = rollout_policy(push_model, policy, init_obs, jax.random.key(8), task, 10)
    assert not np.array_equal(first.actions, other.actions)


def scripted_model(task, next_obs_fn) -> WorldModel:
    """A stand-in model for engine tests: the next observation is next_obs_fn(obs, t)."""

    def init(params, obs, key):
        return {"obs": obs, "t": jnp.int32(0)}

    def step(params, carry, action, key):
        next_obs = next_obs_fn(carry["obs"], carry["t"])
        return Prediction({"obs": next_obs, "t": carry["t"] + 1}, next_obs, jnp.float32(0.0),
                          jnp.float32(0.5), jnp.float32(-5.0))  # fmt: skip

    normalizer = {"obs_mean": np.zeros(task.obs_dim, np.float32),
                  "obs_std": np.ones(task.obs_dim, np.float32)}  # fmt: skip
    return WorldModel("scripted", {"normalizer": normalizer}, init, step, task.obs_dim,
                      task.action_dim)  # fmt: skip


def test_divergence_ends_the_episode_with_a_flag_and_no_nan():
    task = get_task("Push")
    exploding = scripted_model(task, lambda obs, t: jnp.where(t >= 3, obs * jnp.nan, obs + 0.01))
    init_obs = initial_observations(task, range(2))
    out = rollout_policy(
        exploding, load_policy("Push", "oracle"), init_obs, jax.random.key(0), task, 8
    )
    assert np.all(np.asarray(out.diverged))
    assert np.all(np.isfinite(np.asarray(out.observations)))
    np.testing.assert_array_equal(out.active[0], [True] * 4 + [False] * 4)
    huge = scripted_model(task, lambda obs, t: obs * 10.0 + 1.0)
    out = rollout_policy(huge, load_policy("Push", "oracle"), init_obs, jax.random.key(0), task, 8)
    assert np.all(np.asarray(out.diverged)) and np.all(np.isfinite(np.asarray(out.observations)))


def test_episodes_end_on_success_where_the_task_terminates():
    task = get_task("Reach")  # terminates on success

    def reach_target_at_step_2(obs, t):
        moved = obs.at[6:8].set(jnp.where(t >= 2, obs[8:10], obs[6:8] + 0.001))
        return moved

    model = scripted_model(task, reach_target_at_step_2)
    init_obs = initial_observations(task, range(3))
    out = rollout_policy(
        model, load_policy("Reach", "oracle"), init_obs, jax.random.key(0), task, 6
    )
    np.testing.assert_array_equal(out.active[0], [True, True, True, False, False, False])
    assert bool(out.predicate_success[0, 2]) and not np.any(np.asarray(out.diverged))
    # Rewards are the task's own, step by step, and nothing after the episode ended.
    obs = np.asarray(out.observations)
    expected = np.asarray(task.reward_fn(obs[:, :-1], np.asarray(out.actions), obs[:, 1:]))
    np.testing.assert_allclose(out.rewards, np.where(out.active, expected, 0.0), rtol=1e-6)


def noise_only(params, obs, key):
    """A policy that is all noise: its actions are its random draws."""
    return jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)


def test_with_reset_seeds_imagination_draws_the_real_runners_policy_noise(push_model):
    from worldgym.policies import Policy
    from worldgym.rollouts.real import run_episodes_in_lockstep

    task = get_task("Push")
    policy = Policy("noise-only", noise_only)
    seeds = [3, 11]
    real = run_episodes_in_lockstep(task, policy, seeds)
    imagined = rollout_policy(push_model, policy, initial_observations(task, seeds),
                              jax.random.key(0), task, 6, seeds=seeds)  # fmt: skip
    for episode, actions in zip(real, np.asarray(imagined.actions), strict=True):
        np.testing.assert_allclose(actions, episode.actions[:6], rtol=1e-6)
    unpaired = rollout_policy(push_model, policy, initial_observations(task, seeds),
                              jax.random.key(0), task, 6)  # fmt: skip
    assert not np.allclose(np.asarray(unpaired.actions), real[0].actions[:6])
