"""MkDocs hooks: the CLI reference is generated from the command line itself."""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-help -->"


def cli_help() -> str:
    """Each subcommand's --help, as it prints it (at 88 columns), one section each."""
    os.environ["COLUMNS"] = "88"
    from worldgym.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sections = []
    for name, sub in commands.choices.items():
        sections.append(f"### worldgym {name}\n\n```text\n{sub.format_help().rstrip()}\n```\n")
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_help())
    return markdown
