"""One module per `worldgym` subcommand: its options (config classes), and the glue
from them to the library and back to the terminal (`run`). The command line
(worldgym.cli) lists them in this order."""

from __future__ import annotations

from worldgym.commands import (
    bench,
    calibrate,
    collect,
    compare,
    demo,
    estimate,
    evaluate,
    imagine,
    model_eval,
    policies,
    refine,
    report,
    rl,
    rollout,
    session,
    tasks,
    train,
)

COMMANDS = (
    tasks,
    policies,
    collect,
    train,
    model_eval,
    rollout,
    evaluate,
    calibrate,
    report,
    estimate,
    imagine,
    compare,
    session,
    refine,
    rl,
    bench,
    demo,
)
"""Every subcommand module, in the order `worldgym --help` lists them."""
