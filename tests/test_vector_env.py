"""ImaginedVectorEnv: Gymnasium vector conformance (shapes, dtypes, autoreset, seeding)."""

import gymnasium
import numpy as np
import pytest

import worldgym  # noqa: F401
from worldgym.envs import get_task


@pytest.fixture
def vector_env(tiny_run):
    env = gymnasium.make_vec("worldgym/Push-imagined-v0", num_envs=3,
                             vectorization_mode="vector_entry_point",
                             checkpoint=str(tiny_run[1]), max_episode_steps=4)  # fmt: skip
    yield env
    env.close()


def test_spaces_shapes_and_dtypes(vector_env):
    assert vector_env.num_envs == 3
    assert vector_env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
    obs, _ = vector_env.reset(seed=0)
    assert vector_env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = vector_env.step(vector_env.action_space.sample())
    assert vector_env.observation_space.contains(obs)
    assert reward.shape == (3,) and reward.dtype == np.float32
    assert terminated.dtype == bool and truncated.dtype == bool
    assert info["uncertainty"].shape == (3,) and info["_uncertainty"].all()


def test_reset_seeds_match_the_real_task(vector_env):
    obs, _ = vector_env.reset(seed=10)
    env = get_task("Push").make_env()
    for index in range(3):
        np.testing.assert_array_equal(obs[index], env.reset(seed=10 + index)[0])


def test_next_step_autoreset(vector_env):
    vector_env.reset(seed=1)
    zeros = np.zeros((3, 2), np.float32)
    for _ in range(3):
        _, _, _, truncated, _ = vector_env.step(zeros)
        assert not truncated.any()
    last_obs, _, _, truncated, _ = vector_env.step(zeros)
    assert truncated.all()
    obs, reward, terminated, truncated, _ = vector_env.step(zeros)
    assert not terminated.any() and not truncated.any() and np.all(reward == 0)
    assert not np.allclose(obs, last_obs)  # new episodes started from new initial states
    _, _, _, truncated, _ = vector_env.step(zeros)
    assert not truncated.any()


def test_same_seed_same_rollout(vector_env):
    def run():
        vector_env.reset(seed=5)
        return [vector_env.step(np.full((3, 2), 0.3, np.float32))[0] for _ in range(6)]

    np.testing.assert_array_equal(run(), run())


def test_bad_actions(vector_env):
    vector_env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expects actions of shape \(3, 2\)"):
        vector_env.step(np.zeros((2, 2), np.float32))
    bad = np.zeros((3, 2), np.float32)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        vector_env.step(bad)
