"""The world model as a Gymnasium environment."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import worldgym  # noqa: F401  (registers the imagined environments)
from worldgym.envs import get_task


@pytest.fixture(scope="module")
def imagined(tiny_run):
    env = gymnasium.make("worldgym/Push-imagined-v0", checkpoint=str(tiny_run[1]),
                         render_mode="rgb_array", width=64, height=64)  # fmt: skip
    yield env
    env.close()


def test_check_env_passes(imagined):
    check_env(imagined.unwrapped, skip_render_check=False)


def test_reset_matches_the_real_task_and_steps_carry_info(imagined):
    real = get_task("Push").make_env()
    obs, info = imagined.reset(seed=42)
    np.testing.assert_array_equal(obs, real.reset(seed=42)[0])
    obs, reward, terminated, truncated, info = imagined.step(np.zeros(2, np.float32))
    assert obs.shape == (13,) and isinstance(reward, float)
    assert set(info) >= {"success", "success_probability", "uncertainty", "diverged"}
    assert info["uncertainty"] >= 0 and not info["diverged"]
    frame = imagined.render()
    assert frame.shape == (64, 64, 3) and frame.std() > 5


def test_horizon_truncates(imagined):
    imagined.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = imagined.step(np.zeros(2, np.float32))
        steps += 1
        done = terminated or truncated
    assert steps == get_task("Push").horizon and truncated


def test_same_seed_same_imagined_episode(imagined):
    def episode():
        imagined.reset(seed=3)
        return [imagined.step(np.array([0.5, -0.2], np.float32))[0] for _ in range(5)]

    np.testing.assert_array_equal(episode(), episode())


def test_bad_input(imagined, tiny_run):
    imagined.reset(seed=0)
    with pytest.raises(ValueError, match="expects an action of shape"):
        imagined.step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        imagined.step(np.array([np.nan, 0.0], np.float32))
    with pytest.raises(ValueError, match="was trained for task Push, not Reach"):
        gymnasium.make("worldgym/Reach-imagined-v0", checkpoint=str(tiny_run[1]))


def test_missing_default_checkpoint_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="worldgym collect PickPlace"):
        gymnasium.make("worldgym/PickPlace-imagined-v0")


def test_unknown_success_source(tiny_run):
    with pytest.raises(ValueError, match="success_source must be one of predicate, head"):
        gymnasium.make("worldgym/Push-imagined-v0", checkpoint=str(tiny_run[1]),
                       success_source="oracle")  # fmt: skip


def test_off_the_shelf_rl_trains_in_imagination_and_runs_for_real(tiny_run):
    """Stable-Baselines3 (optional extra `rl`) learns through gymnasium.make; the
    policy then runs in the ground-truth task. Plumbing only: a few hundred steps."""
    sb3 = pytest.importorskip("stable_baselines3")
    from worldgym.rollouts.real import run_episode

    env = gymnasium.make("worldgym/Push-imagined-v0", checkpoint=str(tiny_run[1]))
    agent = sb3.SAC("MlpPolicy", env, seed=0, learning_starts=50, verbose=0)
    agent.learn(total_timesteps=200)
    task = get_task("Push")
    episode = run_episode(
        task.make_env(), task, lambda o: agent.predict(o, deterministic=True)[0], 0
    )
    assert episode.length == task.horizon and np.isfinite(episode.episode_return)


def test_any_task_has_an_imagined_twin_through_the_generic_id(tiny_lab_run):
    """worldgym/Imagined-v0 takes the task from the checkpoint: here a user's adapted
    task named by module:attribute, which no registry knows by name."""
    run, _ = tiny_lab_run
    env = gymnasium.make("worldgym/Imagined-v0", checkpoint=str(run), render_mode="rgb_array",
                         width=48, height=48)  # fmt: skip
    assert env.unwrapped.task.spec == "lab_reacher.task:reacher_task"
    check_env(env.unwrapped, skip_render_check=False)
    obs, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs, env.unwrapped.task.make_env().reset(seed=3)[0])
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
        steps, done = steps + 1, terminated or truncated
    assert steps == 50  # Reacher-v5's horizon, enforced by the imagined env itself
    vector = gymnasium.make_vec("worldgym/Imagined-v0", num_envs=3, checkpoint=str(run),
                                vectorization_mode="vector_entry_point")  # fmt: skip
    batch, _ = vector.reset(seed=0)
    assert batch.shape == (3, 10)


def test_the_generic_id_needs_a_checkpoint_or_a_task():
    with pytest.raises(ValueError, match="needs checkpoint=PATH"):
        gymnasium.make("worldgym/Imagined-v0")
