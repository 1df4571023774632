"""Many devices, one result: the engine shards episodes over all visible devices."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from worldgym.devices import describe_devices

SCRIPT = Path(__file__).parent / "multi_device_rollout.py"


def imagine_on(devices: int, run, out: Path) -> str:
    environment = {**os.environ,
                   "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}  # fmt: skip
    result = subprocess.run([sys.executable, str(SCRIPT), str(run), str(out)],
                            capture_output=True, text=True, env=environment)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[0]


def test_outcomes_do_not_depend_on_the_device_count(tiny_run, tmp_path):
    _, run = tiny_run
    assert imagine_on(1, run, tmp_path / "one.npz") == "devices: 1 × cpu"
    assert imagine_on(4, run, tmp_path / "four.npz") == "devices: 4 × cpu"
    one, four = np.load(tmp_path / "one.npz"), np.load(tmp_path / "four.npz")
    assert sorted(one.files) == sorted(four.files) and len(one.files) == 3 * 2 * 8
    for name in one.files:
        if one[name].dtype == bool:
            np.testing.assert_array_equal(one[name], four[name], err_msg=name)
        else:
            np.testing.assert_allclose(one[name], four[name], rtol=1e-5, atol=1e-6,
                                       err_msg=name)  # fmt: skip


def test_the_device_line_names_the_devices():
    import jax

    platform = jax.devices()[0].platform
    assert describe_devices() == f"devices: {jax.device_count()} × {platform}"


def train_on(devices: int, dataset, run: Path, out: Path) -> None:
    here = Path(__file__).parent
    environment = {**os.environ,
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(here),
                                                               os.environ.get("PYTHONPATH")])),
                   "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}  # fmt: skip
    result = subprocess.run([sys.executable, str(here / "multi_device_training.py"),
                             str(dataset), str(run), str(out)],
                            capture_output=True, text=True, env=environment)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def test_training_on_four_devices_matches_one(tiny_push_dataset, tmp_path):
    """The minibatch is split over the devices and the gradients all-reduced: the same
    parameters up to the order of float additions."""
    train_on(1, tiny_push_dataset, tmp_path / "one", tmp_path / "one.npz")
    train_on(4, tiny_push_dataset, tmp_path / "four", tmp_path / "four.npz")
    one, four = np.load(tmp_path / "one.npz"), np.load(tmp_path / "four.npz")
    assert one.files == four.files
    for name in one.files:
        np.testing.assert_allclose(one[name], four[name], rtol=1e-3, atol=1e-4, err_msg=name)


def ppo_on(devices: int, run, out: Path) -> int:
    environment = {**os.environ,
                   "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}  # fmt: skip
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "multi_device_ppo.py"),
                             str(run), str(out)], capture_output=True, text=True,
                            env=environment)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return int(result.stdout.strip().splitlines()[-1])


def test_ppo_on_four_devices_matches_one(tiny_run, tmp_path):
    """PPO's parallel imagined episodes are split over the devices (each holds a
    quarter of them); the agent it learns is the same up to float summation order."""
    _, run = tiny_run
    assert ppo_on(1, run, tmp_path / "one.npz") == 1
    assert ppo_on(4, run, tmp_path / "four.npz") == 4  # the episodes live on four devices
    one, four = np.load(tmp_path / "one.npz"), np.load(tmp_path / "four.npz")
    assert one.files == four.files
    for name in one.files:
        np.testing.assert_allclose(one[name], four[name], rtol=1e-3, atol=1e-4, err_msg=name)
