"""`worldgym bench`: measure throughput on this machine."""

from __future__ import annotations

from worldgym.bench import (
    BenchConfig,
    format_imagination,
    format_latent,
    format_table,
    run_bench,
    run_imagination_bench,
    run_latent_bench,
)  # fmt: skip
from worldgym.config import config_from_args
from worldgym.rollouts.workers import default_workers
from worldgym.runner_bench import format_runner, measure_runner

NAME = "bench"
HELP = "Measure throughput on this machine."


CONFIGS = ((BenchConfig, ()),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    config = config_from_args(BenchConfig, args)
    print(format_table(run_bench(config)))
    if config.imagination_task:
        print()
        print(format_imagination(run_imagination_bench(config)))
    if config.latent_task:
        print()
        print(format_latent(run_latent_bench(config)))
    if config.runner_episodes and config.runner_tasks:
        workers = (1, max(2, default_workers()))
        rows = [measure_runner(name, config.runner_episodes, workers, config.seed)
                for name in config.runner_tasks]  # fmt: skip
        print()
        print(format_runner(rows))
    return 0
