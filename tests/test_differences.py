"""Paired differences: score intervals that do not collapse, exact tests, FDR control."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from worldgym.evaluation.differences import (
    benjamini_hochberg,
    paired_difference,
    paired_difference_counts,
    paired_test,
    smallest_detectable,
)


def score_by_optimiser(delta, a_only, b_only, pairs):
    """Tango's score with the constrained MLE found numerically, not in closed form."""
    rest = pairs - a_only - b_only
    low, high = max(0.0, -delta) + 1e-12, (1 - delta) / 2 - 1e-12

    def negative_log_likelihood(q):
        p_a, p_b, p_rest = q + delta, q, 1 - delta - 2 * q
        terms = [(a_only, p_a), (b_only, p_b), (rest, p_rest)]
        return -sum(k * math.log(max(p, 1e-300)) for k, p in terms if k)

    q = optimize.minimize_scalar(negative_log_likelihood, bounds=(low, high),
                                 method="bounded", options={"xatol": 1e-12}).x  # fmt: skip
    return (a_only - b_only - pairs * delta) / math.sqrt(pairs * (2 * q + delta - delta**2))


@pytest.mark.parametrize(
    ("a_only", "b_only", "pairs"), [(0, 0, 100), (5, 1, 100), (10, 2, 30), (3, 3, 50), (0, 7, 40)]
)
def test_tango_interval_is_where_the_score_test_does_not_reject(a_only, b_only, pairs):
    result = paired_difference_counts(a_only, b_only, pairs)
    grid = np.linspace(-0.99, 0.99, 1981)
    kept = [d for d in grid if abs(score_by_optimiser(d, a_only, b_only, pairs)) <= 1.959964]
    assert result.low == pytest.approx(min(kept), abs=2e-3)
    assert result.high == pytest.approx(max(kept), abs=2e-3)


def test_no_discordant_pair_still_leaves_an_interval():
    """The percentile bootstrap said "0 [0, 0]" here."""
    same = np.r_[np.ones(60), np.zeros(40)]
    result = paired_difference(same, same)
    assert result.difference == 0 and result.low < -0.03 and result.high > 0.03


def test_score_interval_covers_at_its_level():
    rng = np.random.default_rng(0)
    covered, runs = 0, 2000
    cells = np.array([0.55, 0.1, 0.03, 0.32])  # a&b, a only, b only, neither
    truth = cells[1] - cells[2]
    for _ in range(runs):
        counts = rng.multinomial(40, cells)
        result = paired_difference_counts(int(counts[1]), int(counts[2]), 40)
        covered += result.low <= truth <= result.high
    assert covered / runs >= 0.935


def test_exact_paired_test_against_the_binomial_sum():
    a = np.r_[np.ones(9), np.zeros(2), np.ones(20)]
    b = np.r_[np.zeros(9), np.ones(2), np.ones(20)]
    # two-sided: twice the smaller tail of Binomial(11, 1/2) at 2
    tail = sum(math.comb(11, k) for k in range(3)) / 2**11
    assert paired_test(a, b) == pytest.approx(2 * tail)
    assert paired_test(np.ones(5), np.ones(5)) == 1.0


def test_benjamini_hochberg_matches_scipy():
    pvalues = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    adjusted = stats.false_discovery_control(pvalues)
    np.testing.assert_array_equal(benjamini_hochberg(pvalues, 0.05), adjusted <= 0.05)
    assert not benjamini_hochberg([0.5, 0.9]).any()


def test_smallest_detectable_difference():
    assert smallest_detectable(20, 0.05) == pytest.approx(6 / 20)  # 2 * 0.5**6 < 0.05
    assert smallest_detectable(100, 0.05) == pytest.approx(0.06)


def test_mismatched_or_non_binary_pairs_are_one_sentence():
    with pytest.raises(ValueError, match="same positive number of episodes"):
        paired_difference([1, 0], [1])
    with pytest.raises(ValueError, match="successes \\(1\\) or failures"):
        paired_difference([0.5, 1], [1, 1])


def test_newcombe_interval_against_the_published_example():
    """Newcombe (Stat. Med. 1998) Table II, example (b): 56/70 - 48/80, method 10
    gives 0.2 [0.0524, 0.3339]."""
    from worldgym.evaluation.differences import independent_difference

    a = np.r_[np.ones(56), np.zeros(14)]
    b = np.r_[np.ones(48), np.zeros(32)]
    difference, low, high = independent_difference(a, b)
    assert difference == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    # 0 of 10 against 0 of 20: a width, not a point
    assert independent_difference(np.zeros(10), np.zeros(20))[1:] != (0.0, 0.0)
    with pytest.raises(ValueError, match="needs episodes on both sides"):
        independent_difference([], [1, 0])


def test_newcombe_interval_covers_at_its_level():
    from worldgym.evaluation.differences import independent_difference

    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(2000):
        a, b = rng.random(30) < 0.7, rng.random(45) < 0.4
        _, low, high = independent_difference(a, b)
        covered += low <= 0.3 <= high
    assert covered / 2000 > 0.93
