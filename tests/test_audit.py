"""`worldgym imagine`: policies judged in imagination, audited by a few real episodes."""

import numpy as np
import pytest

from worldgym.cli import main
from worldgym.evaluation.audit import (
    ImagineConfig,
    audit_policies,
    check_config,
    format_judgement,
    imagine,
)


def test_a_confidently_wrong_imagination_is_caught_and_not_used():
    """The outside-suite case: imagined 88%, real 5%, trusted by the model itself."""
    rng = np.random.default_rng(0)
    real_wrong = (rng.random(20) < 0.05).astype(float)
    imagined_wrong = np.r_[np.ones(18), np.zeros(2), (rng.random(180) < 0.88)]
    real_right = np.r_[np.ones(14), np.zeros(6)]
    imagined_right = np.r_[real_right, (rng.random(180) < 0.7)]
    rows = audit_policies(["aims-off", "expert"], [real_wrong, real_right],
                          [imagined_wrong, imagined_right], [imagined_wrong, imagined_right],
                          [True, True])  # fmt: skip
    wrong, right = rows
    assert wrong.contradicted and wrong.p_value < 0.001 and wrong.verdict == "CONTRADICTED"
    source, rate, low, high = wrong.use
    assert source == "prediction-powered" and high < 0.5  # never imagination's 88%
    assert not right.contradicted and right.use[0] == "imagination"
    assert right.gap.low < 0 < right.gap.high  # agreeing pairs leave an interval, not 0


def test_untrusted_policies_use_the_audited_estimate_even_when_consistent():
    real = np.r_[np.ones(10), np.zeros(10)]
    rows = audit_policies(["p"], [real], [np.r_[real, np.ones(30)]], [np.r_[real, np.ones(30)]],
                          [False])  # fmt: skip
    assert not rows[0].contradicted and rows[0].use[0] == "prediction-powered"


def test_the_false_discovery_rate_holds_when_imagination_is_right():
    """Imagination exact in distribution (independent draws at the true rate): flags
    must be rare over many simulated zoos of 10 policies."""
    rng = np.random.default_rng(1)
    flagged, zoos = 0, 300
    for _ in range(zoos):
        rates = rng.uniform(0.1, 0.9, 10)
        real = [(rng.random(20) < r).astype(float) for r in rates]
        imagined = [(rng.random(100) < r).astype(float) for r in rates]
        rows = audit_policies([str(i) for i in range(10)], real, imagined, imagined,
                              [True] * 10)  # fmt: skip
        flagged += any(row.contradicted for row in rows)
    assert flagged / zoos <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / zoos)


def test_imagine_runs_both_worlds_and_says_what_the_audit_can_see(tiny_run, tmp_path, capsys):
    _, run = tiny_run
    config = ImagineConfig(
        task="Push",
        checkpoint=str(run),
        policies=("slow", "noisy"),
        imagined_episodes=6,
        real_episodes=3,
        cache=str(tmp_path / "c"),
    )
    judgement = imagine(config, progress=False)
    assert [p.audited for p in judgement.policies] == [3, 3]
    assert judgement.seeds == "test seeds 0-5" and judgement.detectable == 1.0
    assert "cannot see a bias smaller than 100%" in format_judgement(judgement)
    code = main(["imagine", "Push", "--checkpoint", str(run), "--policies", "slow",
                 "--imagined-episodes", "4", "--real-episodes", "0", "--cache",
                 str(tmp_path / "c")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "trust rests on the model alone" in out and "not audited" in out


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"real_episodes": 50, "imagined_episodes": 20}, "--real-episodes must be between 0"),
     ({"imagined_episodes": 0}, "--imagined-episodes must be at least 1"),
     ({"false_discovery": 1.5}, "--false-discovery must be in")],
)  # fmt: skip
def test_bad_settings_are_one_sentence(changes, message):
    with pytest.raises(ValueError, match=message):
        check_config(ImagineConfig(**changes))


# --- worldgym compare --------------------------------------------------------------------
def test_compare_verdicts_follow_the_interval():
    from worldgym.evaluation.comparison import compare_outcomes

    ones, zeros = np.ones(100), np.zeros(100)
    better = compare_outcomes("a", "b", ones, np.r_[np.ones(80), np.zeros(20)])
    assert better.verdict == "A better" and better.real.low > 0
    worse = compare_outcomes("a", "b", np.r_[np.ones(80), np.zeros(20)], ones)
    assert worse.verdict == "B better"
    # identical on every seed: no discordant pair, yet an interval, inside ±5 points
    same = compare_outcomes("a", "b", np.r_[ones[:50], zeros[:50]], np.r_[ones[:50], zeros[:50]])
    assert same.verdict == "equivalent" and same.real.low < 0 < same.real.high
    close = compare_outcomes("a", "b", np.r_[np.ones(3), np.zeros(7)],
                             np.r_[np.zeros(1), np.ones(2), np.zeros(7)])  # fmt: skip
    assert close.verdict == "UNDERPOWERED" and close.needed > 10
    assert "UNDERPOWERED" in close.sentence() and "paired episodes" in close.sentence()


def test_compare_runs_both_policies_on_shared_seeds(tmp_path, capsys):
    code = main(["compare", "Push", "oracle", "frozen", "--episodes", "6", "--cache",
                 str(tmp_path / "c")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "oracle" in out and "test seeds 0-5" in out
    code = main(["compare", "Push", "oracle", "oracle", "--episodes", "6"])
    assert code == 2 and "two different policies" in capsys.readouterr().err


def test_the_reports_top_pairs_say_where_real_episodes_decide():
    from worldgym.evaluation.comparison import top_pairs
    from worldgym.evaluation.outcomes import Outcomes
    from worldgym.evaluation.paired import Evaluation, PolicyEvaluation

    def outcomes(successes):
        success = np.asarray(successes, bool)
        return Outcomes(success, np.zeros(len(success)), np.zeros((len(success), 2, 1)),
                        np.ones(len(success), int))  # fmt: skip

    high, low = np.r_[np.ones(90), np.zeros(10)], np.r_[np.ones(30), np.zeros(70)]
    close = np.r_[np.ones(88), np.zeros(12)]
    policies = [PolicyEvaluation(name, "", "compiled", outcomes(real), outcomes(dreamt))
                for name, real, dreamt in (("a", high, high), ("b", close, close),
                                           ("c", low, low))]  # fmt: skip
    rows = top_pairs(Evaluation("Task", "run", "f", np.arange(100), policies), count=2)
    assert rows[0][0] == "a vs b" and rows[0][2] == "close: real episodes decide"
    assert rows[1][0] == "b vs c" and rows[1][2] == "separated" and rows[1][4] == "A better"
