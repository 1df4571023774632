"""The report's words: the verdict paragraph and the headline table.

Every claim follows the interval bounds, not the point estimates: "reliably" only
when the whole interval supports it, "probably" when only the point does (with
the episodes that would settle it).
"""

from __future__ import annotations

import math

import numpy as np

from worldgym.evaluation.calibrate import Calibration, EpisodeAgreement, Statistic


def interval_text(stat: Statistic, digits: int = 2) -> str:
    """A statistic and its interval, e.g. "0.98 [0.93, 0.99]"."""
    low, high = stat.interval
    return f"{stat.value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def points_text(rate: float, sign: bool = False) -> str:
    """A difference of success rates in percentage points, e.g. "+12 points"."""
    value = round(100 * rate)
    unit = "point" if abs(value) == 1 else "points"
    return f"{value:+d} {unit}" if sign else f"{value:d} {unit}"


RANK_SPEARMAN, RANK_MMRV = 0.9, 0.05
""""Ranks reliably": Spearman at least 0.9 and MMRV at most 0.05, read from the bounds."""
SCREEN_SPEARMAN = 0.7
""""Useful for coarse screening": Spearman at least 0.7."""


def ranking_judgement(rates: dict[str, Statistic], episodes_per_policy=None) -> str:
    """What imagination's ranking is good for, in words that follow the interval
    bounds: a claim is made only when the whole interval supports it, "probably"
    when only the point estimate does (with the episodes that would settle it, from
    `episodes_per_policy`: a count, or the fewest and the most)."""
    rho, (rho_low, _) = rates["spearman"].value, rates["spearman"].interval
    mmrv_value, (_, mmrv_high) = rates["mmrv"].value, rates["mmrv"].interval
    if not np.isfinite(rho):
        return ("Imagination cannot rank these policies, because one of the worlds gives them "
                "all the same success rate")  # fmt: skip
    if rho_low >= RANK_SPEARMAN and mmrv_high <= RANK_MMRV:
        return "Imagination ranks these policies reliably (the interval bounds say so)"
    if rho >= RANK_SPEARMAN and mmrv_value <= RANK_MMRV:
        return (
            "Imagination probably ranks these policies well, but the intervals do not "
            f"exclude a worse ranking (Spearman's lower bound {rho_low:.2f}, MMRV's upper "
            f"bound {mmrv_high:.3f} against {RANK_SPEARMAN} and {RANK_MMRV})"
            + _settle(
                rates, episodes_per_policy, (("spearman", RANK_SPEARMAN, 0), ("mmrv", RANK_MMRV, 1))
            )  # fmt: skip
        )
    if rho_low >= SCREEN_SPEARMAN:
        return "Imagination is useful for coarse screening, not fine ranking"
    if rho >= SCREEN_SPEARMAN:
        return (
            "Imagination is probably useful for coarse screening, not fine ranking "
            f"(Spearman's lower bound {rho_low:.2f} is below {SCREEN_SPEARMAN})"
            + _settle(rates, episodes_per_policy, (("spearman", SCREEN_SPEARMAN, 0),))
        )
    return "Imagination does not rank these policies reliably"


def _settle(rates: dict[str, Statistic], episodes, targets) -> str:
    """About how many episodes per policy would bring each bound past its target,
    if the interval narrowed as 1/sqrt(n) around the same point."""
    episodes = min(episodes) if isinstance(episodes, list) else episodes
    needed = []
    for name, target, side in targets:
        value, bound = rates[name].value, rates[name].interval[side]
        margin, spread = abs(value - target), abs(value - bound)
        if spread > margin > 0 and episodes:
            needed.append(episodes * (spread / margin) ** 2)
    if not needed:
        return ""
    return (
        f"; about {int(math.ceil(max(needed) / 10) * 10)} real episodes per policy "
        "(if the figures hold) would settle it"
    )


def verdict(calibration: Calibration) -> str:
    """One plain-language paragraph on how far to trust imagination's verdicts."""
    rates = calibration.rates
    judgement = ranking_judgement(rates, calibration.episodes_per_policy)
    over, under = calibration.largest_overestimate, calibration.largest_underestimate
    episodes = calibration.episodes
    bias = calibration.bias
    if abs(bias) < 0.005:
        overall = "shows no overall bias"
    else:
        direction = "over-estimates" if bias > 0 else "under-estimates"
        overall = f"{direction} success by {points_text(abs(bias))} overall"
    extremes = [
        f"the largest {kind} is {worst.policy} ({points_text(worst.points, sign=True)})"
        for kind, worst, off in (("over-estimate", over, over.points),
                                 ("under-estimate", under, -under.points))
        if off >= 0.005
    ]  # fmt: skip
    extremes = ", ".join(extremes) or (
        "every policy's imagined rate is within half a point of its real one"
    )
    which = "trusted " if calibration.scope == "trusted" else ""
    text = (
        f"{judgement}: it ranks these {calibration.policies} {which}{calibration.task} "
        f"policies{_on_seeds(calibration)} "
        f"with Spearman ρ = {interval_text(rates['spearman'])} and MMRV = "
        f"{interval_text(rates['mmrv'], 3)}. Its success rates are off by "
        f"{points_text(rates['mae'].value)} on average and it {overall}; {extremes}. "
        "Picking the policy "
        f"imagination likes best costs {points_text(rates['regret_at_1'].value)} of real success "
        f"(regret@1). Episode by episode the two worlds agree {episodes.accuracy:.0%} of the "
        f"time (Cohen's κ = {episodes.kappa:.2f}{_kappa_baseline(episodes)})."
    )
    trust = calibration.trust_per_episode.pearson
    if np.isfinite(trust):
        helps = "points at" if trust > 0.1 else "does not point at"
        text += f" The model's uncertainty {helps} the episodes it gets wrong (r = {trust:.2f})."
    if calibration.diverged:
        text += f" {calibration.diverged} imagined episodes diverged and count as failures."
    return flagged_sentence(calibration) + text


def _on_seeds(calibration: Calibration) -> str:
    """ " on test seeds 0-99", where the calibration recorded its seeds."""
    return f" on {calibration.seeds}" if calibration.seeds else ""


def _kappa_baseline(episodes: EpisodeAgreement) -> str:
    """κ's rates-only baseline and the agreement beyond it."""
    return (f"; knowing each policy's rate alone would score {episodes.kappa_rates_only:.2f}, "
            f"so agreement beyond rates is {episodes.kappa_beyond_rates:.2f}")  # fmt: skip


REFINE_EPISODES = 20
"""Real episodes per flagged policy the verdict suggests refining with."""


def flagged_sentence(calibration: Calibration) -> str:
    """The policies outside the model's experience, optimistic or mis-responding, and
    what to do."""
    flagged = calibration.flagged
    if not calibration.support_checked:
        return (
            "No policy was checked against the model's experience: the training dataset "
            "named in the checkpoint's provenance is missing or no longer holds the "
            "episodes the model learned from, so every policy counts as trusted. "
        )
    if not flagged:
        return ""
    text = ""
    outside = [row for row in flagged if row.outside]
    if outside:
        one = len(outside) == 1
        names = ", ".join(f"{row.policy} ({row.support_score:.0%} of steps outside)"
                          for row in outside)  # fmt: skip
        text += (
            f"{len(outside)} {'policy goes' if one else 'policies go'} outside the model's "
            f"experience, so {'its' if one else 'their'} imagined success is not trusted: "
            f"{names}. "
        )
    optimistic = [row for row in flagged if row.optimistic]
    if optimistic:
        one = len(optimistic) == 1
        names = ", ".join(
            f"{row.policy} ({row.unsupported_success:.0%} of its episodes are imagined "
            "successes along which the model is less sure than along 99.5% of its held-out "
            "episodes; "
            f"{row.imagined - row.unsupported_success:.0%} succeed within its "
            f"experience, against {row.imagined:.0%} imagined)"
            for row in optimistic
        )  # fmt: skip
        text += (
            f"{len(optimistic)} {'policy is' if one else 'policies are'} optimistic, "
            f"{'its' if one else 'their'} imagined success more than the model's own "
            f"uncertainty supports: {names}. That is how a policy optimised against the "
            "model looks: it exploits the model's errors, so its imagined success is not "
            "trusted. "
        )
    misresponding = [row for row in flagged if row.misresponding]
    if misresponding:
        one = len(misresponding) == 1
        names = ", ".join(f"{row.policy} ({row.misresponding_share:.0%} of its probed "
                          "steps)" for row in misresponding)  # fmt: skip
        text += (
            f"Along the imagined path of {len(misresponding)} "
            f"{'policy' if one else 'policies'} the model answers a nudged action unlike "
            "its data says such a nudge acts (beyond 99% of its held-out steps), so "
            f"{'its' if one else 'their'} imagined future does not follow "
            f"{'its' if one else 'their'} actions and is not trusted: {names}. "
        )
    one = len(flagged) == 1
    specs = " ".join(row.policy for row in flagged)
    scope = "the others" if calibration.scope == "trusted" else "all of them"
    return text + (
        f"Run {'it' if one else 'them'} for real, or refine the model where "
        f"{'it goes' if one else 'they go'} with `worldgym refine {calibration.task_spec} "
        f"--checkpoint {calibration.checkpoint} --policies {specs} --real-episodes "
        f"{REFINE_EPISODES}`. What follows is about {scope}. "
    )


HEADLINE = (
    ("spearman", "Spearman ρ"), ("kendall", "Kendall τ"), ("pearson", "Pearson r"),
    ("mmrv", "MMRV"), ("mae", "mean absolute error"), ("regret_at_1", "regret@1"),
    ("regret_at_3", "regret@3"),
)  # fmt: skip


def print_headline(calibration: Calibration) -> None:
    """The headline table and the verdict, for the terminal."""
    for label, value in headline_rows(calibration):
        print(f"{label:<22} {value}")
    print()
    print(verdict(calibration))


def headline_rows(calibration: Calibration) -> list[tuple[str, str]]:
    rows = [(label, interval_text(calibration.rates[key], 3)) for key, label in HEADLINE]
    if calibration.seeds:
        rows.insert(0, ("reset seeds", calibration.seeds))
    episodes = calibration.episodes
    rows.append(("episode agreement", f"{episodes.accuracy:.3f}"))
    rows.append(("Cohen's κ", f"{episodes.kappa:.3f}"))
    rows.append(("κ from rates alone", f"{episodes.kappa_rates_only:.3f}"))
    rows.append(("agreement beyond rates", f"{episodes.kappa_beyond_rates:.3f}"))
    every = calibration.all_policies
    if every:  # the statistics above leave the flagged policies out; these do not
        rows.append(("Spearman ρ, flagged included", interval_text(every["spearman"], 3)))
        rows.append(("mean abs. error, flagged included", interval_text(every["mae"], 3)))
    return rows
