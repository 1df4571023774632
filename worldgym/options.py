"""The options several commands share, each declared once.

A command's config extends the ones it takes instead of copying the field, so an
option has one declaration, one default and one help text (the command line
reads field docstrings through the class hierarchy). What names a world model
and policies builds on these in `worldgym.evaluation.selection`.
"""

from __future__ import annotations

from dataclasses import dataclass

from worldgym.envs.registry import DEFAULT_TASK
from worldgym.paths import RunPaths


@dataclass(frozen=True)
class TaskChoice:
    task: str = DEFAULT_TASK
    """Task: a name (see `worldgym tasks`) or module:attribute."""


@dataclass(frozen=True)
class PolicyNames:
    policies: tuple[str, ...] = ()
    """Policies: names, set names (zoo, novel) or module:attribute (JAX policies, plain
    callables obs -> action, predict() objects or torch modules); default: the task's
    zoo (a task without one needs them)."""


@dataclass(frozen=True)
class Workers:
    workers: int | None = None
    """Worker processes that run the ground-truth task (default: one per core)."""


@dataclass(frozen=True)
class Cache:
    cache: str = str(RunPaths().eval_cache)
    """Folder of cached rollouts; delete it to force re-running them."""


@dataclass(frozen=True)
class Confidence:
    confidence: float = 0.95
    """Confidence level of the intervals (one that stops early: at whatever episode it
    stops)."""


@dataclass(frozen=True)
class Bootstrap:
    bootstrap: int = 1000
    """Bootstrap resamples of episodes for the intervals of the statistics."""
