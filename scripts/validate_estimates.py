"""Are the prediction-powered intervals honest, and how many real episodes do they save?

For one task: a large real ground truth per policy (G episodes, reset seeds 0..G-1)
and imagination paired with each of them (cached in runs/eval). These G pairs are
the population: each resampling draws n real pairs and N imagined-only outcomes
from it with replacement, so the estimators' assumption (independent draws from
one population) holds exactly and the truth is known exactly: the mean of the G
real outcomes. (Imagined-only episodes on fresh seeds would estimate imagination's
rate over all seeds instead, which differs from the G seeds' by sampling noise
and would blur the coverage test at large n.) Over R resamplings at each n:

- coverage of the nominal 95% interval of the ground-truth rate, PPI and real-only;
- mean interval width, PPI and real-only;
- real episodes saved: the n at which PPI's mean width reaches real-only's at 100;
- ranking: the n per policy at which the mean Spearman against the ground-truth
  ranking reaches 0.9, PPI and real-only;
- finding the best policy: real episodes that uniform allocation needs to pick a
  best one (within the tolerance) 95% of the time, against the active loop.

    python scripts/validate_estimates.py Push --checkpoint runs/models/push

prints Markdown tables and writes runs/validation/<task>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from worldgym.evaluation.active import Decision, allocate
from worldgym.evaluation.estimation import predictions
from worldgym.evaluation.ppi import estimate_rate, real_only
from worldgym.files import atomic_file
from worldgym.seeds import VALIDATION

SAVING_REFERENCE = 100
"""Real-only with this many episodes per policy is the width PPI must reach."""


def ground_truth(args) -> tuple[list[str], list, list]:
    """Per policy: real outcomes [G] and paired imagined predictions [G]."""
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
    return (
        [p.name for p in policies],
        [o.success.astype(np.float64) for o in real],
        [predictions(o, args.predictor) for o in paired],
    )


def resampled(reals, paireds, n: int, imagined: int, resamples: int, rng,
              pseudo_pairs: bool = True) -> dict:  # fmt: skip
    """Both estimators over `resamples` draws of n real pairs and `imagined`
    imagined-only outcomes per policy: coverage, widths and estimates [R, P]."""
    truths = np.array([r.mean() for r in reals])
    count = len(reals)
    shape = (resamples, count)
    covered = {"ppi": np.zeros(shape, bool), "real": np.zeros(shape, bool)}
    widths = {"ppi": np.zeros(shape), "real": np.zeros(shape)}
    rates = {"ppi": np.zeros(shape), "real": np.zeros(shape)}
    for r in range(resamples):
        for p in range(count):
            rows = rng.integers(0, len(reals[p]), n)
            extra = paireds[p][rng.integers(0, len(paireds[p]), imagined)]
            powered = estimate_rate(reals[p][rows], paireds[p][rows], extra,
                                    pseudo_pairs=pseudo_pairs)  # fmt: skip
            for name, e in (("ppi", powered), ("real", real_only(reals[p][rows]))):
                covered[name][r, p] = e.low <= truths[p] <= e.high
                widths[name][r, p] = e.width
                rates[name][r, p] = e.rate
    return {"covered": covered, "widths": widths, "rates": rates, "truths": truths}


def best_possible_variance(reals, paireds) -> float:
    """Summed over policies, the real outcome's variance left after the best lambda
    for each policy, with unlimited imagined episodes and no small-sample adjustment,
    as a share of its variance: 1 - this is the most PPI could save."""
    left, total = 0.0, 0.0
    for real, paired in zip(reals, paireds, strict=True):
        spread = paired.var()
        covariance = np.mean((real - real.mean()) * (paired - paired.mean()))
        power = float(np.clip(covariance / spread, 0.0, 1.0)) if spread > 0 else 0.0
        left += np.var(real - power * paired)
        total += real.var()
    return float(left / total) if total > 0 else 1.0


def mean_spearman(rates: np.ndarray, truths: np.ndarray) -> float:
    values = [spearmanr(row, truths).statistic for row in rates]
    return float(np.nanmean(values))


def best_found(rates: np.ndarray, truths: np.ndarray, tolerance: float, rng) -> np.ndarray:
    """[R] whether the policy with the highest estimate (ties broken at random, so
    the zoo's order does not pick for it) is within `tolerance` of the true best."""
    rates = np.atleast_2d(rates)
    noise = rng.random(rates.shape)
    chosen = np.lexsort((noise, rates), axis=1)[:, -1]  # by rate, then by the random key
    return truths[chosen] >= truths.max() - tolerance


def sequential_runs(names, reals, paireds, imagined: int, resamples: int, tolerance: float,
                    uniform: bool, rng):  # fmt: skip
    """The sequential loop on resampled ground truth, active or uniform (a batch of
    every policy each round, same stopping rule): (found the best?, episodes spent)."""
    truths = np.array([r.mean() for r in reals])
    found, spent = [], []
    for _ in range(resamples):
        onlys = [p[rng.integers(0, len(p), imagined)] for p in paireds]

        def draw(index, count):
            rows = rng.integers(0, len(reals[index]), count)
            return reals[index][rows], paireds[index][rows]

        result = allocate(draw, onlys, Decision(None, tolerance), names,
                          budget=len(reals) * len(reals[0]) * 10, uniform=uniform)  # fmt: skip
        found.append(bool(truths[result.leader] >= truths.max() - tolerance))
        spent.append(result.spent)
    return np.array(found), np.array(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--policies", nargs="*", default=())
    parser.add_argument("--ground-truth", type=int, default=400)
    parser.add_argument("--imagined", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--ns", type=int, nargs="+", default=[5, 10, 20, 40, 80])
    parser.add_argument("--predictor", default="members")
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--cache", default="runs/eval")
    parser.add_argument("--out", default="runs/validation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-pseudo-pairs", action="store_true",
                        help="ablation: plain PPI++, no small-sample adjustment")  # fmt: skip
    args = parser.parse_args()
    if max(args.ns) > args.ground_truth or min(args.ns) < 1:
        print(f"validate_estimates: error: each n must be between 1 and the "
              f"{args.ground_truth} ground-truth episodes per policy, got "
              f"{' '.join(map(str, args.ns))}.", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    start = time.perf_counter()
    names, reals, paireds = ground_truth(args)
    gathered = time.perf_counter() - start
    rng = np.random.default_rng(args.seed)
    grid = sorted(set(args.ns) | set(range(5, SAVING_REFERENCE + 1, 5)))
    rows = {}
    for n in tqdm(grid, desc=f"{args.task} resampling"):
        result = resampled(reals, paireds, n, args.imagined, args.resamples, rng,
                           pseudo_pairs=not args.no_pseudo_pairs)  # fmt: skip
        rows[n] = {
            "coverage_ppi": float(result["covered"]["ppi"].mean()),
            "coverage_real": float(result["covered"]["real"].mean()),
            "worst_policy_coverage_ppi": float(result["covered"]["ppi"].mean(0).min()),
            "worst_policy_coverage_real": float(result["covered"]["real"].mean(0).min()),
            "width_ppi": float(result["widths"]["ppi"].mean()),
            "width_real": float(result["widths"]["real"].mean()),
            "spearman_ppi": mean_spearman(result["rates"]["ppi"], result["truths"]),
            "spearman_real": mean_spearman(result["rates"]["real"], result["truths"]),
            "best_ppi": float(best_found(result["rates"]["ppi"], result["truths"],
                                         args.tolerance, rng).mean()),  # fmt: skip
            "best_real": float(best_found(result["rates"]["real"], result["truths"],
                                          args.tolerance, rng).mean()),  # fmt: skip
        }
    reference = rows[SAVING_REFERENCE]["width_real"]
    reach = [n for n in grid if rows[n]["width_ppi"] <= reference]
    saved = 1 - reach[0] / SAVING_REFERENCE if reach else None

    def first(key):
        hits = [n for n in grid if rows[n][key] >= (0.9 if "spearman" in key else 0.95)]
        return hits[0] if hits else None

    loop = (names, reals, paireds, args.imagined, args.resamples, args.tolerance)
    found, spent = sequential_runs(*loop, uniform=False, rng=rng)
    uniform_found, uniform_spent = sequential_runs(*loop, uniform=True, rng=rng)
    fixed_n = first("best_ppi")
    summary = {
        "task": args.task, "policies": names, "ground_truth": args.ground_truth,
        "imagined": args.imagined, "resamples": args.resamples, "predictor": args.predictor,
        "truths": [float(r.mean()) for r in reals], "rows": rows,
        "width_real_at_100": reference, "ppi_n_for_that_width": reach[0] if reach else None,
        "saved": saved, "spearman_n_ppi": first("spearman_ppi"),
        "spearman_n_real": first("spearman_real"), "fixed_best_n": fixed_n,
        "fixed_best_episodes": fixed_n * len(names) if fixed_n else None,
        "active_found": float(found.mean()), "active_episodes": float(spent.mean()),
        "uniform_found": float(uniform_found.mean()),
        "uniform_episodes": float(uniform_spent.mean()),
        "tolerance": args.tolerance, "seconds_gathering": gathered,
        "pseudo_pairs": not args.no_pseudo_pairs,
        "best_possible_variance": best_possible_variance(reals, paireds),
        "seconds": time.perf_counter() - start,
    }  # fmt: skip
    out = Path(args.out) / f"{args.task.lower()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as temp:
        temp.write_text(json.dumps(summary, indent=2))
    print(format_summary(summary, args.ns))


def format_summary(summary: dict, ns) -> str:
    lines = [
        f"{summary['task']}: {len(summary['policies'])} policies, ground truth "
        f"{summary['ground_truth']} real episodes each, {summary['imagined']} imagined-only, "
        f"{summary['resamples']} resamplings",
        "",
        "| n | coverage PPI | coverage real-only | worst policy PPI / real-only | width PPI "
        "| width real-only | Spearman PPI | Spearman real-only |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for n in ns:
        row = summary["rows"][n]
        lines.append(
            f"| {n} | {row['coverage_ppi']:.1%} | {row['coverage_real']:.1%} "
            f"| {row['worst_policy_coverage_ppi']:.0%} / {row['worst_policy_coverage_real']:.0%} "
            f"| {row['width_ppi']:.3f} | {row['width_real']:.3f} | {row['spearman_ppi']:.3f} "
            f"| {row['spearman_real']:.3f} |"
        )
    saved = summary["saved"]
    lines += [
        "",
        f"real-only width at n=100: {summary['width_real_at_100']:.3f}; PPI reaches it at "
        f"n={summary['ppi_n_for_that_width']} -> real episodes saved: "
        + (f"{saved:.0%}" if saved is not None else "none (PPI needs more than 100)")
        + ("" if summary["pseudo_pairs"] else " (plain PPI++, no pseudo-pairs)"),
        f"at best (each policy's ideal lambda, unlimited imagination, no adjustment): "
        f"{summary['best_possible_variance']:.0%} of real-only's variance left, "
        f"{1 - summary['best_possible_variance']:.0%} saved",
        f"Spearman >= 0.9 needs n={summary['spearman_n_ppi']} (PPI) vs "
        f"n={summary['spearman_n_real']} (real-only) per policy",
        f"finding the best policy (within {summary['tolerance']:.0%}), sequential PPI until "
        f"settled: active {summary['active_episodes']:.0f} real episodes on average (right "
        f"{summary['active_found']:.1%} of the time), uniform {summary['uniform_episodes']:.0f} "
        f"(right {summary['uniform_found']:.1%}): active needs "
        f"{summary['active_episodes'] / summary['uniform_episodes']:.0%} of uniform's",
        f"(a fixed n per policy chosen knowing the truth, argmax right 95% of the time: "
        f"{summary['fixed_best_episodes']} real episodes)",
        f"({summary['seconds']:.0f} s, of which {summary['seconds_gathering']:.0f} s running "
        "episodes)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
