"""Atomic file and folder writes: a crash leaves the old content or the new, never half.

Everything worldgym writes goes to a temporary path beside the target and is
renamed into place only once complete (a rename within one filesystem is atomic).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _usual_permissions(path: Path) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give the umask's usual ones."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path with `path`'s suffix; on success it replaces `path` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    temp = Path(temp)
    try:
        yield temp
        _usual_permissions(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temp folder; on success it becomes `path`.

    An existing `path` is refused unless `overwrite`; then it is moved aside,
    the new folder renamed in, and the old one deleted, so at every moment
    either the old or the new complete folder sits at `path` (or, after a crash
    between the two renames, beside it as `.<name>.old-*`).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    temp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-{os.getpid()}-"))
    try:
        yield temp
        _usual_permissions(temp)
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
            os.replace(path, old / path.name)
            os.replace(temp, path)
            shutil.rmtree(old)
        else:
            os.replace(temp, path)
    finally:
        if temp.exists():
            shutil.rmtree(temp)


def remove_stale_partials(path: Path) -> list[Path]:
    """Delete the half-written folders that killed runs left beside `path`
    (`.NAME.partial-PID-*` whose process is gone; older unnamed ones too), so an
    interrupted run costs no disk space once the next run for `path` starts."""
    removed = []
    for partial in path.parent.glob(f".{path.name}.partial-*"):
        owner = partial.name.removeprefix(f".{path.name}.partial-").split("-")[0]
        if partial.is_dir() and not (owner.isdigit() and _alive(int(owner))):
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The arrays of an .npz file, or None if it is missing or damaged (a truncated
    or overwritten file): for caches, whose damaged entries are only recomputed."""
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
