"""The README's "Bring your own robot" walkthrough runs as written, at tiny sizes.

Each `worldgym` command of the walkthrough is run through the real command line
in a fresh folder, with options appended that shrink its sizes (a later option
wins), and with the lab's package on PYTHONPATH as the walkthrough exports it.
This is also the end-to-end proof of the outside robot: a task, data, policies
and a model family from outside worldgym, named by module:attribute only.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "collect": ["--episodes", "30"],  # two worker jobs: workers rebuild the lab's task
    "train": [
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--warmup-steps",
        "10",
        "--members",
        "2",
        "--hidden",
        "32",
        "32",
    ],  # fmt: skip
    "train --family": ["--epochs", "2", "--batch-size", "64", "--hidden", "16"],
    "model-eval": ["--videos", "1", "--size", "64"],
    "evaluate": ["--episodes", "4"],
    "report": ["--episodes", "4"],
}


def walkthrough() -> list[str]:
    """The shell lines of the README's walkthrough block, continuations joined."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Bring your own robot", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def shrunk(line: str) -> list[str]:
    words = shlex.split(line)
    key = words[1] + (" --family" if "--family" in words else "")
    return [*words, *TINY.get(key, [])]


def test_the_walkthrough_runs_as_written(tmp_path):
    lines = walkthrough()
    assert lines[:3] == ["make setup", ". .venv/bin/activate", "export PYTHONPATH=tests"]
    commands = [line for line in lines[3:]]
    assert all(line.startswith("worldgym ") for line in commands), commands
    bin_dir = str(Path(sys.executable).parent)  # the activated .venv
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"),
           "PATH": bin_dir + os.pathsep + os.environ["PATH"]}  # fmt: skip
    outputs = []
    for line in commands:
        result = subprocess.run(shrunk(line), cwd=tmp_path, env=env, capture_output=True,
                                text=True)  # fmt: skip
        assert result.returncode == 0, f"{line}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout)
    collect, train, model_eval, evaluate, report, train_mlp = outputs
    assert "collected 30 episodes, 1500 transitions" in collect
    assert "trained 2 epochs" in train and "trained 2 epochs" in train_mlp
    assert "one-step normalised MSE" in model_eval
    assert "| lab_reacher.policies:pd_numpy (host) |" in evaluate
    assert "| lab_reacher.policies:gentle_jax (compiled) |" in evaluate
    page = tmp_path / "runs/reports/labreacher/report.html"
    assert f"report: {Path('runs/reports/labreacher/report.html')}" in report and page.is_file()
    assert "<td>host</td>" in page.read_text() and "<td>compiled</td>" in page.read_text()
    assert list(page.parent.glob("video-*.mp4")), "the report shows real and imagined rollouts"
