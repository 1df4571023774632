"""The outside suites' worked examples: Meta-World v3 and Gymnasium-Robotics' Fetch.

They need the suites installed (Meta-World pins its own MuJoCo), so they run in a
second virtual environment: `make test-suites`. Here they are skipped unless the
suite imports.
"""

import importlib.util

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from worldgym.envs import get_task

METAWORLD = ("MetaWorld-reach-v3", "MetaWorld-push-v3")
FETCH = ("FetchReach-v4", "FetchPush-v4")


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


SUITE_TASKS = [
    *[pytest.param(name, marks=pytest.mark.skipif(not installed("metaworld"),
                                                  reason="Meta-World not installed"))
      for name in METAWORLD],
    *[pytest.param(name, marks=pytest.mark.skipif(not installed("gymnasium_robotics"),
                                                  reason="Gymnasium-Robotics not installed"))
      for name in FETCH],
]  # fmt: skip


@pytest.mark.parametrize("name", SUITE_TASKS)
def test_a_suite_task_passes_the_gymnasium_checker_and_repeats_by_seed(name):
    task = get_task(name)
    env = task.make_env()
    check_env(env, skip_render_check=True)
    first = env.reset(seed=7)[0]
    env.reset(seed=8)
    np.testing.assert_array_equal(first, env.reset(seed=7)[0])
    env.close()


@pytest.mark.parametrize("name", [p for p in SUITE_TASKS if p.values[0] in METAWORLD])
def test_metaworld_success_is_metaworlds_own_rule(name):
    """The predicate on the observation agrees with Meta-World's own info["success"]
    along the expert's episodes (the hand's observed position is its gripper centre)."""
    task = get_task(name)
    env = task.make_env()
    from worldgym.policies.suites import SUITE_EXPERTS

    expert = SUITE_EXPERTS[name]()
    agree, steps = 0, 0
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(expert(obs[None])[0])
            raw = env.unwrapped.evaluate_state(np.asarray(obs, np.float64), np.zeros(4))[1]
            agree += bool(info["success"]) == bool(raw["success"])
            steps += 1
            done = terminated or truncated
        assert info["success"], "the expert reaches the goal"
    assert agree / steps > 0.95
    env.close()


@pytest.mark.parametrize("name", SUITE_TASKS)
def test_the_graded_sets_span_the_range_and_are_disjoint(name):
    from worldgym.evaluation.real import real_episodes
    from worldgym.policies.sets import policy_set

    zoo = [policy.name for policy in policy_set(name, "zoo")]
    dev = [policy.name for policy in policy_set(name, "dev")]
    assert len(zoo) == len(dev) == 12 and not set(zoo) & set(dev)
    outcomes = real_episodes(get_task(name), ["expert", "random"], range(6), workers=1,
                             progress=False)  # fmt: skip
    assert outcomes["expert"].success.mean() >= 0.8
    assert outcomes["random"].success.mean() <= 0.2


@pytest.mark.parametrize("name", SUITE_TASKS)
def test_a_suite_task_collects_trains_and_calibrates(name, tmp_path):
    """The whole path on tiny sizes: collect with the default recipe (the suite's
    expert as the oracle), train, and evaluate two graded policies in both worlds."""
    from worldgym.data.collect import CollectConfig, collect
    from worldgym.evaluation.calibrate import calibrate
    from worldgym.evaluation.paired import EvaluateConfig, evaluate
    from worldgym.models.ensemble import EnsembleConfig
    from worldgym.training.train import TrainConfig, train

    data = tmp_path / "data"
    summary = collect(CollectConfig(task=name, episodes=10, out=str(data), workers=2),
                      progress=False)  # fmt: skip
    assert summary.transitions > 0 and summary.advice.coverage
    run = tmp_path / "model"
    train(TrainConfig(dataset=str(data), out=str(run), epochs=2, batch_size=32, warmup_steps=5),
          EnsembleConfig(members=2, hidden=(32, 32)), progress=False)  # fmt: skip
    evaluation = evaluate(EvaluateConfig(task=name, checkpoint=str(run),
                                         policies=("expert", "random"), episodes=4,
                                         workers=1, cache=str(tmp_path / "cache")))  # fmt: skip
    result = calibrate(evaluation, bootstrap=50)
    names = [policy.name for policy in evaluation.policies]
    assert names == ["expert", "random"]
    for policy in evaluation.policies:
        assert len(policy.real.success) == len(policy.imagined.success) == 4
        assert policy.support is not None  # the trust analysis ran, the probe included
    assert result.support_checked
    flagged = {row.policy for row in result.flagged}
    assert flagged <= set(names)
    assert result.episodes_per_policy == 4 and result.policies >= 1
    assert set(result.rates) >= {"spearman", "mmrv"}
