"""The task door: names, module:attribute, run-time registration, entry points."""

import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import worldgym
from worldgym.envs import get_task, register_task, task_names
from worldgym.envs.registry import runtime_registrations, task_spec

sys.path.insert(0, str(Path(__file__).parent))  # the lab's package, as a user's code


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


def test_module_attribute_names_a_task_factory_and_sets_its_spec():
    task = get_task("lab_reacher.task:reacher_task")
    assert task.name == "LabReacher" and task.spec == "lab_reacher.task:reacher_task"
    assert get_task("lab_reacher.task:reacher_task") is task  # resolved once per process
    assert task_spec(task) == task.spec


def test_native_tasks_come_through_the_same_door():
    assert task_names()[:4] == ("Reach", "Push", "PickPlace", "Reacher-v5")
    assert get_task("Push").spec == "Push" and get_task("worldgym/Push-v0") is get_task("Push")


def test_a_task_registered_at_run_time_gets_a_name_and_an_imagined_twin():
    task = replace(get_task("lab_reacher.task:reacher_task"), name="RunTimeReacher", spec="")
    assert register_task(task) == "RunTimeReacher"
    assert get_task("RunTimeReacher").spec == "RunTimeReacher"
    assert "RunTimeReacher" in task_names() and "RunTimeReacher" in runtime_registrations()
    assert "worldgym/RunTimeReacher-imagined-v0" in gymnasium.registry
    register_task(task)  # the same source again is fine
    with pytest.raises(ValueError, match="already registered") as error:
        register_task("lab_reacher.task:reacher_task", "RunTimeReacher")
    assert one_sentence(str(error.value))


def test_a_run_time_task_reaches_worker_processes():
    """Workers rebuild tasks from their specs; run-time registrations travel with them."""
    from worldgym.evaluation.real import real_episodes

    task = replace(get_task("lab_reacher.task:reacher_task"), name="WorkerReacher", spec="")
    register_task(task)
    policies = ["lab_reacher.policies:pd_numpy", "lab_reacher.policies:gentle_jax"]  # 2 jobs
    in_workers = real_episodes(get_task("WorkerReacher"), policies, range(50, 54), workers=2,
                               progress=False)  # fmt: skip
    here = real_episodes(get_task("lab_reacher.task:reacher_task"), policies, range(50, 54),
                         workers=1, progress=False)  # fmt: skip
    for spec in policies:
        np.testing.assert_array_equal(in_workers[spec].observations, here[spec].observations)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Pusj", "Unknown task 'Pusj'; known tasks are Reach, Push"),
        ("no_such_module:task", "Cannot import module 'no_such_module' of task"),
        ("lab_reacher.task:nothing", "Module 'lab_reacher.task' has no attribute 'nothing'"),
        ("lab_reacher.task:SUCCESS_RADIUS", "is a float, not a worldgym Task"),
        ("test_registry:broken_factory", "The task factory 'test_registry:broken_factory' failed"),
        ("test_registry:unmakeable_task", "Cannot make the environment 'NoSuchRobot-v0'"),
    ],
)
def test_bad_task_specs_are_one_sentence(spec, message):
    with pytest.raises(ValueError) as error:
        task = get_task(spec)
        task.make_env()
    assert message in str(error.value)
    assert one_sentence(str(error.value))


def broken_factory():
    raise RuntimeError("the robot is unplugged")


def unmakeable_task():
    return replace(get_task("Push"), name="Unmakeable", env_id="NoSuchRobot-v0", spec="")


def test_a_task_with_unflat_spaces_is_refused():
    with pytest.raises(ValueError, match="needs a flat Box observation space") as error:
        replace(get_task("Push"), observation_space=gymnasium.spaces.Discrete(3))
    assert one_sentence(str(error.value))


ENTRY_POINTS = """\
[worldgym.tasks]
PluginReacher = lab_reacher.task:reacher_task

[worldgym.model_families]
plugin-mlp = lab_reacher.family:family
"""


def install_plugin(folder: Path) -> Path:
    """A distribution whose metadata announces the lab's task and family, as `pip
    install` of a package with entry points would leave it."""
    info = folder / "lab_reacher_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-reacher-plugin\n"
                                   "Version: 0.1\n")  # fmt: skip
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    return folder


def test_installed_packages_announce_tasks_and_families_by_entry_points(tmp_path, monkeypatch):
    from worldgym.models import family_names, get_family

    monkeypatch.syspath_prepend(str(install_plugin(tmp_path)))
    assert "PluginReacher" in task_names()
    task = get_task("PluginReacher")
    assert task.name == "LabReacher" and task.spec == "PluginReacher"
    assert "plugin-mlp" in family_names()
    assert get_family("plugin-mlp").name == "lab-deterministic-mlp"
    worldgym.imagination.env.register_imagined_envs()
    assert "worldgym/PluginReacher-imagined-v0" in gymnasium.registry


def test_an_installed_task_and_family_work_through_the_command_line(tmp_path):
    """The entry-point path end to end: listed, collected and trained by name (with the
    installed family), evaluated in worker processes, imagined through gymnasium.make."""
    import os
    import subprocess

    plugin = install_plugin(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(Path(__file__).parent)])}

    def worldgym_cli(*args):
        result = subprocess.run([sys.executable, "-m", "worldgym.cli", *args], cwd=tmp_path,
                                env=env, capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    assert "PluginReacher" in worldgym_cli("tasks")
    worldgym_cli("collect", "PluginReacher", "--episodes", "6", "--out", "data",
                 "--behaviour", "ou=1")  # fmt: skip
    worldgym_cli("train", "data", "--out", "run", "--family", "plugin-mlp", "--epochs", "1",
                 "--batch-size", "32", "--hidden", "8")  # fmt: skip
    out = worldgym_cli(
        "evaluate",
        "PluginReacher",
        "--checkpoint",
        "run",
        "--episodes",
        "2",
        "--policies",
        "lab_reacher.policies:pd_jax",
        "lab_reacher.policies:pd_numpy",
    )  # two jobs: two worker processes
    assert "| lab_reacher.policies:pd_numpy (host) |" in out
    make = (
        "import gymnasium; env = gymnasium.make('worldgym:worldgym/PluginReacher-imagined-v0', "
        "checkpoint='run'); obs, _ = env.reset(seed=0); print(env.unwrapped.task.name, "
        "env.unwrapped.model.family, obs.shape)"
    )
    result = subprocess.run([sys.executable, "-c", make], cwd=tmp_path, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert result.stdout.strip() == "LabReacher lab-deterministic-mlp (10,)", result.stderr[-2000:]
