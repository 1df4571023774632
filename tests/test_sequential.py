"""Confidence sequences stay valid when the loop that reads them stops when it likes."""

import math

import numpy as np
import pytest

from worldgym.evaluation.active import Decision, allocate
from worldgym.evaluation.sequential import (
    STAKE_CAP,
    bet,
    betting_interval,
    bounds,
    policy_alpha,
    powered_estimate,
    powered_start,
    powered_update,
    real_only_sequence,
    start,
)


def wealth_by_hand(outcomes, m):
    """The two gamblers' log wealth at one candidate mean, written out step by step
    (aGRAPA stakes, truncated at STAKE_CAP of the wealth on the worst outcome in
    [0, 1]): an independent check of the vectorised grid."""
    log_up = log_down = peak_up = peak_down = 0.0
    total = squares = 0.0
    for count, x in enumerate(outcomes):
        mean = (0.5 + total) / (count + 1)
        variance = (0.25 + squares) / (count + 1)
        stake = (mean - m) / (variance + (mean - m) ** 2)
        up = min(max(stake, 0.0), STAKE_CAP / m if m > 0 else math.inf)
        down = min(max(-stake, 0.0), STAKE_CAP / (1 - m) if m < 1 else math.inf)
        log_up += math.log1p(up * (x - m))
        log_down += math.log1p(-down * (x - m))
        peak_up, peak_down = max(peak_up, log_up), max(peak_down, log_down)
        total += x
        squares += (x - mean) ** 2
    return peak_up, peak_down


def test_the_grid_of_gamblers_matches_one_gambler_written_out():
    outcomes = (np.random.default_rng(3).random(60) < 0.3).astype(float)
    state = bet(start(0.05), outcomes)
    for m in (0.1, 0.25, 0.5, 0.8):
        index = int(round(m / (state.grid[1] - state.grid[0])))
        up, down = wealth_by_hand(outcomes, state.grid[index])
        assert state.peak_up[index] == pytest.approx(up, abs=1e-9)
        assert state.peak_down[index] == pytest.approx(down, abs=1e-9)
    low, high = bounds(state)
    assert low < outcomes.mean() < high
    # each bound is the grid point just outside what no gambler has ruled out
    level = math.log(2 / 0.05)
    assert wealth_by_hand(outcomes, low)[0] >= level
    assert wealth_by_hand(outcomes, high)[1] >= level


@pytest.mark.parametrize("rate", [0.5, 0.8, 0.05])
def test_coverage_holds_at_every_look_not_only_at_a_fixed_n(rate):
    """Look after every 5 episodes up to 300 and count a run as wrong if the interval
    ever excludes the truth: a fixed-n interval read this way fails far more than 5%."""
    rng = np.random.default_rng(7)
    ever_wrong, runs = 0, 300
    for _ in range(runs):
        outcomes = (rng.random(300) < rate).astype(float)
        state = start(0.05)
        for first in range(0, 300, 5):
            state = bet(state, outcomes[first : first + 5])
            low, high = bounds(state)
            if not low <= rate <= high:
                ever_wrong += 1
                break
    assert ever_wrong / runs <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / runs)


def test_a_few_agreeing_episodes_leave_a_wide_interval_not_a_point():
    low, high = betting_interval(np.ones(5), 0.05)
    assert high == 1.0 and low < 0.6
    estimate = real_only_sequence(np.zeros(5), 0.05)
    assert estimate.low == 0.0 and estimate.high > 0.4


def test_good_imagination_narrows_the_sequence_and_bad_imagination_costs_little():
    rng = np.random.default_rng(11)
    truth, n = 0.6, 150
    real = (rng.random(n) < truth).astype(float)
    imagined_only = (rng.random(4000) < truth).astype(float)
    alone = real_only_sequence(real, 0.05)
    faithful = powered_estimate(powered_update(powered_start(imagined_only, 0.05), real, real))
    unrelated = (rng.random(n) < truth).astype(float)
    useless = powered_estimate(powered_update(powered_start(imagined_only, 0.05), real,
                                              unrelated))  # fmt: skip
    assert faithful.width < 0.8 * alone.width
    assert faithful.low <= truth <= faithful.high
    assert useless.width < 1.15 * alone.width and useless.power < 0.3


def test_biased_imagination_does_not_move_the_interval_off_the_truth():
    """Imagination 30 points too optimistic on every episode: the rectifier sees it."""
    rng = np.random.default_rng(5)
    missed, runs = 0, 100
    for _ in range(runs):
        real = (rng.random(200) < 0.4).astype(float)
        paired = np.maximum(real, rng.random(200) < 0.5)  # 0.4 + 0.6 * 0.5 = 0.7
        imagined_only = np.maximum(rng.random(1000) < 0.4, rng.random(1000) < 0.5)
        estimate = powered_estimate(powered_update(powered_start(imagined_only, 0.05), real,
                                                   paired))  # fmt: skip
        missed += not estimate.low <= 0.4 <= estimate.high
    assert missed / runs <= 0.06


def test_a_policy_exactly_at_the_threshold_is_rarely_declared_on_either_side():
    """The issue's defect: nominal intervals re-tested every round declared a policy
    whose true rate equals the threshold on one side 35% of the time."""
    rng = np.random.default_rng(2)
    wrong, runs = 0, 200
    for _ in range(runs):

        def draw(index, count):
            real = (rng.random(count) < 0.8).astype(float)
            return real, np.where(rng.random(count) < 0.9, real, 1 - real)

        only = [(rng.random(1000) < 0.8).astype(float)]
        result = allocate(draw, only, Decision(threshold=0.8), ["p"], budget=300, first=5,
                          batch=5)  # fmt: skip
        wrong += result.settled
    assert wrong / runs <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / runs)


def test_multiplicity_splits_the_error_over_policies():
    assert policy_alpha(0.95, 10) == pytest.approx(0.005)
    with pytest.raises(ValueError, match="at least one policy"):
        policy_alpha(0.95, 0)


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [([0.5, float("nan")], "must lie in its range"), ([1.5], "must lie in its range")],
)  # fmt: skip
def test_bad_outcomes_are_one_sentence(outcomes, message):
    with pytest.raises(ValueError, match=message):
        bet(start(0.05), outcomes)
    with pytest.raises(ValueError, match="error rate in"):
        start(1.5)
