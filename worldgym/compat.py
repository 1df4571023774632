"""Old module paths, kept importable for one release (worldgym 0.2) with a warning.

worldgym 0.1 was flat (`worldgym.dataset`, `worldgym.imagine`, ...); 0.2 splits
it into subpackages named after the data flow. A finder on `sys.meta_path`
answers an import of an old path with the module at its new path, so existing
user code keeps working and is told where the module went. The top-level
`envs` and `policies` packages cannot be kept: they are what collided with
users' own modules of those names (now `worldgym.envs`, `worldgym.policies`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "worldgym.dataset": "worldgym.data.dataset",
    "worldgym.collect": "worldgym.data.collect",
    "worldgym.parallel": "worldgym.rollouts.workers",
    "worldgym.train": "worldgym.training.train",
    "worldgym.checkpoint": "worldgym.training.checkpoint",
    "worldgym.imagine": "worldgym.imagination.engine",
    "worldgym.env": "worldgym.imagination.env",
    "worldgym.rollout": "worldgym.rollouts.real",
    "worldgym.measure": "worldgym.evaluation.measure",
    "worldgym.evaluate": "worldgym.evaluation.paired",
    "worldgym.calibrate": "worldgym.evaluation.calibrate",
    "worldgym.model_eval": "worldgym.evaluation.model_eval",
    "worldgym.report_figures": "worldgym.report.figures",
    "worldgym.report_videos": "worldgym.report.videos",
}
"""Old module path -> new module path."""


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as the module at its new path, with a warning."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None  # a placeholder module; exec_module swaps in the real one

    def exec_module(self, module):
        new_name = MOVED[module.__name__]
        warnings.warn(
            f"{module.__name__} moved to {new_name}; the old path goes away in worldgym 0.3.",
            DeprecationWarning,
            stacklevel=2,
        )
        # importlib returns whatever sys.modules holds under the name after exec_module.
        sys.modules[module.__name__] = importlib.import_module(new_name)


def install() -> None:
    """Put the finder on sys.meta_path once."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
