"""Spend a budget of real episodes where they settle a decision, and stop when it is.

The decision is either which policy is best (within a tolerance) or which
policies clear a success threshold. Each round every policy's prediction-powered
confidence sequence is updated (worldgym.evaluation.sequential), and the next
batch of real episodes goes only to the policies whose intervals leave the
decision open:

- best: the leader and its strongest challenger, the one whose interval reaches
  highest above the leader's lower bound (LUCB, Kalyanakrishnan et al., ICML
  2012); settled when the leader's lower bound clears every other upper bound
  (less the tolerance);
- threshold: every policy whose interval still contains the threshold; settled
  when none does.

The loop looks at its intervals after every batch and stops when they answer, a
time chosen by the data, so they must hold at any stopping time: they are
confidence sequences, each at (1 - confidence) / P for P policies, so all of them
hold together, at every round, with probability at least `confidence`. (Nominal
fixed-n intervals looked at every round declared a policy exactly at the
threshold on one side 35% of the time.) Where the model predicts a policy's
episodes badly, imagination's weight goes to 0 and its interval narrows only
as fast as real episodes alone allow, so it keeps drawing episodes.

`allocate` is pure apart from `draw`, the caller's source of new episodes: the
CLI runs real ones, the validation script resamples a large ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from worldgym.evaluation.sequential import (
    SequenceEstimate,
    policy_alpha,
    powered_estimate,
    powered_start,
    powered_update,
)


@dataclass(frozen=True)
class Decision:
    """What the real episodes are for."""

    threshold: float | None = None
    """Success rate a policy must clear (None: find the best policy)."""
    tolerance: float = 0.02
    """Finding the best: a policy within this of the best counts as best."""

    def describe(self) -> str:
        if self.threshold is None:
            return f"find the best policy (within {self.tolerance:.0%})"
        return f"which policies clear a real success rate of {self.threshold:.0%}"


def parse_threshold(text) -> float | None:
    """--threshold: a success rate in (0, 1), or empty for "find the best"."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"--threshold is a success rate between 0 and 1 such as 0.8, got "
                         f"{text!r}.") from None  # fmt: skip
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"--threshold is a success rate strictly between 0 and 1, got {text}.")
    return value


def open_policies(estimates: list[SequenceEstimate], decision: Decision,
                  names: list[str]) -> tuple[list[int], str]:  # fmt: skip
    """The policies to run next (none once the decision is settled) and why, in words."""
    if decision.threshold is not None:
        threshold = decision.threshold
        # An interval that touches the threshold does not exclude it (sequence bounds
        # sit on a grid that holds round thresholds).
        open_ = [i for i, e in enumerate(estimates) if e.low <= threshold <= e.high]
        if not open_:
            return [], f"every interval is on one side of {threshold:.0%}"
        listed = ", ".join(_named(names[i], estimates[i]) for i in open_)
        return open_, f"their intervals contain {threshold:.0%}: {listed}"
    leader = best_estimate(estimates)
    others = [i for i in range(len(estimates)) if i != leader]
    if not others:
        return [], "only one policy"
    challenger = max(others, key=lambda i: estimates[i].high)
    if estimates[leader].low >= estimates[challenger].high - decision.tolerance:
        return [], (f"{_named(names[leader], estimates[leader])} is ahead of every other "
                    "policy's interval")  # fmt: skip
    return [leader, challenger], (
        f"leader {_named(names[leader], estimates[leader])}, challenger "
        f"{_named(names[challenger], estimates[challenger])} overlaps it"
    )


def best_estimate(estimates: list[SequenceEstimate]) -> int:
    """The leader: the highest estimate; among equal ones, the best-supported (highest
    lower bound), so a policy does not lead on a few lucky episodes."""
    return max(range(len(estimates)), key=lambda i: (estimates[i].rate, estimates[i].low))


def _named(name: str, estimate: SequenceEstimate) -> str:
    return f"{name} {estimate.rate:.0%} [{estimate.low:.0%}, {estimate.high:.0%}]"


@dataclass
class ActiveResult:
    """Every policy's episodes after the loop, and what each round did."""

    real: list[np.ndarray]
    paired: list[np.ndarray]
    settled: bool
    leader: int = -1  # finding the best: the leading policy when the loop ended
    rounds: list[dict] = field(default_factory=list)
    estimates: list[SequenceEstimate] = field(default_factory=list)
    """Each policy's anytime-valid estimate when the loop ended (all hold together at
    the loop's confidence)."""

    @property
    def spent(self) -> int:
        return int(sum(len(r) for r in self.real))


Draw = Callable[[int, int], tuple[np.ndarray, np.ndarray]]
"""draw(policy index, k) -> (real outcomes [k], paired imagined outcomes [k]) of k new
episodes of that policy."""


def allocate(draw: Draw, imagined_only: list[np.ndarray], decision: Decision, names: list[str],
             budget: int, first: int = 5, batch: int = 5, confidence: float = 0.95,
             report: Callable[[str], None] | None = None,
             uniform: bool = False,
             announce: Callable[[list[str], str], None] | None = None) -> ActiveResult:  # fmt: skip
    """Run `first` episodes of every policy, then batches where the decision is open,
    until it is settled or the budget (total real episodes) is spent.

    uniform: the baseline that runs a batch of every policy each round, with the
    same stopping rule. announce(names, why), where given, hears each round's choice
    before its episodes are drawn (an operator-run session tells the person).
    """
    count = len(names)
    if count < 1 or len(imagined_only) != count:
        raise ValueError("Active allocation needs one imagined-only sample per policy.")
    if first < 1 or batch < 1:
        raise ValueError(f"Batches must hold at least one episode, got first={first}, "
                         f"batch={batch}.")  # fmt: skip
    if budget < first * count:
        raise ValueError(f"A budget of {budget} real episodes cannot run the first {first} of "
                         f"each of the {count} policies ({first * count}).")  # fmt: skip
    alpha = policy_alpha(confidence, count)
    sequences = [powered_start(only, alpha) for only in imagined_only]
    for index in range(count):
        y, f = draw(index, first)
        sequences[index] = powered_update(sequences[index], y, f)
    result = ActiveResult([], [], settled=False)
    spent = first * count
    while True:
        estimates = [powered_estimate(sequence) for sequence in sequences]
        result.estimates, result.leader = estimates, best_estimate(estimates)
        result.real = [sequence.real for sequence in sequences]
        result.paired = [sequence.paired for sequence in sequences]
        chosen, why = open_policies(estimates, decision, names)
        if not chosen:
            result.settled = True
            result.rounds.append({"spent": spent, "ran": [], "why": why})
            _say(report, f"settled after {spent} real episodes: {why}")
            return result
        if budget - spent < batch:
            result.rounds.append({"spent": spent, "ran": [], "why": "budget spent"})
            _say(report, f"budget of {budget} real episodes spent; still open: {why}")
            return result
        if uniform:
            chosen = list(range(count))
        chosen = chosen[: (budget - spent) // batch]  # what the budget still pays for
        if announce is not None:
            announce([names[i] for i in chosen], why)
        for index in chosen:
            y, f = draw(index, batch)
            sequences[index] = powered_update(sequences[index], y, f)
        spent += batch * len(chosen)
        ran = [names[i] for i in chosen]
        result.rounds.append({"spent": spent, "ran": ran, "why": why})
        _say(report, f"{spent:>5} real episodes: ran {batch} more of {', '.join(ran)} ({why})")


def _say(report, text: str) -> None:
    if report is not None:
        report(text)
