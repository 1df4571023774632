"""Each command resolves its selection once: the world model is loaded once."""

import pytest

from worldgym.cli import main


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "--episodes", "3"],
        ["calibrate", "--episodes", "3", "--bootstrap", "20"],
        ["report", "--episodes", "3", "--bootstrap", "20", "--imagined-episodes", "5",
         "--no-videos"],
        ["estimate", "--real-episodes", "3", "--imagined-episodes", "5", "--bootstrap", "20"],
        ["imagine", "--imagined-episodes", "5", "--real-episodes", "2"],
    ],
)  # fmt: skip
def test_the_checkpoint_is_loaded_once_per_command(tiny_run, tmp_path, monkeypatch, command):
    from worldgym.training import checkpoint

    loads = []
    real_restore = checkpoint.restore
    monkeypatch.setattr(
        checkpoint, "restore", lambda *a, **k: loads.append(a) or real_restore(*a, **k)
    )
    name, *options = command
    out = ["--out", str(tmp_path / "report")] if name == "report" else []
    code = main([name, "Push", "--checkpoint", str(tiny_run[1]), "--policies", "slow", "noisy",
                 "--cache", str(tmp_path / "cache"), *options, *out])  # fmt: skip
    assert code == 0
    assert len(loads) == 1, f"worldgym {name} loaded its checkpoint {len(loads)} times"
