"""The latent family: a world model that learns from frames, through the family door."""

import json

import jax
import numpy as np
import pytest
from conftest import TINY_LATENT, assert_same_training, kill_during_save
from conftest import TINY_LATENT_TRAIN as TINY_TRAIN

from worldgym.envs import get_task


def test_training_on_frames_lowers_the_loss(latent_run):
    summary, out = latent_run
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["validation_frame_mse"] < history[0]["validation_frame_mse"]
    assert np.isfinite(summary.best["validation_loss"])


def test_the_checkpoint_restores_the_same_model(latent_run, reach_frames):
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    task = get_task("Reach")
    first, second = load_world_model(out, task), load_world_model(out, task)
    assert first.family == "latent" and first.initial_input is not None
    observations = np.stack([task.make_env().reset(seed=s)[0] for s in range(3)])
    inputs = first.initial_inputs(observations)
    assert inputs.shape == (3, 32, 32, 6) and inputs.dtype == np.uint8  # two stacked frames
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(first.params),
                              jax.tree_util.tree_leaves(second.params), strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(leaf_a), np.asarray(leaf_b))


def test_engine_and_imagined_env_agree_step_by_step(latent_run):
    """The batched engine and ImaginedEnv start from the same frames and predict the
    same observations for the same actions."""
    from worldgym.imagination.engine import open_loop
    from worldgym.imagination.env import ImaginedEnv
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    task = get_task("Reach")
    model = load_world_model(out, task)
    env = ImaginedEnv("Reach", model=model)
    obs, _ = env.reset(seed=4)
    actions = np.random.default_rng(0).uniform(-1, 1, (6, task.action_dim)).astype(np.float32)
    stepped = []
    for action in actions:
        next_obs, *_ = env.step(action)
        stepped.append(next_obs)
    predicted = open_loop(model, obs[None], actions[None], jax.random.key(0))
    np.testing.assert_allclose(np.asarray(predicted.obs[0]), np.stack(stepped), atol=1e-4)
    assert np.all(np.asarray(predicted.uncertainty) >= 0)


def test_members_are_models_of_their_own(latent_run):
    from worldgym.models import member_models
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    model = load_world_model(out, get_task("Reach"))
    members = member_models(model)
    assert len(members) == 3
    assert all(member.initial_input is model.initial_input for member in members)
    assert {member.config["members"] for member in members} == {1}


def test_resume_after_kill_matches_an_uninterrupted_run(latent_run, reach_frames, tmp_path,
                                                       monkeypatch):  # fmt: skip
    """Killed while saving epoch 2, the latent run resumes to the same parameters and
    the same history as the run that was never interrupted."""
    from worldgym.models.latent import LatentConfig
    from worldgym.training.train import TrainConfig, train

    summary, run = latent_run
    out = tmp_path / "resumed"
    config = TrainConfig(dataset=str(reach_frames), out=str(out), family="latent", **TINY_TRAIN)
    restore = kill_during_save(monkeypatch)  # killed while saving epoch 2
    with pytest.raises(KeyboardInterrupt):
        train(config, LatentConfig(**TINY_LATENT), progress=False)
    restore()
    resumed = train(config, LatentConfig(**TINY_LATENT), progress=False)
    assert_same_training(summary, run, resumed, out)


def test_a_frameless_dataset_is_one_sentence(tiny_push_dataset, tmp_path):
    from worldgym.models.latent import LatentConfig
    from worldgym.training.train import TrainConfig, train

    config = TrainConfig(dataset=str(tiny_push_dataset), out=str(tmp_path / "r"), family="latent",
                         **TINY_TRAIN)  # fmt: skip
    with pytest.raises(ValueError, match="has no frames.*--images 32x32"):
        train(config, LatentConfig(**TINY_LATENT), progress=False)


def test_frames_of_another_size_are_one_sentence(reach_frames, tmp_path):
    from worldgym.models.latent import LatentConfig
    from worldgym.training.train import TrainConfig, train

    config = TrainConfig(dataset=str(reach_frames), out=str(tmp_path / "r"), family="latent",
                         **TINY_TRAIN)  # fmt: skip
    with pytest.raises(ValueError, match=r"frames of shape \[32, 32, 3\].*64x64"):
        train(config, LatentConfig(**{**TINY_LATENT, "image_size": (64, 64)}), progress=False)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"image_size": (36, 36)}, "divisible by 8"),
        ({"sampling": "ts1-noise"}, "'mean' or 'ts1'"),
        ({"members": 0}, "at least one member"),
    ],
)
def test_bad_configs_are_one_sentence(values, message):
    from worldgym.models.latent import LatentConfig

    with pytest.raises(ValueError, match=message):
        LatentConfig(**{**TINY_LATENT, **values})


def test_model_eval_scores_decoded_frames(latent_run, reach_frames, tmp_path):
    from worldgym.evaluation.model_eval import ModelEvalConfig, evaluate_model, format_metrics

    _, out = latent_run
    metrics = evaluate_model(ModelEvalConfig(checkpoint=str(out), dataset=str(reach_frames),
                                             out=str(tmp_path), videos=1, size=64))  # fmt: skip
    frames = metrics.frames
    assert len(frames.psnr) == len(frames.ssim) == frames.horizon + 1
    assert all(0 < value < 100 for value in frames.psnr)
    assert all(-1 <= value <= 1 for value in frames.ssim)
    assert (tmp_path / "frames_vs_horizon.png").stat().st_size > 0
    assert (tmp_path / "continuations.mp4").stat().st_size > 0
    assert "decoded frames: PSNR" in format_metrics(metrics)


def test_psnr_and_ssim_against_their_definitions():
    from worldgym.evaluation.model_eval import psnr, ssim

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    noisy = np.clip(frame.astype(int) + rng.integers(-20, 21, frame.shape), 0, 255).astype(np.uint8)
    error = np.mean((frame.astype(float) - noisy.astype(float)) ** 2)
    np.testing.assert_allclose(psnr(noisy, frame), 10 * np.log10(255**2 / error))
    assert ssim(frame, frame) == pytest.approx(1.0)
    assert ssim(noisy, frame) < 0.99
    # a constant frame against itself shifted by a constant: SSIM is the luminance term
    flat, brighter = np.full((16, 16, 3), 100, np.uint8), np.full((16, 16, 3), 120, np.uint8)
    x, y, c1 = 100 / 255, 120 / 255, 0.01**2
    assert ssim(brighter, flat) == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1))


def test_support_reference_starts_from_recorded_frames(latent_run, reach_frames):
    """A frame model's one-step uncertainty is measured from the recorded frame stacks
    (mid-episode frames differ from a drawn frame repeated: the velocities show)."""
    from worldgym.data.dataset import load_dataset
    from worldgym.data.frames import recorded_frame_stacks
    from worldgym.evaluation.support import one_step_uncertainty
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    task = get_task("Reach")
    model, data = load_world_model(out, task), load_dataset(reach_frames, task)
    index = np.arange(5, 15)  # mid-episode observations of the first episode
    obs, actions = data.observations[index], data.actions[index]
    recorded = recorded_frame_stacks(data, index, model.frame_stack)
    drawn = model.initial_inputs(obs)
    assert np.asarray(recorded).shape == drawn.shape
    assert not np.array_equal(np.asarray(recorded)[..., :3], drawn[..., :3])  # previous frames
    default = one_step_uncertainty(model, obs, actions)
    np.testing.assert_allclose(one_step_uncertainty(model, obs, actions, inputs=drawn), default)
    assert not np.allclose(one_step_uncertainty(model, obs, actions, inputs=recorded), default)


def test_imagined_env_gives_decoded_frames(latent_run):
    """observation="frames": the env observes what the model draws, passes Gymnasium's
    checker, and carries the predicted state in info."""
    from gymnasium.utils.env_checker import check_env

    from worldgym.imagination.env import ImaginedEnv
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    model = load_world_model(out, get_task("Reach"))
    env = ImaginedEnv("Reach", model=model, observation="frames")
    assert env.observation_space.shape == (32, 32, 3)
    check_env(env, skip_render_check=True)
    frame, info = env.reset(seed=1)
    assert frame.dtype == np.uint8 and info["state"].shape == (get_task("Reach").obs_dim,)
    frame, _, _, _, info = env.step(np.zeros(2, np.float32))
    assert frame.shape == (32, 32, 3) and "state" in info


def test_a_state_model_cannot_give_frames(tiny_run):
    from worldgym.imagination.env import ImaginedEnv

    _, run = tiny_run
    with pytest.raises(ValueError, match="does not draw frames"):
        ImaginedEnv("Push", checkpoint=str(run), observation="frames")
    with pytest.raises(ValueError, match="observation must be one of state, frames"):
        ImaginedEnv("Push", checkpoint=str(run), observation="pixels")


def test_the_real_task_through_its_camera():
    """frame_env observes the frames the task draws of its state: a policy that looks at
    pixels sees in the real world what collection recorded."""
    from gymnasium.utils.env_checker import check_env

    from worldgym.envs.frames import frame_env

    task = get_task("Reach")
    env = frame_env("Reach", size=32)
    assert env.observation_space.shape == (32, 32, 3)
    check_env(env, skip_render_check=True)
    frame, _ = env.reset(seed=3)
    state = env.unwrapped._observation
    np.testing.assert_array_equal(frame, task.render_observations(state[None], 32, 32)[0])
    with pytest.raises(ValueError, match="positive size"):
        frame_env("Reach", size=0)


# --- policies that look at pixels -------------------------------------------------------
def _pixel_policy(size: int = 32, seed: int = 0):
    """A CNN pixel policy with random weights whose actions vary with the frame."""
    from worldgym.policies.pixels import init_cnn, pixel_policy

    params = init_cnn(jax.random.key(seed), (size, size), 2)
    params["dense"][-1]["w"] = params["dense"][-1]["w"] * 300.0
    return pixel_policy("pixels-test", params, (size, size))


def test_a_pixel_policy_sees_the_camera_in_reality():
    """The real runner gives a pixel policy the task's camera frames: its actions are
    those of a plain Gymnasium loop over frame_env."""
    from worldgym.envs.frames import frame_env
    from worldgym.policies.pixels import cnn_act
    from worldgym.rollouts.real import run_episodes, run_episodes_in_lockstep

    task, policy = get_task("Reach"), _pixel_policy()
    lockstep = run_episodes_in_lockstep(task, policy, [0, 5])
    looped = run_episodes(task, policy, [0, 5], progress=False)
    env = frame_env("Reach", size=32)
    for episode, alone in zip(lockstep, looped, strict=True):
        frame, _ = env.reset(seed=episode.seed)
        for action in episode.actions[:10]:
            np.testing.assert_allclose(action, cnn_act(policy.params, frame, None), atol=1e-5)
            frame, *_ = env.step(action)
        np.testing.assert_allclose(episode.actions[:10], alone.actions[:10], atol=1e-3)
    assert np.abs(lockstep[0].actions).max() > 0.1  # the frames move the actions


def test_a_pixel_policy_sees_decoded_frames_in_imagination(latent_run):
    """In a frame model's imagination a pixel policy acts on the decoded frames: the
    engine's actions are those of a Gymnasium loop over ImaginedEnv(observation="frames")."""
    from worldgym.imagination.engine import initial_observations, rollout_policies
    from worldgym.imagination.env import ImaginedEnv
    from worldgym.policies.pixels import cnn_act
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    task, policy = get_task("Reach"), _pixel_policy()
    model = load_world_model(out, task)
    seeds = [2, 7]
    trajectories = rollout_policies(model, [policy], initial_observations(task, seeds),
                                    jax.random.key(0), task, horizon=6, seeds=seeds)  # fmt: skip
    actions = np.asarray(trajectories[policy.name].actions)
    env = ImaginedEnv("Reach", model=model, observation="frames")
    for row, seed in enumerate(seeds):
        frame, _ = env.reset(seed=seed)
        for step in range(4):
            expected = np.asarray(cnn_act(policy.params, frame, None))
            np.testing.assert_allclose(actions[row, step], expected, atol=2e-3)
            frame, *_ = env.step(actions[row, step])


def test_a_state_model_shows_a_pixel_policy_the_task_camera(tiny_run):
    """A state model draws no frames: a pixel policy sees the task's camera on the
    imagined observation (drawn on the host each step)."""
    from worldgym.imagination.engine import initial_observations, rollout_policy
    from worldgym.policies.pixels import cnn_act
    from worldgym.training.checkpoint import load_world_model

    _, run = tiny_run
    task, policy = get_task("Push"), _pixel_policy()
    model = load_world_model(run, task)
    trajectories = rollout_policy(model, policy, initial_observations(task, [0, 1]),
                                  jax.random.key(0), task, horizon=4, seeds=[0, 1])  # fmt: skip
    observations = np.asarray(trajectories.observations)
    for step in range(3):
        frames = task.render_observations(observations[:, step], 32, 32)
        expected = jax.vmap(cnn_act, in_axes=(None, 0, None))(policy.params, frames, None)
        np.testing.assert_allclose(np.asarray(trajectories.actions[:, step]), expected,
                                   atol=1e-5)  # fmt: skip


def test_frames_of_another_size_than_the_policy_sees_are_one_sentence(latent_run):
    from worldgym.imagination.engine import initial_observations, rollout_policies
    from worldgym.policies.pixels import init_cnn
    from worldgym.training.checkpoint import load_world_model

    _, out = latent_run
    task = get_task("Reach")
    model = load_world_model(out, task)
    with pytest.raises(ValueError, match="looks at 64x64 frames, but the latent model draws 32x32"):
        rollout_policies(model, [_pixel_policy(64)], initial_observations(task, [0]),
                         jax.random.key(0), task, horizon=3)  # fmt: skip
    with pytest.raises(ValueError, match="multiples of 16"):
        init_cnn(jax.random.key(0), (40, 40), 2)


def test_the_zoo_pixel_policy_looks_at_64x64_frames():
    from worldgym.policies import load_policy

    policy = load_policy(get_task("Reach"), "pixels-dart")
    assert policy.frame_size == (64, 64) and policy.looks_at_frames
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    actions = jax.vmap(policy.act, in_axes=(None, 0, None))(policy.params, frames, None)
    assert actions.shape == (3, 2) and np.all(np.abs(np.asarray(actions)) <= 1)


def test_frames_with_another_channel_count_are_one_sentence():
    """Grey (1-channel) frames are refused before training, in one sentence."""
    from types import SimpleNamespace

    from worldgym.training.train import check_frames

    grey = SimpleNamespace(images=np.zeros((4, 32, 32, 1), np.uint8))
    with pytest.raises(ValueError, match=r"frames of shape \[32, 32, 1\].*32x32 RGB frames"):
        check_frames(grey, "grey-data", (32, 32, 2))
