"""Confidence sequences: intervals that stay valid however long you keep looking.

A loop that looks at its interval after every batch and stops once the interval
settles its question stops at a time chosen by the data. A fixed-n interval
(Wilson, PPI++) promises its coverage at one n fixed in advance; looked at every
round it is wrong far more often than 5% (a policy exactly at the threshold is
declared on one side about a third of the time). A confidence sequence holds its
coverage simultaneously at every n, so any stopping rule is safe (Ville's
inequality).

This module builds them by betting (Waudby-Smith and Ramdas, "Estimating means of
bounded random variables by betting", JRSS-B 2024, arXiv 2010.09686): for every
candidate mean m a gambler bets that the next outcome lands above m (and another
that it lands below), with a stake chosen from the outcomes so far (their
predictable plug-in, truncated at half the largest stake that cannot bankrupt).
Under the truth each gambler's wealth is a nonnegative martingale, so it reaches
2/alpha with probability at most alpha/2 ever; the sequence is the set of m where
neither gambler ever did. Wealth is kept on a grid of candidate means and updated
episode by episode, so a round costs O(new episodes x grid).

Prediction-powered form (after Angelopoulos et al.'s PPI and, for e-values,
Csillag et al., arXiv 2502.04294): imagination is a control variate. With real
outcome y_i, imagination's prediction f_i from the same reset seed and a weight
lambda_i chosen from the earlier pairs only,

    x_i = y_i - lambda_i * f_i + lambda_i * mu_f

has conditional mean exactly the real rate theta when mu_f is imagination's mean
over reset seeds. mu_f is not known, only bounded: a betting interval from the
N imagined-only episodes (a fixed sample, alpha_f of the error budget) gives
mu_f in [g_low, g_high]. The lower bound bets on x_i with g_low (whose mean is at
most theta), the upper bound on x_i with g_high (mean at least theta), so both
stay valid. When imagination predicts reality well, x varies little, the stakes
grow and the sequence narrows faster than the real-only one; when it does not,
lambda goes to 0 and x is the real outcome.

Multiplicity: a decision over P policies uses alpha / P per policy (Bonferroni),
so all P sequences hold at once with probability 1 - alpha at any stopping time.

The fixed-n PPI++ interval (worldgym.evaluation.ppi) stays for fixed-n use, where
it is narrower; these are for loops that stop when their answer looks settled.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from worldgym.evaluation.ppi import PSEUDO_IMAGINED, PSEUDO_REAL

GRID_STEP = 0.002
"""Spacing of the candidate means. Bounds are rounded outwards to it."""
STAKE_CAP = 0.75
"""The most a stake may lose, as a share of the wealth, on the worst outcome (WSR's c)."""
IMAGINED_SHARE = 0.1
"""Share of a policy's error budget spent on bounding imagination's own mean."""


@dataclass(frozen=True)
class BettingState:
    """Two gamblers' wealth at every candidate mean in [0, 1], after t outcomes.

    Pure data: `bet` returns a new state.
    """

    grid: np.ndarray  # [M] candidate means in [0, 1]
    log_up: np.ndarray  # [M] log wealth betting the mean is above m
    log_down: np.ndarray  # [M] log wealth betting it is below m
    peak_up: np.ndarray  # [M] the largest log_up so far (Ville: ever reaching counts)
    peak_down: np.ndarray  # [M]
    count: int  # t
    total: float  # sum of outcomes
    squares: float  # sum of squared deviations from the running mean, for the stake
    alpha: float


def start(alpha: float, grid_step: float = GRID_STEP) -> BettingState:
    """No outcomes yet: every candidate mean in [0, 1] is plausible."""
    if not 0 < alpha < 1:
        raise ValueError(f"A confidence sequence needs an error rate in (0, 1), got {alpha}.")
    grid = np.linspace(0.0, 1.0, int(round(1.0 / grid_step)) + 1)
    zeros = np.zeros_like(grid)
    return BettingState(grid, zeros, zeros, zeros, zeros, 0, 0.0, 0.0, alpha)


def bet(state: BettingState, outcomes, low=0.0, high=1.0) -> BettingState:
    """Both gamblers bet on each new outcome in turn, stakes from the earlier ones.

    low, high (scalars or one per outcome): the range each outcome could have taken,
    known before it was seen; no stake can lose more than STAKE_CAP of the wealth
    anywhere in it. The candidate means lie in [0, 1], inside every range.
    """
    values = np.asarray(outcomes, np.float64).reshape(-1)
    if not len(values):
        return state
    lows = np.broadcast_to(np.asarray(low, np.float64), values.shape)
    highs = np.broadcast_to(np.asarray(high, np.float64), values.shape)
    if (
        not np.all(np.isfinite(values))
        or np.any(lows > 0)
        or np.any(highs < 1)
        or np.any(values < lows - 1e-9)
        or np.any(values > highs + 1e-9)
    ):
        raise ValueError("Each outcome must lie in its range, and each range must hold "
                         "[0, 1].")  # fmt: skip
    x = np.clip(values, lows, highs)[:, None]  # [T, 1]
    grid = state.grid[None, :]  # [1, M]
    # The stakes depend on the earlier outcomes only, so all T of them come from
    # running sums at once: the regularised mean and variance before each outcome.
    before = state.count + np.arange(len(values))  # outcomes seen before each one
    totals = state.total + np.concatenate([[0.0], np.cumsum(values)[:-1]])
    means = (0.5 + totals) / (before + 1)
    deviations = (values - means) ** 2
    squares = state.squares + np.concatenate([[0.0], np.cumsum(deviations)[:-1]])
    variances = ((0.25 + squares) / (before + 1))[:, None]
    # aGRAPA (WSR, Sec. 5.2): per candidate, the growth-optimal stake of a bettor who
    # believes the regularised mean and variance so far, truncated so that the worst
    # outcome in [a, b] loses at most STAKE_CAP of the wealth.
    gap = means[:, None] - grid
    stake = gap / (variances + gap**2)
    up_cap = STAKE_CAP / np.maximum(grid - lows[:, None], 1e-12)
    down_cap = STAKE_CAP / np.maximum(highs[:, None] - grid, 1e-12)
    up = np.minimum(np.maximum(stake, 0.0), up_cap)
    down = np.minimum(np.maximum(-stake, 0.0), down_cap)
    log_up = state.log_up + np.cumsum(np.log1p(up * (x - grid)), axis=0)  # [T, M]
    log_down = state.log_down + np.cumsum(np.log1p(-down * (x - grid)), axis=0)
    return replace(state, log_up=log_up[-1], log_down=log_down[-1],
                   peak_up=np.maximum(state.peak_up, log_up.max(axis=0)),
                   peak_down=np.maximum(state.peak_down, log_down.max(axis=0)),
                   count=state.count + len(values), total=state.total + float(values.sum()),
                   squares=state.squares + float(deviations.sum()))  # fmt: skip


def bounds(state: BettingState) -> tuple[float, float]:
    """(low, high) of the sequence so far.

    A candidate m is out once a gambler's wealth has ever reached 2/alpha (each
    gambler is one side, at alpha / 2). The bounds are rounded outwards to the grid.
    """
    level = math.log(2.0 / state.alpha)
    too_low = state.peak_up >= level  # the data sit above m
    too_high = state.peak_down >= level
    grid, last = state.grid, len(state.grid) - 1
    first_kept = int(np.argmin(too_low)) if not too_low.all() else last
    last_kept = last - int(np.argmin(too_high[::-1])) if not too_high.all() else 0
    low = float(grid[first_kept - 1]) if first_kept > 0 else 0.0
    high = float(grid[last_kept + 1]) if last_kept < last else 1.0
    return low, max(high, low)


def betting_interval(outcomes, alpha: float,
                     grid_step: float = GRID_STEP) -> tuple[float, float]:  # fmt: skip
    """The confidence sequence of the mean of `outcomes` (in [0, 1]) after all of
    them: valid at this n, and at any n a stopping rule could have chosen."""
    return bounds(bet(start(alpha, grid_step), outcomes))


# --- prediction-powered ----------------------------------------------------------------
@dataclass(frozen=True)
class PoweredSequence:
    """One policy's prediction-powered confidence sequence, updated pair by pair."""

    lower: BettingState  # bets on y - lambda f + lambda * g_low
    upper: BettingState  # bets on y - lambda f + lambda * g_high
    imagined_low: float  # bounds on imagination's mean over reset seeds
    imagined_high: float
    imagined_mean: float
    imagined_count: int
    real: np.ndarray  # [n] real outcomes so far
    paired: np.ndarray  # [n] imagination's predictions from the same seeds
    powers: np.ndarray  # [n] lambda used for each pair (chosen before it was seen)


@dataclass(frozen=True)
class SequenceEstimate:
    """A rate with its anytime-valid interval."""

    rate: float
    low: float
    high: float
    real_episodes: int
    imagined_episodes: int
    power: float  # the lambda the next pair would use

    @property
    def width(self) -> float:
        return self.high - self.low


def powered_start(imagined_only, alpha: float,
                  grid_step: float = GRID_STEP) -> PoweredSequence:  # fmt: skip
    """A sequence at error rate alpha for one policy, before any real episode.

    imagined_only [N] (may be empty: then the sequence is the real-only one) bounds
    imagination's mean with IMAGINED_SHARE of alpha.
    """
    imagined_only = np.asarray(imagined_only, np.float64).reshape(-1)
    if len(imagined_only):
        imagined_alpha = IMAGINED_SHARE * alpha
        g_low, g_high = _imagined_bounds(imagined_only.tobytes(), imagined_alpha, grid_step)
        real_alpha = alpha - imagined_alpha
        mean = float(imagined_only.mean())
    else:
        g_low = g_high = mean = 0.0
        real_alpha = alpha
    # Each bound is one-sided at real_alpha / 2: a two-sided state at real_alpha
    # rejects with either gambler at 2 / real_alpha.
    empty = np.zeros(0)
    return PoweredSequence(start(real_alpha, grid_step), start(real_alpha, grid_step),
                           g_low, g_high, mean,
                           len(imagined_only), empty, empty, empty)  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _imagined_bounds(imagined_bytes: bytes, alpha: float, grid_step: float):
    """Bounds on imagination's mean (memoised: a loop starts every policy's sequence
    from the same imagined-only sample, and the validation reuses its draws)."""
    return betting_interval(np.frombuffer(imagined_bytes, np.float64), alpha, grid_step)


def next_power(sequence: PoweredSequence) -> float:
    """lambda for the next pair, from the earlier pairs only (so x stays a martingale
    difference): PPI++'s cov(y, f) / ((1 + n/N) var(f)) with the two disagreeing
    pseudo-pairs of worldgym.evaluation.ppi, which keep it near 0 while pairs are few."""
    n = len(sequence.real)
    return float(_powers(sequence.real, sequence.paired, n, sequence.imagined_count)[-1])


def _powers(real: np.ndarray, paired: np.ndarray, first: int, imagined_count: int) -> np.ndarray:
    """next_power before each of the pairs first, first + 1, ..., n - 1, and before the
    next one after them ([n - first + 1]), from running sums of the pairs before."""
    if imagined_count == 0:
        return np.zeros(len(real) - first + 1)
    # sums over the pseudo-pairs (1, 0) and (0, 1) and the pairs before each position
    y = np.concatenate([PSEUDO_REAL, real])
    f = np.concatenate([PSEUDO_IMAGINED, paired])
    count = np.arange(first + 2, len(y) + 1)  # pairs (with pseudo) before each position
    sum_y, sum_f = np.cumsum(y)[count - 1], np.cumsum(f)[count - 1]
    sum_yf, sum_ff = np.cumsum(y * f)[count - 1], np.cumsum(f * f)[count - 1]
    spread = (sum_ff - sum_f**2 / count) / (count - 1)
    covariance = (sum_yf - sum_y * sum_f / count) / (count - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = covariance / ((1.0 + count / imagined_count) * spread)
    return np.where(spread > 1e-12, np.clip(power, 0.0, 1.0), 0.0)


def powered_update(sequence: PoweredSequence, real, paired) -> PoweredSequence:
    """Add new pairs in order, each with the lambda the pairs before it chose."""
    real = np.asarray(real, np.float64).reshape(-1)
    paired = np.asarray(paired, np.float64).reshape(-1)
    if len(real) != len(paired):
        raise ValueError(f"Each real episode needs its imagined twin: got {len(real)} real and "
                         f"{len(paired)} paired imagined outcomes.")  # fmt: skip
    if not len(real):
        return sequence
    all_real = np.concatenate([sequence.real, real])
    all_paired = np.concatenate([sequence.paired, paired])
    power = _powers(all_real, all_paired, len(sequence.real), sequence.imagined_count)[:-1]
    # x = y - lambda f + lambda c lies in [lambda (c - 1), 1 + lambda c], known before
    # the pair is seen: the stakes are truncated to that range.
    low_c, high_c = sequence.imagined_low, sequence.imagined_high
    lower = bet(sequence.lower, real - power * paired + power * low_c, power * (low_c - 1.0),
                1.0 + power * low_c)  # fmt: skip
    upper = bet(sequence.upper, real - power * paired + power * high_c,
                power * (high_c - 1.0), 1.0 + power * high_c)  # fmt: skip
    return replace(sequence, lower=lower, upper=upper, real=all_real, paired=all_paired,
                   powers=np.concatenate([sequence.powers, power]))  # fmt: skip


def powered_estimate(sequence: PoweredSequence) -> SequenceEstimate:
    """The rate (the prediction-powered point, inside the interval) and the interval."""
    low = max(bounds(sequence.lower)[0], 0.0)
    high = min(bounds(sequence.upper)[1], 1.0)
    n = len(sequence.real)
    if n == 0:
        rate = sequence.imagined_mean
    else:
        powers = sequence.powers
        rate = float(np.mean(sequence.real - powers * sequence.paired
                             + powers * sequence.imagined_mean))  # fmt: skip
    high = max(high, low)
    return SequenceEstimate(float(np.clip(rate, low, high)), float(low), float(high), n,
                            sequence.imagined_count, next_power(sequence))  # fmt: skip


def policy_alpha(confidence: float, policies: int) -> float:
    """Bonferroni: each of `policies` sequences gets (1 - confidence) / policies, so
    all hold together with probability at least `confidence`."""
    if policies < 1:
        raise ValueError("A decision needs at least one policy.")
    return (1.0 - confidence) / policies


def real_only_sequence(real, alpha: float) -> SequenceEstimate:
    """The real episodes' own confidence sequence at error rate alpha (no imagination)."""
    real = np.asarray(real, np.float64).reshape(-1)
    low, high = betting_interval(real, alpha)
    rate = float(real.mean()) if len(real) else 0.5
    return SequenceEstimate(float(np.clip(rate, low, high)), low, high, len(real), 0, 0.0)
