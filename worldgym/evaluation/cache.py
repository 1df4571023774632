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

import jax
import numpy as np

from worldgym.devices import agree, is_main_process
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


def cached_outcomes(
    folder: Path,
    entries: Sequence[tuple[str, dict]],
    compute: Callable[[list[int]], list[Outcomes]],
) -> list[Outcomes] | None:
    """The Outcomes of every (label, key) entry: from the cache where present, else
    from one call of `compute(indices of the missing entries)`, whose results are
    stored. Returned in the order of `entries`.

    In a multi-process run (worldgym.devices) process 0's cache decides what is
    missing, every process calls `compute` with the same indices (each computes its
    share inside it), and process 0 stores and returns the results; the others get
    None."""
    main = is_main_process()
    paths = [entry_path(folder, label, key) for label, key in entries]
    results = [_load(path) if main else None for path in paths]
    missing = [index for index, result in enumerate(results) if result is None]
    if jax.process_count() > 1:
        flags = agree(np.isin(np.arange(len(entries)), missing))
        missing = [int(index) for index in np.flatnonzero(flags)]
    fresh = compute(missing) if missing else []
    if not main:
        return None
    for index, outcomes in zip(missing, fresh, strict=True):
        _save(paths[index], outcomes)
        results[index] = outcomes
    return results
