"""Statistics checked against independent computations (scipy)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from worldgym.evaluation.calibrate import (
    bootstrap_intervals,
    episode_agreement,
    kendall_tau,
    mmrv,
    pearson,
    rate_statistics,
    regret_at_k,
    spearman,
    wilson_interval,
)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_scipy(case):
    successes, trials = case
    low, high = wilson_interval(successes, trials)
    reference = stats.binomtest(successes, trials).proportion_ci(0.95, method="wilson")
    assert low == pytest.approx(reference.low, abs=1e-9)
    assert high == pytest.approx(reference.high, abs=1e-9)


def test_wilson_is_elementwise_and_other_confidences():
    low, high = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 10]), confidence=0.9)
    for index, k in enumerate([0, 5, 10]):
        reference = stats.binomtest(k, 10).proportion_ci(0.9, method="wilson")
        assert low[index] == pytest.approx(reference.low) and high[index] == pytest.approx(
            reference.high
        )


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="0 <= successes <= trials"):
        wilson_interval(5, 3)


@given(st.lists(st.integers(-5, 5), min_size=3, max_size=40))
def test_rank_data_matches_scipy(values):
    from worldgym.evaluation.calibrate import rank_data

    np.testing.assert_allclose(rank_data(values), stats.rankdata(values))


@given(
    st.lists(st.tuples(st.integers(-20, 20), st.floats(-10, 10, allow_nan=False)), min_size=3,
             max_size=40)
)  # fmt: skip
def test_correlations_match_scipy(pairs):
    from worldgym.evaluation.calibrate import pearson, spearman

    x, y = np.array(pairs, dtype=float).T
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert np.isnan(pearson(x, y))
        return
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-9)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-9)


rates = st.lists(
    st.integers(0, 20).map(lambda k: k / 20), min_size=3, max_size=15
)  # success rates on a grid, so ties happen as they do in practice


@given(rates, st.randoms(use_true_random=False))
def test_correlations_on_tied_success_rates_match_scipy(real, random):
    imagined = [min(1.0, max(0.0, r + random.choice([-0.1, 0.0, 0.05, 0.3]))) for r in real]
    x, y = np.array(real), np.array(imagined)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert np.isnan(pearson(x, y)) and np.isnan(kendall_tau(x, y))
        return
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-9)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-9)
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-9)


def test_mmrv_hand_worked():
    real = [0.9, 0.5, 0.1]
    assert mmrv(real, [0.8, 0.6, 0.2]) == 0.0  # same order: no violation
    # Imagination swaps the first two: policy 0 and 1 each see a violated pair worth
    # |0.9 - 0.5| = 0.4; policy 2 none. MMRV = (0.4 + 0.4 + 0) / 3.
    assert mmrv(real, [0.6, 0.8, 0.2]) == pytest.approx(0.8 / 3)
    # Fully reversed: violations 0.8, 0.4 (max of 0.4, 0.4), 0.8 -> 2.0 / 3.
    assert mmrv(real, [0.1, 0.5, 0.9]) == pytest.approx(2.0 / 3)
    # A tie in imagination where reality differs is a violation; equal reals cost nothing.
    assert mmrv([0.5, 0.3], [0.4, 0.4]) == pytest.approx(0.2)
    assert mmrv([0.5, 0.5], [0.9, 0.1]) == 0.0


def test_regret_hand_worked():
    real = [0.9, 0.7, 0.2, 0.1]
    imagined = [0.3, 0.4, 0.8, 0.2]  # imagination's favourite is the 0.2 policy
    assert regret_at_k(real, imagined, 1) == pytest.approx(0.7)
    assert regret_at_k(real, imagined, 3) == pytest.approx(0.0)  # top 3 include 0.9
    assert regret_at_k(real, [0.1, 0.9, 0.8, 0.7], 3) == pytest.approx(0.2)
    assert regret_at_k(real, real, 1) == 0.0


def test_episode_agreement_and_kappa_hand_worked():
    real = np.array([1, 1, 1, 0, 0, 0, 0, 1], bool)
    imagined = np.array([1, 1, 0, 0, 0, 1, 0, 1], bool)
    result = episode_agreement(real, imagined)
    assert result["confusion"] == [[3, 1], [1, 3]]
    assert result["accuracy"] == pytest.approx(0.75)
    # chance agreement: 0.5 * 0.5 + 0.5 * 0.5 = 0.5 -> kappa = (0.75 - 0.5) / 0.5
    assert result["kappa"] == pytest.approx(0.5)
    assert result["false_success"] == 1 and result["false_failure"] == 1


def test_bootstrap_intervals_cover_the_estimate_and_are_reproducible():
    rng = np.random.default_rng(0)
    truth = np.linspace(0.05, 0.95, 8)
    real = rng.random((8, 40)) < truth[:, None]
    imagined = real ^ (rng.random((8, 40)) < 0.1)  # 10% of episodes flipped
    first = bootstrap_intervals(real, imagined, samples=300, seed=1)
    second = bootstrap_intervals(real, imagined, samples=300, seed=1)
    assert first == second
    point = rate_statistics(real.mean(1), imagined.mean(1))
    for name in ("pearson", "spearman", "kendall", "mae"):
        low, high = first[name]
        assert low <= point[name] <= high, name
    assert first["spearman"][0] > 0.5  # a clearly informative imagination
    # Identical worlds: every replicate agrees perfectly.
    same = bootstrap_intervals(real, real, samples=50, seed=0)
    assert same["spearman"] == pytest.approx((1.0, 1.0)) and same["mmrv"] == (0.0, 0.0)


def test_regret_with_ties_in_imagination_is_the_expectation_over_random_picks():
    real = [0.2, 0.9, 0.5, 0.0]
    # All four tied: regret@1 is max - mean(real) = 0.9 - 0.4.
    assert regret_at_k(real, [0.0, 0.0, 0.0, 0.0], 1) == pytest.approx(0.5)
    # Top-2 from 4 tied: E[max of a random pair] over the 6 pairs of {0, .2, .5, .9}:
    # (.2 + .5 + .9 + .5 + .9 + .9) / 6 = 3.9 / 6.
    assert regret_at_k(real, [0.0, 0.0, 0.0, 0.0], 2) == pytest.approx(0.9 - 3.9 / 6)
    # One clear favourite above a tie of two for the remaining slot of top-2.
    assert regret_at_k(real, [0.8, 0.1, 0.1, 0.0], 2) == pytest.approx(0.9 - (0.9 + 0.5) / 2)


def test_gap_interval_is_paired_and_matches_the_normal_approximation():
    from worldgym.evaluation.calibrate import gap_interval

    same = np.arange(40) % 3 == 0
    assert gap_interval(same, same) == (0.0, 0.0)  # the same outcomes: no gap, no doubt
    assert gap_interval(np.zeros(30, bool), np.ones(30, bool)) == (1.0, 1.0)
    rng = np.random.default_rng(0)
    real = rng.random(4000) < 0.6
    imagined = np.where(rng.random(4000) < 0.9, real, ~real)  # 10% of episodes disagree
    difference = imagined.astype(float) - real
    half = stats.norm.ppf(0.975) * difference.std(ddof=1) / np.sqrt(len(difference))
    low, high = gap_interval(real, imagined)
    assert low == pytest.approx(difference.mean() - half, abs=0.003)
    assert high == pytest.approx(difference.mean() + half, abs=0.003)
    assert gap_interval(real, imagined) == (low, high)  # reproducible
