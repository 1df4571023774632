"""The robot-like stand-in: seeded imperfections, the same task otherwise."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from worldgym.envs import get_task

TASKS = ("reach", "push", "pick_place")


@pytest.mark.parametrize("attribute", TASKS)
def test_robot_like_tasks_keep_the_contract_and_repeat_per_seed(attribute):
    task = get_task(f"worldgym.envs.robot_like:{attribute}")
    plain = get_task(task.name)
    env, reference = task.make_env(), plain.make_env()
    check_env(env, skip_render_check=True)
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    other, _ = env.reset(seed=4)
    exact, _ = reference.reset(seed=3)
    np.testing.assert_array_equal(first, again)  # reproducible: seeded by the reset seed
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, exact)  # jitter and sensor noise
    assert np.abs(first - exact).max() < 0.05  # small
    action = np.zeros(task.action_dim, np.float32)
    env.reset(seed=3)
    a = env.step(action)[0]
    env.reset(seed=3)
    b = env.step(action)[0]
    np.testing.assert_array_equal(a, b)
    env.close(), reference.close()


def test_physics_changes_per_episode_and_returns_to_nominal_between():
    task = get_task("worldgym.envs.robot_like:push")
    env = task.make_env()
    model = env.unwrapped.model
    env.reset(seed=1)
    first = model.body_mass.copy()
    env.reset(seed=2)
    assert not np.allclose(first, model.body_mass)
    env.reset(seed=1)
    np.testing.assert_array_equal(first, model.body_mass)  # not drifting episode to episode
    plain = get_task("Push").make_env()
    ratio = model.body_mass[1:] / plain.unwrapped.model.body_mass[1:]
    assert np.all((ratio > 0.89) & (ratio < 1.11))
