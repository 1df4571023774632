"""Action validation accepts exactly the action space (property-based)."""

import gymnasium
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worldgym.envs.validation import check_action

SPACE = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
finite = st.floats(-1.0, 1.0, allow_nan=False, width=32)


@given(st.lists(finite, min_size=3, max_size=3))
def test_in_bounds_actions_pass_unchanged(values):
    np.testing.assert_array_equal(check_action(values, SPACE, "Env"), np.float64(values))


@given(
    st.lists(finite, min_size=3, max_size=3),
    st.integers(0, 2),
    st.floats(1.001, 1e6) | st.floats(-1e6, -1.001),
)
def test_out_of_bounds_actions_are_rejected(values, index, bad):
    values[index] = bad
    with pytest.raises(ValueError, match="outside its bounds"):
        check_action(values, SPACE, "Env")


@given(st.integers(0, 2), st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_actions_are_rejected(index, bad):
    values = [0.0, 0.0, 0.0]
    values[index] = bad
    with pytest.raises(ValueError, match="non-finite"):
        check_action(values, SPACE, "Env")
