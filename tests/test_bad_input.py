"""Bad input gets one clear sentence, never a traceback from deep inside a library."""

import gymnasium
import numpy as np
import pytest

import worldgym.envs as envs
from worldgym.envs.adapters import adapt_gym_env


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 300


@pytest.fixture(params=["Reach", "Push", "PickPlace"])
def env(request):
    env = gymnasium.make(f"worldgym/{request.param}-v0")
    env.reset(seed=0)
    return env


def test_unknown_task_name():
    with pytest.raises(ValueError) as error:
        envs.get_task("Pusj")
    assert "Unknown task 'Pusj'" in str(error.value) and "Push" in str(error.value)
    assert one_sentence(str(error.value))


def test_unknown_gymnasium_id():
    with pytest.raises(gymnasium.error.Error, match="doesn't exist"):
        gymnasium.make("worldgym/Pusj-v0")


def test_wrong_shaped_action(env):
    with pytest.raises(ValueError) as error:
        env.step(np.zeros(7, np.float32))
    assert "expects an action of shape" in str(error.value) and "(7,)" in str(error.value)
    assert one_sentence(str(error.value))


def test_nan_action(env):
    action = np.zeros(env.action_space.shape, np.float32)
    action[0] = np.nan
    with pytest.raises(ValueError, match="non-finite action") as error:
        env.step(action)
    assert one_sentence(str(error.value))


def test_out_of_range_action(env):
    action = np.full(env.action_space.shape, 1.5, np.float32)
    with pytest.raises(ValueError, match="outside its bounds") as error:
        env.step(action)
    assert one_sentence(str(error.value))


def test_non_numeric_action(env):
    with pytest.raises(ValueError, match="numeric action"):
        env.step("left")


def test_bad_action_leaves_the_episode_intact(env):
    """A rejected action does not advance or corrupt the simulation."""
    before = env.unwrapped.read_observation(env.unwrapped.model, env.unwrapped.data)
    with pytest.raises(ValueError):
        env.step(np.full(env.action_space.shape, np.nan, np.float32))
    after = env.unwrapped.read_observation(env.unwrapped.model, env.unwrapped.data)
    np.testing.assert_array_equal(before, after)
    env.step(np.zeros(env.action_space.shape, np.float32))


def test_bad_render_mode():
    with pytest.raises(ValueError, match="render_mode"):
        gymnasium.make("worldgym/Push-v0", render_mode="depth_array")


def test_adapting_an_env_with_discrete_actions():
    with pytest.raises(ValueError, match="Box actions"):
        adapt_gym_env("CartPole-v1", success_key="is_success")


def test_adapting_needs_exactly_one_success_source():
    with pytest.raises(ValueError, match="exactly one"):
        adapt_gym_env("Reacher-v5")


def test_drawing_observations_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \[T, 13\]"):
        envs.get_task("Push").render_observations(np.zeros((2, 5)))
