"""How many real episodes you still need: `worldgym estimate`.

For each policy, n real episodes paired with imagination from the same reset
seeds, plus N imagined-only episodes on further seeds, give the
prediction-powered estimate of its real success rate (worldgym.evaluation.ppi),
next to the real-only estimate from the same n episodes. With a budget, real
episodes are spent round by round where the decision is still open
(worldgym.evaluation.active). The episodes come from the same cached runners as
the paired evaluation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from worldgym.data.recorded import read_recorded
from worldgym.envs import get_task
from worldgym.evaluation.active import Decision, allocate, parse_threshold
from worldgym.evaluation.paired import (
    imagine_recorded,
    imagined_outcomes,
    load_policies,
    real_outcomes,
)
from worldgym.evaluation.ppi import RateEstimate, bootstrap_ranking, estimate_rate, real_only
from worldgym.evaluation.selection import RecordedSelection, Setup, named_policies, resolve
from worldgym.evaluation.sequential import SequenceEstimate, policy_alpha, real_only_sequence
from worldgym.imagination.engine import initial_observations
from worldgym.options import Bootstrap, Confidence
from worldgym.policies.host import host_errors
from worldgym.seeds import ESTIMATE, IMAGINED_ONLY, describe

IMAGINED_ONLY_SEED = IMAGINED_ONLY.first
"""First reset seed of the imagined-only episodes (worldgym.seeds)."""

PREDICTORS = ("success", "members")


@dataclass(frozen=True)
class EstimateConfig(Bootstrap, Confidence, RecordedSelection):
    real_episodes: int = 20
    """n: real episodes per policy, each paired with imagination from its reset seed
    (with --budget: the first batch of every policy)."""
    imagined_episodes: int = 1000
    """N: imagined-only episodes per policy, from the imagined-only seed range."""
    seed: int = ESTIMATE.first
    """First reset seed of the real episodes (the estimate range of worldgym.seeds)."""
    budget: int | None = None
    """Spend up to this many real episodes in all, batch by batch, where the decision is
    still open, and stop when it is settled (default: exactly n per policy)."""
    batch: int = 5
    """Real episodes per chosen policy and round (with --budget)."""
    threshold: str = ""
    """With --budget: decide which policies clear this real success rate (e.g. 0.8)
    instead of which is best."""
    tolerance: float = 0.02
    """With --budget, finding the best: a policy within this of the best counts."""
    predictor: str = "members"
    """Imagination's prediction per episode: "success" (the imagined outcome) or
    "members" (the share of the model and its members alone that succeed)."""


@dataclass(frozen=True)
class PolicyEstimate:
    """One policy's real success rate, estimated two ways from the same real episodes."""

    name: str
    real_only: RateEstimate | SequenceEstimate
    powered: RateEstimate | SequenceEstimate
    imagined_rate: float  # mean of the imagined-only episodes


@dataclass(frozen=True)
class Estimates:
    task: str
    checkpoint: str
    config: dict
    policies: list[PolicyEstimate]
    beats: np.ndarray  # [P, P]: probability that a beats b in reality
    rank_low: np.ndarray  # [P]
    rank_high: np.ndarray  # [P]
    rounds: list[dict]  # the active loop's log (empty without --budget)
    settled: bool | None  # whether the active loop settled its decision (None: no loop)
    decision: str = ""  # the active loop's decision and outcome, in words
    seeds: str = ""
    """Which reset seeds the real episodes used (worldgym.seeds.describe)."""
    intervals: str = "fixed-n"
    """"fixed-n": Wilson and PPI++ intervals, valid at the n fixed before the run;
    "anytime-valid": confidence sequences, each at (1 - confidence) / P, valid
    together at the active loop's data-chosen stopping time."""

    @property
    def real_episodes(self) -> int:
        return sum(p.real_only.real_episodes for p in self.policies)

    def to_dict(self) -> dict:
        return {
            "task": self.task, "checkpoint": self.checkpoint, "config": self.config,
            "policies": [{"policy": p.name, "real_only": asdict(p.real_only),
                          "prediction_powered": asdict(p.powered),
                          "imagined_rate": p.imagined_rate} for p in self.policies],
            "beats": self.beats.tolist(), "rank_low": self.rank_low.tolist(),
            "rank_high": self.rank_high.tolist(), "rounds": self.rounds,
            "settled": self.settled, "decision": self.decision,
            "real_episodes": self.real_episodes, "intervals": self.intervals,
            "seeds": self.seeds,
        }  # fmt: skip


def predictions(outcomes, predictor: str) -> np.ndarray:
    """Imagination's per-episode prediction of real success, from imagined Outcomes."""
    if predictor == "success" or outcomes.member_success is None:
        return outcomes.success.astype(np.float64)
    return np.vstack([outcomes.success[None], outcomes.member_success]).mean(axis=0)


def check_config(config: EstimateConfig) -> None:
    """Refuse bad settings in one sentence each, before any episode runs."""
    if config.real_episodes < 1:
        raise ValueError(f"--real-episodes must be at least 1 (a prediction-powered estimate "
                         f"needs paired real episodes), got {config.real_episodes}.")  # fmt: skip
    if config.imagined_episodes < 0:
        raise ValueError(f"--imagined-episodes must be 0 or more, got "
                         f"{config.imagined_episodes}.")  # fmt: skip
    if config.budget is not None and config.budget < 1:
        raise ValueError(f"--budget is a number of real episodes and must be at least 1, got "
                         f"{config.budget}.")  # fmt: skip
    if config.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {config.batch}.")
    if not 0.5 <= config.confidence < 1:
        raise ValueError(f"--confidence must be in [0.5, 1), got {config.confidence}.")
    if config.predictor not in PREDICTORS:
        raise ValueError(f"--predictor is one of {', '.join(PREDICTORS)}, got "
                         f"{config.predictor!r}.")  # fmt: skip
    if config.real_from and config.budget is not None:
        raise ValueError(
            "--budget runs new real episodes where the decision is open; with "
            "--real-from the recorded episodes are a fixed n: drop --budget."
        )
    if config.threshold and config.budget is None:
        raise ValueError("--threshold is the decision of an active run: give --budget too.")
    if not 0 <= config.tolerance < 1:
        raise ValueError(f"--tolerance must be in [0, 1), got {config.tolerance}.")
    parse_threshold(config.threshold)


def estimate(config: EstimateConfig, progress: bool = True, report=print,
             setup: Setup | None = None) -> Estimates:  # fmt: skip
    """Run (or load from the cache) the episodes and estimate every policy's real rate
    (`setup`: the config's selection already resolved)."""

    check_config(config)
    task = get_task(config.task) if setup is None else setup.task
    policies = load_policies(task, named_policies(config))  # before the model: cheap to refuse
    setup = resolve(config, task=task) if setup is None else setup
    checkpoint, model = setup.checkpoint, setup.model
    cache = Path(config.cache)
    names = [policy.name for policy in policies]

    def imagined(chosen, seeds, imagination_seed):
        outcomes = imagined_outcomes(model, task, chosen, initial_observations(task, seeds),
                                     seeds, cache, imagination_seed, progress)  # fmt: skip
        return [predictions(o, config.predictor) for o in outcomes]

    with host_errors():
        only_seeds = IMAGINED_ONLY_SEED + np.arange(config.imagined_episodes)
        imagined_only = [np.zeros(0)] * len(policies)
        if config.imagined_episodes:
            imagined_only = imagined(policies, only_seeds, config.imagination_seed + 1)
        next_seed = [config.seed] * len(policies)
        used_seeds: list[list[int]] = []
        batches = [0] * len(policies)

        def draw(index: int, count: int):
            seeds = np.arange(next_seed[index], next_seed[index] + count)
            next_seed[index] += count
            used_seeds.append(seeds.tolist())
            real = real_outcomes(task, [policies[index]], seeds, cache, config.workers, progress)
            # The model's own randomness: batch k uses seed + 2k (the first batch matches
            # a fixed-n run; seed + 1 is the imagined-only episodes').
            paired = imagined([policies[index]], seeds,
                              config.imagination_seed + 2 * batches[index])  # fmt: skip
            batches[index] += 1
            return real[0].success.astype(np.float64), paired[0]

        if config.real_from:
            reals, paireds, used_seeds = recorded_pairs(config, task, model, policies,
                                                        progress)  # fmt: skip
            rounds, settled, outcome = [], None, ""
        elif config.budget is None:
            seeds = config.seed + np.arange(config.real_episodes)
            used_seeds.append(seeds.tolist())
            reals = [o.success.astype(np.float64)
                     for o in real_outcomes(task, policies, seeds, cache, config.workers,
                                            progress)]  # fmt: skip
            paireds = imagined(policies, seeds, config.imagination_seed)
            rounds, settled, outcome = [], None, ""
        else:
            decision = Decision(parse_threshold(config.threshold), config.tolerance)
            report(f"Active: {decision.describe()}, at most {config.budget} real episodes.")
            result = allocate(draw, imagined_only, decision, names, config.budget,
                              config.real_episodes, config.batch, config.confidence,
                              report)  # fmt: skip
            reals, paireds, rounds, settled = (result.real, result.paired, result.rounds,
                                               result.settled)  # fmt: skip
            outcome = decision_outcome(decision, result, names)

    if config.budget is None:
        powered = [estimate_rate(r, p, g, config.confidence)
                   for r, p, g in zip(reals, paireds, imagined_only, strict=True)]  # fmt: skip
        real_alone = [real_only(r, config.confidence) for r in reals]
        ranking = bootstrap_ranking(reals, paireds, imagined_only, [e.power for e in powered],
                                    config.bootstrap, config.seed)  # fmt: skip
        beats, rank_low, rank_high = ranking.beats, ranking.rank_low, ranking.rank_high
        intervals = "fixed-n"
    else:
        # After a data-chosen stop only the confidence sequences are valid: fixed-n
        # intervals and a bootstrap of the episodes would read the stop as a plan.
        alpha = policy_alpha(config.confidence, len(reals))
        powered = result.estimates
        real_alone = [real_only_sequence(r, alpha) for r in reals]
        rank_low, rank_high = ranks_from_intervals(powered)
        beats = np.full((len(reals), len(reals)), np.nan)
        intervals = "anytime-valid"
    rows = [
        PolicyEstimate(name, alone, e, float(np.mean(g)) if len(g) else float("nan"))
        for name, alone, e, g in zip(names, real_alone, powered, imagined_only, strict=True)
    ]  # fmt: skip
    used = sorted({seed for seeds in used_seeds for seed in seeds}) if used_seeds else []
    return Estimates(task.name, str(checkpoint), asdict(config), rows, beats, rank_low,
                     rank_high, rounds, settled, outcome, describe(used), intervals)  # fmt: skip


def recorded_pairs(config, task, model, policies, progress):
    """Real outcomes from the recordings and imagination's predictions from each
    recorded start: (reals, paireds, seeds used)."""

    recorded = read_recorded(config.real_from, task, [p.name for p in policies],
                             frames=bool(model.frame_stack), camera=config.real_camera)  # fmt: skip
    imagined = imagine_recorded(model, task, policies, recorded, config.cache,
                                config.imagination_seed, progress)  # fmt: skip
    reals, paireds, used = [], [], []
    for policy, dreamt in zip(policies, imagined, strict=True):
        episodes = recorded[policy.name]
        reals.append(episodes.success.astype(np.float64))
        paireds.append(predictions(dreamt, config.predictor))
        if episodes.seeded:
            used.append(episodes.seeds.tolist())
    return reals, paireds, used


def ranks_from_intervals(estimates) -> tuple[np.ndarray, np.ndarray]:
    """Rank bounds (1 = best) that hold whenever every interval does: a policy ranks
    below every policy whose interval lies wholly above its own, and above every
    one wholly below."""
    lows = np.array([e.low for e in estimates])
    highs = np.array([e.high for e in estimates])
    above = (lows[None, :] > highs[:, None]).sum(axis=1)  # [P] policies surely better
    below = (highs[None, :] < lows[:, None]).sum(axis=1)
    return 1.0 + above, float(len(estimates)) - below


def decision_outcome(decision: Decision, result, names: list[str]) -> str:
    """What the active loop decided, with its guarantee, in one or two sentences."""
    state = "settled" if result.settled else "still open when the budget ran out"
    guarantee = ("Every interval is a confidence sequence and all hold together at the "
                 "stated confidence, whenever the loop stopped.")  # fmt: skip
    if decision.threshold is None:
        return (f"Best policy: {names[result.leader]} ({state}, {result.spent} real "
                f"episodes). {guarantee}")  # fmt: skip
    threshold = decision.threshold
    sides = {"above": [], "below": [], "undecided": []}
    for name, e in zip(names, result.estimates, strict=True):
        side = "above" if e.low > threshold else "below" if e.high < threshold else "undecided"
        sides[side].append(name)
    listed = "; ".join(f"{side}: {', '.join(found)}" for side, found in sides.items() if found)
    return (f"Threshold {threshold:.0%}: {state} after {result.spent} real episodes "
            f"({listed}). {guarantee}")  # fmt: skip


def format_estimates(estimates: Estimates) -> str:
    """A Markdown table: real-only and prediction-powered, with ranks."""
    confidence = estimates.config.get("confidence", 0.95)
    kind = (f"{confidence:.0%} interval" if estimates.intervals == "fixed-n"
            else "anytime-valid interval")  # fmt: skip
    lines = [
        f"| {estimates.task} policy | real episodes | real-only | {kind} "
        f"| prediction-powered | {kind} | width saved | lambda | imagined-only | rank |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---|",
    ]
    order = np.argsort([-p.powered.rate for p in estimates.policies], kind="stable")
    for index in order:
        p = estimates.policies[index]
        saved = 1 - p.powered.width / p.real_only.width if p.real_only.width > 0 else 0.0
        low, high = int(estimates.rank_low[index]), int(estimates.rank_high[index])
        rank = f"{low}" if low == high else f"{low}-{high}"
        lines.append(
            f"| {p.name} | {p.real_only.real_episodes} | {p.real_only.rate:.0%} "
            f"| [{p.real_only.low:.0%}, {p.real_only.high:.0%}] | {p.powered.rate:.0%} "
            f"| [{p.powered.low:.0%}, {p.powered.high:.0%}] | {saved:.0%} | {p.powered.power:.2f} "
            f"| {p.imagined_rate:.0%} | {rank} |"
        )
    return "\n".join(lines)


def format_beats(estimates: Estimates, top: int = 5) -> str:
    """The probability that each of the top policies beats the next one in reality."""
    if not np.isfinite(estimates.beats).all():
        return ("Anytime-valid intervals: the ranks above hold together with them (a "
                "bootstrap of adaptively drawn episodes would not).")  # fmt: skip
    order = np.argsort([-p.powered.rate for p in estimates.policies], kind="stable")[:top]
    lines = []
    for a, b in zip(order[:-1], order[1:], strict=False):
        lines.append(f"P({estimates.policies[a].name} beats {estimates.policies[b].name} "
                     f"in reality) = {estimates.beats[a, b]:.2f}")  # fmt: skip
    return "\n".join(lines)


# --- for the report: what the paired evaluation's real episodes are worth ----------------
def imagined_only_for(setup: Setup, config, count: int,
                      predictor: str = "members") -> list[np.ndarray]:  # fmt: skip
    """Imagination's predictions on `count` imagined-only seeds (5,000,000 on) for
    the policies of a selection, in its order (cached like every rollout), with the
    model its command already loaded (`setup`)."""

    task, model = setup.task, setup.model
    policies = load_policies(task, config.policies)
    seeds = IMAGINED_ONLY_SEED + np.arange(count)
    with host_errors():
        outcomes = imagined_outcomes(model, task, policies, initial_observations(task, seeds),
                                     seeds, config.cache, config.imagination_seed + 1)  # fmt: skip
    return [predictions(o, predictor) for o in outcomes]


def episode_budget(evaluation, imagined_only: list[np.ndarray], predictor: str = "members",
                   resamples: int = 100, seed: int = 0) -> dict:  # fmt: skip
    """Each policy's real rate from the evaluation's n real episodes, real-only and
    prediction-powered; the mean interval width of both against n (resampling the
    evaluation's pairs); and the n at which prediction-powered intervals are as
    narrow as real-only ones with all n episodes. With unequal counts (a recording),
    n is the smallest policy's count, and the curve draws n of each policy's own."""
    reals = [p.real.success.astype(np.float64) for p in evaluation.policies]
    paireds = [predictions(p.imagined, predictor) for p in evaluation.policies]
    episodes = min(len(real) for real in reals)
    rows = [
        {"policy": policy.name, "real_only": asdict(real_only(real)),
         "prediction_powered": asdict(estimate_rate(real, paired, only)),
         "imagined_only_rate": float(np.mean(only)) if len(only) else None}
        for policy, real, paired, only in zip(evaluation.policies, reals, paireds,
                                              imagined_only, strict=True)
    ]  # fmt: skip
    grid = sorted(set(range(5, episodes, 5)) | {episodes})
    curve = width_curve(reals, paireds, imagined_only, grid, resamples,
                        np.random.default_rng(seed))  # fmt: skip
    reference = curve["width_real"][-1]
    reach = [n for n, width in zip(grid, curve["width_ppi"], strict=True) if width <= reference]
    return {
        "episodes": episodes, "imagined_only": len(imagined_only[0]), "predictor": predictor,
        "policies": rows, "curve": curve, "reference_width": reference,
        "ppi_episodes_for_reference": reach[0] if reach else None,
        "saved": 1 - reach[0] / episodes if reach else 0.0,
    }  # fmt: skip


def width_curve(reals, paireds, imagined_only, grid, resamples: int, rng) -> dict:
    """Mean interval width over policies, PPI and real-only, at each n of `grid`: n
    pairs drawn with replacement `resamples` times (all of them, once, at n = all)."""
    curve = {"n": list(grid), "width_ppi": [], "width_real": []}
    for n in grid:
        ppi_widths, real_widths = [], []
        for real, paired, only in zip(reals, paireds, imagined_only, strict=True):
            draws = (
                [np.arange(len(real))]
                if n >= len(real)
                else [rng.integers(0, len(real), n) for _ in range(resamples)]
            )
            for rows in draws:
                ppi_widths.append(estimate_rate(real[rows], paired[rows], only).width)
                real_widths.append(real_only(real[rows]).width)
        curve["width_ppi"].append(float(np.mean(ppi_widths)))
        curve["width_real"].append(float(np.mean(real_widths)))
    return curve


def budget_sentence(budget: dict) -> str:
    """The saving, in one sentence."""
    n, k = budget["episodes"], budget["ppi_episodes_for_reference"]
    if k is None or k >= n:
        return (
            "Imagination does not narrow these intervals: prediction-powered estimates "
            f"need all {n} real episodes per policy to be as precise as real ones alone."
        )
    return (
        f"With {budget['imagined_only']} imagined episodes per policy, {k} real episodes "
        f"per policy give intervals as narrow as {n} real episodes alone: "
        f"{budget['saved']:.0%} fewer real episodes for the same precision."
    )
