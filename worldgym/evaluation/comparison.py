"""Is policy A better than policy B in reality? `worldgym compare TASK A B`.

Both run on the same reset seeds, so the comparison is paired: only seeds where
one succeeds and the other fails say anything about which is better. The
difference gets Tango's score interval (worldgym.evaluation.differences), which
keeps a width when the two agree on every seed, and the verdict reads its
bounds:

- "A better" / "B better": the interval excludes 0;
- "equivalent within ±margin": the interval lies inside ±margin;
- "UNDERPOWERED": neither, with about how many paired episodes would settle it
  (if the difference stayed where it is and the interval narrowed as 1/sqrt(n)).

Where a world model is given, imagination's difference on the same seeds is shown
beside it: a pair that imagination separates widely, inside the model's
experience, rarely needs the real episodes; a close one does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldgym.envs import get_task
from worldgym.evaluation.differences import PairedDifference, paired_difference
from worldgym.evaluation.paired import imagined_outcomes, load_policies, real_outcomes
from worldgym.imagination.engine import initial_observations
from worldgym.options import Cache, Confidence, TaskChoice, Workers
from worldgym.policies.host import host_errors
from worldgym.seeds import TEST, describe
from worldgym.training.checkpoint import load_world_model, resolve_checkpoint


@dataclass(frozen=True)
class CompareConfig(Cache, Workers, Confidence, TaskChoice):
    a: str = "oracle"
    """Policy A: a name or module:attribute."""
    b: str = "noisy"
    """Policy B: a name or module:attribute."""
    episodes: int = 100
    """Paired real episodes (both policies from each reset seed)."""
    margin: float = 0.05
    """Differences within ±margin count as equivalent."""
    checkpoint: str = ""
    """World model to show imagination's difference too ("" for none; "default" for
    runs/models/<task>)."""
    seed: int = TEST.first
    """First reset seed (the test range of worldgym.seeds)."""


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    real: PairedDifference  # rate(A) - rate(B) in reality
    rate_a: float
    rate_b: float
    verdict: str  # "A better", "B better", "equivalent", "UNDERPOWERED"
    needed: int | None  # paired episodes that would likely settle an UNDERPOWERED verdict
    margin: float
    seeds: str
    imagined: PairedDifference | None = None

    def sentence(self) -> str:
        d = self.real
        text = (f"{self.a} {self.rate_a:.0%} vs {self.b} {self.rate_b:.0%} on {self.seeds}: "
                f"difference {d.difference:+.1%} [{d.low:+.1%}, {d.high:+.1%}] "
                f"({d.a_only} seeds only {self.a} succeeds, {d.b_only} only "
                f"{self.b}). ")  # fmt: skip
        if self.verdict == "A better":
            text += f"{self.a} is better."
        elif self.verdict == "B better":
            text += f"{self.b} is better."
        elif self.verdict == "equivalent":
            text += f"Equivalent within ±{self.margin:.0%}."
        else:
            text += (f"UNDERPOWERED: the interval neither excludes 0 nor lies within "
                     f"±{self.margin:.0%}; about {self.needed} paired episodes would settle "
                     "it if the difference holds.")  # fmt: skip
        if self.imagined is not None:
            i = self.imagined
            text += (f" Imagination on the same seeds: {i.difference:+.1%} "
                     f"[{i.low:+.1%}, {i.high:+.1%}].")  # fmt: skip
        return text


def compare_outcomes(a: str, b: str, real_a, real_b, margin: float = 0.05,
                     confidence: float = 0.95, seeds: str = "",
                     imagined: PairedDifference | None = None) -> Comparison:  # fmt: skip
    """The paired comparison and its verdict (pure)."""
    if not 0 <= margin < 1:
        raise ValueError(f"--margin must be in [0, 1), got {margin}.")
    real = paired_difference(np.asarray(real_a, int), np.asarray(real_b, int), confidence)
    needed = None
    if real.low > 0:
        verdict = "A better"
    elif real.high < 0:
        verdict = "B better"
    elif -margin <= real.low and real.high <= margin:
        verdict = "equivalent"
    else:
        verdict = "UNDERPOWERED"
        half = (real.high - real.low) / 2
        # narrow enough to exclude 0, or to fit inside ±margin, whichever is nearer
        target = max(abs(real.difference), margin - abs(real.difference))
        needed = int(math.ceil(real.pairs * (half / target) ** 2)) if target > 0 else None
    return Comparison(a, b, real, float(np.mean(real_a)), float(np.mean(real_b)), verdict,
                      needed, margin, seeds, imagined)  # fmt: skip


def compare(config: CompareConfig, progress: bool = True) -> Comparison:
    """Run A and B on the same seeds (cached) and compare them."""

    if config.episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {config.episodes}.")
    if config.a == config.b:
        raise ValueError(f"Compare two different policies, got {config.a!r} twice.")
    task = get_task(config.task)
    policies = load_policies(task, (config.a, config.b))
    seeds = np.arange(config.seed, config.seed + config.episodes)
    cache = Path(config.cache)
    imagined = None
    with host_errors():
        real = real_outcomes(task, policies, seeds, cache, config.workers, progress)
        if config.checkpoint:
            checkpoint = resolve_checkpoint(
                task, None if config.checkpoint == "default" else config.checkpoint
            )
            model = load_world_model(checkpoint, task)
            dreamt = imagined_outcomes(model, task, policies, initial_observations(task, seeds),
                                       seeds, cache, 0, progress)  # fmt: skip
            imagined = paired_difference(dreamt[0].success.astype(int),
                                         dreamt[1].success.astype(int),
                                         config.confidence)  # fmt: skip
    return compare_outcomes(config.a, config.b, real[0].success, real[1].success, config.margin,
                            config.confidence, describe(seeds), imagined)  # fmt: skip


TOP_PAIRS_COLUMNS = (
    "pair (by imagined rate)",
    "imagined difference",
    "imagination says",
    "real difference",
    "verdict from real episodes",
)


def top_pairs(evaluation, count: int = 4, margin: float = 0.05) -> list[list[str]]:
    """The neighbouring pairs among the policies imagination ranks highest: where
    imagination already separates them (its paired interval clear of ±margin) real
    episodes are only a check; where it does not, they are what decides, and the
    real verdict is given with its interval."""
    order = sorted(evaluation.policies, key=lambda p: -p.imagined_rate)[: count + 1]
    rows = []
    for a, b in zip(order[:-1], order[1:], strict=False):
        dreamt = paired_difference(a.imagined.success.astype(int), b.imagined.success.astype(int))
        separated = dreamt.low > margin or dreamt.high < -margin
        real = compare_outcomes(a.name, b.name, a.real.success, b.real.success, margin)
        needed = f" (about {real.needed} paired episodes)" if real.needed else ""
        rows.append([f"{a.name} vs {b.name}",
                     f"{dreamt.difference:+.0%} [{dreamt.low:+.0%}, {dreamt.high:+.0%}]",
                     "separated" if separated else "close: real episodes decide",
                     f"{real.real.difference:+.0%} [{real.real.low:+.0%}, {real.real.high:+.0%}]",
                     real.verdict + needed])  # fmt: skip
    return rows
