"""`worldgym demo`: the main job: collect, train, evaluate, calibrate and report for a task."""

from __future__ import annotations

from worldgym.config import config_from_args
from worldgym.demo import DemoConfig, run_demo
from worldgym.evaluation.model_eval import format_metrics
from worldgym.report import print_headline

NAME = "demo"
HELP = "The main job: collect, train, evaluate, calibrate and report for a task."


CONFIGS = ((DemoConfig, ()),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

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
