"""PPO inside imagination: it learns, checkpoints, resumes exactly, and its agent is a
policy like any other."""

import json

import jax
import numpy as np
import pytest
from conftest import kill_during_save

from worldgym.envs import get_task
from worldgym.policies.neural import agent_policy, arrays_agent
from worldgym.rl.ppo import PPOConfig, make_trainer, reset_starts
from worldgym.rl.train import RLConfig, train_agent

TINY_PPO = dict(envs=64, rollout_steps=16, minibatches=4, epochs=4)


def toy_reach_model():
    """A toy world model of Reach: the action moves the end effector straight (2 cm
    per step and unit); nothing else changes. The optimal policy is obvious."""
    import jax.numpy as jnp

    from worldgym.models.base import Prediction, WorldModel

    def step(params, carry, action, key):
        moved = carry.at[6:8].add(0.02 * action)
        zero = jnp.float32(0)
        return Prediction(moved, moved, zero, zero, zero)

    return WorldModel("toy", {}, lambda params, obs, key: obs, step, 10, 2,
                      metadata={"task": "Reach"}, observation_center=np.zeros(10, np.float32),
                      observation_scale=np.full(10, 0.1, np.float32))  # fmt: skip


def test_ppo_improves_the_return_of_a_toy_model():
    """A few dozen small updates raise the agent's return in the toy model (its
    deterministic action from 64 fixed starts, before and after)."""
    from worldgym.evaluation.outcomes import Outcomes
    from worldgym.imagination.engine import initial_observations, rollout_policy

    task, model = get_task("Reach"), toy_reach_model()
    config = PPOConfig(**TINY_PPO, updates=30)
    init, update = make_trainer(model, task, config, reset_starts(model, task, range(256)))
    starts = initial_observations(task, range(1000, 1064))

    def imagined(state):
        trajectories = rollout_policy(model, agent_policy("ppo", state.agent), starts,
                                      jax.random.key(0), task)  # fmt: skip
        return Outcomes.from_trajectories(trajectories, task)

    state = init(jax.random.key(0))
    before = imagined(state)
    for _ in range(config.updates):
        state, _ = update(state)
    after = imagined(state)
    assert after.returns.mean() > before.returns.mean() + 2.0
    assert after.success.mean() > before.success.mean()


@pytest.fixture(scope="module")
def agent_run(reach_ensemble_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("agents") / "reach"
    config = RLConfig(task="Reach", checkpoint=str(reach_ensemble_run[1]), out=str(out),
                      start_states=256, checkpoint_every=2, episodes=6)  # fmt: skip
    return train_agent(config, PPOConfig(**TINY_PPO, updates=4), progress=False), config


def test_the_command_checks_the_agent_in_both_worlds(agent_run):
    summary, config = agent_run
    out = summary.out
    assert summary.updates == 4 and summary.imagined_steps == 4 * 64 * 16
    for world in (summary.check.imagined, summary.check.real):
        assert 0 <= world.success <= 1 and np.isfinite(world.mean_return)
        assert world.success_interval[0] <= world.success <= world.success_interval[1]
    low, high = summary.check.gap_interval
    assert low <= summary.check.gap <= high
    saved = json.loads(open(f"{out}/evaluation.json").read())
    assert saved["check"]["real"]["success"] == summary.check.real.success
    assert saved["check"]["real"]["mean_return"] == summary.check.real.mean_return
    history = [json.loads(line) for line in open(f"{out}/metrics.jsonl")]
    assert [row["update"] for row in history] == [1, 2, 3, 4]
    assert all(row["imagined_steps_per_s"] > 0 for row in history)


def test_the_saved_agent_acts_as_the_trained_one(agent_run, reach_ensemble_run):
    """agent.npz round trip: the same actions, jittable and vmappable like every
    zoo policy."""
    summary, _ = agent_run
    with np.load(summary.out / "agent.npz") as arrays:
        policy = agent_policy("ppo", arrays_agent(dict(arrays)))
    env = get_task("Reach").make_env()
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(5)])
    batched = jax.jit(jax.vmap(policy.act, in_axes=(None, 0, None)))(
        policy.params, observations, None
    )
    single = np.stack([policy.act(policy.params, obs, None) for obs in observations])
    np.testing.assert_allclose(np.asarray(batched), single, atol=1e-6)
    assert batched.shape == (5, 2) and np.all(np.abs(single) <= 1)


def test_a_killed_run_resumes_exactly(agent_run, tmp_path, monkeypatch):
    """Killed while writing its second checkpoint, the run resumes from the first and
    ends with the uninterrupted run's agent and history."""
    summary, config = agent_run
    out = tmp_path / "killed"
    restore = kill_during_save(monkeypatch, count=2)
    with pytest.raises(KeyboardInterrupt):
        train_agent(RLConfig(**{**config.__dict__, "out": str(out)}),
                    PPOConfig(**TINY_PPO, updates=4), progress=False)  # fmt: skip
    restore()
    resumed = train_agent(RLConfig(**{**config.__dict__, "out": str(out)}),
                          PPOConfig(**TINY_PPO, updates=4), progress=False)  # fmt: skip
    with np.load(summary.out / "agent.npz") as a, np.load(out / "agent.npz") as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    strip = lambda row: {k: v for k, v in row.items() if k != "imagined_steps_per_s"}  # noqa: E731
    first = [strip(json.loads(line)) for line in open(summary.out / "metrics.jsonl")]
    again = [strip(json.loads(line)) for line in open(out / "metrics.jsonl")]
    assert first == again and resumed.check == summary.check


def test_bad_input_is_one_sentence(tiny_run, reach_ensemble_run, tmp_path):
    with pytest.raises(ValueError, match="uncertainty penalty must be 0 or more, got -1"):
        PPOConfig(uncertainty_penalty=-1.0)
    with pytest.raises(ValueError, match="trained for task Push"):
        train_agent(RLConfig(task="Reach", checkpoint=str(tiny_run[1]), out=str(tmp_path / "a")),
                    PPOConfig(**TINY_PPO, updates=1), progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="--starts must be one of resets, dataset, both"):
        train_agent(RLConfig(task="Reach", checkpoint=str(reach_ensemble_run[1]),
                             out=str(tmp_path / "b"), starts="everywhere"),
                    PPOConfig(**TINY_PPO, updates=1), progress=False)  # fmt: skip


def test_another_runs_folder_is_refused(agent_run):
    summary, config = agent_run
    with pytest.raises(ValueError, match="holds another training run"):
        train_agent(config, PPOConfig(**{**TINY_PPO, "learning_rate": 0.1}, updates=4),
                    progress=False)  # fmt: skip


@pytest.mark.parametrize("task_name", ["Reach", "Push"])
def test_the_imagined_sets_are_zoo_agents_that_act_like_zoo_policies(task_name):
    """The shipped agents trained inside each default model: in the zoo (so every
    report includes them), named, described, jittable, vmappable and inside the
    action space on real observations."""
    from worldgym.policies import load_policy, zoo
    from worldgym.policies.sets import policy_set

    agents = policy_set(task_name, "imagined")
    assert [a.name for a in agents][0] == "ppo-imagined" and len(agents) == 2
    assert [a.name for a in agents] == [p.name for p in zoo(task_name)][-2:]
    task = get_task(task_name)
    env = task.make_env()
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(4)])
    for agent in agents:
        assert "trained only inside" in agent.description
        assert load_policy(task, agent.name).name == agent.name
        actions = jax.jit(jax.vmap(agent.act, in_axes=(None, 0, None)))(
            agent.params, observations, None
        )
        assert actions.shape == (4, task.action_dim) and np.all(np.abs(actions) <= 1)


def test_pick_place_has_no_imagined_set():
    from worldgym.policies.sets import set_names

    assert "imagined" not in set_names("PickPlace")
