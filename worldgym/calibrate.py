"""Statistics of success rates.

So far the sampling interval of a success rate; the calibration statistics
across policies (correlations, rank violations, regret) join it here.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (low, high) of a binomial success rate.

    Unlike the normal approximation it stays inside [0, 1] and keeps sensible
    width at 0 or n successes, which is where good and bad policies sit.
    Works elementwise on arrays; trials must be positive.
    """
    successes = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    if np.any(trials <= 0) or np.any(successes < 0) or np.any(successes > trials):
        raise ValueError("Wilson interval needs 0 <= successes <= trials and trials > 0.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rate = successes / trials
    denominator = 1 + z**2 / trials
    center = (rate + z**2 / (2 * trials)) / denominator
    half_width = z / denominator * np.sqrt(rate * (1 - rate) / trials + z**2 / (4 * trials**2))
    return np.clip(center - half_width, 0.0, 1.0), np.clip(center + half_width, 0.0, 1.0)


def rank_data(values) -> np.ndarray:
    """Ranks 1..n along the last axis, ties given their average rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if len(unique) < len(values):  # average the ranks within each group of ties
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    return ranks


def pearson(x, y) -> float:
    """Pearson correlation; nan when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x**2).sum() * (y**2).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def spearman(x, y) -> float:
    """Spearman rank correlation (Pearson of average ranks)."""
    return pearson(rank_data(x), rank_data(y))
