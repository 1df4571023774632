"""A ranking from paired outcomes: Bradley-Terry over shared reset seeds.

Every policy ran from the same reset seeds, so each seed is a little tournament:
where one policy succeeds and another fails, the first wins that pair. The
Bradley-Terry model (the pairwise method RoboArena brought over from LLM
evaluation) gives each policy a strength s with P(i beats j) = s_i / (s_i + s_j),
fitted by maximum likelihood. Each policy also plays one
pseudo-game against a reference of strength 1 that it wins half the time, so a
policy that never wins keeps a finite strength. Intervals come from a bootstrap
over seeds (a seed's outcomes of all policies kept together).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import expit

PRIOR_GAMES = 1.0
"""Pseudo-games per policy against the reference (half won)."""


@dataclass(frozen=True)
class PairedRanking:
    names: list[str]
    strength: np.ndarray  # [P] log strength, reference 0
    low: np.ndarray  # [P] 2.5% bootstrap quantile of the log strength
    high: np.ndarray  # [P]
    rank_low: np.ndarray  # [P] best rank in 95% of resamples (1 = best)
    rank_high: np.ndarray  # [P]


def pairwise_wins(outcomes) -> np.ndarray:
    """[P, P] seeds on which policy i succeeded and policy j failed."""
    outcomes = np.asarray(outcomes, np.float64)  # [P, seeds]
    return outcomes @ (1.0 - outcomes).T


def bradley_terry(wins) -> np.ndarray:
    """Log strengths from a [P, P] win matrix: the maximum of the Bradley-Terry log
    likelihood with the prior games (L-BFGS with its exact gradient; the MM
    algorithm's iterations crawl along the overall scale, which only the prior
    pins down)."""

    wins = np.asarray(wins, np.float64)
    games = wins + wins.T
    half = PRIOR_GAMES / 2

    def negative(theta):
        gap = theta[:, None] - theta[None, :]
        value = np.sum(wins * -np.logaddexp(0.0, -gap))
        value += np.sum(half * (theta - np.logaddexp(theta, 0.0)) - half * np.logaddexp(theta, 0.0))
        gradient = (wins - games * expit(gap)).sum(axis=1) + half - PRIOR_GAMES * expit(theta)
        return -value, -gradient

    start = np.zeros(len(wins))
    result = optimize.minimize(negative, start, jac=True, method="L-BFGS-B",
                               options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 2000})  # fmt: skip
    return result.x


def paired_ranking(names, outcomes, resamples: int = 500, seed: int = 0) -> PairedRanking:
    """Bradley-Terry strengths of policies from their outcomes [P, seeds] on shared
    seeds, with bootstrap intervals over seeds."""
    outcomes = np.asarray(outcomes, np.float64)
    if outcomes.ndim != 2 or outcomes.shape[0] != len(names) or outcomes.shape[1] < 1:
        raise ValueError("A paired ranking needs outcomes [policies, seeds] for every policy.")
    strength = bradley_terry(pairwise_wins(outcomes))
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [
            bradley_terry(
                pairwise_wins(outcomes[:, rng.integers(0, outcomes.shape[1], outcomes.shape[1])])
            )
            for _ in range(resamples)
        ]
    )  # [R, P] fmt: skip
    ranks = (-draws).argsort(axis=1).argsort(axis=1) + 1  # [R, P], 1 = best
    return PairedRanking(list(names), strength, np.quantile(draws, 0.025, axis=0),
                         np.quantile(draws, 0.975, axis=0), np.quantile(ranks, 0.025, axis=0),
                         np.quantile(ranks, 0.975, axis=0))  # fmt: skip


RANKING_COLUMNS = (
    "policy",
    "Bradley-Terry log strength",
    "95% interval",
    "rank",
    "P(beats the median policy where they differ)",
)


def ranking_rows(ranking: PairedRanking) -> list[list[str]]:
    """Rows of RANKING_COLUMNS, strongest first."""
    order = np.argsort(-ranking.strength, kind="stable")
    middle = np.median(ranking.strength)
    rows = []
    for index in order:
        low, high = int(ranking.rank_low[index]), int(ranking.rank_high[index])
        beats = 1 / (1 + np.exp(middle - ranking.strength[index]))
        rows.append([ranking.names[index], f"{ranking.strength[index]:+.2f}",
                     f"[{ranking.low[index]:+.2f}, {ranking.high[index]:+.2f}]",
                     f"{low}" if low == high else f"{low}-{high}", f"{beats:.0%}"])  # fmt: skip
    return rows
