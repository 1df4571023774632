"""Intervals of success rates and of differences between two of them.

Imagination against reality for one policy, or policy A against policy B in
reality: each seed gives a pair of outcomes, and only the discordant pairs (one
succeeds, the other fails) carry information about the difference. A percentile
bootstrap of such pairs collapses to "0 [0, 0]" when no pair disagrees, though 0
discordant pairs out of 100 still allow a few points either way. Score intervals
do not collapse:

- `paired_difference`: Tango's score interval (Stat. Med. 1998) for the
  difference of paired proportions, found by inverting the score test with the
  constrained maximum-likelihood cell probabilities (closed form);
- `paired_test`: the exact conditional (McNemar) test of "no difference": the
  discordant pairs split as a fair coin would;
- `wilson_interval`: the score interval of one rate (Wilson 1927), the building
  block of `independent_difference`, Newcombe's hybrid score interval (Stat. Med.
  1998, method 10) for two rates measured on different episodes (recordings whose
  policies started from different states);
- `benjamini_hochberg`: which of several such tests to reject with the false
  discovery rate controlled (Benjamini and Hochberg 1995).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy import stats


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
    # Exactly 0 (1) with no successes (failures): rounding would leave the bound 1e-17 off
    # and the interval would miss a true rate of 0 (1).
    low = np.where(successes == 0, 0.0, np.clip(center - half_width, 0.0, 1.0))
    high = np.where(successes == trials, 1.0, np.clip(center + half_width, 0.0, 1.0))
    return low, high


def independent_difference(a, b, confidence: float = 0.95) -> tuple[float, float, float]:
    """mean(a) - mean(b) of two outcome vectors from different episodes (any lengths)
    and Newcombe's hybrid score interval: the Wilson bounds of each rate, combined
    by their distances from the estimates (method 10 of Newcombe 1998)."""
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("A difference of two rates needs episodes on both sides.")
    p, q = a.mean(), b.mean()
    (low_a, high_a), (low_b, high_b) = (wilson_interval(a.sum(), len(a), confidence),
                                        wilson_interval(b.sum(), len(b), confidence))  # fmt: skip
    low = p - q - math.sqrt((p - low_a) ** 2 + (high_b - q) ** 2)
    high = p - q + math.sqrt((high_a - p) ** 2 + (q - low_b) ** 2)
    return float(p - q), max(-1.0, float(low)), min(1.0, float(high))


@dataclass(frozen=True)
class PairedDifference:
    """mean(a) - mean(b) over shared seeds, with its score interval."""

    difference: float
    low: float
    high: float
    a_only: int  # pairs where a succeeds and b fails
    b_only: int  # pairs where b succeeds and a fails
    pairs: int


def discordant_counts(a, b) -> tuple[int, int, int]:
    """(a only, b only, pairs) of two binary outcome vectors over the same seeds."""
    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"A paired difference needs the same positive number of episodes on "
                         f"both sides, got {len(a)} and {len(b)}.")  # fmt: skip
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("Paired outcomes must be successes (1) or failures (0).")
    a, b = a.astype(bool), b.astype(bool)
    return int(np.sum(a & ~b)), int(np.sum(~a & b)), len(a)


def _score(delta: float, a_only: int, b_only: int, pairs: int) -> float:
    """Tango's score statistic for H0: p(a only) - p(b only) = delta."""
    n, b, c = pairs, a_only, b_only
    # Constrained MLE of p(b only) given the difference (the positive root of
    # 2n q^2 - B q - c delta (1 - delta) = 0).
    big_b = (b + c) * (1 - delta) - 2 * delta * (n - b)
    q = (big_b + math.sqrt(max(big_b**2 + 8 * n * c * delta * (1 - delta), 0.0))) / (4 * n)
    q = min(max(q, max(0.0, -delta)), (1 - delta) / 2)
    variance = n * (2 * q + delta - delta**2)
    if variance <= 0:
        return math.copysign(math.inf, b - c - n * delta) if b - c != n * delta else 0.0
    return (b - c - n * delta) / math.sqrt(variance)


def paired_difference(a, b, confidence: float = 0.95) -> PairedDifference:
    """mean(a) - mean(b) and Tango's score interval: every delta the score test at
    1 - confidence does not reject."""
    a_only, b_only, pairs = discordant_counts(a, b)
    return paired_difference_counts(a_only, b_only, pairs, confidence)


def paired_difference_counts(a_only: int, b_only: int, pairs: int,
                             confidence: float = 0.95) -> PairedDifference:  # fmt: skip
    """Tango's interval from the discordant counts alone."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    estimate = (a_only - b_only) / pairs

    def root(inside: float, outside: float, side: float) -> float:
        # The score falls as delta rises: below the estimate it is positive (side +1),
        # above it negative (side -1); bisect for where |score| reaches z.
        for _ in range(60):
            middle = (inside + outside) / 2
            if side * _score(middle, a_only, b_only, pairs) <= z:
                inside = middle
            else:
                outside = middle
        return inside

    low = -1.0 if _score(-1.0 + 1e-12, a_only, b_only, pairs) <= z else root(estimate, -1.0, 1.0)
    high = 1.0 if _score(1.0 - 1e-12, a_only, b_only, pairs) >= -z else root(estimate, 1.0, -1.0)
    return PairedDifference(estimate, low, high, a_only, b_only, pairs)


def paired_test(a, b) -> float:
    """Two-sided exact p-value of "a and b succeed equally often" from the discordant
    pairs (McNemar's exact test); 1 when no pair disagrees."""
    a_only, b_only, _ = discordant_counts(a, b)
    if a_only + b_only == 0:
        return 1.0
    return float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def benjamini_hochberg(pvalues, rate: float = 0.05) -> np.ndarray:
    """Which hypotheses to reject with the false discovery rate at most `rate`."""
    pvalues = np.asarray(pvalues, np.float64)
    count = len(pvalues)
    if count == 0:
        return np.zeros(0, bool)
    order = np.argsort(pvalues)
    passing = pvalues[order] <= rate * np.arange(1, count + 1) / count
    rejected = np.zeros(count, bool)
    if passing.any():
        rejected[order[: int(np.nonzero(passing)[0].max()) + 1]] = True
    return rejected


def smallest_detectable(pairs: int, level: float) -> float:
    """The smallest difference the exact paired test at `level` can detect at all
    with this many pairs: every pair discordant the same way must reach the level,
    so it takes m >= log2(2 / level) such pairs out of `pairs`."""
    needed = math.ceil(math.log2(2.0 / level))
    return min(needed / pairs, 1.0) if pairs else 1.0
