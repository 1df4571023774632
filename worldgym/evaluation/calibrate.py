"""Calibration statistics: how well imagined success predicts real success.

Across policies: correlations of the success rates (Pearson, Spearman, Kendall;
computed by scipy.stats, the reference implementations),
each with a bootstrap interval that resamples episodes; the mean absolute error;
MMRV, the mean maximum rank violation of SIMPLER (Li et al. 2024); and the regret
of choosing policies by their imagined rate. Per episode: the agreement of the
two outcomes of the same initial state (confusion matrix, accuracy, Cohen's
kappa). Trust: does the model's own uncertainty point at its errors?
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import comb

import numpy as np
from scipy import stats

from worldgym.evaluation.differences import (
    independent_difference,
    paired_difference,
)
from worldgym.seeds import describe


@dataclass(frozen=True)
class Statistic:
    """A statistic's value and its 95% interval."""

    value: float
    interval: tuple[float, float]


@dataclass(frozen=True)
class EpisodeAgreement:
    """Per-episode agreement of imagined with real outcomes (see episode_agreement)."""

    confusion: list[list[int]]
    """[[real fail & imagined fail, real fail & imagined success],
    [real success & imagined fail, real success & imagined success]]."""
    accuracy: float
    kappa: float
    kappa_rates_only: float
    """The kappa of an imagination that knows each policy's real rate and nothing else."""
    kappa_beyond_rates: float
    """(kappa - kappa_rates_only) / (1 - kappa_rates_only)."""
    false_success: int
    false_failure: int


@dataclass(frozen=True)
class Correlation:
    """Pearson and Spearman correlation of two measurements."""

    pearson: float
    spearman: float


@dataclass(frozen=True)
class PolicyError:
    """A policy and its imagined minus real success rate."""

    policy: str
    points: float


@dataclass(frozen=True)
class FlaggedPolicy:
    """A policy imagination is not trusted on, and why (worldgym.evaluation.support)."""

    policy: str
    support_score: float
    """Share of its imagined steps outside the model's experience."""
    outside: bool
    optimistic: bool
    unsupported_success: float
    misresponding: bool
    misresponding_share: float
    imagined: float
    real: float


@dataclass(frozen=True)
class Calibration:
    """Every calibration statistic of a paired evaluation (saved as JSON by the report).

    The statistics describe the policies in `scope`: the trusted ones, or all when
    fewer than two are trusted."""

    task: str
    task_spec: str
    checkpoint: str
    policies: int
    """Policies the statistics describe."""
    episodes_per_policy: int | list[int]
    """One count, or (recordings of unequal counts) the fewest and the most."""
    rates: dict[str, Statistic]
    """Across-policy statistics of the success rates (spearman, kendall, pearson,
    mae, mmrv, regret_at_1, regret_at_3), each with its interval."""
    bias: float
    """Mean imagined minus real success rate."""
    largest_overestimate: PolicyError
    largest_underestimate: PolicyError
    episodes: EpisodeAgreement
    trust_per_policy: Correlation
    """Mean model uncertainty against |imagined - real| rate, over policies."""
    trust_per_episode: Correlation
    """Model uncertainty against real and imagined outcome disagreeing, over episodes."""
    diverged: int
    """Imagined episodes that diverged (counted as failures)."""
    bootstrap_samples: int
    scope: str
    """"trusted" (flagged policies left out) or "all"."""
    seeds: str
    """The reset seeds, in words (or where recorded episodes came from)."""
    support_checked: bool
    """Whether every policy was checked against the model's experience."""
    flagged: list[FlaggedPolicy]
    all_policies: dict[str, Statistic] | None
    """The rate statistics of every policy, flagged ones included, when scope is
    "trusted"."""

    @property
    def every_policy(self) -> dict[str, Statistic]:
        """The rate statistics over every policy, flagged ones included."""
        return self.all_policies or self.rates

    def to_dict(self) -> dict:
        return asdict(self)


def rank_data(values) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (scipy.stats.rankdata)."""
    return stats.rankdata(np.asarray(values, dtype=np.float64))


def _defined(x, y) -> bool:
    """Correlations are undefined (nan) when either side is constant."""
    return len(x) >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0


def pearson(x, y) -> float:
    """Pearson correlation (scipy.stats.pearsonr); nan when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(stats.pearsonr(x, y).statistic) if _defined(x, y) else float("nan")


def spearman(x, y) -> float:
    """Spearman rank correlation (scipy.stats.spearmanr); nan when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(stats.spearmanr(x, y).statistic) if _defined(x, y) else float("nan")


def kendall_tau(x, y) -> float:
    """Kendall's tau-b, which accounts for ties on either side (scipy.stats.kendalltau);
    nan when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(stats.kendalltau(x, y).statistic) if _defined(x, y) else float("nan")


def mmrv(real, imagined) -> float:
    """Mean maximum rank violation, by SIMPLER's definition (Li et al. 2024):
    (1/N) sum_i max_j |R_i - R_j| * 1[(S_i > S_j) != (R_i > R_j)],
    R the real and S the imagined success rates. 0 when imagination orders every
    pair as reality does; a violation costs as much as the real gap it hides. The
    comparisons are strict, so a pair imagination ties counts once (against the
    policy that is better in reality), not for both policies."""
    real, imagined = np.asarray(real, np.float64), np.asarray(imagined, np.float64)
    violated = (imagined[:, None] > imagined[None, :]) != (real[:, None] > real[None, :])
    return float((np.abs(real[:, None] - real[None, :]) * violated).max(axis=1).mean())


def regret_at_k(real, imagined, k: int) -> float:
    """Real success given up by picking the best of the top-k policies by imagined
    rate instead of the best policy overall.

    Policies tied in imagination at the cut are drawn at random; the result is the
    expectation over that draw (list order would favour whichever came first).
    """
    real, imagined = np.asarray(real, np.float64), np.asarray(imagined, np.float64)
    k = min(k, len(real))
    cut = np.sort(imagined)[::-1][k - 1]
    above = real[imagined > cut]
    tied = np.sort(real[imagined == cut])
    draws = k - len(above)  # how many of the tied policies get picked
    n = len(tied)
    # P(the largest of `draws` random tied policies is tied[j]) = C(j, draws-1) / C(n, draws)
    weights = np.array([comb(j, draws - 1) for j in range(n)], np.float64) / comb(n, draws)
    best_above = above.max() if len(above) else -np.inf
    expected_best = float((weights * np.maximum(tied, best_above)).sum())
    return float(real.max() - expected_best)


def rate_statistics(real, imagined) -> dict:
    """Every across-policy statistic of one pair of success-rate vectors."""
    real, imagined = np.asarray(real, np.float64), np.asarray(imagined, np.float64)
    return {
        "pearson": pearson(real, imagined),
        "spearman": spearman(real, imagined),
        "kendall": kendall_tau(real, imagined),
        "mae": float(np.abs(real - imagined).mean()),
        "mmrv": mmrv(real, imagined),
        "regret_at_1": regret_at_k(real, imagined, 1),
        "regret_at_3": regret_at_k(real, imagined, 3),
    }


def outcome_table(outcomes) -> tuple[np.ndarray, np.ndarray]:
    """Per-policy outcome vectors, possibly of different lengths (recordings), as a
    padded [policies, most episodes] float table and its counts [policies]."""
    rows = [np.asarray(row, np.float64).reshape(-1) for row in outcomes]
    counts = np.array([len(row) for row in rows])
    table = np.zeros((len(rows), counts.max() if len(rows) else 0))
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return table, counts


def resampled_episodes(counts, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap draws of each policy's own episodes: indices [samples, policies, most
    episodes] into each policy's row and the mask of the draws that exist (policy p
    draws counts[p] of its counts[p] episodes with replacement). With equal counts
    these are numpy's draws of integers(0, episodes, (samples, policies, episodes))."""
    counts = np.asarray(counts)
    width = int(counts.max())
    draws = np.random.default_rng(seed).integers(0, counts[None, :, None],
                                                 size=(samples, len(counts), width))  # fmt: skip
    mask = np.arange(width)[None, None, :] < counts[None, :, None]
    return draws, np.broadcast_to(mask, draws.shape)


def bootstrap_intervals(real_outcomes, imagined_outcomes, samples: int = 1000,
                        seed: int = 0, confidence: float = 0.95) -> dict:  # fmt: skip
    """Percentile bootstrap intervals of rate_statistics, resampling episodes.

    real_outcomes, imagined_outcomes: per policy, its episodes' outcomes ([policies,
    episodes], or a list of vectors of different lengths). Each replicate draws,
    for every policy, its episodes with replacement and keeps the pairs together
    (episode i's real and imagined outcome share an initial state). Returns
    {statistic: (low, high)}; replicates where a statistic is undefined (a constant
    side) are left out of its interval.
    """
    real, counts = outcome_table(real_outcomes)
    imagined, _ = outcome_table(imagined_outcomes)
    draws, mask = resampled_episodes(counts, samples, seed)
    real_rates = (np.take_along_axis(real[None], draws, axis=2) * mask).sum(axis=2) / counts
    imagined_rates = (np.take_along_axis(imagined[None], draws, axis=2) * mask).sum(axis=2) / counts
    replicates = [rate_statistics(r, s) for r, s in zip(real_rates, imagined_rates, strict=True)]
    tail = 100 * (1 - confidence) / 2
    intervals = {}
    for name in replicates[0]:
        values = np.array([row[name] for row in replicates])
        values = values[np.isfinite(values)]
        intervals[name] = (
            (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
            if len(values) else (float("nan"), float("nan"))
        )  # fmt: skip
    return intervals


def gap_interval(real_success, imagined_success,
                 confidence: float = 0.95) -> tuple[float, float]:  # fmt: skip
    """Score interval (Tango's, for paired proportions) of one policy's imagined - real
    success rate. Both worlds start episode i from the same state, so the two rates
    are paired; unlike a bootstrap of the pairs it keeps a width when no pair
    disagrees (0 of 100 discordant still allows about 4 points either way)."""
    result = paired_difference(np.asarray(imagined_success).astype(int),
                               np.asarray(real_success).astype(int), confidence)  # fmt: skip
    return result.low, result.high


def regret_interval(real_outcomes, imagined_rates, k: int = 1, confidence: float = 0.95,
                    paired: bool = True) -> tuple[float, float]:  # fmt: skip
    """Bounds on the real success given up by taking the best of imagination's top k
    instead of the best policy, from intervals of the real differences.

    Regret = max_j R_j - max_{c in top k} R_c. For every pair (j, c) the interval of
    R_j - R_c holds simultaneously (Bonferroni over the pairs), and then regret lies
    in [max_j min_c low(j, c), max_j min_c high(j, c)], floored at 0. It does not
    collapse when imagination picks the policy that also did best: the chosen
    policy's lead over the others is itself uncertain. `paired`: the policies ran
    from the same starts (Tango's paired interval); otherwise (recordings from
    different starts) Newcombe's interval for independent rates.
    """
    real = [np.asarray(row).astype(int) for row in real_outcomes]  # per policy, its episodes
    count = len(real)
    top = np.argsort(-np.asarray(imagined_rates, np.float64), kind="stable")[: min(k, count)]
    others = [j for j in range(count) if j not in set(top.tolist())]
    if not others:
        return 0.0, 0.0
    level = 1 - (1 - confidence) / (len(others) * len(top))

    def bounds(j, c):
        if paired:
            found = paired_difference(real[j], real[c], level)
            return found.low, found.high
        return independent_difference(real[j], real[c], level)[1:]

    lows, highs = [], []
    for j in others:
        pairs = [bounds(j, c) for c in top]
        lows.append(min(low for low, _ in pairs))
        highs.append(min(high for _, high in pairs))
    return max(0.0, max(lows)), max(0.0, max(highs))


def episode_agreement(real, imagined) -> EpisodeAgreement:
    """Per-episode agreement of imagined with real outcomes (real is the truth).

    confusion: [[real fail & imagined fail, real fail & imagined success],
                [real success & imagined fail, real success & imagined success]].
    Cohen's kappa discounts the agreement expected by chance from the marginals.
    That is a low bar across policies: an imagination that knows each policy's
    real rate and nothing about the episode already agrees beyond chance, because
    good policies succeed and bad ones fail. `kappa_rates_only` is that
    imagination's kappa (its expected confusion: each episode of policy p a
    success with p's real rate, independently), and `kappa_beyond_rates` how much
    of the remaining disagreement the model removes: (kappa - kappa_rates_only) /
    (1 - kappa_rates_only), 0 for an imagination that knows only the rates.
    real, imagined: per policy, its episodes' outcomes ([policies, episodes], a list
    of vectors of different lengths, or one flat vector counted as one policy).
    """
    if np.ndim(real[0]) == 0:
        real, imagined = [real], [imagined]
    real = [np.asarray(row, bool).reshape(-1) for row in real]
    imagined = [np.asarray(row, bool).reshape(-1) for row in imagined]
    flat_real, flat_imagined = np.concatenate(real), np.concatenate(imagined)
    confusion = np.array(
        [[np.sum(~flat_real & ~flat_imagined), np.sum(~flat_real & flat_imagined)],
         [np.sum(flat_real & ~flat_imagined), np.sum(flat_real & flat_imagined)]]
    )  # fmt: skip
    kappa = _kappa(confusion)
    rates = np.array([row.mean() for row in real])  # [P]
    episodes = np.array([len(row) for row in real])  # [P]
    expected = np.array(
        [[np.sum(episodes * (1 - rates) ** 2), np.sum(episodes * (1 - rates) * rates)],
         [np.sum(episodes * rates * (1 - rates)), np.sum(episodes * rates**2)]]
    )  # fmt: skip
    baseline = _kappa(expected)
    beyond = (kappa - baseline) / (1 - baseline) if baseline < 1 else float("nan")
    return EpisodeAgreement(
        confusion=confusion.tolist(),
        accuracy=float(np.trace(confusion) / confusion.sum()),
        kappa=float(kappa),
        kappa_rates_only=float(baseline),
        kappa_beyond_rates=float(beyond),
        false_success=int(confusion[0, 1]),
        false_failure=int(confusion[1, 0]),
    )


def _kappa(confusion) -> float:
    """Cohen's kappa of a 2x2 confusion matrix (counts or expected counts)."""
    confusion = np.asarray(confusion, np.float64)
    total = confusion.sum()
    observed = np.trace(confusion) / total
    expected = (confusion.sum(0) * confusion.sum(1)).sum() / total**2
    return float((observed - expected) / (1 - expected)) if expected < 1 else float("nan")


def kappa_interval(real_outcomes, imagined_outcomes, samples: int = 1000, seed: int = 0,
                   confidence: float = 0.95) -> tuple[float, tuple[float, float]]:  # fmt: skip
    """Cohen's kappa of episode outcomes (per policy, its episodes) and its percentile
    bootstrap interval, resampling each policy's episodes with their pairs kept
    together (as bootstrap_intervals does for the rate statistics)."""
    value = episode_agreement(list(real_outcomes), list(imagined_outcomes)).kappa
    real, counts = outcome_table(real_outcomes)
    imagined, _ = outcome_table(imagined_outcomes)
    draws, mask = resampled_episodes(counts, samples, seed)
    r = np.take_along_axis(real[None], draws, axis=2)[mask].reshape(samples, -1)
    s = np.take_along_axis(imagined[None], draws, axis=2)[mask].reshape(samples, -1)
    observed = (r == s).mean(axis=1)
    expected = r.mean(axis=1) * s.mean(axis=1) + (1 - r.mean(axis=1)) * (1 - s.mean(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = (observed - expected) / (1 - expected)
    kappas = kappas[np.isfinite(kappas)]
    tail = 100 * (1 - confidence) / 2
    if not len(kappas):
        return value, (float("nan"), float("nan"))
    return value, (float(np.percentile(kappas, tail)), float(np.percentile(kappas, 100 - tail)))


def uncertainty_trust(uncertainty, error) -> Correlation:
    """Does higher model uncertainty go with larger error? (Pearson and Spearman)"""
    return Correlation(pearson(uncertainty, error), spearman(uncertainty, error))


def calibrate(evaluation, bootstrap: int = 1000, seed: int = 0) -> Calibration:
    """All calibration statistics of a paired Evaluation (worldgym.evaluation.paired).

    The statistics describe the policies the model can be trusted on (those not
    flagged as outside its experience or optimistic; all of them when fewer than two are
    trusted): the verdict ranks and summarises those. The flagged ones are listed
    with their support scores, and `all_policies` keeps the statistics of every
    policy for comparison.
    """
    if len(evaluation.policies) < 2:
        raise ValueError("Calibration compares policies: evaluate at least two.")
    trusted = [p for p in evaluation.policies if p.trusted]
    flagged = [p for p in evaluation.policies if not p.trusted]
    scope = trusted if len(trusted) >= 2 else list(evaluation.policies)
    scoped = len(scope) < len(evaluation.policies)
    return Calibration(
        **_statistics(evaluation, scope, bootstrap, seed),
        scope="trusted" if scoped else "all",
        seeds=evaluation.source or describe(np.asarray(evaluation.seeds).tolist()),
        support_checked=all(p.support is not None for p in evaluation.policies),
        flagged=[
            FlaggedPolicy(
                policy=p.name, support_score=p.support.outside_share,
                outside=p.support.outside, optimistic=p.support.optimistic,
                unsupported_success=p.support.unsupported_success,
                misresponding=p.support.misresponding,
                misresponding_share=p.support.misresponding_share,
                imagined=p.imagined_rate, real=p.real_rate,
            )
            for p in flagged
        ],
        all_policies=_statistics(evaluation, list(evaluation.policies), bootstrap, seed)["rates"]
        if scoped else None,
    )  # fmt: skip


def _statistics(evaluation, policies, bootstrap: int, seed: int) -> dict:
    """The fields of a Calibration that describe `policies`."""
    real = [p.real.success for p in policies]  # per policy: recordings may hold unequal counts
    imagined = [p.imagined.success for p in policies]
    real_rates = np.array([p.real_rate for p in policies])
    imagined_rates = np.array([p.imagined_rate for p in policies])
    point = rate_statistics(real_rates, imagined_rates)
    intervals = bootstrap_intervals(real, imagined, bootstrap, seed)
    # A percentile bootstrap of regret collapses to [0, 0] when imagination's pick also
    # did best in every resample; the paired score bounds do not.
    paired = evaluation.shared_starts
    intervals["regret_at_1"] = regret_interval(real, imagined_rates, 1, paired=paired)
    intervals["regret_at_3"] = regret_interval(real, imagined_rates, 3, paired=paired)
    rate_error = np.abs(imagined_rates - real_rates)
    signed = imagined_rates - real_rates
    counts = sorted({len(row) for row in real})
    return {
        "task": evaluation.task,
        "task_spec": getattr(evaluation, "task_spec", "") or evaluation.task,
        "checkpoint": evaluation.checkpoint,
        "policies": len(policies),
        # one count, or (recordings of unequal counts) the fewest and the most
        "episodes_per_policy": counts[0] if len(counts) == 1 else [counts[0], counts[-1]],
        "rates": {name: Statistic(value, tuple(intervals[name])) for name, value in point.items()},
        "bias": float(signed.mean()),
        "largest_overestimate": PolicyError(
            policies[int(np.argmax(signed))].name, float(signed.max())
        ),
        "largest_underestimate": PolicyError(
            policies[int(np.argmin(signed))].name, float(signed.min())
        ),
        "episodes": episode_agreement(real, imagined),
        "trust_per_policy": uncertainty_trust(
            [p.uncertainty.mean() for p in policies], rate_error
        ),  # fmt: skip
        "trust_per_episode": uncertainty_trust(
            np.concatenate([p.uncertainty for p in policies]),
            np.concatenate([p.real.success != p.imagined.success for p in policies]),
        ),
        "diverged": int(sum(int(p.diverged.sum()) for p in policies)),
        "bootstrap_samples": bootstrap,
    }
