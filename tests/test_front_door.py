"""Any Gymnasium robot through the front door: callable entry points, Dict
observations, factories, seed-ignoring resets; environments built once per process."""

import json

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from worldgym.envs import get_task
from worldgym.envs.pool import borrowed_env, borrowed_envs, build_seconds, pooled_count

DICT_TASK = "lab_reacher.suite:dict_task"
FACTORY_TASK = "lab_reacher.suite:factory_task"
SEEDLESS_TASK = "lab_reacher.suite:seedless_task"


@pytest.mark.parametrize("spec", [DICT_TASK, FACTORY_TASK])
def test_dict_observations_are_flattened_with_their_keys_as_names(lab_on_path, spec):
    task = get_task(spec)
    assert task.obs_dim == 14
    assert task.observation_names[:4] == ("achieved_goal_0", "achieved_goal_1",
                                          "desired_goal_0", "desired_goal_1")  # fmt: skip
    assert task.observation_names[-1] == "observation_9"
    env = task.make_env()
    check_env(env, skip_render_check=True)
    env.close()


def test_a_factory_task_gets_the_horizon_it_asks_for(lab_on_path):
    task = get_task(FACTORY_TASK)
    assert task.horizon == 30
    assert task.env_id == "lab_reacher.suite:make_dict_reacher"
    env = task.make_env()
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        if any(env.step(np.zeros(2, np.float32))[2:4]):
            break
    assert steps == 30


def test_a_reset_that_ignores_its_seed_is_made_repeatable(lab_on_path):
    import gymnasium

    raw = gymnasium.make("LabSuite/SeedlessReacher-v0")
    first = raw.reset(seed=3)[0]
    raw.reset(seed=4)
    assert not np.allclose(first, raw.reset(seed=3)[0])  # the suite's own env is not
    env = get_task(SEEDLESS_TASK).make_env()
    first = env.reset(seed=3)[0]
    env.reset(seed=4)
    np.testing.assert_array_equal(first, env.reset(seed=3)[0])
    state = np.random.get_state()[1].copy()
    env.reset(seed=5)
    np.testing.assert_array_equal(state, np.random.get_state()[1])  # numpy's own untouched


def test_a_reset_that_cannot_be_repeated_is_refused_in_one_sentence(lab_on_path):
    from worldgym import adapt_gym_env

    with pytest.raises(ValueError, match=r"reset\(seed=0\) gave two different") as error:
        adapt_gym_env("LabSuite/HopelessReacher-v0", success_key="never")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("spec", [DICT_TASK, FACTORY_TASK])
def test_collect_writes_what_can_be_written_of_an_unserialisable_env(lab_on_path, tmp_path, spec):
    """Minari cannot write a callable entry point's spec: the header holds none, and
    worldgym's part records the environment; training finds the task again."""
    from worldgym.data.collect import CollectConfig, collect
    from worldgym.data.dataset import load_dataset
    from worldgym.data.foreign import dataset_task

    out = tmp_path / "data"
    collect(CollectConfig(task=spec, episodes=6, out=str(out), workers=2), progress=False)
    header = json.loads((out / "data" / "metadata.json").read_text())
    assert header.get("env_spec") is None
    environment = header["worldgym"]["environment"]
    assert environment["made_by_factory"] == (spec == FACTORY_TASK)
    if spec == DICT_TASK:
        assert environment["id"] == "LabSuite/DictReacher-v0"
        assert "<lambda>" in environment["entry_point"]
    assert dataset_task(header, str(out)).name == get_task(spec).name
    data = load_dataset(out, get_task(spec))
    assert data.num_episodes == 6 and data.observations.shape[1] == 14


def test_collection_is_the_same_on_one_worker_and_two(lab_on_path, tmp_path):
    from worldgym.data.collect import CollectConfig, collect
    from worldgym.data.dataset import load_dataset

    task = get_task(DICT_TASK)
    fingerprints = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        collect(CollectConfig(task=DICT_TASK, episodes=8, out=str(out), workers=workers),
                progress=False)  # fmt: skip
        fingerprints.append(load_dataset(out, task).fingerprint())
    assert fingerprints[0] == fingerprints[1]


def test_environments_are_reused_and_never_lent_twice(native_task):
    with borrowed_envs(native_task, 3) as first:
        with borrowed_env(native_task) as nested:  # a borrower inside a borrower
            assert all(nested is not env for env in first)
    before = pooled_count()
    with borrowed_envs(native_task, 4) as again:
        assert {id(env) for env in first} <= {id(env) for env in again}
    assert pooled_count() == before
    assert build_seconds(native_task) > 0


def test_an_environment_that_failed_midway_is_not_lent_again(native_task):
    with borrowed_env(native_task) as kept:
        pass
    with pytest.raises(RuntimeError):
        with borrowed_env(native_task) as env:
            assert env is kept
            raise RuntimeError("an episode failed")
    with borrowed_env(native_task) as env:
        assert env is not kept


def _same_episodes(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.seed == b.seed and a.success == b.success
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)


@pytest.mark.parametrize("policy", ["noisy", "random"])
def test_episodes_streaming_through_few_environments_equal_one_environment_each(
    monkeypatch, policy
):
    """Fewer environments than episodes (as for Meta-World, slow to build): each takes
    the next seed when its episode ends; the episodes are exactly those of one
    fresh environment per episode."""
    from worldgym.policies import load_policy
    from worldgym.rollouts import real

    task = get_task("Reach")
    seeds = list(range(40, 49))
    policy = load_policy(task, policy)
    wide = real.run_episodes_in_lockstep(task, policy, seeds)
    monkeypatch.setattr(real, "lockstep_width", lambda task, episodes: 2)
    narrow = real.run_episodes_in_lockstep(task, policy, seeds)
    _same_episodes(wide, narrow)
    for episode in wide[:3]:  # and those of a Gymnasium loop on a fresh environment
        env = task.make_env()
        actions = episode.actions
        obs, _ = env.reset(seed=episode.seed)
        np.testing.assert_array_equal(obs, episode.observations[0])
        for t, action in enumerate(actions):
            obs = env.step(action)[0]
            np.testing.assert_array_equal(obs, episode.observations[t + 1])
        env.close()


def test_lockstep_width_follows_the_measured_build_time(monkeypatch):
    from worldgym.rollouts import real

    task = get_task("Push")
    monkeypatch.setattr(real, "build_seconds", lambda task: 0.6)
    assert real.lockstep_width(task, 50) == int(real.ENV_BUILD_BUDGET / 0.6)
    monkeypatch.setattr(real, "build_seconds", lambda task: 0.001)
    assert real.lockstep_width(task, 50) == 64  # a power of two: one compiled width
    assert real.lockstep_width(task, 1) == 1


def test_worker_processes_are_kept_for_the_next_call():
    from worldgym.evaluation.real import real_episodes
    from worldgym.rollouts import workers

    task = get_task("Reach")
    first = real_episodes(task, ["oracle"], range(120), workers=2, progress=False)  # 3 jobs
    pool = workers._shared.get("pool")
    assert pool is not None
    second = real_episodes(task, ["oracle"], range(120), workers=2, progress=False)
    assert workers._shared.get("pool") is pool
    np.testing.assert_array_equal(first["oracle"].success, second["oracle"].success)
    workers.close_shared_pool()
    assert "pool" not in workers._shared


def test_a_callable_entry_point_task_trains_evaluates_and_calibrates(lab_on_path, tmp_path):
    """The whole path for a task Minari cannot serialise (a lambda entry point with
    Dict observations): collect, train from the dataset alone (the task found from
    worldgym's record), evaluate in both worlds from the same seeds, calibrate."""
    from worldgym.data.collect import CollectConfig, collect
    from worldgym.evaluation.calibrate import calibrate
    from worldgym.evaluation.paired import EvaluateConfig, evaluate
    from worldgym.models.ensemble import EnsembleConfig
    from worldgym.training.train import TrainConfig, train

    data, run = tmp_path / "data", tmp_path / "model"
    collect(CollectConfig(task=DICT_TASK, episodes=12, out=str(data), workers=1), progress=False)
    train(TrainConfig(dataset=str(data), out=str(run), epochs=2, batch_size=32, warmup_steps=5),
          EnsembleConfig(members=2, hidden=(32, 32)), progress=False)  # fmt: skip
    policies = ("lab_reacher.policies:pd_numpy", "lab_reacher.policies:gentle_jax")
    evaluation = evaluate(
        EvaluateConfig(
            task=DICT_TASK,
            checkpoint=str(run),
            policies=policies,
            episodes=3,
            workers=1,
            cache=str(tmp_path / "cache"),
        )
    )
    assert [p.name for p in evaluation.policies] == list(policies)
    for policy in evaluation.policies:
        assert len(policy.real.success) == len(policy.imagined.success) == 3
        assert policy.real.observations.shape[-1] == 14  # the flattened Dict observation
        np.testing.assert_allclose(policy.imagined.observations[:, 0],
                                   policy.real.observations[:, 0])  # same starts  # fmt: skip
    result = calibrate(evaluation, bootstrap=20)
    assert result.episodes_per_policy == 3 and result.support_checked
