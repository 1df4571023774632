"""Outside suites adapted as a lab would: Meta-World v3 (`metaworld`) and
Gymnasium-Robotics' Fetch tasks (`fetch`), registered by name (MetaWorld-reach-v3,
MetaWorld-push-v3, FetchReach-v4, FetchPush-v4) and imported only when used."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(package: str, suite: str) -> ModuleType:
    """Import a suite's package, or say in one sentence how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ValueError(
            f"{suite} is not installed: pip install -e '.[suites]' (it pins its own MuJoCo, "
            "so best in a second virtual environment: `make test-suites` makes .venv-suites)."
        ) from None
