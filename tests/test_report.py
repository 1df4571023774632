"""The report's words: the verdict says what the numbers say, and no more."""

import numpy as np
import pytest

from worldgym.evaluation.calibrate import Statistic, calibrate
from worldgym.evaluation.outcomes import Outcomes
from worldgym.evaluation.paired import Evaluation, PolicyEvaluation
from worldgym.evaluation.support import PolicySupport
from worldgym.report import verdict

INSIDE = PolicySupport(0.0, 0.0, 0.0)


def evaluation(real_rates, imagined_rates, episodes=20, support=INSIDE) -> Evaluation:
    """Policies whose real and imagined successes hit the given rates exactly, all
    inside the model's experience unless support says otherwise (None: unknown)."""

    def outcomes(rate, imagined):
        success = np.arange(episodes) < round(rate * episodes)
        extra = {"success_probability": success * 1.0, "uncertainty": np.zeros(episodes),
                 "diverged": np.zeros(episodes, bool), "member_success": success[None]} \
            if imagined else {}  # fmt: skip
        return Outcomes(success, np.zeros(episodes), np.zeros((episodes, 2, 1)),
                        np.ones(episodes, int), **extra)  # fmt: skip

    policies = [
        PolicyEvaluation(f"p{i}", "", "compiled", outcomes(r, False), outcomes(s, True), support)
        for i, (r, s) in enumerate(zip(real_rates, imagined_rates, strict=True))
    ]
    return Evaluation("Task", "run", "f" * 64, np.arange(episodes), policies)


def test_the_verdict_names_only_the_errors_there_are():
    under_only = verdict(calibrate(evaluation([0.9, 0.5, 0.2], [0.6, 0.4, 0.2]), 50))
    assert "under-estimate is p0 (-30 points)" in under_only
    assert "over-estimate" not in under_only
    both = verdict(calibrate(evaluation([0.9, 0.5, 0.2], [0.6, 0.7, 0.2]), 50))
    assert "over-estimate is p1 (+20 points)" in both and "under-estimate is p0" in both
    exact = verdict(calibrate(evaluation([0.9, 0.5, 0.2], [0.9, 0.5, 0.2]), 50))
    assert "within half a point of its real one" in exact and "estimate is" not in exact
    assert exact.startswith("Imagination ranks these policies reliably")


def test_the_verdict_reads_the_bounds_not_the_point():
    """The issue's case: MMRV 0.006 [0.004, 0.065] was called "good enough to rank"."""
    from worldgym.report.verdict import ranking_judgement

    rates = {"spearman": Statistic(0.98, (0.95, 0.99)), "mmrv": Statistic(0.006, (0.004, 0.065))}
    text = ranking_judgement(rates, 100)
    assert text.startswith("Imagination probably ranks these policies well")
    assert "MMRV's upper bound 0.065" in text and "real episodes per policy" in text
    rates["mmrv"] = Statistic(0.006, (0.004, 0.03))
    assert ranking_judgement(rates, 100).startswith("Imagination ranks these policies reliably")
    rates["spearman"] = Statistic(0.8, (0.6, 0.9))
    assert ranking_judgement(rates, 100).startswith("Imagination is probably useful for coarse")


def test_the_verdict_says_when_support_could_not_be_checked():
    unknown = calibrate(evaluation([0.9, 0.5, 0.2], [0.9, 0.5, 0.2], support=None), 50)
    assert unknown.support_checked is False and unknown.scope == "all"
    assert verdict(unknown).startswith("No policy was checked against the model's experience")
    known = calibrate(evaluation([0.9, 0.5, 0.2], [0.9, 0.5, 0.2]), 50)
    assert known.support_checked is True and "No policy was checked" not in verdict(known)


def test_the_verdict_ranks_trusted_policies_and_names_the_flagged_ones():
    from dataclasses import replace

    base = evaluation([0.9, 0.5, 0.2, 1.0], [0.9, 0.5, 0.2, 0.1])
    inside, outside = PolicySupport(0.01, 0.0, 0.01), PolicySupport(0.3, 0.1, 0.25)
    policies = [replace(p, support=inside) for p in base.policies[:3]]
    policies.append(replace(base.policies[3], support=outside))
    flagged = calibrate(replace(base, policies=policies, task_spec="Task"), 50)
    assert flagged.scope == "trusted" and flagged.policies == 3
    assert flagged.rates["mae"].value == 0.0  # the three trusted ones are exact
    assert flagged.all_policies["mae"].value == pytest.approx(0.9 / 4)
    text = verdict(flagged)
    assert text.startswith("1 policy goes outside the model's experience, so its imagined "
                           "success is not trusted: p3 (30% of steps outside).")  # fmt: skip
    assert "`worldgym refine Task --checkpoint run --policies p3 --real-episodes 20`" in text
    assert "it ranks these 3 trusted Task policies" in text


def test_the_verdict_names_an_optimistic_policy_apart_from_outside_ones():
    """A policy optimised against the model: its steps look familiar, its imagined
    successes rest on uncertain episodes; the verdict says so and how many remain."""
    from dataclasses import replace

    base = evaluation([0.9, 0.5, 0.2, 0.6], [0.9, 0.5, 0.2, 0.9])
    exploiting = PolicySupport(0.02, 0.01, 0.01, unsupported_success=0.6)
    policies = [*base.policies[:3], replace(base.policies[3], support=exploiting)]
    calibration = calibrate(replace(base, policies=policies, task_spec="Task"), 50)
    assert calibration.flagged[0].optimistic and not calibration.flagged[0].outside
    text = verdict(calibration)
    assert text.startswith(
        "1 policy is optimistic, its imagined success more than the model's "
        "own uncertainty supports: p3 (60% of its episodes are imagined "
        "successes along which the model is less sure than along 99.5%"
    )
    assert "30% succeed within its experience, against 90% imagined" in text
    assert "goes outside the model's experience" not in text
    assert "--policies p3 --real-episodes 20" in text and "3 trusted Task policies" in text


def test_the_support_label_names_each_reason_not_to_trust():
    from worldgym.evaluation.paired import support_label

    def label(support):
        return support_label({**support.summary()})

    assert label(PolicySupport(0.01, 0.0, 0.01, 0.02)) == (
        "trusted (1% of steps outside, 2% of episodes unsupported successes)"
    )
    assert label(PolicySupport(0.3, 0.1, 0.25)) == "OUTSIDE (30% of steps outside)"
    assert label(PolicySupport(0.02, 0.0, 0.02, 0.6)) == (
        "OPTIMISTIC (60% of episodes unsupported successes)"
    )
    assert label(PolicySupport(0.2, 0.1, 0.1, 0.2)) == (
        "OUTSIDE (20% of steps outside), OPTIMISTIC (20% of episodes unsupported successes)"
    )
    assert support_label({"trusted": True}) == "unknown"
