"""The `worldgym` command, run for real on tiny settings."""

import json
import subprocess
import sys

import imageio.v3 as iio
import pytest

from worldgym.cli import build_parser, main
from worldgym.envs import get_task

SUBCOMMANDS = [
    "tasks", "policies", "collect", "train", "model-eval", "rollout", "bench", "demo", "evaluate",
    "calibrate", "report", "refine", "estimate", "imagine", "compare", "session", "rl",
]  # fmt: skip


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "worldgym.cli", *args], capture_output=True, text=True
    )


def test_help_lists_every_subcommand():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout
    # ...and every subcommand the parser has is one we test.
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    assert sorted(actions[0].choices) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage: worldgym " + name in capsys.readouterr().out


def test_tasks_lists_every_task(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ["Reach", "Push", "PickPlace", "Reacher-v5"]:
        assert name in out


def test_rollout_prints_success_and_writes_a_video(tmp_path, capsys):
    video = tmp_path / "reach.mp4"
    assert main(["rollout", "Reach", "--episodes", "2", "--video", str(video), "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "Reach / oracle: success 100.0% over 2 episodes" in out
    frames = iio.imread(video)
    assert frames.shape[1:] == (64, 64, 3) and frames.std() > 5


def test_unknown_task_is_one_line_on_stderr():
    result = run_cli("rollout", "Pusj", "--episodes", "1")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "Unknown task 'Pusj'" in result.stderr


def test_unknown_policy_is_one_line_on_stderr():
    result = run_cli("rollout", "Push", "--policy", "genius", "--episodes", "1")
    assert result.returncode == 2
    assert "Unknown policy 'genius'" in result.stderr and result.stderr.count("\n") == 1


def test_demo_runs_the_pipeline_end_to_end_and_skips_what_is_done(tmp_path, capsys):
    args = [
        "demo", "--task", "Push", "--root", str(tmp_path), "--collect-episodes", "16",
        "--epochs", "2", "--episodes", "3", "--policies", "oracle", "slow", "random",
        "--oracle-episodes", "1", "--size", "64",
    ]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "real rollouts" in captured.err  # the progress bar of the real rollouts
    frames = iio.imread(tmp_path / "demo" / "Push-oracle.mp4")
    assert len(frames) > 10 and frames.std() > 5
    border = frames[-1, :3].reshape(-1, 3).mean(axis=0)  # green: the oracle succeeded
    assert border[1] > 120 and border[0] < 90, border
    report = tmp_path / "reports" / "push" / "report.html"
    assert report.is_file() and f"report: {report}" in out
    assert "Spearman ρ" in out and "one-step normalised MSE" in out
    assert main(args) == 0  # the second run finds every stage done
    again = capsys.readouterr()
    assert "exists: skipped" in again.out and "is up to date: skipped" in again.out
    assert "real rollouts" not in again.err  # the evaluation came from the cache
    leftovers = [p for p in tmp_path.rglob(".*") if p.is_file()]
    assert not leftovers, f"temp files left: {leftovers}"


def test_demo_compares_families_on_request(tmp_path, capsys):
    """--compare latent: a frame dataset, a latent run and the families section."""
    args = [
        "demo", "--task", "Reach", "--root", str(tmp_path), "--collect-episodes", "40",
        "--epochs", "1", "--episodes", "2", "--policies", "oracle", "random",
        "--oracle-episodes", "0", "--compare", "latent",
    ]  # fmt: skip
    assert main(args) == 0
    assert "the latent family" in capsys.readouterr().out
    frames = tmp_path / "datasets" / "worldgym" / "reach" / "behaviour-v0-frames-64x64"
    assert (frames / "data" / "metadata.json").is_file()
    assert (tmp_path / "models" / "reach-latent" / "best").is_dir()
    metrics = json.loads((tmp_path / "reports" / "reach" / "metrics.json").read_text())
    labels = [model["label"] for model in metrics["families"]["models"]]
    assert labels == ["state-ensemble", "latent"]


def test_runner_bench_measures_the_runner_and_collection_against_a_bare_loop():
    from worldgym.runner_bench import format_runner, measure_runner

    row = measure_runner("Reach", 6, (1, 2))
    assert row.policy == "oracle" and row.own_loop_steps_per_s is None  # a native task
    for rate in (row.bare_steps_per_s, row.collect_bare_steps_per_s,
                 *row.runner_steps_per_s.values(), *row.collect_steps_per_s.values()):  # fmt: skip
        assert rate > 0
    assert set(row.runner_steps_per_s) == {1, 2} and row.runner_first_call_s[2] > 0
    table = format_runner([row])
    assert "| Reach (oracle) |" in table and "runner, 2 workers" in table


def test_bench_measures_every_figure():
    from worldgym.bench import BenchConfig, format_imagination, run_imagination_bench

    config = BenchConfig(tasks=("Reach",), steps=40, frames=5, batch=8, vector_envs=2,
                         imagination_task="Reach", scaling_batches=(1, 16))  # fmt: skip
    row = run_imagination_bench(config)
    for name in ("engine_transitions_per_s", "imagined_env_steps_per_s",
                 "imagined_vector_env_steps_per_s", "real_env_steps_per_s",
                 "matmul_flops_per_s"):  # fmt: skip
        assert row[name] > 0, name
    assert 0 < row["fraction_of_matmul_rate"] and row["flops_per_transition"] > 1e5
    assert "of the machine's rate" in format_imagination(row)
    assert [r["batch"] for r in row["scaling"]] == [1, 16]
    for scaling in row["scaling"]:
        assert scaling["transitions_per_s"] > 0 and scaling["bytes_per_episode"] > 0
    # an episode's outputs alone: observations [H + 1, d] and actions [H, a] in float32
    task = get_task("Reach")
    floor = 4 * ((task.horizon + 1) * task.obs_dim + task.horizon * task.action_dim)
    assert row["scaling"][-1]["bytes_per_episode"] >= floor
    assert "| 16 |" in format_imagination(row)
    training = row["training"]
    assert training["member_samples_per_s"] > 0 and training["flops_per_step"] > 1e6
    assert 0 < training["flops_per_s"] / row["matmul_flops_per_s"] <= 1.5
    assert "member-samples/s" in format_imagination(row)
    parts = training["parts"]  # the profile: forward < gradient < the whole step
    assert 0 < parts["forward"]["flops"] < parts["gradient"]["flops"] <= training["flops_per_step"]
    assert 0 <= training["optimiser_share"] < 1 and "the optimiser adds" in format_imagination(row)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "data", "--out", "run", "--family", "no-such-family"],
         "Unknown world-model family 'no-such-family'"),
        (["collect", "Reacher-v5", "--behaviour", "random=lots"],
         "has weight 'lots', which is not a number"),
        (["collect", "lab_reacher.task:SUCCESS_RADIUS"], "is a float, not a worldgym Task"),
        (["collect", "Reacher-v5", "--behaviour", "perturbed-oracle=1"],
         "perturbs the oracle, but task Reacher-v5 has none"),
        (["evaluate", "Reacher-v5", "--checkpoint", "run"], "Reacher-v5 has no policy zoo"),
        (["policies", "Push", "--measure", "--policies", "lab_reacher.policies:wrong_shape"],
         "returned an action of shape (3,), but task Push expects shape (2,)"),
    ],
)  # fmt: skip
def test_bad_input_through_the_command_line_is_one_line(args, message, capsys, lab_on_path):
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error, error
    assert error.startswith(f"worldgym {args[0]}: error: ") and error.endswith(".")


def test_bench_measures_the_latent_family():
    from worldgym.bench import BenchConfig, format_latent, run_latent_bench

    row = run_latent_bench(BenchConfig(latent_task="Reach", latent_batch=8))
    assert row["engine_transitions_per_s"] > 0 and row["batch"] == 8
    training = row["training"]
    assert training["frames_per_s"] > 0 and training["rollout_steps"] == 4
    assert 0 < training["flops_per_s"] / row["matmul_flops_per_s"] <= 1.5
    assert "frames/s" in format_latent(row) and "latent transitions/s" in format_latent(row)
