"""Behaviour data for any task: mixtures, exploration noises, user policies."""

import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from worldgym.data.collect import CollectConfig, behaviour_mixture, collect, plan_episodes
from worldgym.data.dataset import load_dataset
from worldgym.envs import get_task
from worldgym.policies.behaviour import DEFAULT_MIXTURE, NOISE_MIXTURE, parse_mixture
from worldgym.policies.exploration import (
    NoiseBehaviour,
    ScheduledActor,
    ou_noise,
    pink_noise,
)

sys.path.insert(0, str(Path(__file__).parent))  # the lab's package, as a user's code


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


def test_mixtures_parse_and_default_by_whether_the_task_has_an_oracle():
    assert parse_mixture(["random=0.3", "ou=0.2", "mypkg.agents:explorer=0.5"]) == {
        "random": 0.3, "ou": 0.2, "mypkg.agents:explorer": 0.5,
    }  # fmt: skip
    assert behaviour_mixture("Push", (), include_zoo=False) == DEFAULT_MIXTURE
    pick_place = behaviour_mixture("PickPlace", (), include_zoo=False)
    assert pick_place["play"] == 0.25 and sum(pick_place.values()) == pytest.approx(1.0)
    assert behaviour_mixture("Reacher-v5", (), include_zoo=False) == NOISE_MIXTURE


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["random"], "A behaviour is NAME=WEIGHT"),
        (["random=lots"], "has weight 'lots', which is not a number"),
        (["random=-1"], "weights must be positive numbers"),
        (["random=0"], "weights must be positive numbers"),
        (["random=nan"], "weights must be positive numbers"),
        (["random=1", "random=2"], "is named twice"),
    ],
)
def test_bad_behaviour_specs_are_one_sentence(items, message):
    with pytest.raises(ValueError) as error:
        parse_mixture(items)
    assert message in str(error.value) and one_sentence(str(error.value))


@pytest.mark.parametrize(
    ("task", "name", "message"),
    [
        ("Reacher-v5", "perturbed-oracle", "perturbs the oracle, but task Reacher-v5 has none"),
        ("Reacher-v5", "wander", "Unknown behaviour 'wander' for task Reacher-v5"),
        ("Push", "noisy-oracle-loud", "needs a noise level"),
        ("Reacher-v5", "lab_reacher.policies:wrong_shape", "returned an action of shape (3,)"),
    ],
)
def test_behaviours_a_task_cannot_run_are_refused_before_collecting(task, name, message):
    with pytest.raises(ValueError) as error:
        behaviour_mixture(task, (f"{name}=1",), include_zoo=False)
    assert message in str(error.value) and one_sentence(str(error.value))


def test_include_zoo_needs_a_zoo():
    with pytest.raises(ValueError, match="has no zoo to include"):
        behaviour_mixture("Reacher-v5", (), include_zoo=True)


def test_the_default_plan_of_push_is_reproducible():
    """Push's mixture and its draws are fixed by the seed. The faults drawn before
    issue #22 keep their values; pauses and quantised or bang-bang motion are drawn
    after them, so the episodes after the first perturbed one changed (written down
    here from one run of plan_episodes)."""
    plan = plan_episodes("Push", 6, 1_000_000, behaviour_mixture("Push", (), False))
    assert [p.behaviour for p in plan] == [
        "noisy-oracle-0.6", "noisy-oracle-0.1", "perturbed-oracle", "noisy-oracle-0.6",
        "noisy-oracle-0.3", "perturbed-oracle",
    ]  # fmt: skip
    assert [p.seed for p in plan] == list(range(1_000_000, 1_000_006))
    assert plan[2].perturbation["random_prob"] == pytest.approx(0.49632191059615977)
    assert plan[2].perturbation["gain"] == 1.0 and "push_angle" not in plan[2].perturbation


@pytest.mark.parametrize("draw", [ou_noise, pink_noise])
def test_exploration_noise_is_bounded_reproducible_and_correlated_in_time(draw):
    first = draw(np.random.default_rng(3), 400, 2)
    np.testing.assert_array_equal(first, draw(np.random.default_rng(3), 400, 2))
    assert first.shape == (400, 2) and np.all(np.abs(first) <= 1.0)
    lag_one = np.corrcoef(first[:-1, 0], first[1:, 0])[0, 1]
    assert lag_one > 0.5, lag_one  # white noise would be near 0
    assert first.std() > 0.1


def test_pink_noise_has_a_one_over_f_spectrum():
    """Averaged over many draws, log power falls with slope -1 in log frequency."""
    rng = np.random.default_rng(0)
    power = np.mean([np.abs(np.fft.rfft(pink_noise(rng, 512, 1)[:, 0])) ** 2
                     for _ in range(200)], axis=0)  # fmt: skip
    frequencies = np.fft.rfftfreq(512)
    band = (frequencies > 0.01) & (frequencies < 0.2)  # clear of the clipping at the tails
    slope = np.polyfit(np.log(frequencies[band]), np.log(power[band]), 1)[0]
    assert -1.3 < slope < -0.7, slope


def test_noise_actor_stays_in_an_asymmetric_box_and_follows_its_seed():
    space = gymnasium.spaces.Box(np.array([0.0, -2.0], np.float32),
                                 np.array([1.0, 2.0], np.float32))  # fmt: skip
    actor = ScheduledActor(NoiseBehaviour("ou", space, horizon=50))
    actor.reset(7)
    first = np.array([actor(None) for _ in range(50)])
    actor.reset(7)
    np.testing.assert_array_equal(first, [actor(None) for _ in range(50)])
    assert np.all(first >= space.low) and np.all(first <= space.high)
    assert np.ptp(first[:, 1]) > 0.5


def test_a_task_without_an_oracle_collects_with_noise_and_its_own_policies(tmp_path):
    """The docs' `worldgym collect Reacher-v5` example, and a user's policy mixed in."""
    out = tmp_path / "reacher"
    items = ("random=0.3", "ou=0.2", "pink=0.2", "lab_reacher.policies:pd_numpy=0.3")
    summary = collect(CollectConfig(task="lab_reacher.task:reacher_task", episodes=16,
                                    behaviour=items, out=str(out), workers=1),
                      progress=False)  # fmt: skip
    data = load_dataset(out)
    assert data.num_episodes == 16 and summary.transitions == 16 * 50
    assert set(data.behaviours) <= {"random", "ou", "pink", "lab_reacher.policies:pd_numpy"}
    assert len(set(data.behaviours)) >= 3
    header = data.metadata["worldgym"]
    assert header["task_spec"] == "lab_reacher.task:reacher_task"
    assert header["behaviour_mixture"]["lab_reacher.policies:pd_numpy"] == 0.3
    # The user's PD controller reaches the target far more often than noise does.
    controlled = np.array(data.behaviours) == "lab_reacher.policies:pd_numpy"
    final = data.observation_starts + data.episode_lengths  # last observation of each episode
    distance = np.linalg.norm(data.observations[final, 8:10], axis=1)
    assert controlled.any() and (~controlled).any()
    assert distance[controlled].mean() < 0.5 * distance[~controlled].mean()


def test_collect_reacher_by_its_registered_name_with_default_behaviours(tmp_path):
    collect(CollectConfig(task="Reacher-v5", episodes=3, out=str(tmp_path / "r"), workers=1),
            progress=False)  # fmt: skip
    data = load_dataset(tmp_path / "r")
    assert set(data.behaviours) <= set(NOISE_MIXTURE)
    assert get_task(data.metadata["worldgym"]["task_spec"]).name == "Reacher-v5"


@pytest.mark.parametrize("name", ["play", "ou"])
def test_scheduled_behaviours_give_the_same_episode_in_lockstep_and_alone(name):
    from worldgym.policies.behaviour import behaviour_policy
    from worldgym.rollouts.real import run_episodes, run_lockstep_groups

    task = get_task("PickPlace")
    behaviours = [behaviour_policy(task, name) for _ in range(3)]
    together = run_lockstep_groups(task, behaviours, [7, 8, 9], [0, 1, 2])
    for position, seed in enumerate([7, 8, 9]):
        (alone,) = run_episodes(task, behaviours[position], [seed], progress=False)
        np.testing.assert_allclose(alone.observations, together[position].observations,
                                   atol=1e-5)  # fmt: skip


def test_play_goes_where_the_task_s_goals_do_not():
    """Waypoints span the whole workspace: the cube is lifted above the goals' range."""
    from worldgym.policies.behaviour import behaviour_policy
    from worldgym.rollouts.real import run_lockstep_groups

    task = get_task("PickPlace")
    episodes = run_lockstep_groups(task, [behaviour_policy(task, "play") for _ in range(30)],
                                   list(range(30)), list(range(30)))  # fmt: skip
    heights = np.concatenate([e.observations[:, 12] for e in episodes.values()])
    grips = np.concatenate([e.actions[:, 3] for e in episodes.values()])
    assert heights.max() > 0.22  # the highest goal is 0.2 m
    assert np.mean((grips > -0.99) & (grips < 0.99)) > 0.05  # grip levels between the extremes
