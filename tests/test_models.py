"""The WorldModel contract of the state ensemble: pure, jittable, vmappable."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from worldgym.models.ensemble import (
    EnsembleConfig,
    init_network_params,
    make_world_model,
    normalizer_from_data,
)


def model(sampling="mean", members=4, features="Push"):
    config = EnsembleConfig(
        members=members, hidden=(16, 16), sampling=sampling, features=features, prior="none"
    )
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(50, 13)).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(50, 2)).astype(np.float32)
    params = {
        "network": init_network_params(13, 2, config, seed=1),
        "normalizer": normalizer_from_data(
            obs, actions, obs + rng.normal(size=obs.shape) * 0.1, config
        ),
    }
    return make_world_model(params, 13, 2, config)


@pytest.mark.parametrize("sampling", ["mean", "ts1", "ts1-noise"])
def test_step_is_pure_jittable_and_vmappable(sampling):
    world = model(sampling)
    obs = jnp.ones((6, 13))
    keys = jax.random.split(jax.random.key(0), 6)
    carry = jax.vmap(world.init_fn, in_axes=(None, 0, 0))(world.params, obs, keys)
    step = jax.jit(jax.vmap(world.step_fn, in_axes=(None, 0, 0, 0)))
    first = step(world.params, carry, jnp.zeros((6, 2)), keys)
    second = step(world.params, carry, jnp.zeros((6, 2)), keys)
    np.testing.assert_array_equal(first.obs, second.obs)  # pure: same inputs, same outputs
    assert first.obs.shape == (6, 13) and first.success_logit.shape == (6,)
    assert first.uncertainty.shape == (6,) and np.all(np.asarray(first.uncertainty) >= 0)
    single = world.step(jax.tree_util.tree_map(lambda x: x[0], carry), jnp.zeros(2), keys[0])
    np.testing.assert_allclose(single.obs, first.obs[0], rtol=1e-5, atol=1e-6)


def test_sampling_modes_differ_as_documented():
    obs, action = jnp.ones(13), jnp.zeros(2)
    key = jax.random.key(0)
    mean_model, ts1_model, noisy_model = model("mean"), model("ts1"), model("ts1-noise")
    mean = mean_model.step(mean_model.init(obs, key), action, key).obs
    # TS1 follows one member for the whole episode: different keys pick different members.
    members = {int(ts1_model.init(obs, jax.random.key(k))["member"]) for k in range(20)}
    assert len(members) > 1
    ts1 = [
        ts1_model.step(ts1_model.init(obs, jax.random.key(k)), action, key).obs for k in range(8)
    ]
    assert any(not np.allclose(t, mean) for t in ts1)
    carry = noisy_model.init(obs, key)
    a = noisy_model.step(carry, action, jax.random.key(1)).obs
    b = noisy_model.step(carry, action, jax.random.key(2)).obs
    assert not np.allclose(a, b)  # the Gaussian sample depends on the step key


def test_members_disagree_and_one_member_does_not():
    obs, action, key = jnp.ones(13), jnp.zeros(2), jax.random.key(0)
    assert float(model(members=4).step(model(members=4).init(obs), action, key).uncertainty) > 0
    single = model(members=1)
    assert float(single.step(single.init(obs), action, key).uncertainty) == 0.0


def test_bad_config_is_one_sentence():
    with pytest.raises(ValueError, match="Unknown sampling mode 'best'"):
        EnsembleConfig(sampling="best")


def test_open_loop_error_averages_only_episodes_still_running():
    """Episodes of different lengths (e.g. ended on success): the error at H uses
    the episodes that last at least H steps, and runs to the longest one."""
    from worldgym.data.episodes import EpisodeDataset
    from worldgym.evaluation.model_eval import open_loop_metrics
    from worldgym.models.base import Prediction, WorldModel

    def step(params, carry, action, key):  # "nothing changes", as a world model
        return Prediction(carry, carry, jnp.float32(0), jnp.float32(0), jnp.float32(0))

    copy_model = WorldModel("copy", {}, lambda params, obs, key: obs, step, 1, 1)
    # episode 0: 0 -> 1 -> 2 -> 3 (3 steps); episode 1: 10 -> 14 (1 step)
    observations = np.array([[0], [1], [2], [3], [10], [14]], np.float32)
    data = EpisodeDataset(
        observations=observations, actions=np.zeros((4, 1), np.float32),
        rewards=np.zeros(4, np.float32), terminations=np.zeros(4, bool),
        truncations=np.zeros(4, bool), success=np.zeros(6, bool),
        episode_lengths=np.array([3, 1]), seeds=np.array([0, 1]), behaviours=("a", "b"),
        metadata={},
    )  # fmt: skip
    linear = np.zeros((3, 1), np.float32)  # predicts the change: zeros make it "copy" too
    growth = open_loop_metrics(copy_model, data, np.array([0, 1]), linear, np.ones(1),
                               jax.random.key(0))  # fmt: skip
    assert growth.horizon == 3 and growth.episodes == [2, 1, 1]
    np.testing.assert_allclose(growth.model, [(1 + 16) / 2, 4, 9])
    np.testing.assert_allclose(growth.copy, growth.model)
    np.testing.assert_allclose(growth.linear, growth.model)


def test_a_task_prior_is_added_to_what_the_network_predicts():
    """With a silent network the model predicts exactly the task's prior."""
    import jax.tree_util as tree

    from worldgym.envs import get_task

    task = get_task("PickPlace")
    config = EnsembleConfig(members=2, hidden=(8,), features="none", prior="PickPlace")
    network = tree.tree_map(np.zeros_like, init_network_params(26, 4, config, seed=0))
    normalizer = {
        "obs_mean": np.zeros(26, np.float32),
        "obs_std": np.ones(26, np.float32),
        "delta_mean": np.zeros(26, np.float32),
        "delta_std": np.ones(26, np.float32),
    }
    world = make_world_model({"network": network, "normalizer": normalizer}, 26, 4, config)
    obs = jnp.asarray(task.make_env().reset(seed=0)[0])
    action = jnp.asarray([0.5, -1.0, 0.25, 1.0])
    predicted = world.step(world.init(obs), action, jax.random.key(0)).obs
    np.testing.assert_allclose(predicted, obs + task.model_prior(obs, action), atol=1e-6)
