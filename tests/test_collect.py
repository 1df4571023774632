"""Collection into Minari's format: exact round trip, seeds, atomicity, bad input."""

import json

import minari
import numpy as np
import pytest

from worldgym.cli import main
from worldgym.data import collect as collect_module
from worldgym.data.collect import CollectConfig, behaviour_mixture, collect, plan_episodes
from worldgym.data.dataset import load_dataset
from worldgym.envs import get_task


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "push"
    config = CollectConfig(task="Push", episodes=12, out=str(out), workers=1, seed=500)
    return collect(config, progress=False), out


def test_round_trip_through_minari_keeps_every_field(small_dataset):
    """What worldgym loads equals what Minari's own reader returns, field by field."""
    summary, out = small_dataset
    ours = load_dataset(out)
    theirs = minari.MinariDataset(out / "data")
    assert theirs.total_episodes == ours.num_episodes == 12
    assert theirs.total_steps == ours.num_transitions == summary.transitions
    assert theirs.spec.env_spec.id == "worldgym/Push-v0"
    for number, episode in enumerate(theirs.iterate_episodes()):
        mine = ours.episode(number)
        np.testing.assert_array_equal(episode.observations, mine["observations"])
        np.testing.assert_array_equal(episode.actions, mine["actions"])
        np.testing.assert_array_equal(episode.rewards, mine["rewards"])
        np.testing.assert_array_equal(episode.terminations, mine["terminations"])
        np.testing.assert_array_equal(episode.truncations, mine["truncations"])
        np.testing.assert_array_equal(episode.infos["success"], mine["success"])


def test_round_trip_matches_a_fresh_rollout(small_dataset):
    """Each stored episode is exactly what its behaviour policy does from its seed."""
    _, out = small_dataset
    data = load_dataset(out)
    plan = plan_episodes("Push", 12, 500, behaviour_mixture("Push", (), include_zoo=False))
    for number in (0, 7):
        records = collect_module._collect_job(("Push", [plan[number]], None))
        _, record = records[0]
        stored = data.episode(number)
        np.testing.assert_array_equal(stored["observations"], record.observations)
        np.testing.assert_array_equal(stored["actions"], record.actions)
        np.testing.assert_array_equal(stored["rewards"], record.rewards)
        np.testing.assert_array_equal(stored["success"], record.success)
        assert data.behaviours[number] == record.behaviour and data.seeds[number] == 500 + number


def test_reset_seeds_reproduce_the_first_observations(small_dataset):
    _, out = small_dataset
    data = load_dataset(out)
    env = get_task("Push").make_env()
    for number in range(data.num_episodes):
        first = env.reset(seed=int(data.seeds[number]))[0]
        np.testing.assert_array_equal(first, data.observations[data.observation_starts[number]])


def test_flat_transitions_line_up(small_dataset):
    _, out = small_dataset
    data = load_dataset(out)
    transitions = data.transitions()
    step = data.transition_starts[3] + 5
    episode = data.episode(3)
    np.testing.assert_array_equal(transitions["observations"][step], episode["observations"][5])
    np.testing.assert_array_equal(
        transitions["next_observations"][step], episode["observations"][6]
    )
    assert transitions["next_success"][step] == episode["success"][6]
    assert (transitions["episodes"] == 3).sum() == data.episode_lengths[3]
    assert data.truncations.sum() + data.terminations.sum() >= data.num_episodes


def test_dataset_records_its_behaviour_policies_and_no_zoo(small_dataset):
    _, out = small_dataset
    data = load_dataset(out)
    header = data.metadata["worldgym"]
    assert header["include_zoo"] is False and header["task"] == "Push"
    assert set(data.behaviours) <= set(header["behaviour_mixture"])
    assert not any(name.startswith("zoo:") for name in data.behaviours)
    perturbed = json.loads((out / "data" / "0" / "metadata.json").read_text())
    assert perturbed["seed"] == 500


def test_include_zoo_adds_zoo_policies():
    mixture = behaviour_mixture("Push", (), include_zoo=True)
    plan = plan_episodes("Push", 200, 0, mixture)
    assert any(p.behaviour.startswith("zoo:") for p in plan)
    assert sum(mixture.values()) == pytest.approx(1.0)


def test_images_are_recorded(tmp_path):
    out = tmp_path / "pixels"
    collect(CollectConfig(task="Reach", episodes=2, out=str(out), images="32x24", workers=1),
            progress=False)  # fmt: skip
    data = load_dataset(out)
    assert data.images.shape == (len(data.observations), 24, 32, 3)
    assert data.images.std() > 5
    theirs = next(minari.MinariDataset(out / "data").iterate_episodes())
    np.testing.assert_array_equal(
        theirs.observations["pixels"], data.images[: len(theirs.observations["pixels"])]
    )


def test_interrupted_collection_leaves_no_half_written_dataset(tmp_path, monkeypatch):
    out = tmp_path / "push"
    collect(CollectConfig(task="Push", episodes=2, out=str(out), workers=1), progress=False)
    before = load_dataset(out)
    calls = {"count": 0}
    real_job = collect_module._collect_job

    def dies_on_second_job(job):
        calls["count"] += 1
        if calls["count"] == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-collection
        return real_job(job)

    monkeypatch.setattr(collect_module, "_collect_job", dies_on_second_job)
    monkeypatch.setattr(collect_module, "EPISODES_PER_JOB", 5)  # 20 episodes: 4 jobs
    with pytest.raises(KeyboardInterrupt):
        collect(CollectConfig(task="Push", episodes=20, out=str(out), workers=1, overwrite=True),
                progress=False)  # fmt: skip
    after = load_dataset(out)
    assert after.num_episodes == before.num_episodes == 2
    np.testing.assert_array_equal(after.observations, before.observations)
    assert [p.name for p in tmp_path.iterdir()] == ["push"], "temporary folders left behind"


def test_existing_output_is_refused_without_overwrite(small_dataset, capsys):
    _, out = small_dataset
    code = main(["collect", "Push", "--episodes", "1", "--out", str(out)])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("already exists; pass --overwrite to replace it.") and "\n" not in error


@pytest.mark.parametrize("images", ["64", "0x0", "axb"])
def test_bad_image_size(images, tmp_path):
    with pytest.raises(ValueError, match="--images"):
        collect(CollectConfig(task="Push", episodes=1, out=str(tmp_path / "x"), images=images))


def test_loading_a_missing_or_corrupted_dataset(tmp_path, small_dataset):
    with pytest.raises(FileNotFoundError, match="No dataset at"):
        load_dataset(tmp_path / "nothing")
    _, out = small_dataset
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(out, broken)
    (broken / "data" / "3" / "part-0.arrow").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupted episode file"):
        load_dataset(broken)
    shutil.rmtree(broken / "data" / "4")
    with pytest.raises(ValueError, match="incomplete"):
        load_dataset(broken)
