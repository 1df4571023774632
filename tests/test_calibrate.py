"""Statistics checked against independent computations (scipy)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from worldgym.calibrate import wilson_interval


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
    from worldgym.calibrate import rank_data

    np.testing.assert_allclose(rank_data(values), stats.rankdata(values))


@given(
    st.lists(st.tuples(st.integers(-20, 20), st.floats(-10, 10, allow_nan=False)), min_size=3,
             max_size=40)
)  # fmt: skip
def test_correlations_match_scipy(pairs):
    from worldgym.calibrate import pearson, spearman

    x, y = np.array(pairs, dtype=float).T
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert np.isnan(pearson(x, y))
        return
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-9)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-9)
