"""The ground-truth tasks honour the Gymnasium contract and the Task contract."""

import subprocess
import sys

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import worldgym.envs as envs  # noqa: F401  (registers the tasks)
from worldgym.envs.registry import NATIVE_TASKS


def random_actions(task, count, seed=0):
    rng = np.random.default_rng(seed)
    low, high = task.action_space.low, task.action_space.high
    return rng.uniform(low, high, size=(count, task.action_dim)).astype(np.float32)


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    observations, rewards, successes = [obs], [], [info["success"]]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        successes.append(info["success"])
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards), np.array(successes)


def test_check_env_passes_with_rendering(any_task):
    env = any_task.make_env(render_mode="rgb_array", width=64, height=64)
    if any_task.name in NATIVE_TASKS:
        check_env(env.unwrapped, skip_render_check=False)
    else:
        # Adapted envs are checked through their adapting wrappers. Gymnasium's own
        # render check would open each declared mode, "human" (a window) included,
        # which cannot work headless; their rgb_array rendering is tested below.
        check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("name", list(NATIVE_TASKS))
def test_registered_with_the_task_horizon(name):
    task = envs.get_task(name)
    env = gymnasium.make(f"worldgym/{name}-v0")
    assert env.spec.max_episode_steps == task.horizon
    assert env.unwrapped.dt == pytest.approx(task.dt)
    assert env.observation_space == task.observation_space
    assert env.action_space == task.action_space


def test_module_form_of_make_works_without_import():
    code = (
        "import gymnasium; env = gymnasium.make('worldgym:worldgym/Push-v0'); "
        "obs, info = env.reset(seed=0); print(obs.shape, info['success'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(13,) False"


def test_same_seed_same_trajectory(any_task):
    actions = random_actions(any_task, any_task.horizon, seed=3)
    first = rollout(any_task.make_env(), 11, actions)
    second = rollout(any_task.make_env(), 11, actions)
    for a, b in zip(first, second, strict=False):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_different_initial_states(any_task):
    env = any_task.make_env()
    initial = [env.reset(seed=seed)[0] for seed in range(5)]
    assert len({obs.tobytes() for obs in initial}) == 5


def test_info_success_is_the_task_predicate(any_task):
    """info["success"] equals the jax.numpy predicate on the observation, on
    trajectories where both outcomes occur (oracle for native tasks)."""
    env = any_task.make_env()
    if any_task.name in NATIVE_TASKS:
        from worldgym.policies import load_policy
        from worldgym.policies.protocol import NumpyPolicy
        from worldgym.rollouts.real import run_episode

        act = NumpyPolicy(load_policy(any_task.name, "oracle"))
        episode = run_episode(env, any_task, act, seed=0)
        observations, successes = episode.observations[1:], episode.step_success
        assert successes.any() and not successes.all()
    else:
        observations, _, successes = rollout(env, 0, random_actions(any_task, any_task.horizon))
    predicted = np.asarray(jax.vmap(any_task.success_fn)(observations))
    np.testing.assert_array_equal(predicted, successes)


def test_reacher_success_is_fingertip_within_2cm():
    task = envs.get_task("Reacher-v5")
    obs = np.zeros((3, 10), np.float32)
    obs[:, 8] = [0.0, 0.019, 0.021]
    np.testing.assert_array_equal(np.asarray(task.success_fn(obs)), [True, True, False])
    assert not task.terminate_on_success and task.horizon == 50


def test_predicate_and_reward_are_jittable_and_vmappable(any_task):
    env = any_task.make_env()
    observations, rewards, _ = rollout(env, 1, random_actions(any_task, 20, seed=1))
    actions = random_actions(any_task, 20, seed=1)[: len(rewards)]
    batched_success = jax.jit(jax.vmap(any_task.success_fn))(observations)
    single = np.array([bool(jax.jit(any_task.success_fn)(obs)) for obs in observations])
    np.testing.assert_array_equal(np.asarray(batched_success), single)
    if any_task.reward_fn is not None:
        batched = jax.jit(jax.vmap(any_task.reward_fn))(
            observations[:-1], actions, observations[1:]
        )
        np.testing.assert_allclose(np.asarray(batched), rewards, rtol=1e-5, atol=1e-6)


def test_observation_round_trips_through_the_simulator(native_task):
    """apply_observation is the inverse of read_observation, so imagined observations
    can be drawn by setting the simulator to them."""
    env = native_task.make_env().unwrapped
    observations, _, _ = rollout(env, 2, random_actions(native_task, 30, seed=2))
    import mujoco

    data = mujoco.MjData(env.model)
    for obs in observations:
        env.apply_observation(env.model, data, obs)
        mujoco.mj_forward(env.model, data)
        np.testing.assert_allclose(env.read_observation(env.model, data), obs, atol=1e-5)


def test_render_and_render_observation_agree(any_task):
    env = any_task.make_env(render_mode="rgb_array", width=96, height=64)
    obs, _ = env.reset(seed=4)
    for action in random_actions(any_task, 5, seed=4):
        obs, *_ = env.step(action)
    frame = env.render()
    assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    assert frame.std() > 5, "the rendered frame is blank"
    drawn = any_task.render_observations(obs[None], width=96, height=64)[0]
    if any_task.name in NATIVE_TASKS:
        assert np.abs(drawn.astype(int) - frame.astype(int)).mean() < 1.0
    assert drawn.std() > 5


def test_episode_rule(native_task):
    flags = np.array([[False, True, False], [False, False, True]])
    outcome = np.asarray(native_task.episode_success(flags))
    expected = [True, True] if native_task.terminate_on_success else [False, True]
    np.testing.assert_array_equal(outcome, expected)


def test_push_model_features_are_the_contact_geometry_in_the_block_frame():
    from worldgym.envs.push import BLOCK_HALF_SIZE, PUSHER_RADIUS, model_features

    obs = np.zeros(13, np.float32)
    obs[6], obs[7] = 0.0, 1.0  # block turned by +90 degrees
    obs[4:6] = [0.1, 0.2]  # block position
    obs[0:2] = [0.1 + BLOCK_HALF_SIZE + PUSHER_RADIUS, 0.2]  # touching its world +x side
    features = np.asarray(model_features(jnp.asarray(obs), jnp.asarray([1.0, 0.0])))
    # World +x is the block's -y axis after a +90 degree turn.
    np.testing.assert_allclose(features[:2], [0.0, -(BLOCK_HALF_SIZE + PUSHER_RADIUS)], atol=1e-6)
    np.testing.assert_allclose(features[4:6], [0.0, -0.4], atol=1e-6)  # commanded velocity
    assert abs(features[-1]) < 1e-6  # zero gap when touching


def test_push_model_features_have_finite_gradients_even_at_contact():
    """The k-step loss differentiates through features of predicted observations."""
    from worldgym.envs.push import BLOCK_HALF_SIZE, model_features

    for offset in (0.0, BLOCK_HALF_SIZE, 0.01):  # centre, on a corner, inside the block
        obs = jnp.zeros(13).at[6].set(1.0).at[0:2].set(offset)
        gradient = jax.grad(lambda o: model_features(o, jnp.ones(2)).sum())(obs)
        assert np.all(np.isfinite(np.asarray(gradient))), offset


def test_pick_place_prior_is_the_hand_s_physics():
    """The prior predicts the hand's change from its command: a hand told to stand
    still does not move; a commanded hand moves by about command x step."""
    from worldgym.envs import pick_place

    task = envs.get_task("PickPlace")
    env = task.make_env()
    obs, _ = env.reset(seed=1)
    still = np.asarray(pick_place.model_prior(jnp.asarray(obs), jnp.zeros(4)))
    np.testing.assert_allclose(still, 0.0, atol=1e-6)  # it starts at rest
    action = np.array([0.8, -0.4, 0.2, -1.0], np.float32)
    errors = []
    for _ in range(5):
        prior = np.asarray(pick_place.model_prior(jnp.asarray(obs), jnp.asarray(action)))
        next_obs, *_ = env.step(action)
        errors.append(np.abs(next_obs[:6] - obs[:6] - prior[:6]))
        assert np.all(prior[6:] == 0.0)  # nothing is claimed about fingers or cube
        obs = next_obs
    errors = np.array(errors)
    assert errors[:, :3].max() < 2e-3, errors  # metres, for steps of up to 1.6 cm
    assert errors[:, 3:6].max() < 0.02, errors  # metres per second, for up to 0.4 m/s


def test_real_steps_are_scored_by_the_same_definition_on_the_host(any_task):
    """score_on_host (numpy where the task's functions take `xp`, as the native
    tasks' do) gives the jitted JAX scoring's success exactly and its reward."""
    from worldgym.envs.task import takes_namespace

    if any_task.name in NATIVE_TASKS:
        assert takes_namespace(any_task.success_fn) and takes_namespace(any_task.reward_fn)
    env = any_task.make_env()
    observations, _, _ = rollout(env, 3, random_actions(any_task, 60, seed=3))
    rng = np.random.default_rng(0)
    # around the observed states, at many scales, so success boundaries are crossed
    noisy = observations[rng.integers(0, len(observations), 400)]
    noisy = noisy + rng.normal(size=noisy.shape) * rng.choice([1e-3, 1e-2, 1e-1], (400, 1))
    noisy = noisy.astype(np.float32)
    actions = random_actions(any_task, 399, seed=4)
    for obs, action, next_obs in zip(noisy[:-1], actions, noisy[1:], strict=True):
        reward, success = any_task.score_on_host(obs, action.astype(np.float32), next_obs)
        jax_reward, jax_success = any_task.score_transition(obs, action, next_obs)
        assert success == bool(jax_success)
        assert reward == pytest.approx(float(jax_reward), rel=1e-5, abs=1e-6)
