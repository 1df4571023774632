"""The `worldgym` command: one subcommand per pipeline step that exists."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from worldgym.bench import BenchConfig
from worldgym.config import add_config_arguments, config_from_args
from worldgym.data.collect import CollectConfig
from worldgym.demo import DemoConfig
from worldgym.envs.registry import DEFAULT_TASK
from worldgym.evaluation.audit import ImagineConfig
from worldgym.evaluation.comparison import CompareConfig
from worldgym.evaluation.estimation import EstimateConfig
from worldgym.evaluation.model_eval import ModelEvalConfig
from worldgym.evaluation.paired import EvaluateConfig
from worldgym.evaluation.session import SessionConfig
from worldgym.models import DEFAULT_FAMILY, get_family
from worldgym.refine import RefineConfig
from worldgym.report import ReportConfig
from worldgym.rl.ppo import PPOConfig
from worldgym.rl.train import RLConfig
from worldgym.training.train import TrainConfig


@dataclass(frozen=True)
class PoliciesConfig:
    task: str = DEFAULT_TASK
    """Task: a name (see `worldgym tasks`) or module:attribute."""
    measure: bool = False
    """Measure each policy's real success rate (else only list them)."""
    episodes: int = 100
    """Episodes per policy when measuring, from reset seeds seed, seed+1, ..."""
    seed: int = 0
    """First reset seed."""
    workers: int | None = None
    """Worker processes (default: one per core)."""
    policies: tuple[str, ...] = ()
    """Policies to measure: names, set names (zoo, novel) or module:attribute
    (default: the whole zoo)."""


@dataclass(frozen=True)
class RolloutConfig:
    task: str = DEFAULT_TASK
    """Task: a name (see `worldgym tasks`) or module:attribute."""
    policy: str = "oracle"
    """Zoo policy name (see `worldgym policies TASK`) or module:attribute."""
    episodes: int = 50
    """Number of episodes, from reset seeds seed, seed+1, ..."""
    seed: int = 0
    """First reset seed."""
    video: str | None = None
    """If set, write the episodes to this MP4 (or GIF) file."""
    size: int = 256
    """Video width and height in pixels."""


@dataclass(frozen=True)
class CalibrateOptions:
    bootstrap: int = 1000
    """Bootstrap resamples of episodes for the intervals of the statistics."""


def cmd_tasks(args) -> int:
    from worldgym.envs import get_task, task_names
    from worldgym.policies.oracles import oracle_spec
    from worldgym.policies.zoo import has_zoo

    print(f"{'task':<12} {'gymnasium id':<24} {'obs':>4} {'act':>4} {'horizon':>7}  rule")
    for name in task_names():
        try:
            task = get_task(name)
        except ValueError as error:  # a broken plugin is reported, the others still listed
            print(f"{name:<12} cannot be loaded: {error}")
            continue
        rule = "any step (terminates)" if task.terminate_on_success else "final step"
        extras = [label for label, present in (("oracle", oracle_spec(task.name)),
                                               ("zoo", has_zoo(task.name))) if present]  # fmt: skip
        print(
            f"{name:<12} {task.env_id:<24} {task.obs_dim:>4} {task.action_dim:>4} "
            f"{task.horizon:>7}  {rule}" + (f"; has {' and '.join(extras)}" if extras else "")
        )
        print(f"{'':<12} {task.description}")
    return 0


def cmd_policies(args) -> int:
    from worldgym.envs import get_task
    from worldgym.evaluation.measure import format_measurements, measure_policies
    from worldgym.policies import policy_names, zoo
    from worldgym.policies.sets import expand_sets, policy_set, set_names

    config = config_from_args(PoliciesConfig, args)
    task = get_task(config.task)
    specs = expand_sets(task.name, config.policies) if config.policies else \
        tuple(policy_names(task))  # fmt: skip
    if not config.measure:
        if not zoo(task.name):
            print(f"{task.name} has no policy zoo; name policies as module:attribute "
                  "(--policies) to measure or evaluate them.")  # fmt: skip
        for set_name in set_names(task.name):
            print(f"{set_name}:")
            for policy in policy_set(task.name, set_name):
                print(f"  {policy.name:<18} {policy.description}")
        return 0
    if not specs:
        raise ValueError(f"Task {task.name} has no policy zoo: name the policies to measure "
                         "(--policies module:attribute ...).")  # fmt: skip
    rows = measure_policies(task, specs, config.episodes, config.seed, config.workers)
    print(format_measurements(task.name, rows))
    return 0


def cmd_rollout(args) -> int:
    from worldgym.demo import episode_clip
    from worldgym.envs import get_task
    from worldgym.policies import load_policy
    from worldgym.rollouts.real import run_episodes
    from worldgym.video import write_video

    config = config_from_args(RolloutConfig, args)
    task = get_task(config.task)
    policy = load_policy(task.name, config.policy)
    seeds = range(config.seed, config.seed + config.episodes)
    start = time.perf_counter()
    render = config.video is not None
    episodes = run_episodes(task, policy, seeds, render, config.size, config.size)
    seconds = time.perf_counter() - start
    steps = sum(e.length for e in episodes)
    successes = np.mean([e.success for e in episodes])
    returns = np.mean([e.episode_return for e in episodes])
    print(
        f"{task.name} / {policy.name}: success {successes:.1%} over {len(episodes)} episodes, "
        f"mean return {returns:.2f}, {steps / seconds:.0f} steps/s (policy included)"
    )
    if config.video:
        clips = [episode_clip(e.frames, e.success) for e in episodes]
        path = write_video(config.video, np.concatenate(clips), fps=round(1.0 / task.dt))
        print(f"video: {path}")
    return 0


def cmd_demo(args) -> int:
    from worldgym.demo import run_demo
    from worldgym.evaluation.model_eval import format_metrics

    summary = run_demo(config_from_args(DemoConfig, args))
    print()
    if summary["oracle_video"]:
        print(f"oracle video: {summary['oracle_video']}")
    print(format_metrics(summary["model_metrics"]))
    print()
    print_headline(summary["calibration"])
    timing = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in summary["seconds"].items())
    print(f"\nstages: {timing}")
    print(f"report: {summary['report']}")
    return 0


def cmd_evaluate(args) -> int:
    from worldgym.evaluation.paired import evaluate, format_evaluation

    evaluation = evaluate(config_from_args(EvaluateConfig, args))
    print(ELSEWHERE if evaluation is None else format_evaluation(evaluation))
    return 0


def print_headline(calibration: dict) -> None:
    from worldgym.report import headline_rows, verdict

    for label, value in headline_rows(calibration):
        print(f"{label:<22} {value}")
    print()
    print(verdict(calibration))


def cmd_calibrate(args) -> int:
    from worldgym.evaluation.calibrate import calibrate
    from worldgym.evaluation.paired import evaluate

    evaluation = evaluate(config_from_args(EvaluateConfig, args))
    if evaluation is None:
        print(ELSEWHERE)
        return 0
    print_headline(calibrate(evaluation, config_from_args(CalibrateOptions, args).bootstrap))
    return 0


def cmd_report(args) -> int:
    from worldgym.report import make_report

    path, calibration = make_report(
        config_from_args(EvaluateConfig, args), config_from_args(ReportConfig, args)
    )
    print_headline(calibration)
    print(f"\nreport: {path}")
    return 0


def cmd_estimate(args) -> int:
    from worldgym.evaluation.estimation import estimate, format_beats, format_estimates

    estimates = estimate(config_from_args(EstimateConfig, args))
    print(format_estimates(estimates))
    print()
    print(format_beats(estimates))
    print(f"\n{estimates.real_episodes} real episodes in all, on {estimates.seeds}.")
    if estimates.decision:
        print(estimates.decision)
    return 0


def cmd_imagine(args) -> int:
    from worldgym.evaluation.audit import format_judgement, imagine

    print(format_judgement(imagine(config_from_args(ImagineConfig, args))))
    return 0


def cmd_compare(args) -> int:
    from worldgym.evaluation.comparison import compare

    print(compare(config_from_args(CompareConfig, args)).sentence())
    return 0


def cmd_session(args) -> int:
    from worldgym.evaluation.session import run_session

    result = run_session(config_from_args(SessionConfig, args))
    print(f"decision: {result.folder}/decision.json")
    return 0


def cmd_bench(args) -> int:
    from worldgym.bench import (
        format_imagination,
        format_latent,
        format_table,
        run_bench,
        run_imagination_bench,
        run_latent_bench,
    )  # fmt: skip

    config = config_from_args(BenchConfig, args)
    print(format_table(run_bench(config)))
    if config.imagination_task:
        print()
        print(format_imagination(run_imagination_bench(config)))
    if config.latent_task:
        print()
        print(format_latent(run_latent_bench(config)))
    if config.runner_episodes and config.runner_tasks:
        from worldgym.rollouts.workers import default_workers
        from worldgym.runner_bench import format_runner, measure_runner

        workers = (1, max(2, default_workers()))
        rows = [measure_runner(name, config.runner_episodes, workers, config.seed)
                for name in config.runner_tasks]  # fmt: skip
        print()
        print(format_runner(rows))
    return 0


def cmd_collect(args) -> int:
    from worldgym.data.advice import format_advice
    from worldgym.data.collect import collect

    summary = collect(config_from_args(CollectConfig, args))
    print(format_advice(summary["advice"]))
    print(
        f"collected {summary['episodes']} episodes, {summary['transitions']} transitions in "
        f"{summary['seconds']:.1f} s ({summary['transitions_per_second']:.0f} transitions/s) "
        f"-> {summary['path']}"
    )
    return 0


def cmd_train(args) -> int:
    from worldgym.training.train import train

    config = config_from_args(TrainConfig, args)
    family = get_family(config.family)
    summary = train(config, config_from_args(family.Config, args))
    best = summary["best"]
    print(
        f"loaded {summary['transitions']} transitions in {summary['load_seconds']:.2f} s; "
        f"trained {summary['epochs']} epochs"
        + (" (stopped early)" if summary["stopped_early"] else "")
        + f"; best validation loss {best.get('validation_loss', float('nan')):.4f} "
        f"at epoch {best.get('epoch')}; {summary['samples_per_second']:.0f} samples/s "
        f"-> {summary['out']}"
    )
    return 0


def cmd_refine(args) -> int:
    from worldgym.refine import RefineConfig, format_refine, refine

    print(format_refine(refine(config_from_args(RefineConfig, args))))
    return 0


def cmd_rl(args) -> int:
    from worldgym.rl.train import format_check, train_agent

    print(format_check(train_agent(config_from_args(RLConfig, args),
                                   config_from_args(PPOConfig, args))))  # fmt: skip
    return 0


def cmd_model_eval(args) -> int:
    from worldgym.evaluation.model_eval import ModelEvalConfig, evaluate_model, format_metrics

    print(format_metrics(evaluate_model(config_from_args(ModelEvalConfig, args))))
    return 0


def subcommands(family: str = DEFAULT_FAMILY) -> tuple:
    """(name, help, run, ((config class, positional fields), ...)) of every subcommand,
    in the order `worldgym --help` lists them; `train` takes `family`'s own options."""
    task = ("task",)
    return (
        ("tasks", "List the tasks and their spaces.", cmd_tasks, ()),
        ("policies", "List a task's policy zoo; --measure its real success rates.",
         cmd_policies, ((PoliciesConfig, task),)),
        ("collect", "Collect behaviour data from a ground-truth task (Minari dataset).",
         cmd_collect, ((CollectConfig, task),)),
        ("train", "Train a world model on a dataset (resumes an interrupted run).", cmd_train,
         ((TrainConfig, ("dataset",)), (get_family(family).Config, ()))),
        ("model-eval", "How good a world model's predictions are on held-out episodes.",
         cmd_model_eval, ((ModelEvalConfig, ("checkpoint", "dataset")),)),
        ("rollout", "Roll a policy in a ground-truth task; print success and speed.",
         cmd_rollout, ((RolloutConfig, task),)),
        ("evaluate", "Run policies in the real task and in imagination from the same seeds.",
         cmd_evaluate, ((EvaluateConfig, task),)),
        ("calibrate", "How well imagined success predicts real success (statistics).",
         cmd_calibrate, ((EvaluateConfig, task), (CalibrateOptions, ()))),
        ("report", "Evaluate, calibrate and write the HTML/Markdown report with videos.",
         cmd_report, ((EvaluateConfig, task), (ReportConfig, ()))),
        ("estimate", "Real success rates from few real and many imagined episodes (PPI).",
         cmd_estimate, ((EstimateConfig, task),)),
        ("imagine", "Judge policies in imagination, audited by k real episodes each.",
         cmd_imagine, ((ImagineConfig, task),)),
        ("compare", "Is policy A better than B in reality? Paired, with a verdict.",
         cmd_compare, ((CompareConfig, ("task", "a", "b")),)),
        ("session", "Operator-run active evaluation on a slow robot, one episode at a time.",
         cmd_session, ((SessionConfig, task),)),
        ("refine", "Add real episodes of chosen policies to the data, train on, re-evaluate.",
         cmd_refine, ((RefineConfig, task),)),
        ("rl", "Train a PPO agent inside a world model, then check it in both worlds.",
         cmd_rl, ((RLConfig, task), (PPOConfig, ()))),
        ("bench", "Measure throughput on this machine.", cmd_bench, ((BenchConfig, ()),)),
        ("demo", "The main job: collect, train, evaluate, calibrate and report for a task.",
         cmd_demo, ((DemoConfig, ()),)),
    )  # fmt: skip


def build_parser(family: str = DEFAULT_FAMILY) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="worldgym",
        description="Learned world models as Gymnasium environments, calibrated against "
        "MuJoCo ground truth.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, run, configs in subcommands(family):
        command = commands.add_parser(name, help=help_text)
        for config, positional in configs:
            try:
                add_config_arguments(command, config, positional=positional)
            except argparse.ArgumentError as error:
                raise ValueError(
                    f"{config.__name__} has an option that clashes with another of `worldgym "
                    f"{name}`: {error.argument_name}; rename it."
                ) from None
        command.set_defaults(run=run)
        if name == "train":  # a family may start from other training settings
            command.set_defaults(**getattr(get_family(family), "train_defaults", {}))
    return parser


def requested_family(argv: list[str]) -> str:
    """The --family of a `worldgym train` command line (its options depend on it)."""
    if not argv or argv[0] != "train":
        return DEFAULT_FAMILY
    for index, item in enumerate(argv):
        if item == "--family" and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith("--family="):
            return item.split("=", 1)[1]
    return DEFAULT_FAMILY


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(requested_family(argv))
    except ValueError as error:  # an unknown or broken --family
        print(f"worldgym {argv[0]}: error: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        if args.command in JAX_COMMANDS:
            from worldgym.devices import describe_devices, join_processes

            join_processes()
            if jax_processes() > 1 and args.command not in DISTRIBUTED_COMMANDS:
                raise ValueError(
                    f"worldgym {args.command} runs in one process; the multi-process "
                    f"commands are {' and '.join(DISTRIBUTED_COMMANDS)} (they fill the "
                    "cache that a single-process run then reads)."
                )
            print(describe_devices(), flush=True)  # so a user sees at once if GPUs are used
        return args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        if os.environ.get("WORLDGYM_DEBUG"):  # a developer wants the traceback
            raise
        print(f"worldgym {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = INTERRUPTED_KEEPS.get(args.command, "nothing half-written was kept")
        print(f"\nworldgym {args.command}: interrupted; {kept}.", file=sys.stderr)
        return 130


def jax_processes() -> int:
    import jax

    return jax.process_count()


DISTRIBUTED_COMMANDS = ("evaluate", "calibrate")
"""Commands that run as several processes (one per host, see worldgym.devices)."""

ELSEWHERE = "this process imagined its share of the episodes; process 0 prints the results"

JAX_COMMANDS = ("train", "model-eval", "evaluate", "calibrate", "report", "estimate", "imagine",
                "compare", "session", "refine", "rl", "bench", "demo")  # fmt: skip
"""Commands that run JAX work: each starts by naming the devices it uses."""

INTERRUPTED_KEEPS = {
    "collect": "no dataset was written (the workers are stopped, the partial folder removed)",
    "train": "the checkpoints of finished epochs are kept: the same command resumes",
    "demo": "finished stages, training checkpoints and cached rollouts are kept: "
    "`make demo` resumes",
    "refine": "its plan, the episodes it had appended and its training checkpoints are "
    "kept: the same command resumes",
    "rl": "the agent's checkpoints are kept: the same command resumes",
    "session": "every finished episode is in the session folder: the same command resumes",
    **{command: "rollouts cached before are kept: the same command runs only what is missing"
       for command in ("evaluate", "calibrate", "report", "estimate", "policies")},
}  # fmt: skip
"""What an interrupted command leaves, said in its one line."""


if __name__ == "__main__":
    sys.exit(main())
