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
    regret_interval,
    spearman,
)
from worldgym.evaluation.differences import wilson_interval


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
    # SIMPLER's strict comparisons: a pair imagination ties, where reality differs,
    # is a violation for the policy better in reality only (it was counted for both).
    assert mmrv([0.5, 0.3], [0.4, 0.4]) == pytest.approx(0.2 / 2)
    assert mmrv([0.5, 0.5], [0.9, 0.1]) == 0.0
    # A worked example from SIMPLER's definition, pair by pair:
    # i=0: j=1 (0.5 > 0.5 false, 0.6 > 0.4 true) violated, |0.6 - 0.4| = 0.2;
    # i=1: j=0 (false, false), j=2 (true, true): none; i=2: none. MMRV = 0.2 / 3.
    assert mmrv([0.6, 0.4, 0.1], [0.5, 0.5, 0.2]) == pytest.approx(0.2 / 3)


def simpler_mmrv(real, imagined):
    """SIMPLER's loop, written out over ordered pairs."""
    worst = []
    for i in range(len(real)):
        violations = [abs(real[i] - real[j]) for j in range(len(real))
                      if (imagined[i] > imagined[j]) != (real[i] > real[j])]  # fmt: skip
        worst.append(max(violations, default=0.0))
    return sum(worst) / len(worst)


def test_mmrv_matches_simpler_loop_on_random_rates_with_ties():
    rng = np.random.default_rng(4)
    for _ in range(50):
        real = rng.integers(0, 5, 6) / 4  # coarse rates: many ties on both sides
        imagined = rng.integers(0, 5, 6) / 4
        assert mmrv(real, imagined) == pytest.approx(simpler_mmrv(real, imagined))


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
    assert result.confusion == [[3, 1], [1, 3]]
    assert result.accuracy == pytest.approx(0.75)
    # chance agreement: 0.5 * 0.5 + 0.5 * 0.5 = 0.5 -> kappa = (0.75 - 0.5) / 0.5
    assert result.kappa == pytest.approx(0.5)
    assert result.false_success == 1 and result.false_failure == 1


def test_kappa_rates_only_baseline_is_what_knowing_the_rates_alone_scores():
    """Simulate the rate-only imagination many times: its mean kappa is the baseline."""
    rng = np.random.default_rng(0)
    rates = np.array([0.95, 0.9, 0.5, 0.1, 0.05])
    real = rng.random((5, 400)) < rates[:, None]
    result = episode_agreement(real, real)
    assert result.kappa == 1.0 and result.kappa_beyond_rates == pytest.approx(1.0)
    simulated = [episode_agreement(real, rng.random(real.shape) < real.mean(1, keepdims=True))
                 for _ in range(200)]  # fmt: skip
    baseline = result.kappa_rates_only
    assert baseline > 0.4  # well above 0: rates alone look like skill
    assert np.mean([r.kappa for r in simulated]) == pytest.approx(baseline, abs=0.01)
    assert abs(np.mean([r.kappa_beyond_rates for r in simulated])) < 0.02


def test_regret_interval_does_not_collapse_when_imagination_picks_the_best():
    rng = np.random.default_rng(1)
    real = rng.random((3, 100)) < np.array([[0.9], [0.85], [0.2]])
    low, high = regret_interval(real, real.mean(1), 1)
    assert low == 0.0 and high > 0.05  # the runner-up may be as good
    wrong = regret_interval(real, [0.1, 0.2, 0.9], 1)  # imagination picks the 20% one
    assert wrong[0] > 0.4 and wrong[1] >= regret_at_k(real.mean(1), [0.1, 0.2, 0.9], 1)
    assert regret_interval(real, real.mean(1), 3) == (0.0, 0.0)  # all chosen


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
    # No pair disagrees, yet 40 pairs cannot rule out a few points either way: the
    # score bound is 3.84 / (40 + 3.84) (it was "0 [0, 0]").
    low, high = gap_interval(same, same)
    assert low == pytest.approx(-3.8415 / 43.8415, abs=1e-3) and high == pytest.approx(-low)
    low, high = gap_interval(np.zeros(30, bool), np.ones(30, bool))
    assert high == 1.0 and 0.7 < low < 0.9
    rng = np.random.default_rng(0)
    real = rng.random(4000) < 0.6
    imagined = np.where(rng.random(4000) < 0.9, real, ~real)  # 10% of episodes disagree
    difference = imagined.astype(float) - real
    half = stats.norm.ppf(0.975) * difference.std(ddof=1) / np.sqrt(len(difference))
    low, high = gap_interval(real, imagined)
    assert low == pytest.approx(difference.mean() - half, abs=0.003)
    assert high == pytest.approx(difference.mean() + half, abs=0.003)
    assert gap_interval(real, imagined) == (low, high)  # reproducible


def test_unequal_episode_counts_resample_each_policy_within_its_own():
    """Recordings may hold 30 episodes of one policy and 60 of another: the bootstrap
    resamples each policy's own, and equal counts give the rectangular draws."""
    rng = np.random.default_rng(0)
    truth = np.linspace(0.1, 0.9, 5)
    real = [rng.random(n) < t for n, t in zip((30, 60, 45, 30, 80), truth, strict=True)]
    imagined = [r ^ (rng.random(len(r)) < 0.1) for r in real]
    ragged = bootstrap_intervals(real, imagined, samples=400, seed=2)
    point = rate_statistics([r.mean() for r in real], [s.mean() for s in imagined])
    for name in ("pearson", "spearman", "mae"):
        assert ragged[name][0] <= point[name] <= ragged[name][1], name
    # each policy's replicate rate spreads like its own count's binomial: the MAE of
    # imagination against itself is 0 in every replicate whatever the counts
    assert bootstrap_intervals(real, real, samples=50)["mae"] == (0.0, 0.0)
    square = [r[:30] for r in real], [s[:30] for s in imagined]
    stacked = np.stack(square[0]), np.stack(square[1])
    assert bootstrap_intervals(*square, samples=100, seed=4) == \
        bootstrap_intervals(*stacked, samples=100, seed=4)  # fmt: skip


def test_agreement_of_unequal_counts_is_the_pooled_confusion():
    from worldgym.evaluation.calibrate import kappa_interval

    real = [np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0, 0, 0, 1, 1], bool)]
    imagined = [np.array([1, 0, 0, 0], bool), np.array([1, 0, 0, 1, 0, 0, 1, 1], bool)]
    result = episode_agreement(real, imagined)
    assert result.confusion == [[6, 1], [1, 4]]
    # rates-only baseline by hand: policy 1 (4 episodes, rate 1/2), policy 2 (8, 3/8)
    expected = np.array([[4 * 0.25 + 8 * (5 / 8) ** 2, 4 * 0.25 + 8 * 15 / 64],
                         [4 * 0.25 + 8 * 15 / 64, 4 * 0.25 + 8 * (3 / 8) ** 2]])  # fmt: skip
    observed = np.trace(expected) / 12
    chance = (expected.sum(0) * expected.sum(1)).sum() / 144
    assert result.kappa_rates_only == pytest.approx((observed - chance) / (1 - chance))
    value, (low, high) = kappa_interval(real, imagined, samples=200)
    assert value == result.kappa and low <= value <= high


def test_regret_of_unpaired_policies_uses_independent_intervals():
    rng = np.random.default_rng(1)
    real = [rng.random(50) < 0.9, rng.random(80) < 0.85, rng.random(40) < 0.2]
    rates = [r.mean() for r in real]
    low, high = regret_interval(real, rates, 1, paired=False)
    assert low == 0.0 and high > 0.05
    wrong = regret_interval(real, [0.1, 0.2, 0.9], 1, paired=False)
    assert wrong[0] > 0.4
