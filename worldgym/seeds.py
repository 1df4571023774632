"""Every range of reset seeds worldgym uses, in one table.

A reset seed fixes an episode's initial state. Figures are only honest if the
seeds a model was trained on, the seeds a design choice was tuned on and the
seeds a result is reported on never overlap, so each use has its own range here
and nothing else in the package names a seed number (tests/test_seeds.py checks
both: the ranges are disjoint, and no module defines its own).

- test: what the docs, the report and the demo report as results. No design
  choice, threshold or default may be chosen by looking at these.
- dev: for tuning designs, thresholds and defaults.
- the rest feed training or imagination and never carry a reported figure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedRange:
    """Reset seeds first, first + 1, ..., stop - 1, for one use."""

    name: str
    first: int
    stop: int
    use: str

    def __contains__(self, seed: int) -> bool:
        return self.first <= seed < self.stop

    def seeds(self, count: int, offset: int = 0) -> range:
        """`count` seeds from first + offset, refused if they leave the range."""
        if count < 0 or offset < 0 or self.first + offset + count > self.stop:
            raise ValueError(f"{count} {self.name} seeds from offset {offset} leave the "
                             f"{self.name} range [{self.first:,}, {self.stop:,}).")  # fmt: skip
        return range(self.first + offset, self.first + offset + count)


TEST = SeedRange(
    "test", 0, 100_000, "paired evaluation, calibration, reports and the demo: reported results"
)
BEHAVIOUR_CLONING = SeedRange(
    "behaviour-cloning", 100_000, 110_000, "demonstrations of the zoo's bc-* and pixels-* policies"
)
DEV = SeedRange(
    "dev", 200_000, 300_000, "tuning designs, thresholds and defaults (never reported as results)"
)
COLLECTION = SeedRange(
    "collection",
    1_000_000,
    2_000_000,
    "behaviour data the world model trains on (`worldgym collect`)",
)
RL_STARTS = SeedRange(
    "rl-starts",
    2_000_000,
    3_000_000,
    "initial states of PPO training inside the model (`worldgym rl`)",
)
REFINE = SeedRange(
    "refine", 3_000_000, 4_000_000, "real episodes `worldgym refine` adds to the training data"
)
ESTIMATE = SeedRange(
    "estimate",
    4_000_000,
    5_000_000,
    "real episodes of `worldgym estimate` (fixed n or the active loop)",
)
IMAGINED_ONLY = SeedRange(
    "imagined-only",
    5_000_000,
    6_000_000,
    "imagination-only episodes of prediction-powered estimates",
)
VALIDATION = SeedRange(
    "validation",
    6_000_000,
    7_000_000,
    "ground truth of scripts/validate_estimates.py (fresh for the estimators)",
)
SESSION = SeedRange(
    "session", 7_000_000, 8_000_000, "real episodes of operator-run sessions (`worldgym session`)"
)

TABLE = (TEST, BEHAVIOUR_CLONING, DEV, COLLECTION, RL_STARTS, REFINE, ESTIMATE, IMAGINED_ONLY,
         VALIDATION, SESSION)  # fmt: skip

TRAINING_SPLIT = ("The train/validation split of a dataset is by episode, drawn with the "
                  "training run's --seed; it uses no reset seeds.")  # fmt: skip


def range_of(seed: int) -> SeedRange | None:
    """The named range a reset seed falls in (None: outside the table)."""
    return next((entry for entry in TABLE if seed in entry), None)


def describe(seeds) -> str:
    """Which seeds a figure used, in words: "test seeds 0-99" or, where they leave a
    single range, the ranges they touch."""
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        return "no seeds"
    low, high = min(seeds), max(seeds)
    first, last = range_of(low), range_of(high)
    span = f"{low:,}-{high:,}" if low != high else f"{low:,}"
    if first is not None and first == last:
        return f"{first.name} seeds {span}"
    names = sorted({entry.name for seed in seeds if (entry := range_of(seed))})
    return f"seeds {span} ({', '.join(names) or 'outside the seed table'})"


def markdown_table() -> str:
    """The table, for the docs."""
    lines = ["| range | reset seeds | used for |", "|---|---|---|"]
    lines += [f"| {e.name} | {e.first:,} to {e.stop - 1:,} | {e.use} |" for e in TABLE]
    return "\n".join(lines)
