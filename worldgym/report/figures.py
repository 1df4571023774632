"""The calibration report's figures (PNG, matplotlib without a display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldgym.evaluation.calibrate import Calibration, rank_data
from worldgym.plotting import save_figure, subplots

REAL_COLOUR, IMAGINED_COLOUR = "#1f6feb", "#d1242f"


POINTS_PER_UNIT = 390.0
"""Approximate typographic points per unit of success rate on the scatter's axes."""


def _free_offset(x: float, y: float, text: str, leftwards: bool, placed: list) -> float:
    """A vertical label offset (points) whose box overlaps no label placed so far.

    Greedy and approximate (boxes from the text length at 7 pt), but it keeps
    neighbouring policies' names apart; the chosen box is appended to `placed`.
    """
    width, height = 3.9 * len(text), 8.0
    left = x * POINTS_PER_UNIT + (-4 - width if leftwards else 4)
    for offset in (3, -10, 12, -19, 21, -28, 30, -37):
        bottom = y * POINTS_PER_UNIT + offset
        box = (left, bottom, left + width, bottom + height)
        if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]
               for b in placed):  # fmt: skip
            placed.append(box)
            return offset
    placed.append(box)
    return offset


def plot_scatter(evaluation, path: Path) -> None:
    """Imagined vs real success rate per policy, both 95% intervals, and y = x."""
    figure, axes = subplots(figsize=(6.0, 6.0), dpi=120)
    axes.plot([0, 1], [0, 1], color="#8c959f", linestyle="--", linewidth=1, label="y = x")
    for policy in evaluation.policies:
        real, imagined = policy.real_rate, policy.imagined_rate
        (rl, rh), (il, ih) = policy.interval("real"), policy.interval("imagined")
        colour = REAL_COLOUR if policy.trusted else IMAGINED_COLOUR
        axes.errorbar(
            real, imagined, xerr=[[max(real - rl, 0)], [max(rh - real, 0)]],
            yerr=[[max(imagined - il, 0)], [max(ih - imagined, 0)]], fmt="o", color=colour,
            ecolor="#afb8c1", elinewidth=1, capsize=2, markersize=5,
            markerfacecolor=colour if policy.trusted else "white",
        )  # fmt: skip
    if not all(policy.trusted for policy in evaluation.policies):
        axes.plot([], [], "o", color=REAL_COLOUR, label="trusted")
        axes.plot([], [], "o", color=IMAGINED_COLOUR, markerfacecolor="white",
                  label="not trusted (outside, optimistic or mis-responding)")  # fmt: skip
        axes.legend(loc="upper left", fontsize=8)
    # Policies on the same spot (e.g. several at 100% in both worlds) share one label.
    spots: dict = {}
    for policy in evaluation.policies:
        spot = (round(policy.real_rate, 3), round(policy.imagined_rate, 3))
        spots.setdefault(spot, []).append(policy.name)
    placed: list = []
    for (real, imagined), names in sorted(spots.items()):
        text = ", ".join(names)
        leftwards = real > 0.85 or (real > 0.7 and len(names) > 1)  # stay inside the axes
        offset = _free_offset(real, imagined, text, leftwards, placed)
        axes.annotate(text, (real, imagined), xytext=(-4 if leftwards else 4, offset),
                      textcoords="offset points", fontsize=7, color="#24292f",
                      ha="right" if leftwards else "left")  # fmt: skip
    rate_axes(axes, f"{evaluation.task}: imagined vs real success", " (95% Wilson interval)")
    save_figure(figure, path)


def rate_axes(axes, title: str, note: str = "") -> None:
    """Square axes of real (x) against imagined (y) success rate, 0 to 1."""
    axes.set_xlim(-0.04, 1.04)
    axes.set_ylim(-0.04, 1.04)
    axes.set_xlabel(f"real success rate{note}")
    axes.set_ylabel(f"imagined success rate{note}")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.set_aspect("equal")


def _spread_ties(ranks: np.ndarray) -> np.ndarray:
    """Distinct plotting positions for tied ranks, centred on their shared rank."""
    positions = ranks.astype(np.float64).copy()
    for value in np.unique(ranks):
        members = np.flatnonzero(ranks == value)
        if len(members) > 1:
            positions[members] = value + np.arange(len(members)) - (len(members) - 1) / 2
    return positions


def plot_ranking(evaluation, path: Path) -> None:
    """Bump chart: each policy's rank in reality (left) and in imagination (right)."""

    names = [p.name for p in evaluation.policies]
    real_rank = rank_data([-p.real_rate for p in evaluation.policies])
    imagined_rank = rank_data([-p.imagined_rate for p in evaluation.policies])
    # Tied policies share an average rank; spread them so every label can be read.
    real_rank, imagined_rank = _spread_ties(real_rank), _spread_ties(imagined_rank)
    figure, axes = subplots(figsize=(6.4, 0.32 * len(names) + 1.6), dpi=120)
    for name, left, right in zip(names, real_rank, imagined_rank, strict=True):
        moved = abs(left - right) >= 2
        colour = IMAGINED_COLOUR if moved else "#57606a"
        axes.plot([0, 1], [left, right], color=colour, linewidth=2 if moved else 1, marker="o")
        axes.text(-0.04, left, name, ha="right", va="center", fontsize=8)
        axes.text(1.04, right, name, ha="left", va="center", fontsize=8)
    axes.set_xlim(-0.6, 1.6)
    axes.invert_yaxis()
    axes.set_xticks([0, 1], ["real rank", "imagined rank"])
    axes.set_yticks([])
    axes.set_title("Ranking: reality vs imagination (red: moved 2+ places)")
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    save_figure(figure, path)


def plot_agreement(evaluation, calibration: Calibration, path: Path) -> None:
    """Per-episode confusion matrix and each policy's episode agreement."""
    figure, (left, right) = subplots(
        1, 2, figsize=(9.6, 0.3 * len(evaluation.policies) + 2.4), dpi=120,
        gridspec_kw={"width_ratios": [1, 1.4]},
    )  # fmt: skip
    confusion = np.array(calibration.episodes.confusion)
    left.imshow(confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        colour = "white" if count > confusion.max() / 2 else "#24292f"
        left.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=12)
    left.set_xticks([0, 1], ["imagined fail", "imagined success"])
    left.set_yticks([0, 1], ["real fail", "real success"])
    episodes = calibration.episodes
    left.set_title(f"episodes: accuracy {episodes.accuracy:.0%}, kappa {episodes.kappa:.2f}")
    names = [p.name for p in evaluation.policies]
    agreement = [float((p.real.success == p.imagined.success).mean()) for p in evaluation.policies]
    right.barh(names, agreement, color=REAL_COLOUR)
    right.set_xlim(0, 1)
    right.invert_yaxis()
    right.set_xlabel("episodes where both worlds agree")
    right.tick_params(axis="y", labelsize=8)
    right.grid(True, axis="x", alpha=0.3)
    save_figure(figure, path)


def plot_uncertainty(evaluation, calibration: Calibration, path: Path) -> None:
    """Model uncertainty against error: per policy and per episode."""
    figure, (left, right) = subplots(1, 2, figsize=(9.6, 4.0), dpi=120)
    uncertainty = [float(p.uncertainty.mean()) for p in evaluation.policies]
    error = [abs(p.imagined_rate - p.real_rate) for p in evaluation.policies]
    left.scatter(uncertainty, error, color=REAL_COLOUR)
    for policy, x, y in zip(evaluation.policies, uncertainty, error, strict=True):
        left.annotate(policy.name, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=7)
    trust = calibration.trust_per_policy
    left.set_xlabel("mean ensemble disagreement")
    left.set_ylabel("|imagined - real| success rate")
    left.set_title(f"per policy (Spearman {trust.spearman:.2f})")
    left.grid(True, alpha=0.3)
    agreed = np.concatenate(
        [p.uncertainty[p.real.success == p.imagined.success] for p in evaluation.policies]
    )
    disagreed = np.concatenate(
        [p.uncertainty[p.real.success != p.imagined.success] for p in evaluation.policies]
    )
    bins = np.linspace(0, max(np.concatenate([agreed, disagreed]).max(), 1e-6), 30)
    right.hist(agreed, bins=bins, density=True, alpha=0.6, color=REAL_COLOUR,
               label=f"worlds agree ({len(agreed)})")  # fmt: skip
    if len(disagreed):
        right.hist(disagreed, bins=bins, density=True, alpha=0.6, color=IMAGINED_COLOUR,
                   label=f"worlds disagree ({len(disagreed)})")  # fmt: skip
    trust = calibration.trust_per_episode
    right.set_title(f"per episode (point-biserial r {trust.pearson:.2f})")
    right.set_xlabel("episode's mean ensemble disagreement")
    right.set_ylabel("density")
    right.legend()
    save_figure(figure, path)


def plot_width_curve(budget: dict, path: Path, task: str) -> None:
    """Mean 95% interval width of the real success rate against real episodes per
    policy: real-only and prediction-powered, and the saving at equal width."""
    curve = budget["curve"]
    figure, axes = subplots(figsize=(6.4, 4.2), dpi=120)
    axes.plot(curve["n"], curve["width_real"], "o-", color=REAL_COLOUR, markersize=3,
              label="real episodes only (Wilson)")  # fmt: skip
    axes.plot(curve["n"], curve["width_ppi"], "o-", color=IMAGINED_COLOUR, markersize=3,
              label=f"prediction-powered (+{budget['imagined_only']} imagined)")  # fmt: skip
    axes.axhline(budget["reference_width"], color="#8c959f", linestyle="--", linewidth=1)
    reached = budget["ppi_episodes_for_reference"]
    if reached is not None and reached < budget["episodes"]:
        axes.axvline(reached, color="#8c959f", linestyle=":", linewidth=1)
        axes.annotate(f"same width with {reached} instead of {budget['episodes']}",
                      (reached, budget["reference_width"]), textcoords="offset points",
                      xytext=(6, 8), fontsize=8)  # fmt: skip
    axes.set_xlabel("real episodes per policy")
    axes.set_ylabel("mean width of the 95% interval")
    axes.set_title(f"{task}: how many real episodes do you still need?")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    save_figure(figure, path)
