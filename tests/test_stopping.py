"""Stopping is prompt and leaves nothing behind: Ctrl-C, a killed parent, leftovers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from worldgym.files import atomic_directory


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def start_collect(out: Path) -> subprocess.Popen:
    """A long `worldgym collect` with two workers, in its own process group, with
    Ctrl-C handled as in a terminal; returns once its workers have started."""
    process = subprocess.Popen(
        [sys.executable, "-m", "worldgym.cli", "collect", "Push", "--episodes", "4000",
         "--workers", "2", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(children(process.pid)) < 2:
        time.sleep(0.5)
    time.sleep(3)  # the workers are importing and running their first jobs
    assert process.poll() is None, process.stderr.read()
    return process


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_ctrl_c_stops_collection_with_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "data"
    process = start_collect(out)
    workers = children(process.pid)
    assert len(workers) >= 2
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("worldgym collect: interrupted; no dataset was written")
    time.sleep(1)
    assert not [pid for pid in workers if alive(pid)]
    assert not out.exists() and not list(tmp_path.glob(".data.partial-*"))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    process = start_collect(tmp_path / "data")
    workers = children(process.pid)
    process.kill()
    process.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)]
    # ...and the next run for the same target removes the folder the killed one left.
    assert list(tmp_path.glob(".data.partial-*"))
    with atomic_directory(tmp_path / "data") as folder:
        (folder / "done").write_text("yes")
    assert not list(tmp_path.glob(".data.partial-*"))


def test_only_partial_folders_of_dead_runs_are_removed(tmp_path):
    target = tmp_path / "data"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".data.partial-{dead.pid}-abc123"
    running = tmp_path / f".data.partial-{os.getpid()}-def456"
    legacy = tmp_path / ".data.partial-k2j4h5"  # from before partial folders named their run
    other = tmp_path / f".other.partial-{dead.pid}-abc123"  # another target's
    for folder in (stale, running, legacy, other):
        folder.mkdir()
    with atomic_directory(target) as folder:
        (folder / "done").write_text("yes")
    assert not stale.exists() and not legacy.exists()
    assert running.exists() and other.exists() and (target / "done").is_file()
