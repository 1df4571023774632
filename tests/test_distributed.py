"""Many hosts, one result: `worldgym evaluate` as two local processes joined by
jax.distributed (CPU collectives through gloo) writes exactly what one process writes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from worldgym.devices import join_processes

POLICIES = ["noisy", "jittery", "bc-dart"]  # noise drawn per episode, and an MLP


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def evaluate_command(run, cache: Path) -> list[str]:
    return [sys.executable, "-m", "worldgym", "evaluate", "Push", "--checkpoint", str(run),
            "--episodes", "5", "--policies", *POLICIES, "--cache", str(cache),
            "--workers", "1"]  # fmt: skip


def environment(**extra) -> dict:
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("WORLDGYM_", "JAX_COORDINATOR"))}  # fmt: skip
    return {**base, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", **extra}


def cached_arrays(cache: Path) -> dict:
    files = sorted(cache.rglob("*.npz"))
    return {str(path.relative_to(cache)): dict(np.load(path)) for path in files}


def run_alone(command: list[str]) -> None:
    alone = subprocess.run(command, capture_output=True, text=True, env=environment(),
                           timeout=600)  # fmt: skip
    assert alone.returncode == 0, alone.stderr[-3000:]


def run_as_two_processes(command: list[str]) -> list[tuple[str, str]]:
    """(stdout, stderr) of `command` run as the two processes of one jax.distributed run."""
    address = f"localhost:{free_port()}"
    processes = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(
                WORLDGYM_NUM_PROCESSES="2",
                WORLDGYM_PROCESS_ID=str(i),
                JAX_COORDINATOR_ADDRESS=address,
            ),
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    return outputs


def test_two_processes_write_what_one_process_writes(tiny_run, tmp_path):
    _, run = tiny_run
    run_alone(evaluate_command(run, tmp_path / "one"))
    outputs = run_as_two_processes(evaluate_command(run, tmp_path / "two"))
    first, second = (stdout for stdout, _ in outputs)
    assert "devices: 4 × cpu over 2 processes (this is process 0)" in first
    assert "devices: 4 × cpu over 2 processes (this is process 1)" in second
    assert "| noisy" in first and "| noisy" not in second  # process 0 alone reports
    assert "process 0 prints the results" in second
    # the three real jobs (one per policy) are dealt out: two here, one there
    assert "real rollouts (this process: 2 of 3 jobs)" in outputs[0][1]
    assert "real rollouts (this process: 1 of 3 jobs)" in outputs[1][1]

    one, two = cached_arrays(tmp_path / "one"), cached_arrays(tmp_path / "two")
    assert sorted(one) == sorted(two) and len(one) == 2 * len(POLICIES)  # real and imagined
    for name, arrays in one.items():
        assert sorted(arrays) == sorted(two[name])
        for field, value in arrays.items():
            if value.dtype.kind in "biu":  # outcomes: identical
                np.testing.assert_array_equal(value, two[name][field], err_msg=f"{name} {field}")
            else:
                np.testing.assert_allclose(value, two[name][field], rtol=1e-5, atol=1e-6,
                                           err_msg=f"{name} {field}")  # fmt: skip


def train_command(dataset: Path, run: Path) -> list[str]:
    return [sys.executable, "-m", "worldgym", "train", str(dataset), "--out", str(run),
            "--epochs", "2", "--batch-size", "64", "--warmup-steps", "20",
            "--learning-rate", "3e-3", "--members", "3", "--hidden", "64", "64"]  # fmt: skip


def test_two_processes_train_what_one_process_trains(tiny_push_dataset, tmp_path):
    """Data-parallel over processes: every minibatch split over the four devices of
    two processes, gradients summed across them; the parameters end within 1e-4 of
    one process's (two devices) after the same steps, and process 0 alone writes."""
    from worldgym.envs import get_task
    from worldgym.training.checkpoint import load_world_model

    run_alone(train_command(tiny_push_dataset, tmp_path / "one"))
    outputs = run_as_two_processes(train_command(tiny_push_dataset, tmp_path / "two"))
    first, second = (stdout for stdout, _ in outputs)
    assert "devices: 4 × cpu over 2 processes" in first and "trained 2 epochs" in first
    assert "process 0 wrote the run" in second

    task = get_task("Push")
    one, two = (load_world_model(tmp_path / name, task) for name in ("one", "two"))
    leaves = [jax_leaves(model.params) for model in (one, two)]
    assert len(leaves[0]) == len(leaves[1])
    largest = max(float(np.max(np.abs(a - b))) for a, b in zip(*leaves, strict=True))
    assert largest < 1e-4, largest
    histories = [[json.loads(line)["validation_loss"] for line in
                  (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
                 for name in ("one", "two")]  # fmt: skip
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)


def jax_leaves(tree) -> list[np.ndarray]:
    import jax

    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"WORLDGYM_NUM_PROCESSES": "2", "WORLDGYM_PROCESS_ID": "0"}, "JAX_COORDINATOR_ADDRESS"),
        (
            {
                "WORLDGYM_NUM_PROCESSES": "two",
                "WORLDGYM_PROCESS_ID": "0",
                "JAX_COORDINATOR_ADDRESS": "localhost:1",
            },
            "whole numbers",
        ),  # fmt: skip
        (
            {
                "WORLDGYM_NUM_PROCESSES": "2",
                "WORLDGYM_PROCESS_ID": "2",
                "JAX_COORDINATOR_ADDRESS": "localhost:1",
            },
            "must be in 0…1",
        ),  # fmt: skip
    ],
)
def test_a_malformed_process_description_is_one_sentence(monkeypatch, variables, message):
    for name in ("WORLDGYM_DISTRIBUTED", "WORLDGYM_NUM_PROCESSES", "WORLDGYM_PROCESS_ID",
                 "JAX_COORDINATOR_ADDRESS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        join_processes()


def test_a_single_process_run_joins_nothing(monkeypatch):
    import jax

    monkeypatch.setenv("WORLDGYM_NUM_PROCESSES", "1")
    monkeypatch.setenv("WORLDGYM_PROCESS_ID", "0")
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "localhost:1")
    join_processes()
    assert not jax.distributed.is_initialized() and jax.process_count() == 1
