"""Recorded real episodes as ground truth: figure for figure the live calibration."""

import json
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from worldgym.cli import main
from worldgym.data.recorded import encode_png
from worldgym.envs import get_task
from worldgym.evaluation.calibrate import calibrate
from worldgym.evaluation.paired import EvaluateConfig, evaluate


def settings(run, tmp_path, **changes):
    return EvaluateConfig(**{"task": "Push", "checkpoint": str(run),
                             "policies": ("slow", "noisy", "oracle"), "episodes": 6,
                             "cache": str(tmp_path / "cache"), **changes})  # fmt: skip


def test_a_calibration_from_recordings_equals_the_live_one(tiny_run, tmp_path):
    _, run = tiny_run
    logs = tmp_path / "logs"
    live = evaluate(settings(run, tmp_path, record_real=str(logs)), progress=False)
    # a fresh cache: nothing of the live run can be reused by the replay
    replay = evaluate(settings(run, tmp_path, real_from=str(logs), cache=str(tmp_path / "c2")),
                      progress=False)  # fmt: skip
    for a, b in zip(live.policies, replay.policies, strict=True):
        np.testing.assert_array_equal(a.real.success, b.real.success)
        np.testing.assert_array_equal(a.imagined.success, b.imagined.success)
    first, second = calibrate(live, 50), calibrate(replay, 50)
    assert second.seeds.startswith("recorded episodes in")
    first, second = replace(first, seeds=""), replace(second, seeds="")
    # figure for figure: the same numbers, to the last bit
    assert json.dumps(first, sort_keys=True, default=str) == \
        json.dumps(second, sort_keys=True, default=str)  # fmt: skip


def write_table(folder, policy, columns, task="Push", policies=None):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / f"{policy}.parquet")
    manifest = {"format": "worldgym-recorded-v1", "task": task, "policies": policies or [policy]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_recordings_without_seeds_still_pair_by_initial_observation(tiny_run, tmp_path):
    _, run = tiny_run
    task = get_task("Push")
    starts = [list(np.zeros(task.obs_dim, np.float32) + 0.01 * i) for i in range(4)]
    for policy in ("slow", "noisy"):
        write_table(tmp_path / "lab", policy, {"initial_observation": starts,
                                               "success": [True, False, True, False]},
                    policies=["slow", "noisy"])  # fmt: skip
    evaluation = evaluate(settings(run, tmp_path, policies=("slow", "noisy"),
                                   real_from=str(tmp_path / "lab")), progress=False)  # fmt: skip
    assert [p.real.rate for p in evaluation.policies] == [0.5, 0.5]
    assert all(p.imagined.episodes == 4 for p in evaluation.policies)


@pytest.mark.parametrize(
    ("columns", "policies", "message"),
    [({"success": [True]}, None, "lack the column\\(s\\) initial_observation"),
     ({"initial_observation": [[0.0, 1.0]], "success": [True]}, None,
      "initial observations of shape \\[\\(2,\\)\\]"),
     ({"initial_observation": [[0.0] * 10], "success": [True]}, ["slow", "noisy"],
      "the manifest lists noisy, but noisy.parquet is missing")],
)  # fmt: skip
def test_bad_recordings_are_one_sentence(tiny_run, tmp_path, columns, policies, message):
    _, run = tiny_run
    task = get_task("Push")
    if "initial_observation" in columns and len(columns["initial_observation"][0]) == 10:
        columns = {**columns, "initial_observation": [[0.0] * task.obs_dim]}
    write_table(tmp_path / "lab", "slow", columns, policies=policies)
    with pytest.raises(ValueError, match=message):
        evaluate(settings(run, tmp_path, policies=tuple(policies or ["slow"]),
                          real_from=str(tmp_path / "lab")), progress=False)  # fmt: skip


def test_policies_the_logs_do_not_hold_and_missing_folders(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    write_table(tmp_path / "lab", "slow", {"initial_observation": [[0.0]], "success": [True]})
    code = main(["calibrate", "Push", "--checkpoint", str(run), "--policies", "slow", "noisy",
                 "--real-from", str(tmp_path / "lab")])  # fmt: skip
    assert code == 2 and "has no episodes of noisy (it holds slow)" in capsys.readouterr().err
    code = main(["calibrate", "Push", "--checkpoint", str(run), "--real-from",
                 str(tmp_path / "nowhere")])  # fmt: skip
    assert code == 2 and "nowhere: no such folder." in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    code = main(["calibrate", "Push", "--checkpoint", str(run), "--policies", "slow",
                 "--real-from", str(tmp_path / "empty")])  # fmt: skip
    assert code == 2 and "no manifest.json there" in capsys.readouterr().err


def test_a_report_from_recordings_writes_no_real_film(tiny_run, tmp_path):
    _, run = tiny_run
    logs = tmp_path / "logs"
    evaluate(settings(run, tmp_path, record_real=str(logs)), progress=False)
    out = tmp_path / "report"
    code = main(["report", "Push", "--checkpoint", str(run), "--policies", "slow", "noisy",
                 "oracle", "--real-from", str(logs), "--cache", str(tmp_path / "cache"),
                 "--out", str(out), "--bootstrap", "50"])  # fmt: skip
    assert code == 0 and (out / "report.html").exists()
    assert not list(out.glob("video-*"))
    assert "recorded episodes in" in (out / "report.md").read_text()


def test_estimate_takes_the_recorded_episodes_as_its_fixed_n(tiny_run, tmp_path, capsys):
    from worldgym.evaluation.estimation import EstimateConfig, estimate

    _, run = tiny_run
    logs = tmp_path / "logs"
    evaluate(settings(run, tmp_path, record_real=str(logs)), progress=False)
    result = estimate(EstimateConfig(task="Push", checkpoint=str(run), policies=("slow", "noisy"),
                                     imagined_episodes=20, bootstrap=20, real_from=str(logs),
                                     cache=str(tmp_path / "cache")), progress=False)  # fmt: skip
    assert [p.real_only.real_episodes for p in result.policies] == [6, 6]
    assert result.seeds == "test seeds 0-5" and result.intervals == "fixed-n"
    code = main(["estimate", "Push", "--checkpoint", str(run), "--real-from", str(logs),
                 "--budget", "20"])  # fmt: skip
    assert code == 2 and "drop --budget" in capsys.readouterr().err


def test_minari_logs_with_the_policy_in_episode_metadata(tmp_path, monkeypatch):
    """A lab's Minari dataset: DataCollector around the env, the policy (and the seed)
    added to each episode's metadata afterwards."""
    import gymnasium
    import minari
    from minari import DataCollector

    from worldgym.data.recorded import read_recorded

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    collector = DataCollector(gymnasium.make("worldgym/Push-v0"), record_infos=True,
                              data_format="arrow")  # fmt: skip
    rng = np.random.default_rng(0)
    starts = []
    for episode in range(4):
        obs, _ = collector.reset(seed=episode)
        starts.append(obs)
        for _ in range(3):  # a short log is enough for the reader
            collector.step(rng.uniform(-1, 1, collector.action_space.shape).astype(np.float32))
        collector.step(np.zeros(collector.action_space.shape, np.float32))
    collector.create_dataset("lab/push-evals-v0", algorithm_name="lab policies")
    collector.close()
    dataset = minari.MinariDataset(tmp_path / "lab" / "push-evals-v0" / "data")
    dataset.storage.update_episode_metadata(
        [{"policy": "slow" if i % 2 else "noisy", "seed": i, "success": i == 1}
         for i in range(4)])  # fmt: skip
    found = read_recorded(tmp_path / "lab" / "push-evals-v0", get_task("Push"),
                          ["slow", "noisy"])  # fmt: skip
    assert list(found["slow"].seeds) == [1, 3] and list(found["noisy"].seeds) == [0, 2]
    assert list(found["slow"].success) == [True, False] and found["slow"].seeded
    np.testing.assert_allclose(found["noisy"].initial_observations[1], starts[2], rtol=1e-6)
    with pytest.raises(ValueError, match="has no episodes of oracle"):
        read_recorded(tmp_path / "lab" / "push-evals-v0", get_task("Push"), ["oracle"])


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_lerobot_layouts_read_with_pyarrow(tmp_path, version):
    """A LeRobot dataset as its recorder writes it (frames in Parquet, episode metadata
    beside), with the lab's policy name and success label per episode."""
    from worldgym.data.recorded import read_recorded

    task = get_task("Push")
    root = tmp_path / "lerobot"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"codebase_version": version}))
    rng = np.random.default_rng(0)
    states = rng.normal(size=(4, 3, task.obs_dim)).astype(np.float32)
    episodes = [{"episode_index": i, "length": 3, "policy": ["slow", "noisy"][i % 2],
                 **({"success": i < 2} if i != 3 else {})} for i in range(4)]  # fmt: skip
    frames = {"observation.state": [], "episode_index": [], "frame_index": [],
              "next.success": []}  # fmt: skip
    for i in range(4):
        for frame in (2, 0, 1):  # not in order: the first frame is the smallest index
            frames["observation.state"].append(states[i, frame].tolist())
            frames["episode_index"].append(i)
            frames["frame_index"].append(frame)
            frames["next.success"].append(i == 3 and frame == 2)
    if version == "v2.1":
        (root / "meta" / "episodes.jsonl").write_text(
            "\n".join(json.dumps(e) for e in episodes) + "\n")  # fmt: skip
        for i in range(4):
            path = root / "data" / "chunk-000" / f"episode_{i:06d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table({k: v[3 * i : 3 * i + 3] for k, v in frames.items()}), path)
    else:
        (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([{**e, "success": e.get("success")}
                                             for e in episodes]),
                       root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")  # fmt: skip
        (root / "data" / "chunk-000").mkdir(parents=True)
        pq.write_table(pa.table(frames), root / "data" / "chunk-000" / "file-000.parquet")
    found = read_recorded(root, task, ["slow", "noisy"])
    np.testing.assert_allclose(found["slow"].initial_observations, states[[0, 2], 0])
    assert list(found["slow"].success) == [True, False]
    assert list(found["noisy"].success) == [True, True]  # episode 3: from next.success


def test_without_policies_the_recording_names_them(tiny_run, tmp_path, capsys):
    from worldgym.data.recorded import recorded_policies

    _, run = tiny_run
    logs = tmp_path / "logs"
    evaluate(settings(run, tmp_path, record_real=str(logs)), progress=False)
    assert recorded_policies(logs) == ["slow", "noisy", "oracle"]
    replay = evaluate(settings(run, tmp_path, policies=(), real_from=str(logs)), progress=False)
    assert [p.name for p in replay.policies] == ["slow", "noisy", "oracle"]
    manifest = json.loads((logs / "manifest.json").read_text())
    manifest["policies"].append("made-up")
    (logs / "manifest.json").write_text(json.dumps(manifest))
    code = main(["calibrate", "Push", "--checkpoint", str(run), "--real-from", str(logs)])
    assert code == 2 and "made-up" in capsys.readouterr().err


def test_unequal_counts_from_own_starts_calibrate_and_report(tiny_run, tmp_path):
    """A lab's log: each policy ran a different number of episodes from its own
    starts. The calibration takes each policy's own count, and the report says
    there is no paired ranking instead of pairing episodes that are not pairs."""
    _, run = tiny_run
    task = get_task("Push")
    rng = np.random.default_rng(0)
    counts = {"slow": 5, "noisy": 8, "oracle": 6}
    for policy, count in counts.items():
        starts = [list(np.zeros(task.obs_dim) + rng.normal(0, 0.01, task.obs_dim))
                  for _ in range(count)]  # fmt: skip
        write_table(tmp_path / "lab", policy, {"initial_observation": starts,
                                               "success": list(rng.random(count) < 0.5)},
                    policies=list(counts))  # fmt: skip
    config = settings(run, tmp_path, real_from=str(tmp_path / "lab"))
    evaluation = evaluate(config, progress=False)
    assert [p.episodes for p in evaluation.policies] == [5, 8, 6]
    assert [p.imagined.episodes for p in evaluation.policies] == [5, 8, 6]
    assert not evaluation.shared_starts
    result = calibrate(evaluation, 50)
    assert result.episodes_per_policy == [5, 8]
    out = tmp_path / "report"
    code = main(
        [
            "report",
            "Push",
            "--checkpoint",
            str(run),
            "--real-from",
            str(tmp_path / "lab"),
            "--cache",
            str(tmp_path / "cache"),
            "--out",
            str(out),
            "--bootstrap",
            "50",
        ]
    )
    text = (out / "report.md").read_text()
    assert code == 0 and "3 policies × 5–8 episodes per world" in text
    assert "no paired ranking" in text and "Bradley-Terry" not in text
    from worldgym.evaluation.estimation import EstimateConfig, estimate

    result = estimate(EstimateConfig(task="Push", checkpoint=str(run), imagined_episodes=10,
                                     bootstrap=20, real_from=str(tmp_path / "lab"),
                                     policies=tuple(counts), cache=str(tmp_path / "cache")),
                      progress=False)  # fmt: skip
    assert [p.real_only.real_episodes for p in result.policies] == [5, 8, 6]


def test_a_frame_model_replays_from_the_recorded_first_frames(latent_run, tmp_path):
    """A frame model's recording carries each episode's first frame; the replay starts
    from those frames and equals the live run; other frames give another imagination."""
    from worldgym.data.recorded import read_recorded

    _, run = latent_run
    config = EvaluateConfig(task="Reach", checkpoint=str(run), policies=("weak", "oracle"),
                            episodes=4, cache=str(tmp_path / "cache"),
                            record_real=str(tmp_path / "logs"))  # fmt: skip
    live = evaluate(config, progress=False)
    table = pq.read_table(tmp_path / "logs" / "weak.parquet").to_pydict()
    assert len(table["initial_frame"]) == 4 and table["initial_frame"][0][:4] == b"\x89PNG"
    recorded = read_recorded(tmp_path / "logs", get_task("Reach"), ["weak"], frames=True)
    assert recorded["weak"].initial_frames.shape == (4, 32, 32, 3)
    replay = evaluate(replace(config, record_real="", real_from=str(tmp_path / "logs"),
                              cache=str(tmp_path / "c2")), progress=False)  # fmt: skip
    for a, b in zip(live.policies, replay.policies, strict=True):
        np.testing.assert_array_equal(a.imagined.observations, b.imagined.observations)
    # the same observations under a blank camera: imagination reads the frames
    for name in ("weak", "oracle"):
        path = tmp_path / "logs" / f"{name}.parquet"
        table = pq.read_table(path).to_pydict()
        blank = encode_png(np.zeros((48, 48, 3), np.uint8))  # another size: resized
        pq.write_table(pa.table({**table, "initial_frame": [blank] * 4}), path)
    blind = evaluate(replace(config, record_real="", real_from=str(tmp_path / "logs"),
                             cache=str(tmp_path / "c3")), progress=False)  # fmt: skip
    assert not np.allclose(blind.policies[0].imagined.observations,
                           live.policies[0].imagined.observations)  # fmt: skip


def test_frames_resize_to_the_model_and_stack_as_at_a_reset():
    from worldgym.data.frames import stacks_at_reset

    frames = np.zeros((2, 48, 64, 3), np.uint8)
    frames[0] = (10, 200, 30)
    stacks = stacks_at_reset(frames, 3, (32, 32))
    assert stacks.shape == (2, 32, 32, 9)
    assert (stacks[0] == np.tile([10, 200, 30], 3)).all() and (stacks[1] == 0).all()
    assert stacks_at_reset(frames, 1).shape == (2, 48, 64, 3)  # the model's size already


@pytest.mark.parametrize("dtype", ["image", "video"])
def test_lerobot_first_frames_from_images_or_videos(tmp_path, dtype):
    """LeRobot stores a camera as images in the Parquet frames or as an MP4 per
    episode (v2.1): either gives each episode's first frame."""
    import imageio.v3 as iio

    from worldgym.data.recorded import read_recorded

    task = get_task("Push")
    root = tmp_path / "lerobot"
    (root / "meta").mkdir(parents=True)
    features = {
        "observation.images.top": {"dtype": dtype, "shape": [32, 48, 3]},
        "observation.images.wrist": {"dtype": dtype, "shape": [32, 48, 3]},
    }
    (root / "meta" / "info.json").write_text(json.dumps({
        "codebase_version": "v2.1", "fps": 10, "chunks_size": 1000, "features": features,
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/"
                      "episode_{episode_index:06d}.mp4"}))  # fmt: skip
    episodes = [{"episode_index": i, "length": 3, "policy": "slow", "success": i == 0}
                for i in range(2)]  # fmt: skip
    (root / "meta" / "episodes.jsonl").write_text("\n".join(map(json.dumps, episodes)) + "\n")
    colours = [(250, 20, 20), (20, 20, 250)]
    for i in range(2):
        clip = np.zeros((3, 32, 48, 3), np.uint8)
        clip[0] = colours[i]  # the first frame is this episode's colour
        data = {"observation.state": [[0.0] * task.obs_dim] * 3, "episode_index": [i] * 3,
                "frame_index": [0, 1, 2]}  # fmt: skip
        for camera in features:
            if dtype == "image":
                data[camera] = [{"bytes": encode_png(frame), "path": None} for frame in clip]
            else:
                path = root / "videos" / "chunk-000" / camera / f"episode_{i:06d}.mp4"
                path.parent.mkdir(parents=True, exist_ok=True)
                iio.imwrite(path, clip, fps=10, extension=".mp4")
        path = root / "data" / "chunk-000" / f"episode_{i:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(data), path)
    with pytest.raises(ValueError, match="name the camera with --real-camera"):
        read_recorded(root, task, ["slow"], frames=True)
    with pytest.raises(ValueError, match="no camera 'side'"):
        read_recorded(root, task, ["slow"], frames=True, camera="side")
    found = read_recorded(root, task, ["slow"], frames=True, camera="observation.images.top")
    frames = found["slow"].initial_frames.astype(int)
    assert frames.shape == (2, 32, 48, 3)
    tolerance = 0 if dtype == "image" else 12  # a video is compressed
    for i, colour in enumerate(colours):
        assert np.abs(frames[i].mean((0, 1)) - colour).max() <= tolerance
    assert read_recorded(root, task, ["slow"])["slow"].initial_frames is None  # not asked


def test_a_video_of_many_episodes_is_decoded_once_for_all_their_first_frames(tmp_path):
    """LeRobot v3 keeps many episodes in one MP4; each episode's first frame sits at its
    from_timestamp. Frames 0 and 3 (of six, at 10 fps) are the two episodes' starts."""
    import imageio.v3 as iio

    from worldgym.data.recorded import read_video_frames, video_frame

    clip = np.zeros((6, 32, 48, 3), np.uint8)
    clip[0], clip[3] = (250, 20, 20), (20, 20, 250)
    path = tmp_path / "videos" / "cam" / "chunk-000" / "file-000.mp4"
    path.parent.mkdir(parents=True)
    iio.imwrite(path, clip, fps=10, extension=".mp4")
    info = {"fps": 10, "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/"
                                     "file-{file_index:03d}.mp4"}  # fmt: skip
    stored = {"videos/cam/chunk_index": 0, "videos/cam/file_index": 0}
    episodes = [{"episode_index": i, "videos/cam/from_timestamp": start, **stored}
                for i, start in enumerate((0.0, 0.3))]  # fmt: skip
    wanted = [video_frame(tmp_path, info, "cam", episode) for episode in episodes]
    assert wanted == [(path, 0), (path, 3)]
    frames = read_video_frames(tmp_path, wanted)
    assert np.abs(frames[path, 0].mean((0, 1)) - (250, 20, 20)).max() <= 12
    assert np.abs(frames[path, 3].mean((0, 1)) - (20, 20, 250)).max() <= 12
    with pytest.raises(ValueError, match="has no frame 9"):
        read_video_frames(tmp_path, [(path, 9)])
