"""Prediction-powered estimates: numerics against hand-worked and independent ones."""

import numpy as np
import pytest
from scipy.stats import binomtest

from worldgym.evaluation.ppi import (
    bootstrap_ranking,
    estimate_rate,
    prediction_powered,
    real_only,
    tuned_power,
)


def test_a_hand_worked_case_without_power_tuning():
    # lambda = 1; with the pseudo-pairs (1, 0) and (0, 1) the rectifier y - f is
    # [0, 1, 0, 0, 1, -1]: mean 1/6, sample variance (102/36)/5. The imagined-only
    # outcomes have mean 5/8 and sample variance 1.875/7.
    real, paired = [1, 1, 0, 1], [1, 0, 0, 1]
    imagined_only = [1, 0, 1, 1, 0, 1, 1, 0]
    estimate = prediction_powered(real, paired, imagined_only, power_tuning=False)
    rate = 5 / 8 + 1 / 6
    half = 1.959963985 * np.sqrt((102 / 36) / 5 / 6 + (1.875 / 7) / 8)
    assert estimate.power == 1.0
    assert estimate.rate == pytest.approx(rate)
    assert estimate.low == pytest.approx(rate - half)
    assert estimate.high == 1.0  # rate + half > 1 is clipped
    assert (estimate.real_episodes, estimate.imagined_episodes) == (4, 8)


def test_the_tuned_power_is_ppi_plus_plus_formula():
    rng = np.random.default_rng(0)
    real = (rng.random(30) < 0.6).astype(float)
    paired = np.where(rng.random(30) < 0.85, real, 1 - real)
    imagined_only = (rng.random(200) < 0.6).astype(float)
    y, f = np.r_[real, 1, 0], np.r_[paired, 0, 1]
    covariance = np.mean((y - y.mean()) * (f - f.mean())) * len(y) / (len(y) - 1)
    spread = np.var(np.r_[f, imagined_only], ddof=1)
    expected = covariance / ((1 + 30 / 200) * spread)
    assert 0 < expected < 1
    assert tuned_power(y, f, imagined_only, 30) == pytest.approx(expected)


def test_with_constant_imagination_it_is_the_wilson_interval():
    real = np.array([1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0], float)
    estimate = estimate_rate(real, np.ones(12), np.ones(500))
    wilson = binomtest(9, 12).proportion_ci(0.95, method="wilson")
    assert estimate.power == 0.0
    assert estimate.rate == pytest.approx(9 / 12)
    assert (estimate.low, estimate.high) == pytest.approx((wilson.low, wilson.high))


def test_uninformative_imagination_is_switched_off_and_gives_the_real_only_estimate():
    real, paired = np.array([1, 1, 0, 0] * 5, float), np.array([1, 0, 1, 0] * 5, float)
    rng = np.random.default_rng(1)
    imagined_only = (rng.random(400) < 0.5).astype(float)
    tuned = prediction_powered(real, paired, imagined_only)
    assert tuned.power == 0.0 and tuned == real_only(real)
    untuned = prediction_powered(real, paired, imagined_only, power_tuning=False)
    assert untuned.width > tuned.width  # forced to lean on it, PPI is worse


def test_no_imagined_only_episodes_means_real_only():
    assert estimate_rate([1, 0, 1], [1, 0, 1], []) == real_only([1, 0, 1])


def synthetic(rng, rate, agreement, n, big_n):
    """Real outcomes, imagined twins that agree with them at the given rate, and
    imagined-only outcomes drawn the same way."""
    real = (rng.random(n + big_n) < rate).astype(float)
    imagined = np.where(rng.random(n + big_n) < agreement, real, 1 - real)
    return real[:n], imagined[:n], imagined[n:]


@pytest.mark.parametrize(
    ("rate", "agreement", "n"), [(0.7, 0.9, 20), (0.5, 0.95, 10), (0.9, 0.7, 40), (0.3, 0.9, 5)]
)
def test_coverage_on_synthetic_bernoulli_data(rate, agreement, n):
    rng = np.random.default_rng(0)
    covered, widths, real_widths = [], [], []
    for _ in range(300):
        real, paired, imagined_only = synthetic(rng, rate, agreement, n, 500)
        estimate = estimate_rate(real, paired, imagined_only)
        covered.append(estimate.low <= rate <= estimate.high)
        widths.append(estimate.width)
        real_widths.append(real_only(real).width)
    assert np.mean(covered) >= 0.93
    if agreement >= 0.9 and n >= 20:  # informative imagination narrows the interval
        assert np.mean(widths) < 0.9 * np.mean(real_widths)


@pytest.mark.parametrize("n", [5, 10, 20, 40])
def test_coverage_holds_where_imagination_is_biased(n):
    """Imagination turns 40% of real failures into successes (+20 points at 50%)."""
    rng = np.random.default_rng(3)
    covered = []
    for _ in range(300):
        real = (rng.random(n + 500) < 0.5).astype(float)
        imagined = np.where(real == 1, 1.0, (rng.random(n + 500) < 0.4).astype(float))
        estimate = estimate_rate(real[:n], imagined[:n], imagined[n:])
        covered.append(estimate.low <= 0.5 <= estimate.high)
    assert np.mean(covered) >= 0.93


def test_bad_outcomes_are_one_sentence():
    for args, message in [
        (([], [], [1]), "at least one real episode"),
        (([1, 0], [1], [1]), "Each real episode needs its imagined twin"),
        (([1, 2], [1, 0], [1]), "must be successes in [0, 1]"),
        (([1, np.nan], [1, 0], [1]), "must be successes in [0, 1]"),
    ]:
        with pytest.raises(ValueError) as error:
            prediction_powered(*args)
        assert message in str(error.value) and "\n" not in str(error.value)


def test_the_ranking_orders_clearly_separated_policies_and_is_consistent():
    rng = np.random.default_rng(2)
    reals, paireds, onlys = [], [], []
    for rate in (0.95, 0.5, 0.05):
        real, paired, only = synthetic(rng, rate, 0.9, 60, 300)
        reals.append(real), paireds.append(paired), onlys.append(only)
    powers = [estimate_rate(r, p, g).power
              for r, p, g in zip(reals, paireds, onlys, strict=True)]  # fmt: skip
    ranking = bootstrap_ranking(reals, paireds, onlys, powers, resamples=300, seed=0)
    np.testing.assert_allclose(ranking.beats + ranking.beats.T, 1.0)
    assert ranking.beats[0, 1] > 0.99 and ranking.beats[1, 2] > 0.99
    np.testing.assert_array_equal(ranking.rank_low, [1, 2, 3])
    np.testing.assert_array_equal(ranking.rank_high, [1, 2, 3])
    again = bootstrap_ranking(reals, paireds, onlys, powers, resamples=300, seed=0)
    np.testing.assert_array_equal(again.beats, ranking.beats)  # same seed, same numbers
