"""The documentation holds: the site builds strictly, the README's Python example and
the "Bring your robot" walkthrough run as written at tiny sizes, and every
`worldgym` command line in the README and the tutorials parses.

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
    """The shell lines of the tutorial's walkthrough block, continuations joined."""
    page = (ROOT / "docs" / "tutorials" / "bring-your-robot.md").read_text()
    block = re.search(r"```sh\n(.*?)```", page, re.S).group(1)
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
    assert ">host</td>" in page.read_text() and ">compiled</td>" in page.read_text()
    assert list(page.parent.glob("video-*.mp4")), "the report shows real and imagined rollouts"


def code_blocks(path: Path, language: str | None = None) -> list[str]:
    """The fenced code blocks of a Markdown file (of one language, if given), read
    fence by fence so a closing fence is never taken for an opening one."""
    blocks, current, kind = [], None, None
    for line in path.read_text().splitlines():
        if line.startswith("```") and current is None:
            current, kind = [], line[3:].strip()
        elif line.startswith("```"):
            if language is None or kind == language:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_the_readme_python_example_runs(tiny_run, tmp_path):
    """The README's Python block, with the demo's model swapped for a tiny one."""
    (block,) = code_blocks(ROOT / "README.md", "python")
    code = block.replace("runs/models/push", str(tiny_run[1])).replace("episodes=20", "episodes=3")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    value = result.stdout.strip().splitlines()[-1].split(" ", 1)[0]
    assert value == "nan" or -1.0 <= float(value) <= 1.0  # three tiny policies may tie


DOCUMENTED = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def documented_commands() -> list[tuple[str, str]]:
    """Every `worldgym ...` line in the code blocks of the README and the docs."""
    found = []
    for path in DOCUMENTED:
        for block in code_blocks(path):
            for line in block.replace("\\\n", " ").splitlines():
                for part in line.split("  #")[0].split("&&"):
                    part = part.strip()
                    if part.startswith("worldgym ") and "[" not in part and "..." not in part:
                        found.append((path.name, part))
    return found


def test_every_documented_command_line_parses():
    """Not run (they are real sizes), but each must be a command the CLI accepts,
    so the docs cannot drift from the options."""
    from worldgym.cli import build_parser, requested_family

    commands = documented_commands()
    assert len(commands) > 20
    for page, line in commands:
        words = shlex.split(line)[1:]
        parser = build_parser(requested_family(words))
        try:
            parser.parse_args(words)
        except SystemExit:
            pytest.fail(f"{page}: `{line}` does not parse")


def test_the_site_builds_strictly(tmp_path):
    """MkDocs in strict mode: a broken link, a missing page or an API reference to
    nothing fails the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                             str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "worldgym session" in cli and "--real-camera" in cli  # generated from the CLI
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "evaluate" in api and "independent_difference" in api
