"""One cached-computation helper for rollouts of both worlds.

Each result is one .npz file named after what it is (a policy) and a hash of
everything it depends on (the key), written atomically; a damaged entry is only
recomputed. Deleting the folder forces every rollout to run again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from worldgym.evaluation.outcomes import Outcomes
from worldgym.files import atomic_file, read_npz


def entry_path(folder: Path, label: str, key: dict) -> Path:
    """Where the result for `key` lives: <folder>/<label>-<hash of key>.npz."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(folder) / f"{safe}-{digest}.npz"


def _load(path: Path) -> Outcomes | None:
    arrays = read_npz(path)
    if arrays is None:  # missing, or damaged: only recomputed
        return None
    try:
        return Outcomes.from_arrays(arrays)
    except TypeError:  # an entry without every required field
        return None


def _save(path: Path, outcomes: Outcomes) -> None:
    with atomic_file(path) as temp:
        with open(temp, "wb") as handle:
            np.savez(handle, **outcomes.to_arrays())


def missing_entries(folder: Path, entries: Sequence[tuple[str, dict]]) -> list[int]:
    """The positions of the entries the cache does not hold (or holds damaged)."""
    return [index for index, (label, key) in enumerate(entries)
            if _load(entry_path(folder, label, key)) is None]  # fmt: skip


def cached_outcomes(folder: Path, entries: Sequence[tuple[str, dict]],
                    compute: Callable[[list[int]], list[Outcomes]]) -> list[Outcomes]:  # fmt: skip
    """The Outcomes of every (label, key) entry: from the cache where present, else
    from one call of `compute(indices of the missing entries)`, whose results are
    stored. Returned in the order of `entries`."""
    paths = [entry_path(folder, label, key) for label, key in entries]
    results = [_load(path) for path in paths]
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:
        for index, outcomes in zip(missing, compute(missing), strict=True):
            _save(paths[index], outcomes)
            results[index] = outcomes
    return results
