"""Judging new policies in imagination, audited by a few real episodes: `worldgym imagine`.

After calibration, the point of a world model is to judge policies without running
them. But a model can be wrong and sure: on an outside suite it imagined a policy
at 88% that succeeds 5% of the time, inside its experience and with low
uncertainty, so no analysis of the model alone can catch it. Only real episodes
can. So by default each policy also runs k real episodes (reset seeds shared
with its first k imagined episodes), and an exact paired test asks whether
imagination's outcomes on those seeds disagree with reality more one way than
the other. The tests of all policies are read together with the false discovery
rate controlled (Benjamini-Hochberg), so a zoo of many policies does not flag
some by chance.

A policy whose audit contradicts imagination, or which the trust analysis puts
outside the model's experience, gets its estimate from the prediction-powered
interval (k real pairs plus the other imagined episodes), never from imagination
alone. The output says how large a bias the audit could see at its k at all
(k = 20: about 30 points); with k = 0 it says that trust rests on the model alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from worldgym.envs import get_task
from worldgym.evaluation.differences import (
    PairedDifference,
    benjamini_hochberg,
    paired_difference,
    paired_test,
    smallest_detectable,
    wilson_interval,
)
from worldgym.evaluation.estimation import predictions
from worldgym.evaluation.paired import imagined_outcomes, load_policies, real_outcomes
from worldgym.evaluation.ppi import RateEstimate, estimate_rate
from worldgym.evaluation.selection import Selection, resolve
from worldgym.evaluation.support import load_or_build_reference, policy_support
from worldgym.fingerprints import model_fingerprint
from worldgym.imagination.engine import initial_observations
from worldgym.policies.host import host_errors
from worldgym.seeds import TEST, describe

AUDIT_EPISODES = 20
"""Default k: real episodes per policy in the audit."""


@dataclass(frozen=True)
class ImagineConfig(Selection):
    imagined_episodes: int = 200
    """Imagined episodes per policy."""
    real_episodes: int = AUDIT_EPISODES
    """k: real episodes per policy that audit imagination (0: none, trust the model)."""
    false_discovery: float = 0.05
    """False discovery rate of the audit's flags, over all policies."""
    seed: int = TEST.first
    """First reset seed (the test range of worldgym.seeds)."""


@dataclass(frozen=True)
class PolicyAudit:
    """One policy: imagination's rate, its audit, and the estimate to use."""

    name: str
    imagined_rate: float
    imagined_interval: tuple[float, float]  # Wilson, over the imagined episodes
    trusted: bool  # inside the model's experience (trust analysis); True if unknown
    audited: int  # k
    gap: PairedDifference | None  # imagined - real on the k shared seeds
    p_value: float | None  # exact paired test of "no gap"
    contradicted: bool  # the audit rejects imagination (FDR-controlled)
    estimate: RateEstimate | None  # prediction-powered (k real pairs): None without k

    @property
    def verdict(self) -> str:
        if self.audited == 0:
            return "not audited"
        return "CONTRADICTED" if self.contradicted else "consistent"

    @property
    def use(self) -> tuple[str, float, float, float]:
        """(source, rate, low, high): imagination where it is trusted and its audit
        consistent; the prediction-powered estimate otherwise (when there is one)."""
        if self.estimate is not None and (self.contradicted or not self.trusted):
            e = self.estimate
            return "prediction-powered", e.rate, e.low, e.high
        return "imagination", self.imagined_rate, *self.imagined_interval


@dataclass(frozen=True)
class Judgement:
    task: str
    checkpoint: str
    seeds: str
    config: dict
    policies: list[PolicyAudit]
    detectable: float | None  # the smallest bias the audit can see (None: no audit)


def audit_policies(names, real, imagined, paired_prediction, trusted, false_discovery=0.05):
    """The pure audit. real[p] [k] real outcomes; imagined[p] [N >= k] imagined outcomes
    whose first k share reset seeds with real[p]; paired_prediction[p] [N]
    imagination's per-episode prediction (for the estimate); trusted[p] bool."""
    count = len(names)
    audited = [len(r) for r in real]
    p_values = np.ones(count)
    for index in range(count):
        if audited[index]:
            p_values[index] = paired_test(np.asarray(imagined[index][: audited[index]], int),
                                          np.asarray(real[index], int))  # fmt: skip
    tested = [i for i in range(count) if audited[i]]
    contradicted = np.zeros(count, bool)
    if tested:
        contradicted[tested] = benjamini_hochberg(p_values[tested], false_discovery)
    rows = []
    for index, name in enumerate(names):
        outcomes = np.asarray(imagined[index], np.float64)
        low, high = wilson_interval(int(outcomes.sum()), len(outcomes))
        k = audited[index]
        gap = estimate = None
        if k:
            gap = paired_difference(outcomes[:k].astype(int), np.asarray(real[index], int))
            prediction = np.asarray(paired_prediction[index], np.float64)
            estimate = estimate_rate(real[index], prediction[:k], prediction[k:])
        rows.append(PolicyAudit(name, float(outcomes.mean()), (float(low), float(high)),
                                bool(trusted[index]), k, gap,
                                float(p_values[index]) if k else None,
                                bool(contradicted[index]), estimate))  # fmt: skip
    return rows


def imagine(config: ImagineConfig, progress: bool = True) -> Judgement:
    """Judge the policies in imagination, audited by k real episodes each."""

    check_config(config)
    task = get_task(config.task)
    policies = load_policies(task, config.policies)  # before the model: cheap to refuse
    _, checkpoint, model = resolve(config, task=task)
    reference = load_or_build_reference(model, task, checkpoint, key=model_fingerprint(model))
    seeds = np.arange(config.seed, config.seed + config.imagined_episodes)
    with host_errors():
        imagined = imagined_outcomes(model, task, policies, initial_observations(task, seeds),
                                     seeds, Path(config.cache), config.imagination_seed,
                                     progress)  # fmt: skip
        real = [np.zeros(0)] * len(policies)
        if config.real_episodes:
            real = [o.success for o in real_outcomes(task, policies, seeds[: config.real_episodes],
                                                     Path(config.cache), config.workers,
                                                     progress)]  # fmt: skip
    trusted = [reference is None or not policy_support(reference, model, o).flagged
               for o in imagined]  # fmt: skip
    rows = audit_policies([p.name for p in policies], real, [o.success for o in imagined],
                          [predictions(o, "members") for o in imagined], trusted,
                          config.false_discovery)  # fmt: skip
    detectable = (smallest_detectable(config.real_episodes, config.false_discovery)
                  if config.real_episodes else None)  # fmt: skip
    return Judgement(task.name, str(checkpoint), describe(seeds), asdict(config), rows,
                     detectable)  # fmt: skip


def check_config(config: ImagineConfig) -> None:
    """Refuse bad settings in one sentence each, before any episode runs."""
    if config.imagined_episodes < 1:
        raise ValueError(f"--imagined-episodes must be at least 1, got "
                         f"{config.imagined_episodes}.")  # fmt: skip
    if not 0 <= config.real_episodes <= config.imagined_episodes:
        raise ValueError(f"--real-episodes must be between 0 and --imagined-episodes "
                         f"({config.imagined_episodes}), got {config.real_episodes}.")  # fmt: skip
    if not 0 < config.false_discovery < 1:
        raise ValueError(f"--false-discovery must be in (0, 1), got {config.false_discovery}.")


def format_judgement(judgement: Judgement) -> str:
    """A Markdown table and the sentences that say what the audit can and cannot see."""
    lines = [
        f"| {judgement.task} policy | imagined | 95% interval | trust analysis | audit: "
        "imagined - real on shared seeds | p | audit | estimate to use |",
        "|---|---:|---|---|---|---:|---|---|",
    ]
    for p in judgement.policies:
        gap = (f"{p.gap.difference:+.0%} [{p.gap.low:+.0%}, {p.gap.high:+.0%}] "
               f"({p.gap.a_only} vs {p.gap.b_only} of {p.audited} disagree)"
               if p.gap else "-")  # fmt: skip
        p_value = f"{p.p_value:.3f}" if p.p_value is not None else "-"
        source, rate, low, high = p.use
        lines.append(
            f"| {p.name} | {p.imagined_rate:.0%} | [{p.imagined_interval[0]:.0%}, "
            f"{p.imagined_interval[1]:.0%}] | {'trusted' if p.trusted else 'NOT trusted'} "
            f"| {gap} | {p_value} | {p.verdict} | {rate:.0%} [{low:.0%}, {high:.0%}] "
            f"({source}) |"
        )
    lines += ["", f"Seeds: {judgement.seeds}.", audit_sentence(judgement)]
    return "\n".join(lines)


def audit_sentence(judgement: Judgement) -> str:
    """What the audit can see, and what it found."""
    if judgement.detectable is None:
        return ("No real episodes audited imagination: its trust rests on the model alone, "
                "and a model that is wrong and sure cannot be caught this way.")  # fmt: skip
    k = judgement.config["real_episodes"]
    fdr = judgement.config["false_discovery"]
    flagged = [p.name for p in judgement.policies if p.contradicted]
    found = (f"It contradicts imagination on {', '.join(flagged)}; their estimates come from "
             "the prediction-powered interval." if flagged else
             "It contradicts imagination on none of them.")  # fmt: skip
    return (f"The audit ran {k} real episodes per policy (false discovery rate {fdr:.0%}). "
            f"{found} At k = {k} it cannot see a bias smaller than "
            f"{judgement.detectable:.0%} (that many of the {k} shared seeds must disagree, "
            "all the same way); smaller errors pass unseen.")  # fmt: skip
