"""Bradley-Terry from paired outcomes, checked against a direct likelihood maximisation."""

import numpy as np
import pytest
from scipy import optimize

from worldgym.evaluation.ranking import (
    PRIOR_GAMES,
    bradley_terry,
    paired_ranking,
    pairwise_wins,
)


def log_likelihood(theta, wins):
    """Bradley-Terry log likelihood with the reference pseudo-games, written out."""
    total = 0.0
    for i in range(len(wins)):
        for j in range(len(wins)):
            if i != j and wins[i, j]:
                total += wins[i, j] * (theta[i] - np.logaddexp(theta[i], theta[j]))
        total += PRIOR_GAMES / 2 * (theta[i] - np.logaddexp(theta[i], 0.0))
        total += PRIOR_GAMES / 2 * (0.0 - np.logaddexp(theta[i], 0.0))
    return total


def test_mm_strengths_maximise_the_likelihood():
    rng = np.random.default_rng(0)
    outcomes = rng.random((5, 60)) < np.array([[0.9], [0.7], [0.5], [0.2], [0.0]])
    wins = pairwise_wins(outcomes)
    theta = bradley_terry(wins)
    direct = optimize.minimize(lambda t: -log_likelihood(t, wins), np.zeros(5), method="BFGS",
                               options={"gtol": 1e-9}).x  # fmt: skip
    np.testing.assert_allclose(theta, direct, atol=1e-4)
    assert np.all(np.diff(theta) < 0)  # ordered as the true rates
    assert np.isfinite(theta[-1])  # a policy that never wins keeps a finite strength


def test_wins_count_seeds_where_one_succeeds_and_the_other_fails():
    outcomes = np.array([[1, 1, 0, 0], [1, 0, 1, 0]])
    np.testing.assert_array_equal(pairwise_wins(outcomes), [[0, 1], [1, 0]])


def test_ranking_intervals_and_bad_input():
    rng = np.random.default_rng(1)
    outcomes = rng.random((3, 100)) < np.array([[0.95], [0.5], [0.05]])
    ranking = paired_ranking(["a", "b", "c"], outcomes, resamples=100)
    assert list(ranking.rank_low) == [1, 2, 3] and list(ranking.rank_high) == [1, 2, 3]
    assert np.all(ranking.low <= ranking.strength) and np.all(ranking.strength <= ranking.high)
    with pytest.raises(ValueError, match="outcomes \\[policies, seeds\\]"):
        paired_ranking(["a"], outcomes)
