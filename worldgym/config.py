"""Config dataclasses as command-line options.

Configs are frozen dataclasses whose fields carry docstrings (a string literal
right after the field). The docstrings become the `--help` text, so the
documentation of an option lives in exactly one place.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import typing
from functools import cache

TASK = ("task",)
"""The positional field of most commands: `worldgym evaluate Push`."""


@cache
def field_docs(cls: type) -> dict[str, str]:
    """{field name: docstring} read from the class source."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, positional=()) -> None:
    """Add one option per field of dataclass `cls` (fields in `positional` become
    positional arguments)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        optional = type(None) in typing.get_args(kind)
        if optional:
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        help_text = docs.get(field.name, "")
        if field.name in positional:
            parser.add_argument(field.name, type=kind, help=help_text)
            continue
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
        elif typing.get_origin(kind) is tuple:
            shown = " ".join(map(str, default))
            parser.add_argument(flag, nargs="+", type=typing.get_args(kind)[0], default=default,
                                help=with_default(help_text, shown))  # fmt: skip
        else:
            shown = "" if default is None else str(default)
            parser.add_argument(flag, type=kind, default=default,
                                help=with_default(help_text, shown))  # fmt: skip


def with_default(help_text: str, shown: str) -> str:
    """The option's help with its default appended, unless the help already says
    what the default is (a default the code resolves later, such as "the task's own
    mixture", is described there) or there is no value to show."""
    if not shown or "default:" in help_text.lower():
        return help_text
    return f"{help_text} (default: {shown})"


def config_from_args(cls: type, args: argparse.Namespace):
    """Build `cls` from parsed arguments."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    return cls(**values)
