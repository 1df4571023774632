"""What produced an artefact: library versions recorded in datasets and checkpoints."""

from __future__ import annotations

import importlib.metadata
import platform

PACKAGES = (
    "worldgym", "gymnasium", "mujoco", "jax", "flax", "optax", "orbax-checkpoint", "minari",
    "numpy",
)  # fmt: skip


def library_versions(packages=PACKAGES) -> dict[str, str]:
    """{package: installed version} plus the Python version."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
