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


@pytest.fixture(scope="module")
def whole_session(tiny_run, tmp_path_factory):
    _, run = tiny_run
    tmp_path = tmp_path_factory.mktemp("session")
    said = []
    result = run_session(settings(run, tmp_path, "whole"), slow_task(), Operator(), said.append)
    return run, tmp_path, result, said


@pytest.mark.parametrize("stop_after", [1, 4, 9])
def test_a_killed_session_resumes_with_no_episode_lost_or_run_twice(whole_session, stop_after):
    run, tmp_path, whole, said = whole_session
    assert any(line.startswith("Next: run oracle from reset seed 7000000") for line in said)
    folder = f"cut-{stop_after}"
    with pytest.raises(KeyboardInterrupt):
        run_session(settings(run, tmp_path, folder), slow_task(), Operator(stop_after),
                    lambda _: None)  # fmt: skip
    log = (tmp_path / folder / "episodes.jsonl").read_text().splitlines()
    assert len(log) == stop_after  # every finished episode is on disk, nothing half-written
    assert not (tmp_path / folder / "decision.json").exists()
    resumed = run_session(settings(run, tmp_path, folder), slow_task(), Operator(),
                          lambda _: None)  # fmt: skip
    assert resumed.resumed == stop_after
    assert resumed.decision == whole.decision and resumed.episodes == whole.episodes
    first = [json.loads(line) for line in (tmp_path / "whole" / "episodes.jsonl").open()]
    second = [json.loads(line) for line in (tmp_path / folder / "episodes.jsonl").open()]
    key = [(e["policy"], e["seed"], e["success"]) for e in second]
    assert key == [(e["policy"], e["seed"], e["success"]) for e in first]
    assert len({e["seed"] for e in second}) == len(second)  # none run twice
    decision = json.loads((tmp_path / folder / "decision.json").read_text())
    assert decision["intervals"] == "anytime-valid confidence sequences"


def test_the_sessions_decision_is_estimates_on_the_same_episodes(whole_session):
    """The active loop of `estimate --budget`, fed the session's logged episodes, reaches
    the same decision with the same episodes."""
    import numpy as np

    from worldgym.evaluation.active import Decision, allocate
    from worldgym.evaluation.estimation import decision_outcome
    from worldgym.evaluation.paired import imagined_outcomes, load_policies
    from worldgym.imagination.engine import initial_observations
    from worldgym.seeds import IMAGINED_ONLY
    from worldgym.training.checkpoint import load_world_model

    run, tmp_path, whole, _ = whole_session
    log = [json.loads(line) for line in (tmp_path / "whole" / "episodes.jsonl").open()]
    names = ["oracle", "frozen"]
    served = dict.fromkeys(names, 0)

    def draw(index, count):
        mine = [e for e in log if e["policy"] == names[index]]
        rows = mine[served[names[index]] : served[names[index]] + count]
        served[names[index]] += count
        return (np.array([e["success"] for e in rows], float),
                np.array([e["prediction"] for e in rows]))  # fmt: skip

    task = get_task("Push")
    model = load_world_model(run, task)
    seeds = IMAGINED_ONLY.first + np.arange(20)
    outcomes = imagined_outcomes(model, task, load_policies(task, names),
                                 initial_observations(task, seeds), seeds,
                                 tmp_path / "cache", 1, progress=False)  # fmt: skip
    only = [np.vstack([o.success[None], o.member_success]).mean(axis=0) for o in outcomes]
    result = allocate(draw, only, Decision(None, 0.05), names, 16, 2, 1, 0.95)
    assert decision_outcome(Decision(None, 0.05), result, names) == whole.decision


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
