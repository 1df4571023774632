"""The `worldgym` command: one subcommand per pipeline step that exists.

Each subcommand lives in its own module of worldgym.commands (its options and its
glue); this module builds the parser from them and runs one, turning bad input
into one sentence and an interrupt into a line that says what was kept.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax

from worldgym.commands import COMMANDS
from worldgym.config import add_config_arguments
from worldgym.devices import describe_devices, join_processes
from worldgym.models import DEFAULT_FAMILY, get_family


def subcommands(family: str = DEFAULT_FAMILY) -> tuple:
    """(name, help, run, ((config class, positional fields), ...)) of every subcommand,
    in the order `worldgym --help` lists them; `train` takes `family`'s own options."""
    family_options = ((get_family(family).Config, ()),)
    return tuple((command.NAME, command.HELP, command.run,
                  command.CONFIGS + (family_options if command.NAME == "train" else ()))
                 for command in COMMANDS)  # fmt: skip


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
            join_processes()
            if jax_processes() > 1 and args.command not in DISTRIBUTED_COMMANDS:
                raise ValueError(
                    f"worldgym {args.command} runs in one process; the multi-process "
                    f"commands are {', '.join(DISTRIBUTED_COMMANDS)} (evaluate and calibrate "
                    "fill the cache that a single-process run then reads)."
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

    return jax.process_count()


DISTRIBUTED_COMMANDS = ("train", "evaluate", "calibrate")
"""Commands that run as several processes (one per host, see worldgym.devices)."""

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
