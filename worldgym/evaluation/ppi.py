"""A policy's real success rate from a few real episodes and many imagined ones.

Prediction-powered inference (Angelopoulos et al., Science 2023) with PPI++ power
tuning (Angelopoulos, Duchi and Zrnic, 2023): n real episodes, each paired with
imagination from the same reset seed, measure how far imagination is off (the
rectifier); N imagined-only episodes on further seeds give the bulk of the
estimate. With imagined outcomes f, real outcomes y and imagined-only outcomes g,

    rate = lambda * mean(g) + mean(y - lambda * f),

and lambda in [0, 1] is tuned to make the variance smallest: 0 when imagination
says nothing about reality (the estimate is then exactly the real-only one), 1
when it is as good as reality and N is large.

Small n, where labs live, needs care: with 5 real episodes that happen to agree
with imagination, the plain CLT interval has width 0 and covers nothing. So the
paired sample gets two pseudo-pairs in which the two worlds disagree, (real 1,
imagined 0) and (real 0, imagined 1) — Bonett and Price's adjustment for paired
proportions (Stat. Med. 2012), which keeps near-nominal coverage from n = 5 —
before lambda, the rectifier and its variance are computed. It pulls lambda
towards 0 and widens the interval when there is little paired evidence. When
lambda is 0 the interval is the real-only Wilson interval. (Agresti and Min's
half pair in every cell, tried instead and not kept, widened less, but where
imagination is biased its coverage at small n fell short; tests/test_ppi.py
keeps such a case.)

Pure numpy over arrays of episode outcomes; the CLI, the report and the
validation script all call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy.stats import rankdata

from worldgym.evaluation.differences import wilson_interval

PSEUDO_REAL = np.array([1.0, 0.0])
PSEUDO_IMAGINED = np.array([0.0, 1.0])
"""The two disagreeing pseudo-pairs added to the paired sample (see the module)."""


@dataclass(frozen=True)
class RateEstimate:
    """A success rate with its interval, and what it was computed from."""

    rate: float
    low: float
    high: float
    real_episodes: int
    imagined_episodes: int  # imagined-only episodes used (0 for real-only)
    power: float  # lambda: the weight on imagination (0: real-only)

    @property
    def width(self) -> float:
        return self.high - self.low


def real_only(real, confidence: float = 0.95) -> RateEstimate:
    """The Wilson interval of the real episodes alone."""
    real = _outcomes(real, "real")
    low, high = wilson_interval(int(round(real.sum())), len(real), confidence)
    return RateEstimate(float(real.mean()), float(low), float(high), len(real), 0, 0.0)


def prediction_powered(real, paired, imagined_only, confidence: float = 0.95,
                       power_tuning: bool = True,
                       pseudo_pairs: bool = True) -> RateEstimate:  # fmt: skip
    """The PPI++ estimate of the real success rate.

    real [n] and paired [n]: each real episode's outcome and imagination's from the
    same reset seed (paired may be a probability in [0, 1]); imagined_only [N]:
    imagination on other seeds. Without power tuning lambda is 1 (classic PPI);
    without pseudo-pairs it is plain PPI++ (for the validation's ablation only:
    its small-n coverage falls short).
    """
    real, paired = _outcomes(real, "real"), _outcomes(paired, "paired imagined")
    imagined_only = _outcomes(imagined_only, "imagined-only", allow_empty=True)
    if len(real) != len(paired):
        raise ValueError(f"Each real episode needs its imagined twin: got {len(real)} real and "
                         f"{len(paired)} paired imagined outcomes.")  # fmt: skip
    n, big_n = len(real), len(imagined_only)
    y, f = real, paired
    if pseudo_pairs:
        y, f = np.concatenate([real, PSEUDO_REAL]), np.concatenate([paired, PSEUDO_IMAGINED])
    power = tuned_power(y, f, imagined_only, n) if power_tuning else 1.0
    if big_n == 0 or power == 0.0:
        return real_only(real, confidence)
    rectifier = y - power * f
    rate = power * imagined_only.mean() + rectifier.mean()
    variance = rectifier.var(ddof=1) / len(y) + power**2 * imagined_only.var(ddof=1) / big_n
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * np.sqrt(max(variance, 0.0))
    low, high = max(rate - half, 0.0), min(rate + half, 1.0)
    return RateEstimate(float(np.clip(rate, 0, 1)), float(low), float(high), n, big_n, power)


def tuned_power(real, paired, imagined_only, n: int) -> float:
    """PPI++'s variance-minimising lambda, cov(y, f) / ((1 + n/N) var(f)), in [0, 1].

    var(f) pools the paired and the imagined-only outcomes: both are imagination.
    """
    big_n = len(imagined_only)
    if big_n == 0:
        return 0.0
    imagined = np.concatenate([paired, imagined_only])
    spread = imagined.var(ddof=1)
    if spread <= 1e-12:
        return 0.0
    covariance = np.cov(real, paired, ddof=1)[0, 1]
    return float(np.clip(covariance / ((1 + n / big_n) * spread), 0.0, 1.0))


def _outcomes(values, what: str, allow_empty: bool = False) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) == 0 and not allow_empty:
        raise ValueError(f"An estimate needs at least one {what} episode, got none.")
    if not np.all(np.isfinite(values)) or np.any((values < 0) | (values > 1)):
        raise ValueError(f"The {what} outcomes must be successes in [0, 1] (1 = success).")
    return values


def estimate_rate(real, paired, imagined_only, confidence: float = 0.95,
                  power_tuning: bool = True,
                  pseudo_pairs: bool = True) -> RateEstimate:  # fmt: skip
    """The prediction-powered estimate, or the real-only one without imagined-only
    episodes: what the CLI, the report and the active loop report per policy."""
    if len(np.asarray(imagined_only).reshape(-1)) == 0:
        return real_only(real, confidence)
    return prediction_powered(real, paired, imagined_only, confidence, power_tuning,
                              pseudo_pairs)  # fmt: skip


def bootstrap_rates(real, paired, imagined_only, power: float, resamples: int,
                    rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """[resamples] estimates of one policy's rate, both sources resampled, lambda kept.

    The same formula as prediction_powered's point estimate (pseudo-pairs included);
    with lambda 0 it is the real rate.
    """
    real, paired = np.asarray(real, np.float64), np.asarray(paired, np.float64)
    rows = rng.integers(0, len(real), size=(resamples, len(real)))
    if power == 0.0:
        return real[rows].mean(axis=1)
    imagined_only = np.asarray(imagined_only, np.float64)
    extra = rng.integers(0, len(imagined_only), size=(resamples, len(imagined_only)))
    rectifier = (real[rows] - power * paired[rows]).sum(axis=1) + (1.0 - power)
    return power * imagined_only[extra].mean(axis=1) + rectifier / (len(real) + 2)


@dataclass(frozen=True)
class Ranking:
    """How sure the data is of the policies' order in reality."""

    beats: np.ndarray  # [P, P] probability that policy a's real rate exceeds b's (ties: half)
    rank_low: np.ndarray  # [P] 2.5% quantile of the policy's rank (1 = best)
    rank_high: np.ndarray  # [P] 97.5% quantile of its rank


def bootstrap_ranking(reals, paireds, imagined_onlys, powers, resamples: int = 1000,
                      seed: int = 0) -> Ranking:  # fmt: skip
    """Pairwise "a beats b in reality" probabilities and rank intervals, from a
    bootstrap over each policy's real pairs and imagined-only episodes."""

    rng = np.random.default_rng(seed)
    draws = np.stack(
        [
            bootstrap_rates(real, paired, only, power, resamples, rng)
            for real, paired, only, power in zip(
                reals, paireds, imagined_onlys, powers, strict=True
            )
        ]
    )  # [P, resamples] fmt: skip
    above = (draws[:, None, :] > draws[None, :, :]).mean(axis=2)
    tied = (draws[:, None, :] == draws[None, :, :]).mean(axis=2)
    beats = above + 0.5 * tied
    np.fill_diagonal(beats, 0.5)
    ranks = rankdata(-draws, method="min", axis=0)  # [P, resamples], 1 = best
    return Ranking(beats, np.quantile(ranks, 0.025, axis=1), np.quantile(ranks, 0.975, axis=1))
