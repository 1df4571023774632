"""What installs, and that it keeps out of users' way: nothing named envs or policies
in site-packages, users' own modules of those names untouched, old paths kept."""

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_only_the_worldgym_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("worldgym-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"worldgym", wheel.name.split("-py")[0]
                                                      + ".dist-info"}  # fmt: skip
    for needed in ("worldgym/envs/assets/push.xml", "worldgym/policies/weights/index.json",
                   "worldgym/envs/push.py", "worldgym/policies/zoo.py"):  # fmt: skip
        assert needed in names, needed


USER_POLICIES = '''
"""A user's own module called `policies`, as RL projects often have."""
import numpy as np

MINE = True


def towards_goal(obs):
    return np.clip(10 * (obs[11:13] - obs[0:2]), -1, 1)
'''

USER_ENVS = '''
"""A user's own package called `envs`."""
MINE = True
'''

EVALUATE = """
import policies, envs
assert policies.MINE and envs.MINE  # the user's modules, not worldgym's
from worldgym.evaluation.paired import EvaluateConfig, evaluate
result = evaluate(EvaluateConfig(task="Push", checkpoint={run!r}, episodes=2, workers=2,
                                 policies=("oracle", "policies:towards_goal"), cache="cache"),
                  progress=False)
import policies as again
assert again is policies and "worldgym" not in policies.__file__
print({{p.name: (p.real_rate, p.path) for p in result.policies}})
"""


def test_users_modules_named_policies_and_envs_come_first_and_worldgym_still_works(
    tiny_run, tmp_path
):
    (tmp_path / "policies.py").write_text(textwrap.dedent(USER_POLICIES))
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text(textwrap.dedent(USER_ENVS))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", EVALUATE.format(run=str(tiny_run[1]))],
                            cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'oracle': (1.0, 'compiled')" in result.stdout
    assert "'policies:towards_goal':" in result.stdout and "'host')" in result.stdout


@pytest.mark.parametrize("old", ["worldgym.dataset", "worldgym.imagine", "worldgym.evaluate"])
def test_the_old_flat_module_paths_are_gone(old):
    """worldgym 0.2 kept 0.1's flat paths with a warning; 0.3 removed them (CHANGELOG)."""
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
