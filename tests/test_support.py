"""Support scores: is a policy inside the model's experience?"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from worldgym.envs import get_task
from worldgym.evaluation.outcomes import Outcomes
from worldgym.evaluation.support import (
    FLAG_SHARE,
    load_or_build_reference,
    nearest_distances,
    policy_support,
)
from worldgym.imagination.engine import initial_observations, rollout_policy
from worldgym.policies import Policy, load_policy
from worldgym.training.checkpoint import load_world_model


def test_nearest_distances_match_a_brute_force_computation():
    rng = np.random.default_rng(0)
    points, queries = rng.normal(size=(300, 5)), rng.normal(size=(2500, 5)) * 2  # > one chunk
    expected = np.sqrt(((queries[:, None] - points[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distances(queries, points), expected, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def push(tiny_run):
    _, run = tiny_run
    task = get_task("Push")
    model = load_world_model(run, task)
    reference = load_or_build_reference(model, task, run, key="test")
    return task, model, reference, run


def corner_act(params, obs, key):
    """Full speed towards +x, +y: the pusher pins itself in a corner, far from any data."""
    return jnp.ones(2)


def test_the_reference_comes_from_held_out_data_and_is_saved(push):
    task, model, reference, run = push
    assert reference.train_points.shape[1] == task.obs_dim + task.action_dim
    assert reference.uncertainty_level > 0 and reference.distance_level > 0
    assert reference.episode_uncertainty_level > 0
    again = load_or_build_reference(model, task, run, key="test")  # from the saved file
    np.testing.assert_array_equal(again.train_points, reference.train_points)
    assert again.episode_uncertainty_level == reference.episode_uncertainty_level
    assert (run / "support-reference.npz").is_file()


def test_a_damaged_reference_is_rebuilt(push):
    task, model, reference, run = push
    path = run / "support-reference.npz"
    path.write_bytes(path.read_bytes()[:200])  # a write cut off mid-file
    again = load_or_build_reference(model, task, run, key="test")
    np.testing.assert_array_equal(again.train_points, reference.train_points)
    assert again.distance_level == reference.distance_level
    assert np.load(path)["train_points"].shape == reference.train_points.shape  # saved whole


def test_a_policy_that_leaves_the_data_scores_higher_than_one_inside(push):
    task, model, reference, _ = push
    init = initial_observations(task, range(8))

    def imagined(policy):
        trajectories = rollout_policy(model, policy, init, jax.random.key(0), task)
        return Outcomes.from_trajectories(trajectories, task)

    inside = policy_support(reference, model, imagined(load_policy("Push", "noisy")))
    outside = policy_support(reference, model, imagined(Policy("corner", corner_act)))
    assert outside.outside_share > inside.outside_share, (inside, outside)
    assert outside.distant_share > inside.distant_share and outside.flagged


def test_the_rule_in_a_constructed_case():
    """Training data near the origin: steps there are inside, steps far away outside,
    and a step the model is unsure of is outside wherever it is."""
    from worldgym.evaluation.support import SupportReference
    from worldgym.models.base import WorldModel

    model = WorldModel("none", {}, None, None, obs_dim=2, action_dim=1)  # centre 0, scale 1
    rng = np.random.default_rng(0)
    reference = SupportReference(rng.normal(size=(500, 3)) * 0.1, uncertainty_level=0.5,
                                 distance_level=0.3, episode_uncertainty_level=0.5,
                                 action_center=np.zeros(1), action_scale=np.ones(1))  # fmt: skip
    steps = 10
    observations = np.zeros((2, steps + 1, 2), np.float32)
    observations[1, 5:] = 3.0  # the second episode leaves the data half-way
    uncertainty = np.zeros((2, steps))
    uncertainty[0, :2] = 0.9  # the first is unsure for two steps
    imagined = Outcomes(np.zeros(2, bool), np.zeros(2), observations, np.full(2, steps),
                        actions=np.zeros((2, steps, 1)), step_uncertainty=uncertainty)  # fmt: skip
    support = policy_support(reference, model, imagined)
    assert support.distant_share == pytest.approx(5 / 20)
    assert support.uncertain_share == pytest.approx(2 / 20)
    assert support.outside_share == pytest.approx(7 / 20) and support.flagged


def test_successes_along_uncertain_episodes_make_a_policy_optimistic():
    """Every step familiar (no step above the step level), but the episodes it
    succeeds in are, on average, more uncertain than held-out episodes ever are."""
    from worldgym.evaluation.support import SupportReference
    from worldgym.models.base import WorldModel

    model = WorldModel("none", {}, None, None, obs_dim=2, action_dim=1)
    reference = SupportReference(np.zeros((10, 3)), uncertainty_level=1.0, distance_level=1.0,
                                 episode_uncertainty_level=0.2, action_center=np.zeros(1),
                                 action_scale=np.ones(1))  # fmt: skip
    episodes, steps = 20, 10
    lengths = np.full(episodes, steps)
    lengths[0] = 4  # a short episode: its mean runs over its own 4 steps only
    uncertainty = np.where(np.arange(steps)[None, :] < lengths[:, None], 0.1, 0.0)
    uncertainty[:3, :4] = 0.5  # episodes 0-2 unsure: means 0.5, 0.26, 0.26
    uncertainty[3, :1] = 0.5  # episode 3: mean 0.14, familiar
    success = np.zeros(episodes, bool)
    success[[0, 1, 3, 4]] = True  # two successes along unsure episodes (2 is a failure)

    def support(success):
        imagined = Outcomes(success, np.zeros(episodes), np.zeros((episodes, steps + 1, 2)),
                            lengths, actions=np.zeros((episodes, steps, 1)),
                            step_uncertainty=uncertainty)  # fmt: skip
        return policy_support(reference, model, imagined)

    optimistic = support(success)
    assert optimistic.uncertain_share == 0.0 and optimistic.distant_share == 0.0
    assert optimistic.unsupported_success == pytest.approx(2 / episodes)
    assert optimistic.optimistic and optimistic.flagged and not optimistic.outside
    success[1] = False  # one unsupported success is 5%, not more: trusted
    assert not support(success).flagged


def test_no_reference_without_the_training_data(push, tmp_path):
    task, model, _, _ = push
    gone = type(model)(**{**model.__dict__, "metadata": {**model.metadata, "provenance": {
        **model.metadata["provenance"], "dataset": str(tmp_path / "moved")}}})  # fmt: skip
    assert load_or_build_reference(gone, task, tmp_path, key="other") is None


def test_the_flag_threshold_is_the_documented_one():
    assert FLAG_SHARE == 0.05
