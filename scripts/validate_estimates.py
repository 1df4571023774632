"""Do the estimators keep their promises? A reviewer's validation, on fresh seeds.

For one task: a ground truth per policy of G real episodes and imagination's
prediction from each of the same reset seeds, on the validation range of
worldgym.seeds (6,000,000 on), which no design choice looked at. These G pairs
are the population: each simulated run draws pairs from it with replacement, so
the estimators' assumption (independent draws from one population) holds exactly
and the truth is known exactly (the mean of the G real outcomes). Then:

1. coverage at fixed n, per policy, the worst policy shown: fixed-n PPI++ and
   Wilson (valid at one n fixed in advance) and the confidence sequences (valid at
   every n at once, checked at every look up to n);
2. coverage at the active loop's data-chosen stopping time, worst policy and all
   policies together, for "which is best" and "which clear the threshold";
3. wrong-side declarations at the boundary: one policy whose true rate is the
   threshold + 0, ±1, ±2 points, the loop run to its budget;
4. real episodes the active loop spends against the best fixed-n real-only
   protocol chosen with hindsight (the smallest n per policy at which Wilson
   intervals at the same simultaneous confidence settle the decision as often
   as the loop does), the headline;
5. the audit of `worldgym imagine` at k real episodes: how often it flags each
   policy (grouped by how far imagination is off), and, by simulation, a policy
   whose imagination is made wrong by d points among the real zoo.

    python scripts/validate_estimates.py Push --checkpoint runs/models/native-push

prints Markdown tables and writes runs/validation/<task>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from worldgym.evaluation.active import Decision, allocate
from worldgym.evaluation.audit import audit_policies
from worldgym.evaluation.differences import wilson_interval
from worldgym.evaluation.estimation import predictions
from worldgym.evaluation.ppi import estimate_rate, real_only
from worldgym.evaluation.sequential import powered_estimate, powered_start, powered_update
from worldgym.files import atomic_file
from worldgym.seeds import VALIDATION, describe

NS = (5, 10, 20, 50, 100)
POOL = 16
"""Imagined-only samples drawn per policy and reused across runs (each bounds
imagination's mean once; the real pairs are drawn afresh every run)."""
THRESHOLDS = (0.5, 0.55, 0.45, 0.6, 0.4, 0.65, 0.35, 0.7, 0.3, 0.75, 0.8)
"""Candidates for the threshold decision: the one farthest from every policy's true
rate is used (a policy exactly at the threshold can never be settled by anyone)."""
TOLERANCE = 0.05


def ground_truth(args):
    """Per policy: real outcomes [G] and paired imagined predictions [G] (cached)."""
    from worldgym.envs import get_task
    from worldgym.evaluation.paired import imagined_outcomes, load_policies, real_outcomes
    from worldgym.imagination.engine import initial_observations
    from worldgym.training.checkpoint import load_world_model, resolve_checkpoint

    task = get_task(args.task)
    policies = load_policies(task, args.policies)
    model = load_world_model(resolve_checkpoint(task, args.checkpoint or None), task)
    seeds = np.asarray(VALIDATION.seeds(args.ground_truth))
    real = real_outcomes(task, policies, seeds, args.cache)
    paired = imagined_outcomes(model, task, policies, initial_observations(task, seeds), seeds,
                               args.cache, 0)  # fmt: skip
    return ([p.name for p in policies], [o.success.astype(np.float64) for o in real],
            [predictions(o, "members") for o in paired], [o.success for o in paired],
            describe(seeds))  # fmt: skip


# --- 1. fixed n -----------------------------------------------------------------------------
def fixed_n_coverage(reals, paireds, imagined: int, resamples: int, rng) -> dict:
    """Per n: the worst policy's coverage of fixed-n PPI++, Wilson, and the sequences
    (the sequence's run counts as covering only if it covered at every look <= n)."""
    truths = [r.mean() for r in reals]
    rows = {}
    for n in NS:
        ppi, wilson = np.zeros((resamples, len(reals))), np.zeros((resamples, len(reals)))
        for r in range(resamples):
            for p, (real, paired) in enumerate(zip(reals, paireds, strict=True)):
                rows_ = rng.integers(0, len(real), n)
                only = paired[rng.integers(0, len(paired), imagined)]
                e = estimate_rate(real[rows_], paired[rows_], only)
                w = real_only(real[rows_])
                ppi[r, p] = e.low <= truths[p] <= e.high
                wilson[r, p] = w.low <= truths[p] <= w.high
        rows[n] = {"ppi": float(ppi.mean(0).min()), "wilson": float(wilson.mean(0).min())}
    sequences = sequence_coverage(reals, paireds, imagined, resamples, rng)
    for n in NS:
        rows[n]["sequence"] = float(sequences[n].min())
    return rows


def sequence_coverage(reals, paireds, imagined: int, resamples: int, rng) -> dict:
    """{n: [P] share of runs whose sequence covered the truth at every look up to n},
    one look per 5 pairs (alpha 0.05 per policy)."""
    truths = [r.mean() for r in reals]
    last = max(NS)
    covered = {n: np.zeros(len(reals)) for n in NS}
    for p, (real, paired) in enumerate(zip(reals, paireds, strict=True)):
        for _ in range(resamples):
            rows_ = rng.integers(0, len(real), last)
            sequence = powered_start(pooled(paired, imagined, rng), 0.05)
            ok, done = True, 0
            for n in sorted(set(range(5, last + 1, 5)) | set(NS)):
                sequence = powered_update(sequence, real[rows_[done:n]], paired[rows_[done:n]])
                done = n
                e = powered_estimate(sequence)
                ok = ok and e.low <= truths[p] <= e.high
                if n in covered:
                    covered[n][p] += ok / resamples
    return covered


_pools: dict = {}


def pooled(paired: np.ndarray, imagined: int, rng) -> np.ndarray:
    """One of POOL imagined-only samples of this policy (drawn once, then reused)."""
    key = (id(paired), imagined)
    if key not in _pools:
        _pools[key] = [paired[rng.integers(0, len(paired), imagined)] for _ in range(POOL)]
    return _pools[key][rng.integers(POOL)]


# --- 2-4. the active loop ---------------------------------------------------------------------
def sampler(reals, paireds, rng):
    def draw(index, count):
        rows_ = rng.integers(0, len(reals[index]), count)
        return reals[index][rows_], paireds[index][rows_]

    return draw


def decision_right(decision: Decision, estimates, truths) -> bool:
    if decision.threshold is None:
        leader = max(range(len(estimates)), key=lambda i: (estimates[i].rate, estimates[i].low))
        return truths[leader] >= max(truths) - decision.tolerance
    return all((e.low > decision.threshold and t > decision.threshold)
               or (e.high < decision.threshold and t < decision.threshold)
               for e, t in zip(estimates, truths, strict=True))  # fmt: skip


def active_runs(names, reals, paireds, decision, imagined: int, runs: int, budget: int,
                rng) -> dict:  # fmt: skip
    """The loop on resampled ground truth: episodes, settled, right, coverage at stop."""
    truths = np.array([r.mean() for r in reals])
    spent, settled, right = [], [], []
    covered = np.zeros(len(reals))
    together = 0
    for _ in range(runs):
        onlys = [pooled(p, imagined, rng) for p in paireds]
        result = allocate(sampler(reals, paireds, rng), onlys, decision, names, budget)
        inside = np.array([e.low <= t <= e.high for e, t in
                           zip(result.estimates, truths, strict=True)])  # fmt: skip
        covered += inside / runs
        together += inside.all() / runs
        spent.append(result.spent)
        settled.append(result.settled)
        right.append(result.settled and decision_right(decision, result.estimates, truths))
    return {
        "episodes": float(np.mean(spent)),
        "settled": float(np.mean(settled)),
        "right_when_settled": float(np.sum(right) / max(np.sum(settled), 1)),
        "worst_policy_coverage": float(covered.min()),
        "all_covered": float(together),
    }


def fixed_n_protocol(reals, decision, target: float, runs: int, rng, confidence=0.95) -> dict:
    """The smallest n per policy at which real-only Wilson intervals at the same
    simultaneous confidence (Bonferroni over policies) settle the decision in at least
    `target` of the runs, chosen knowing the truth: its real episodes."""
    count = len(reals)
    level = 1 - (1 - confidence) / count
    truths = np.array([r.mean() for r in reals])
    for n in np.unique(np.round(np.geomspace(5, 2000, 80)).astype(int)):
        settled = 0
        for _ in range(runs):
            successes = np.array([r[rng.integers(0, len(r), n)].sum() for r in reals])
            low, high = wilson_interval(successes, np.full(count, n), level)
            rate = successes / n
            if decision.threshold is None:
                leader = int(np.lexsort((low, rate))[-1])
                others = np.delete(np.arange(count), leader)
                done = low[leader] >= high[others].max() - decision.tolerance
                done = done and truths[leader] >= truths.max() - decision.tolerance
            else:
                t = decision.threshold
                done = bool(np.all((low > t) | (high < t)))
            settled += done
        if settled / runs >= target:
            return {"n": int(n), "episodes": int(n) * count}
    return {"n": None, "episodes": None}


def boundary(real, imagined_pair, imagined: int, runs: int, budget: int, rng) -> dict:
    """One policy, threshold = truth + d: how often the loop declares a side wrongly
    (at d = 0 any declaration is wrong: the truth is the threshold)."""
    truth = real.mean()
    rows = {}
    for points in (-2, -1, 0, 1, 2):
        threshold = truth + points / 100
        wrong = 0
        for _ in range(runs):
            only = [pooled(imagined_pair, imagined, rng)]
            result = allocate(sampler([real], [imagined_pair], rng), only,
                              Decision(threshold=threshold), ["p"], budget)  # fmt: skip
            e = result.estimates[0]
            said_above, said_below = e.low > threshold, e.high < threshold
            wrong += (said_above and truth <= threshold) or (said_below and truth >= threshold)
        rows[points] = wrong / runs
    return {"truth": float(truth), "wrong_side": rows}


# --- 5. the audit --------------------------------------------------------------------------
def audit_rates(names, reals, imagined_success, paireds, k: int, runs: int, rng) -> dict:
    """Flag rate per policy when each run draws k shared seeds without replacement."""
    flags = np.zeros(len(names))
    for _ in range(runs):
        real, dreamt, predicted = [], [], []
        for r, s, f in zip(reals, imagined_success, paireds, strict=True):
            order = rng.permutation(len(r))
            real.append(r[order[:k]])
            dreamt.append(s[order].astype(float))
            predicted.append(f[order])
        rows = audit_policies(names, real, dreamt, predicted, [True] * len(names))
        flags += np.array([row.contradicted for row in rows]) / runs
    return {name: float(flag) for name, flag in zip(names, flags, strict=True)}


def injected_bias(names, reals, imagined_success, paireds, k: int, runs: int, rng) -> dict:
    """Flag rate of one policy whose imagination is made wrong by d points (failures
    turned into imagined successes, or successes into failures, on a share of seeds),
    the other policies as they are; averaged over which policy is made wrong."""
    rows, unadjusted = {}, {}
    for points in (5, 10, 20, 30, 40, 50):
        flagged, tried, alone = 0, 0, 0
        for victim in range(len(names)):
            real = reals[victim]
            fails, wins = np.flatnonzero(real == 0), np.flatnonzero(real == 1)
            pool, value = (fails, 1.0) if len(fails) >= len(wins) else (wins, 0.0)
            moved = int(round(points / 100 * len(real)))
            if moved > len(pool):
                continue
            for _ in range(max(1, runs // len(names))):
                wrong = real.copy()
                wrong[rng.choice(pool, moved, replace=False)] = value
                success = [s.astype(float) for s in imagined_success]
                success[victim] = wrong
                predicted = list(paireds)
                predicted[victim] = wrong
                real_k, dreamt, pred = [], [], []
                for r, s, f in zip(reals, success, predicted, strict=True):
                    order = rng.permutation(len(r))
                    real_k.append(r[order[:k]])
                    dreamt.append(s[order])
                    pred.append(f[order])
                audit = audit_policies(names, real_k, dreamt, pred, [True] * len(names))
                flagged += audit[victim].contradicted
                alone += audit[victim].p_value <= 0.05
                tried += 1
        rows[points] = flagged / tried if tried else None
        unadjusted[points] = alone / tried if tried else None
    return {"fdr": rows, "per_policy_5": unadjusted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--policies", nargs="*", default=("zoo",))
    parser.add_argument("--ground-truth", type=int, default=200)
    parser.add_argument("--imagined", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--loop-runs", type=int, default=100)
    parser.add_argument("--boundary-runs", type=int, default=2000)
    parser.add_argument("--audit-runs", type=int, default=200)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument(
        "--skip-loop",
        action="store_true",
        help="coverage at fixed n and the audit only (steps 1 and 5)",
    )
    parser.add_argument("--cache", default="runs/eval")
    parser.add_argument("--out", default="runs/validation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.ground_truth < max(NS) or args.k > args.ground_truth:
        print(f"validate_estimates: error: --ground-truth must be at least {max(NS)} and at "
              "least --k.", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    start_time = time.perf_counter()
    names, reals, paireds, imagined_success, seeds = ground_truth(args)
    rng = np.random.default_rng(args.seed)
    truths = [float(r.mean()) for r in reals]
    gaps = [float(s.mean() - r.mean()) for s, r in zip(imagined_success, reals, strict=True)]
    summary = {"task": args.task, "policies": names, "seeds": seeds, "truths": truths,
               "imagined_minus_real": gaps, "args": vars(args)}  # fmt: skip
    steps = tqdm(total=5, desc=f"{args.task} validation")
    summary["fixed_n"] = fixed_n_coverage(reals, paireds, args.imagined, args.resamples, rng)
    steps.update()
    budget = len(names) * 200
    summary["active"] = {}
    if args.skip_loop:
        summary["threshold"] = None
        summary["boundary"] = None
    else:
        loop_steps(summary, names, reals, paireds, truths, args, budget, rng)
    steps.update(3)
    summary["audit"] = audit_rates(names, reals, imagined_success, paireds, args.k,
                                   args.audit_runs, rng)  # fmt: skip
    steps.update()
    summary["injected"] = injected_bias(names, reals, imagined_success, paireds, args.k,
                                        args.audit_runs, rng)  # fmt: skip
    steps.update()
    summary["seconds"] = time.perf_counter() - start_time
    out = Path(args.out) / f"{args.task.lower()}-{'+'.join(args.policies)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as temp:
        temp.write_text(json.dumps(summary, indent=2))
    print(format_summary(summary))


def loop_steps(summary, names, reals, paireds, truths, args, budget, rng) -> None:
    """Steps 2-4: the active loop's coverage, its episodes against fixed n, and the
    boundary."""
    threshold = max(THRESHOLDS, key=lambda t: min(abs(t - truth) for truth in truths))
    summary["threshold"] = threshold
    for label, decision in (("best", Decision(None, TOLERANCE)),
                            ("threshold", Decision(threshold))):  # fmt: skip
        loop = active_runs(names, reals, paireds, decision, args.imagined, args.loop_runs,
                           budget, rng)  # fmt: skip
        fixed = fixed_n_protocol(reals, decision, loop["settled"], args.loop_runs, rng)
        loop["fixed_n_hindsight"] = fixed
        loop["ratio"] = loop["episodes"] / fixed["episodes"] if fixed["episodes"] else None
        summary["active"][label] = loop
    middle = int(np.argmin([abs(t - 0.5) for t in truths]))
    summary["boundary"] = boundary(reals[middle], paireds[middle], args.imagined,
                                   args.boundary_runs, 200, rng)  # fmt: skip
    summary["boundary"]["policy"] = names[middle]


def format_summary(s: dict) -> str:
    lines = [f"{s['task']}: {len(s['policies'])} policies, {s['seeds']}", "",
             "| n | worst-policy coverage: PPI++ (fixed n) | Wilson (fixed n) "
             "| confidence sequence (every look up to n) |", "|---:|---:|---:|---:|"]  # fmt: skip
    for n, row in s["fixed_n"].items():
        lines.append(f"| {n} | {row['ppi']:.1%} | {row['wilson']:.1%} | {row['sequence']:.1%} |")
    lines += ["", "| decision | active: real episodes | settled | right when settled "
              "| worst-policy coverage at stop | all covered | best fixed n (hindsight) "
              "| its episodes | active / fixed |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, row in s["active"].items():
        fixed = row["fixed_n_hindsight"]
        label = label if label == "best" else f"threshold {s['threshold']:.0%}"
        ratio = f"{row['ratio']:.0%}" if row["ratio"] else "-"
        lines.append(f"| {label} | {row['episodes']:.0f} | {row['settled']:.0%} "
                     f"| {row['right_when_settled']:.1%} | {row['worst_policy_coverage']:.1%} "
                     f"| {row['all_covered']:.1%} | {fixed['n']} | {fixed['episodes']} "
                     f"| {ratio} |")  # fmt: skip
    b = s["boundary"] or {"policy": "-", "truth": float("nan"), "wrong_side": {}}
    lines += ["", f"boundary ({b['policy']}, true rate {b['truth']:.1%}): wrong-side "
              "declarations at threshold = truth + d points: "
              + ", ".join(f"d={d}: {v:.1%}" for d, v in b["wrong_side"].items())]  # fmt: skip
    buckets = {"< 5": [], "5-15": [], "15-30": [], "> 30": []}
    for name, gap in zip(s["policies"], s["imagined_minus_real"], strict=True):
        off = abs(gap) * 100
        key = "< 5" if off < 5 else "5-15" if off < 15 else "15-30" if off <= 30 else "> 30"
        buckets[key].append(s["audit"][name])
    lines += ["", "audit at k = {}: flagged share by how far imagination is off: ".format(
        s["args"]["k"]) + ", ".join(f"{k} points: {np.mean(v):.1%} of {len(v)}"
                                     for k, v in buckets.items() if v)]  # fmt: skip
    injected = s["injected"]
    for label, key in (("FDR 5% over the set", "fdr"), ("each policy at 5%, no multiplicity "
                                                        "control", "per_policy_5")):  # fmt: skip
        lines.append(f"injected bias (one policy made wrong by d points), {label}: " + ", ".join(
            f"d={d}: {v:.0%}" for d, v in injected[key].items() if v is not None))  # fmt: skip
    lines.append(f"({s['seconds']:.0f} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
