"""`worldgym session`: operator-run active evaluation on a slow robot, one episode at a time."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.evaluation.session import SessionConfig, run_session

NAME = "session"
HELP = "Operator-run active evaluation on a slow robot, one episode at a time."


CONFIGS = ((SessionConfig, TASK),)
"""(config class, positional fields) of the options."""


def run(args) -> int:

    result = run_session(config_from_args(SessionConfig, args))
    print(f"decision: {result.folder}/decision.json")
    return 0
