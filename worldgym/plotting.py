"""Figures drawn without a display and without pyplot's global state.

A `matplotlib.figure.Figure` is made and saved directly (it brings its own Agg
canvas), so importing worldgym never switches a notebook's backend and no figure
is left open in a long evaluation loop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from worldgym.files import atomic_file


def subplots(*grid: int, figsize: tuple[float, float], dpi: int = 120, **options):
    """(figure, axes) like `pyplot.subplots`, on a figure of our own."""
    figure = Figure(figsize=figsize, dpi=dpi)
    return figure, figure.subplots(*grid, **options)


def save_figure(figure: Figure, path: Path) -> None:
    """Lay the figure out and write it to `path` atomically (its suffix names the format)."""
    figure.tight_layout()
    with atomic_file(path) as temp:
        figure.savefig(temp)


def pixels(figure: Figure) -> np.ndarray:
    """The figure drawn as an RGB array [height, width, 3]."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
