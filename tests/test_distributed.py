"""Many hosts, one result: `worldgym evaluate` as two local processes joined by
jax.distributed (CPU collectives through gloo) writes exactly what one process writes."""

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


def test_two_processes_write_what_one_process_writes(tiny_run, tmp_path):
    _, run = tiny_run
    alone = subprocess.run(evaluate_command(run, tmp_path / "one"), capture_output=True,
                           text=True, env=environment(), timeout=600)  # fmt: skip
    assert alone.returncode == 0, alone.stderr[-3000:]

    address = f"localhost:{free_port()}"
    processes = [
        subprocess.Popen(
            evaluate_command(run, tmp_path / "two"),
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
    first, second = (stdout for stdout, _ in outputs)
    assert "devices: 4 × cpu over 2 processes (this is process 0)" in first
    assert "devices: 4 × cpu over 2 processes (this is process 1)" in second
    assert "| noisy" in first and "| noisy" not in second  # process 0 alone reports
    assert "process 0 prints the results" in second

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
