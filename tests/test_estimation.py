"""`worldgym estimate`: real episodes paired with imagination, for real, on a tiny model."""

import json

import numpy as np

from worldgym.cli import main
from worldgym.evaluation.estimation import EstimateConfig, estimate


def settings(run, tmp_path, **changes):
    return EstimateConfig(**{
        "task": "Push", "checkpoint": str(run), "policies": ("slow", "noisy"),
        "real_episodes": 4, "imagined_episodes": 30, "cache": str(tmp_path / "cache"),
        "bootstrap": 50, **changes,
    })  # fmt: skip


def test_the_api_estimates_every_policy_both_ways_and_repeats_itself(tiny_run, tmp_path):
    _, run = tiny_run
    first = estimate(settings(run, tmp_path), progress=False)
    assert [p.name for p in first.policies] == ["slow", "noisy"]
    for policy in first.policies:
        assert policy.real_only.real_episodes == policy.powered.real_episodes == 4
        assert 0 <= policy.powered.low <= policy.powered.rate <= policy.powered.high <= 1
        assert 0.0 <= policy.imagined_rate <= 1.0
    assert first.real_episodes == 8 and first.settled is None
    np.testing.assert_allclose(first.beats + first.beats.T, 1.0)
    json.dumps(first.to_dict())  # what metrics.json and scripts store
    again = estimate(settings(run, tmp_path), progress=False)  # from the cache
    assert again.to_dict() == first.to_dict()


def test_the_active_loop_runs_real_episodes_in_batches_and_logs_why(tiny_run, tmp_path):
    _, run = tiny_run
    lines = []
    result = estimate(settings(run, tmp_path, real_episodes=2, budget=10, batch=2),
                      progress=False, report=lines.append)  # fmt: skip
    assert lines[0].startswith("Active: find the best policy")
    assert result.decision.startswith("Best policy: ")
    assert result.real_episodes <= 10
    # it ends settled, or with the budget spent and saying so
    assert result.settled or result.rounds[-1]["why"] == "budget spent"
    assert (result.settled is True) == lines[-1].startswith("settled after")
    assert sum(len(r["ran"]) * 2 for r in result.rounds) == result.real_episodes - 4
    counts = [p.real_only.real_episodes for p in result.policies]
    assert sum(counts) == result.real_episodes and min(counts) >= 2


def test_the_command_prints_the_table(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    code = main(["estimate", "Push", "--checkpoint", str(run), "--policies", "slow", "noisy",
                 "--real-episodes", "3", "--imagined-episodes", "20", "--bootstrap", "50",
                 "--cache", str(tmp_path / "cache")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "| Push policy | real episodes | real-only |" in out and "| slow | 3 |" in out
    assert "P(" in out and "6 real episodes in all, on estimate seeds 4,000,000-4,000,002." in out


def test_bad_settings_on_the_command_line_are_one_sentence(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    code = main(["estimate", "Push", "--checkpoint", str(run), "--budget", "0",
                 "--cache", str(tmp_path / "cache")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--budget is a number of real episodes" in err
    assert err.strip().count("\n") == 0


def test_the_validation_script_refuses_n_beyond_its_ground_truth_in_one_sentence():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "scripts" / "validate_estimates.py"
    result = subprocess.run([sys.executable, str(script), "Push", "--ground-truth", "50"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "validate_estimates: error: --ground-truth must be at least 100 and at least --k."
    )
