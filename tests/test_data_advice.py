"""Data advice, and the action probe of the trust analysis, on data whose answers
are known by construction."""

import jax.numpy as jnp
import numpy as np
import pytest

from worldgym.data.advice import data_advice
from worldgym.data.episodes import EpisodeDataset
from worldgym.envs import get_task

TASK = get_task("Reach")  # 10 observation entries, 2 actions in [-1, 1]


def episodes(kind: str, count: int = 60, length: int = 40, seed: int = 0) -> EpisodeDataset:
    """Episodes of a point hand (entries 0, 1) chasing a goal (entries 4, 5) that is
    fixed per episode; `kind` picks how actions are chosen and what they do."""
    rng = np.random.default_rng(seed)
    observations, actions = [], []
    for _ in range(count):
        obs = np.zeros((length + 1, 10), np.float32)
        obs[0, :2] = rng.uniform(-1, 1, 2)
        obs[:, 4:6] = rng.uniform(-1, 1, 2)
        acts = np.zeros((length, 2), np.float32)
        for t in range(length):
            aim = np.clip(5 * (obs[t, 4:6] - obs[t, :2]), -1, 1)
            acts[t] = {"expert": aim, "random": rng.uniform(-1, 1, 2),
                       "pausing": rng.uniform(-1, 1, 2) * (rng.uniform() > 0.2),
                       "lagging": rng.uniform(-1, 1, 2)}[kind]  # fmt: skip
            moved = acts[t - 1] if kind == "lagging" and t > 0 else acts[t]
            if kind == "lagging" and t == 0:
                moved = np.zeros(2)
            obs[t + 1, :2] = obs[t, :2] + 0.05 * moved + rng.normal(0, 1e-3, 2)
        observations.append(obs)
        actions.append(acts)
    steps = count * length
    return EpisodeDataset(
        observations=np.concatenate(observations), actions=np.concatenate(actions),
        rewards=np.zeros(steps, np.float32), terminations=np.zeros(steps, bool),
        truncations=np.zeros(steps, bool), success=np.zeros(steps + count, bool),
        episode_lengths=np.full(count, length), seeds=np.arange(count),
        behaviours=(kind,) * count, metadata={},
    )  # fmt: skip


def test_actions_that_follow_the_goal_are_called_out():
    expert = data_advice(episodes("expert"), TASK)
    random = data_advice(episodes("random"), TASK)
    assert expert.action_r2 > 0.5 and expert.goal_r2 > 0.1
    assert random.action_r2 < 0.2 and random.goal_r2 < 0.05
    assert any("goal explains" in sentence for sentence in expert.advice)
    assert not any("goal explains" in sentence for sentence in random.advice)


def test_data_that_never_stands_still_is_called_out():
    assert data_advice(episodes("random"), TASK).still_share < 0.01
    pausing = data_advice(episodes("pausing"), TASK)
    assert pausing.still_share == pytest.approx(0.2, abs=0.05)
    assert not any("stand still" in sentence for sentence in pausing.advice)
    assert any("stand still" in s for s in data_advice(episodes("random"), TASK).advice)


def test_state_the_observation_does_not_show_is_called_out():
    lagging = data_advice(episodes("lagging"), TASK)
    assert lagging.history_gain > 0.9  # the hand moves by the previous action alone
    assert any("previous" in s or "past actions" in s for s in lagging.advice)
    assert data_advice(episodes("random"), TASK).history_gain < 0.1


def test_action_range_coverage_is_measured():
    advice = data_advice(episodes("expert", count=20), TASK)
    assert all(0 < share <= 1 for share in advice.coverage)
    assert data_advice(episodes("random"), TASK).coverage == [1.0, 1.0]


def _linear_model(response, blind: bool):
    from worldgym.models.base import Prediction, WorldModel

    def step(params, carry, action, key):
        moved = carry if blind else carry + action @ params["response"]
        return Prediction(moved, moved, jnp.float32(0), jnp.float32(0), jnp.float32(0))

    return WorldModel("linear", {"response": jnp.asarray(response)},
                      lambda params, obs, key: jnp.asarray(obs), step, 10, 2)  # fmt: skip


def test_the_action_probe_sees_a_model_that_ignores_actions():
    from worldgym.evaluation.support import linear_response, response_ratios

    data = episodes("random")
    transitions = data.transitions()
    response = linear_response(transitions["observations"], transitions["actions"],
                               transitions["next_observations"])  # fmt: skip
    np.testing.assert_allclose(response[:, :2], 0.05 * np.eye(2), atol=2e-3)
    scaling = (np.zeros(2, np.float32), np.ones(2, np.float32))
    obs, actions = transitions["observations"][:50], transitions["actions"][:50]
    faithful = response_ratios(_linear_model(response, False), response, obs, actions, scaling)
    blind = response_ratios(_linear_model(response, True), response, obs, actions, scaling)
    np.testing.assert_allclose(faithful, 1.0, rtol=1e-3)
    np.testing.assert_allclose(blind, 0.0, atol=1e-6)
