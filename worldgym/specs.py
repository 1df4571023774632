"""Naming a user's object by `module:attribute`, and reporting a user's error.

Tasks, policies, behaviour policies and model families can all be named by a
`module:attribute` string, on the command line and in worker processes alike.
"""

from __future__ import annotations

import importlib
from typing import Any


def first_line(error: BaseException) -> str:
    """An exception's message as one sentence-sized line, ending with a full stop."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = text if len(text) <= 200 else text[:197] + "..."
    return text if text.endswith((".", "!", "?")) else text + "."


def is_attribute_spec(text: str) -> bool:
    """Does `text` look like module:attribute (as opposed to a registered name)?"""
    module, colon, attribute = text.partition(":")
    return bool(colon and module and attribute)


def import_attribute(spec: str, what: str) -> Any:
    """The object at `module:attribute` (attribute may be dotted), or one sentence
    saying why it cannot be had; `what` names the kind of object for the message."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a user's module: whatever its import raised
        raise ValueError(
            f"Cannot import module {module_name!r} of {what} {spec!r}: "
            f"{type(error).__name__}: {first_line(error)}"
        ) from None
    value = module
    try:
        for part in attribute.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise ValueError(f"Module {module_name!r} has no attribute {attribute!r}.") from None
    return value
