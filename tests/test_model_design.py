"""The state ensemble's design for robots it was not designed around: entries that
never change are copied, success is read from the next observation, previous
actions are read, and a checkpoint of worldgym 0.2 still loads as it was trained."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from worldgym.data.episodes import EpisodeDataset
from worldgym.models.ensemble import (
    EnsembleConfig,
    config_from_dict,
    init_network_params,
    make_world_model,
    normalizer_from_data,
)

OBS, ACT = 6, 2
"""Observation: a hand (0, 1) that moves, a goal (2, 3) fixed per episode, an
unused slot (4) always zero, and a hand velocity (5)."""


def data(rows: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(rows, OBS)).astype(np.float32)
    obs[:, 4] = 0.0
    actions = rng.uniform(-1, 1, (rows, ACT)).astype(np.float32)
    nxt = obs.copy()
    nxt[:, :2] += 0.1 * actions
    nxt[:, 5] += rng.normal(size=rows).astype(np.float32) * 0.1
    return obs, actions, nxt


def model(config: EnsembleConfig):
    obs, actions, nxt = data()
    params = {"network": init_network_params(OBS, ACT, config, seed=1),
              "normalizer": normalizer_from_data(obs, actions, nxt, config)}  # fmt: skip
    return make_world_model(params, OBS, ACT, config), obs


SMALL = dict(members=3, hidden=(16, 16), features="none", prior="none", success_hidden=(8,))


def test_entries_that_never_change_are_copied_exactly_and_unused_ones_get_scale_one():
    world, obs = model(EnsembleConfig(**SMALL))
    static = np.asarray(world.params["normalizer"]["static"])
    np.testing.assert_array_equal(static, [0, 0, 1, 1, 1, 0])
    assert world.observation_scale[4] == 1.0  # never varies: no scale of its own
    assert 0 < world.observation_scale[2] < 10  # the goal varies across episodes
    from worldgym.imagination.engine import open_loop

    actions = np.random.default_rng(1).uniform(-1, 1, (4, 30, ACT)).astype(np.float32)
    path = np.asarray(open_loop(world, obs[:4], actions, jax.random.key(0)).obs)
    np.testing.assert_array_equal(path[:, :, 2:5], np.broadcast_to(obs[:4, None, 2:5], (4, 30, 3)))
    assert not np.allclose(path[:, :, :2], obs[:4, None, :2])  # the rest is predicted


def test_the_goal_is_no_input_of_the_dynamics():
    """With dynamics_inputs="changing", moving the goal changes nothing the dynamics
    predict; with "all" (worldgym 0.2) it does."""

    def hand(world, obs):
        key = jax.random.key(0)
        return np.asarray(world.step(world.init(obs, key), jnp.zeros(ACT), key).obs)[:2]

    for setting, same in (("changing", True), ("all", False)):
        world, obs = model(EnsembleConfig(**SMALL, dynamics_inputs=setting))
        moved = obs[0].copy()
        moved[2:4] += 3.0
        assert np.allclose(hand(world, obs[0]), hand(world, moved)) == same, setting


def test_success_is_read_from_the_predicted_next_observation():
    from worldgym.models.ensemble import make_outcome

    config = EnsembleConfig(**SMALL)
    world, obs = model(config)
    key = jax.random.key(0)
    prediction = world.step(world.init(obs[0], key), jnp.ones(ACT), key)
    outcome = make_outcome(OBS, ACT, config)
    success, _ = outcome(world.params["network"], world.params["normalizer"],
                         jnp.broadcast_to(prediction.obs, (3, 1, OBS)))  # fmt: skip
    np.testing.assert_allclose(prediction.success_logit, success[:, 0].mean(), rtol=1e-5)


def test_the_model_carries_its_last_actions_and_starts_mid_episode_from_them():
    config = EnsembleConfig(**SMALL, action_history=2)
    world, obs = model(config)
    assert world.action_history == 2
    key = jax.random.key(0)
    carry = world.init(obs[0], key)
    np.testing.assert_array_equal(carry["history"], np.zeros((2, ACT)))
    for action in ([0.1, 0.2], [0.3, 0.4], [0.5, 0.6]):
        carry = world.step(carry, jnp.asarray(action), key).carry
    np.testing.assert_allclose(carry["history"], [[0.3, 0.4], [0.5, 0.6]])
    # a start with its recorded past predicts differently from a start at rest
    past = {"obs": obs[0], "previous_actions": np.array([[1.0, -1.0], [1.0, -1.0]], np.float32)}
    at_rest = world.step(world.init(obs[0], key), jnp.zeros(ACT), key).obs
    with_past = world.step(world.init(past, key), jnp.zeros(ACT), key).obs
    assert not np.allclose(at_rest, with_past)


def dataset(lengths=(3, 2)):
    steps = sum(lengths)
    actions = np.arange(steps * ACT, dtype=np.float32).reshape(steps, ACT) + 1
    return EpisodeDataset(
        observations=np.zeros((steps + len(lengths), OBS), np.float32), actions=actions,
        rewards=np.zeros(steps, np.float32), terminations=np.zeros(steps, bool),
        truncations=np.zeros(steps, bool), success=np.zeros(steps + len(lengths), bool),
        episode_lengths=np.array(lengths), seeds=np.arange(len(lengths)),
        behaviours=("a",) * len(lengths), metadata={},
    )  # fmt: skip


def test_recorded_previous_actions_are_zero_before_each_reset():
    from worldgym.data.frames import recorded_previous_actions

    data = dataset()  # episode 0: observations 0..3, actions rows 0..2; episode 1: 4..6, 3..4
    previous = recorded_previous_actions(data, np.array([0, 2, 3, 4, 6]), 2)
    a = data.actions
    np.testing.assert_array_equal(previous[0], np.zeros((2, ACT)))  # at the reset
    np.testing.assert_array_equal(previous[1], a[0:2])  # after two steps
    np.testing.assert_array_equal(previous[2], a[1:3])
    np.testing.assert_array_equal(previous[3], np.zeros((2, ACT)))  # the next episode's reset
    np.testing.assert_array_equal(previous[4], a[3:5])


def test_training_windows_carry_the_actions_before_their_start():
    from worldgym.training.train import gather_windows

    data = dataset()
    arrays = {"observations": jnp.asarray(data.observations), "actions": jnp.asarray(data.actions),
              "success": jnp.asarray(data.success), "terminations": jnp.asarray(data.terminations),
              "episode_of": jnp.asarray(data.episode_index()),
              "episode_first": jnp.asarray(data.transition_starts[data.episode_index()]),
              }  # fmt: skip
    window = gather_windows(arrays, jnp.array([0, 2, 3, 4]), 1, history=2)
    a = data.actions
    expected = [np.zeros((2, ACT)), a[0:2], np.zeros((2, ACT)), np.stack([np.zeros(ACT), a[3]])]
    np.testing.assert_array_equal(window["previous_actions"], np.stack(expected))


def test_a_checkpoint_config_of_worldgym_0_2_loads_with_its_own_settings():
    old = {"members": 5, "hidden": [256, 256, 256], "min_log_variance": -10.0,
           "max_log_variance": 0.5, "sampling": "mean", "nll_beta": 0.5,
           "features": "none"}  # fmt: skip
    config = config_from_dict(old)
    assert (config.dynamics_inputs, config.success_from, config.action_history) == \
        ("all", "transition", 0)  # fmt: skip
    assert not config.linear_skip and config.uncertainty_units == "delta"
    assert config_from_dict({**old, "action_history": 3}).action_history == 3


@pytest.mark.parametrize("field, value", [("dynamics_inputs", "some"), ("success_from", "x"),
                                          ("uncertainty_units", "cm")])  # fmt: skip
def test_bad_design_settings_are_one_sentence(field, value):
    with pytest.raises(ValueError, match=field):
        EnsembleConfig(**{field: value})


def test_the_validation_loss_caps_each_error_and_training_does_not():
    """One step no model predicts (an object knocked over) must not decide which
    epoch is kept: in validation each entry's error counts at most VALIDATION_CAP
    standard deviations; the training loss still sees it whole."""
    from worldgym.models.ensemble import VALIDATION_CAP, make_loss

    config = EnsembleConfig(**SMALL, action_history=0)
    obs, actions, nxt = data()
    normalizer = normalizer_from_data(obs, actions, nxt, config)
    loss = make_loss(OBS, ACT, config, normalizer, learn_termination=False)
    params = init_network_params(OBS, ACT, config, seed=1)
    members, rows = config.members, 16

    def window(next_obs):
        def stack(x):
            return jnp.broadcast_to(jnp.asarray(x), (members, *np.shape(x)))

        return {"obs": stack(obs[:rows]), "actions": stack(actions[:rows, None]),
                "next_obs": stack(next_obs[:rows, None]),
                "next_success": jnp.zeros((members, rows, 1), bool),
                "terminations": jnp.zeros((members, rows, 1), bool)}  # fmt: skip

    knocked = nxt.copy()
    knocked[0, 0] += 1e4 * float(np.asarray(normalizer["delta_std"])[0])  # 10,000 std
    plain = {name: float(loss(params, window(nxt))[1][name]) for name in ("mse", "nll")}
    train = {name: float(loss(params, window(knocked))[1][name]) for name in ("mse", "nll")}
    held_out = {name: float(loss(params, {**window(knocked), "validation": True})[1][name])
                for name in ("mse", "nll")}  # fmt: skip
    changing = OBS - 3  # the entries the loss averages over
    assert train["mse"] > plain["mse"] + 1e7 / (rows * changing)  # the error counts whole
    assert held_out["mse"] - plain["mse"] <= VALIDATION_CAP**2 / (rows * changing) + 1e-3
    assert held_out["nll"] < train["nll"]
