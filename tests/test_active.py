"""The active loop: real episodes go where the decision is open; it stops when settled."""

import numpy as np
import pytest

from worldgym.evaluation.active import Decision, allocate, open_policies, parse_threshold
from worldgym.evaluation.estimation import EstimateConfig, check_config
from worldgym.evaluation.ppi import RateEstimate


def sampler(rates, agreement=0.9, seed=0):
    """draw(i, k): k Bernoulli episodes of policy i, imagination agreeing `agreement`."""
    rng = np.random.default_rng(seed)
    drawn = []

    def draw(index, count):
        real = (rng.random(count) < rates[index]).astype(float)
        drawn.append((index, count))
        return real, np.where(rng.random(count) < agreement, real, 1 - real)

    return draw, drawn


def imagined_only(rates, size=400, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.random(size) < rate).astype(float) for rate in rates]


def test_a_clear_best_settles_early_and_only_leader_and_challenger_run():
    rates = [0.95, 0.4, 0.2, 0.1]
    draw, drawn = sampler(rates)
    log = []
    result = allocate(draw, imagined_only(rates), Decision(), ["a", "b", "c", "d"],
                      budget=1000, first=5, batch=5, report=log.append)  # fmt: skip
    assert result.settled and result.spent < 200 and result.leader == 0
    assert drawn[:4] == [(0, 5), (1, 5), (2, 5), (3, 5)]  # the first batch: everyone
    for round_ in result.rounds[:-1]:
        assert len(round_["ran"]) == 2 and "a" in round_["ran"]  # leader and challenger
    assert log[-1].startswith(f"settled after {result.spent} real episodes")


def test_two_equal_policies_spend_the_budget_and_say_it_is_still_open():
    rates = [0.6, 0.6]
    draw, _ = sampler(rates)
    result = allocate(draw, imagined_only(rates), Decision(tolerance=0.0), ["a", "b"],
                      budget=60, first=5, batch=5)  # fmt: skip
    assert not result.settled and result.spent <= 60 and result.spent >= 55
    assert result.rounds[-1]["why"] == "budget spent"


def test_uniform_runs_every_policy_each_round():
    rates = [0.9, 0.5, 0.1]
    draw, drawn = sampler(rates)
    result = allocate(draw, imagined_only(rates), Decision(), ["a", "b", "c"], budget=300,
                      uniform=True)  # fmt: skip
    counts = [len(r) for r in result.real]
    assert counts[0] == counts[1] == counts[2]


def test_a_threshold_runs_only_the_policies_whose_interval_contains_it():
    estimates = [RateEstimate(0.95, 0.9, 0.99, 20, 0, 0.0),
                 RateEstimate(0.75, 0.6, 0.85, 20, 0, 0.0),
                 RateEstimate(0.2, 0.1, 0.3, 20, 0, 0.0)]  # fmt: skip
    chosen, why = open_policies(estimates, Decision(threshold=0.8), ["a", "b", "c"])
    assert chosen == [1] and "contain 80%" in why
    settled, why = open_policies(estimates[::2], Decision(threshold=0.8), ["a", "c"])
    assert settled == [] and "one side of 80%" in why


@pytest.mark.parametrize(
    ("text", "message"),
    [("abc", "--threshold is a success rate between 0 and 1"),
     ("1.5", "strictly between 0 and 1, got 1.5"), ("nan", "strictly between 0 and 1")],
)  # fmt: skip
def test_a_bad_threshold_is_one_sentence(text, message):
    with pytest.raises(ValueError) as error:
        parse_threshold(text)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"budget": 0}, "--budget is a number of real episodes and must be at least 1, got 0"),
     ({"real_episodes": 0}, "--real-episodes must be at least 1"),
     ({"threshold": "0.8"}, "--threshold is the decision of an active run: give --budget"),
     ({"budget": 10, "threshold": "high"}, "--threshold is a success rate"),
     ({"predictor": "oracle"}, "--predictor is one of success, members")],
)  # fmt: skip
def test_bad_estimate_settings_are_one_sentence(changes, message):
    with pytest.raises(ValueError) as error:
        check_config(EstimateConfig(**changes))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_budget_below_the_first_batch_is_one_sentence():
    draw, _ = sampler([0.5, 0.5])
    with pytest.raises(ValueError) as error:
        allocate(draw, imagined_only([0.5, 0.5]), Decision(), ["a", "b"], budget=8, first=5)
    assert "cannot run the first 5 of each of the 2 policies (10)" in str(error.value)


def test_among_equal_estimates_the_best_supported_leads():
    from worldgym.evaluation.active import best_estimate

    few = RateEstimate(1.0, 0.57, 1.0, 5, 0, 0.0)
    many = RateEstimate(1.0, 0.96, 1.0, 90, 0, 0.0)
    assert best_estimate([few, many]) == 1 and best_estimate([many, few]) == 0


def test_an_interval_touching_the_threshold_leaves_it_open():
    touching = [RateEstimate(0.5, 0.3, 0.7, 20, 0, 0.0)]
    chosen, _ = open_policies(touching, Decision(threshold=0.3), ["a"])
    assert chosen == [0]
