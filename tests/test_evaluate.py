"""Paired evaluation, calibration and the report, end to end on a tiny model."""

import json
import re
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from worldgym.envs import get_task
from worldgym.evaluation.calibrate import calibrate
from worldgym.evaluation.paired import EvaluateConfig, evaluate, evaluate_policies, load_policies
from worldgym.report import ReportConfig, make_report
from worldgym.training.checkpoint import load_world_model

sys.path.insert(0, str(Path(__file__).parent))  # user_policies

pytestmark = pytest.mark.filterwarnings(
    "ignore:os.fork:RuntimeWarning"
)  # imageio reads MP4s via ffmpeg

POLICIES = ("oracle", "slow", "random")
EPISODES = 4


@pytest.fixture(scope="module")
def evaluation(tiny_run, tmp_path_factory):
    _, run = tiny_run
    cache = tmp_path_factory.mktemp("cache")
    config = EvaluateConfig(
        task="Push", checkpoint=str(run), policies=POLICIES, episodes=EPISODES, workers=1,
        cache=str(cache),
    )  # fmt: skip
    return evaluate(config, progress=False), config


def test_both_worlds_start_from_the_same_states(evaluation):
    result, _ = evaluation
    assert [p.name for p in result.policies] == list(POLICIES)
    first = result.policies[0]
    assert first.real.observations.shape == (EPISODES, 81, 13)
    for policy in result.policies:
        np.testing.assert_array_equal(
            policy.real.observations[:, 0], policy.imagined.observations[:, 0]
        )
        assert policy.member_success.shape == (3, EPISODES)  # one row per member
    assert result.policies[0].real_rate == 1.0  # the oracle succeeds for real
    assert result.policies[2].real_rate == 0.0  # random does not


def test_cache_gives_the_same_results_without_rerunning(evaluation, monkeypatch):
    result, config = evaluation
    import worldgym.evaluation.paired as module

    def refuse(*args, **kwargs):
        raise AssertionError("rollouts should have come from the cache")

    monkeypatch.setattr(module, "real_episodes", refuse)
    monkeypatch.setattr(module, "rollout_policies", refuse)
    again = evaluate(config, progress=False)
    for old, new in zip(result.policies, again.policies, strict=True):
        np.testing.assert_array_equal(old.real.success, new.real.success)
        np.testing.assert_array_equal(old.imagined.observations, new.imagined.observations)
        np.testing.assert_array_equal(old.member_success, new.member_success)


def test_a_damaged_cache_entry_is_recomputed(evaluation):
    result, config = evaluation
    entries = sorted((Path(config.cache) / "push" / "real").glob("slow-*.npz"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # a write cut off mid-file
    again = evaluate(config, progress=False)
    np.testing.assert_array_equal(again.policies[1].real.observations,
                                  result.policies[1].real.observations)  # fmt: skip
    assert np.load(entries[0])["success"].shape == (EPISODES,)  # stored whole again


def test_a_policy_result_does_not_depend_on_its_companions(evaluation, tiny_run, tmp_path):
    result, config = evaluation
    alone = evaluate(
        EvaluateConfig(**{**config.__dict__, "policies": ("slow",), "cache": str(tmp_path)}),
        progress=False,
    )
    np.testing.assert_array_equal(
        alone.policies[0].imagined.observations, result.policies[1].imagined.observations
    )


def test_report_files_are_valid_and_referenced(evaluation, tiny_run, tmp_path):
    _, config = evaluation
    path, calibration = make_report(
        config,
        ReportConfig(out=str(tmp_path / "report"), bootstrap=50, imagined_episodes=40),
        progress=False,
    )
    folder = path.parent
    trusted = 3 if calibration.scope == "all" else 3 - len(calibration.flagged)
    assert calibration.policies == trusted  # the tiny model may flag a policy
    page = path.read_text()
    references = re.findall(r"(?:src|href)='([^']+)'", page)
    assert references, "the report should show figures and videos"
    for reference in references:
        assert "://" not in reference  # opens from disk, no network
        assert (folder / reference).is_file(), reference
    for image in folder.glob("*.png"):
        pixels = iio.imread(image)
        assert pixels.ndim == 3 and pixels.std() > 5, image  # not blank
    videos = list(folder.glob("*.mp4"))
    assert len(videos) >= 3
    for video in videos:
        frames = iio.imread(video)
        assert frames.shape[0] > 10 and frames.std() > 5, video
        assert frames.shape[2] > frames.shape[1]  # real and imagined side by side
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["calibration"]["rates"]) >= {"spearman", "kendall", "pearson", "mmrv"}
    assert "Spearman" in (folder / "report.md").read_text()
    assert metrics["config"]["evaluate"]["episodes"] == EPISODES  # what produced it
    budget = metrics["real_episodes_needed"]  # "How many real episodes do you still need"
    assert budget["episodes"] == EPISODES and budget["imagined_only"] == 40
    assert budget["curve"]["n"][-1] == EPISODES and (folder / "episodes_needed.png").is_file()
    result, _ = evaluation
    for row, policy in zip(budget["policies"], result.policies, strict=True):
        assert row["real_only"]["rate"] == pytest.approx(policy.real_rate)
        assert row["prediction_powered"]["real_episodes"] == EPISODES
    text = (folder / "report.md").read_text()
    assert "## How many real episodes do you still need" in text
    assert "real episodes alone" in text or "does not narrow these intervals" in text


def test_calibration_uses_the_episode_outcomes(evaluation):
    from dataclasses import replace

    result, _ = evaluation
    every = replace(result, policies=[replace(p, support=None) for p in result.policies])
    stats = calibrate(every, bootstrap=50)  # support unknown: every policy counts
    real = np.array([p.real_rate for p in result.policies])
    imagined = np.array([p.imagined_rate for p in result.policies])
    assert stats.rates["mae"].value == pytest.approx(np.abs(real - imagined).mean())
    assert sum(map(sum, stats.episodes.confusion)) == 3 * EPISODES


def test_bad_input_is_one_sentence(tiny_run, tmp_path):
    _, run = tiny_run
    task = get_task("Push")
    model = load_world_model(run, task)
    with pytest.raises(ValueError, match="No policies to evaluate"):
        evaluate_policies(task, model, [], [0, 1], tmp_path)
    from dataclasses import replace

    (oracle,) = load_policies(task, ["oracle"])
    with pytest.raises(ValueError, match="cannot load it by name"):
        evaluate_policies(task, model, [replace(oracle, name="my-oracle")], [0], tmp_path)
    with pytest.raises(ValueError, match=r"returned an action of shape \(5,\)"):
        load_policies(task, ["user_policies:wrong_shape"])
    with pytest.raises(ValueError, match="trained for task Push"):
        evaluate(EvaluateConfig(task="Reach", checkpoint=str(run), policies=("oracle",),
                                episodes=1, cache=str(tmp_path)), progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="compares policies"):
        calibrate(
            evaluate_policies(
                task,
                model,
                list(load_policies(task, ["oracle"])),
                [0],
                tmp_path,
                workers=1,
                progress=False,
            )  # fmt: skip
        )


def test_lockstep_rollouts_equal_one_by_one_rollouts():
    from worldgym.policies import load_policy
    from worldgym.rollouts.real import run_episodes, run_episodes_in_lockstep

    task = get_task("Reach")  # terminates on success: episodes end at different steps
    policy = load_policy("Reach", "noisy")
    one_by_one = run_episodes(task, policy, range(4), progress=False)
    lockstep = run_episodes_in_lockstep(task, policy, range(4))
    for a, b in zip(one_by_one, lockstep, strict=True):
        assert a.length == b.length and a.success == b.success
        assert (a.terminated, a.truncated) == (b.terminated, b.truncated)
        np.testing.assert_allclose(a.observations, b.observations, atol=1e-5)
        np.testing.assert_allclose(a.rewards, b.rewards, atol=1e-5)


def test_lockstep_with_one_policy_per_episode_equals_each_alone():
    from worldgym.policies.behaviour import behaviour_policy, draw_perturbation
    from worldgym.rollouts.real import run_episodes, run_episodes_in_lockstep

    task = get_task("Push")
    rng = np.random.default_rng(0)
    policies = [behaviour_policy("Push", "perturbed-oracle", draw_perturbation("Push", rng))
                for _ in range(3)]  # fmt: skip
    together = run_episodes_in_lockstep(task, policies, [5, 6, 7])
    for policy, seed, episode in zip(policies, [5, 6, 7], together, strict=True):
        (alone,) = run_episodes(task, policy, [seed], progress=False)
        np.testing.assert_allclose(alone.observations, episode.observations, atol=1e-5)


def test_report_falls_back_to_gif_without_an_mp4_encoder(evaluation, tmp_path, monkeypatch):
    import worldgym.report.videos
    from worldgym.report import write_report

    result, _ = evaluation
    real_write = worldgym.report.videos.write_video

    def no_h264(path, frames, fps):
        if str(path).endswith(".mp4"):
            raise RuntimeError("no libx264 here")
        return real_write(path, frames, fps)

    monkeypatch.setattr(worldgym.report.videos, "write_video", no_h264)
    page = write_report(result, calibrate(result, bootstrap=20), tmp_path, size=48).read_text()
    gifs = list(tmp_path.glob("*.gif"))
    assert gifs and not list(tmp_path.glob("*.mp4"))
    for gif in gifs:
        assert f"<img src='{gif.name}'" in page
        assert iio.imread(gif).shape[0] > 10
