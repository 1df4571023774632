"""`worldgym session`: an operator-run active loop on a slow robot, killed and resumed."""

import json
import time
from dataclasses import replace

import gymnasium
import pytest

from worldgym.cli import main
from worldgym.envs import get_task
from worldgym.evaluation.session import LabelsMissing, SessionConfig, run_session


class SlowRobot(gymnasium.Wrapper):
    """A MuJoCo task that takes its time, as a robot does."""

    def step(self, action):
        time.sleep(0.0005)
        return self.env.step(action)


def slow_task():
    """Push behind the wrapper (in this process: the session runs episodes here)."""
    task = get_task("Push")
    inner = task.wrap_env
    return replace(task, wrap_env=lambda env: SlowRobot(inner(env) if inner else env))


class Operator:
    """A scripted person: labels what the task says, and can walk away (be killed)."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = 0, stop_after

    def __call__(self, policy, seed, task_success):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt  # the process is killed mid-episode
        self.calls += 1
        return task_success


def settings(run, tmp_path, folder, **changes):
    return SessionConfig(**{"task": "Push", "checkpoint": str(run),
                            "policies": ("oracle", "frozen"), "budget": 16, "first": 2,
                            "imagined_episodes": 20, "out": str(tmp_path / folder),
                            "cache": str(tmp_path / "cache"), **changes})  # fmt: skip


def test_a_killed_session_resumes_where_it_stopped_and_decides_the_same(tiny_run, tmp_path):
    _, run = tiny_run
    said = []
    whole = run_session(settings(run, tmp_path, "whole"), slow_task(), Operator(), said.append)
    assert any(line.startswith("Next: run oracle from reset seed 7000000") for line in said)
    with pytest.raises(KeyboardInterrupt):
        run_session(settings(run, tmp_path, "cut"), slow_task(), Operator(stop_after=3),
                    lambda _: None)  # fmt: skip
    log = (tmp_path / "cut" / "episodes.jsonl").read_text().splitlines()
    assert len(log) == 3  # every finished episode is on disk, nothing half-written
    assert not (tmp_path / "cut" / "decision.json").exists()
    resumed = run_session(settings(run, tmp_path, "cut"), slow_task(), Operator(),
                          lambda _: None)  # fmt: skip
    assert resumed.resumed == 3
    assert resumed.decision == whole.decision and resumed.episodes == whole.episodes
    first = [json.loads(line) for line in (tmp_path / "whole" / "episodes.jsonl").open()]
    second = [json.loads(line) for line in (tmp_path / "cut" / "episodes.jsonl").open()]
    assert [(e["policy"], e["seed"], e["success"]) for e in first] == \
        [(e["policy"], e["seed"], e["success"]) for e in second]  # fmt: skip
    decision = json.loads((tmp_path / "cut" / "decision.json").read_text())
    assert decision["intervals"] == "anytime-valid confidence sequences"


def test_labels_from_a_file_and_a_missing_label_stops_resumably(tiny_run, tmp_path):
    _, run = tiny_run
    labels = tmp_path / "labels.txt"
    labels.write_text("1\n0\n")
    config = settings(run, tmp_path, "file", label=f"file:{labels}")
    with pytest.raises(LabelsMissing, match="No label yet for episode 3"):
        run_session(config, slow_task(), say=lambda _: None)
    log = [json.loads(line) for line in (tmp_path / "file" / "episodes.jsonl").open()]
    assert [e["success"] for e in log] == [True, False]


def test_resuming_with_other_settings_is_one_sentence(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    run_session(settings(run, tmp_path, "s", budget=4), slow_task(), Operator(), lambda _: None)
    code = main(["session", "Push", "--checkpoint", str(run), "--policies", "oracle", "frozen",
                 "--budget", "8", "--first", "2", "--imagined-episodes", "20", "--out",
                 str(tmp_path / "s"), "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert code == 2 and "was started with other settings (budget)" in capsys.readouterr().err
