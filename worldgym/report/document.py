"""The calibration report: one folder a person can open from disk and read.

report.html (self-contained: inline style, only relative links to files in the
folder), report.md, metrics.json, figures (PNG) and side-by-side videos (MP4)
of real (left) and imagined (right) rollouts of the same policy from the same
seed: the best policy, the worst, and the episodes where the worlds disagree most.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from worldgym.envs import get_task
from worldgym.evaluation.calibrate import (
    Calibration,
    EpisodeAgreement,
    Statistic,
    calibrate,
)
from worldgym.evaluation.comparison import TOP_PAIRS_COLUMNS, top_pairs
from worldgym.evaluation.estimation import episode_budget, imagined_only_for
from worldgym.evaluation.model_eval import ModelEvaluation, plot_error_growth
from worldgym.evaluation.paired import evaluate, support_label
from worldgym.evaluation.ranking import RANKING_COLUMNS, paired_ranking, ranking_rows
from worldgym.evaluation.selection import resolve
from worldgym.files import atomic_file
from worldgym.options import Bootstrap
from worldgym.paths import RunPaths
from worldgym.report.budget import FIGURE as BUDGET_FIGURE
from worldgym.report.budget import budget_html, budget_markdown
from worldgym.report.families import evaluate_families, family_section
from worldgym.report.figures import (
    plot_agreement,
    plot_ranking,
    plot_scatter,
    plot_uncertainty,
    plot_width_curve,
)
from worldgym.report.videos import VIDEO_SIZE, write_videos


@dataclass(frozen=True)
class ReportConfig(Bootstrap):
    out: str = ""
    """Report folder (default: runs/reports/<task>)."""
    videos: bool = True
    """Write the side-by-side videos (the slowest part of the report)."""
    imagined_episodes: int = 500
    """Imagined-only episodes per policy for "How many real episodes do you still need"
    (prediction-powered estimates; 0 leaves the section out)."""
    compare: tuple[str, ...] = ()
    """Other world-model runs (e.g. a latent family's) to put side by side with the
    checkpoint on the same task, policies and seeds: a table per family, a scatter
    with every family and videos [real | model | other model]."""


def _interval(stat: Statistic, digits: int = 2) -> str:
    low, high = stat.interval
    return f"{stat.value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _points(rate: float, sign: bool = False) -> str:
    """A difference of success rates in percentage points, e.g. "+12 points"."""
    value = round(100 * rate)
    unit = "point" if abs(value) == 1 else "points"
    return f"{value:+d} {unit}" if sign else f"{value:d} {unit}"


RANK_SPEARMAN, RANK_MMRV = 0.9, 0.05
""""Ranks reliably": Spearman at least 0.9 and MMRV at most 0.05, read from the bounds."""
SCREEN_SPEARMAN = 0.7
""""Useful for coarse screening": Spearman at least 0.7."""


def ranking_judgement(rates: dict[str, Statistic], episodes_per_policy=None) -> str:
    """What imagination's ranking is good for, in words that follow the interval
    bounds: a claim is made only when the whole interval supports it, "probably"
    when only the point estimate does (with the episodes that would settle it, from
    `episodes_per_policy`: a count, or the fewest and the most)."""
    rho, (rho_low, _) = rates["spearman"].value, rates["spearman"].interval
    mmrv_value, (_, mmrv_high) = rates["mmrv"].value, rates["mmrv"].interval
    if not np.isfinite(rho):
        return ("Imagination cannot rank these policies, because one of the worlds gives them "
                "all the same success rate")  # fmt: skip
    if rho_low >= RANK_SPEARMAN and mmrv_high <= RANK_MMRV:
        return "Imagination ranks these policies reliably (the interval bounds say so)"
    if rho >= RANK_SPEARMAN and mmrv_value <= RANK_MMRV:
        return (
            "Imagination probably ranks these policies well, but the intervals do not "
            f"exclude a worse ranking (Spearman's lower bound {rho_low:.2f}, MMRV's upper "
            f"bound {mmrv_high:.3f} against {RANK_SPEARMAN} and {RANK_MMRV})"
            + _settle(
                rates, episodes_per_policy, (("spearman", RANK_SPEARMAN, 0), ("mmrv", RANK_MMRV, 1))
            )  # fmt: skip
        )
    if rho_low >= SCREEN_SPEARMAN:
        return "Imagination is useful for coarse screening, not fine ranking"
    if rho >= SCREEN_SPEARMAN:
        return (
            "Imagination is probably useful for coarse screening, not fine ranking "
            f"(Spearman's lower bound {rho_low:.2f} is below {SCREEN_SPEARMAN})"
            + _settle(rates, episodes_per_policy, (("spearman", SCREEN_SPEARMAN, 0),))
        )
    return "Imagination does not rank these policies reliably"


def _settle(rates: dict[str, Statistic], episodes, targets) -> str:
    """About how many episodes per policy would bring each bound past its target,
    if the interval narrowed as 1/sqrt(n) around the same point."""
    episodes = min(episodes) if isinstance(episodes, list) else episodes
    needed = []
    for name, target, side in targets:
        value, bound = rates[name].value, rates[name].interval[side]
        margin, spread = abs(value - target), abs(value - bound)
        if spread > margin > 0 and episodes:
            needed.append(episodes * (spread / margin) ** 2)
    if not needed:
        return ""
    return (
        f"; about {int(math.ceil(max(needed) / 10) * 10)} real episodes per policy "
        "(if the figures hold) would settle it"
    )


def verdict(calibration: Calibration) -> str:
    """One plain-language paragraph on how far to trust imagination's verdicts."""
    rates = calibration.rates
    judgement = ranking_judgement(rates, calibration.episodes_per_policy)
    over, under = calibration.largest_overestimate, calibration.largest_underestimate
    episodes = calibration.episodes
    bias = calibration.bias
    if abs(bias) < 0.005:
        overall = "shows no overall bias"
    else:
        direction = "over-estimates" if bias > 0 else "under-estimates"
        overall = f"{direction} success by {_points(abs(bias))} overall"
    extremes = [
        f"the largest {kind} is {worst.policy} ({_points(worst.points, sign=True)})"
        for kind, worst, off in (("over-estimate", over, over.points),
                                 ("under-estimate", under, -under.points))
        if off >= 0.005
    ]  # fmt: skip
    extremes = ", ".join(extremes) or (
        "every policy's imagined rate is within half a point of its real one"
    )
    which = "trusted " if calibration.scope == "trusted" else ""
    text = (
        f"{judgement}: it ranks these {calibration.policies} {which}{calibration.task} "
        f"policies{_on_seeds(calibration)} "
        f"with Spearman ρ = {_interval(rates['spearman'])} and MMRV = "
        f"{_interval(rates['mmrv'], 3)}. Its success rates are off by "
        f"{_points(rates['mae'].value)} on average and it {overall}; {extremes}. "
        "Picking the policy "
        f"imagination likes best costs {_points(rates['regret_at_1'].value)} of real success "
        f"(regret@1). Episode by episode the two worlds agree {episodes.accuracy:.0%} of the "
        f"time (Cohen's κ = {episodes.kappa:.2f}{_kappa_baseline(episodes)})."
    )
    trust = calibration.trust_per_episode.pearson
    if np.isfinite(trust):
        helps = "points at" if trust > 0.1 else "does not point at"
        text += f" The model's uncertainty {helps} the episodes it gets wrong (r = {trust:.2f})."
    if calibration.diverged:
        text += f" {calibration.diverged} imagined episodes diverged and count as failures."
    return flagged_sentence(calibration) + text


def _on_seeds(calibration: Calibration) -> str:
    """ " on test seeds 0-99", where the calibration recorded its seeds."""
    return f" on {calibration.seeds}" if calibration.seeds else ""


def _kappa_baseline(episodes: EpisodeAgreement) -> str:
    """κ's rates-only baseline and the agreement beyond it."""
    return (f"; knowing each policy's rate alone would score {episodes.kappa_rates_only:.2f}, "
            f"so agreement beyond rates is {episodes.kappa_beyond_rates:.2f}")  # fmt: skip


REFINE_EPISODES = 20
"""Real episodes per flagged policy the verdict suggests refining with."""


def flagged_sentence(calibration: Calibration) -> str:
    """The policies outside the model's experience, optimistic or mis-responding, and
    what to do."""
    flagged = calibration.flagged
    if not calibration.support_checked:
        return (
            "No policy was checked against the model's experience: the training dataset "
            "named in the checkpoint's provenance is missing or no longer holds the "
            "episodes the model learned from, so every policy counts as trusted. "
        )
    if not flagged:
        return ""
    text = ""
    outside = [row for row in flagged if row.outside]
    if outside:
        one = len(outside) == 1
        names = ", ".join(f"{row.policy} ({row.support_score:.0%} of steps outside)"
                          for row in outside)  # fmt: skip
        text += (
            f"{len(outside)} {'policy goes' if one else 'policies go'} outside the model's "
            f"experience, so {'its' if one else 'their'} imagined success is not trusted: "
            f"{names}. "
        )
    optimistic = [row for row in flagged if row.optimistic]
    if optimistic:
        one = len(optimistic) == 1
        names = ", ".join(
            f"{row.policy} ({row.unsupported_success:.0%} of its episodes are imagined "
            "successes along which the model is less sure than along 99.5% of its held-out "
            "episodes; "
            f"{row.imagined - row.unsupported_success:.0%} succeed within its "
            f"experience, against {row.imagined:.0%} imagined)"
            for row in optimistic
        )  # fmt: skip
        text += (
            f"{len(optimistic)} {'policy is' if one else 'policies are'} optimistic, "
            f"{'its' if one else 'their'} imagined success more than the model's own "
            f"uncertainty supports: {names}. That is how a policy optimised against the "
            "model looks: it exploits the model's errors, so its imagined success is not "
            "trusted. "
        )
    misresponding = [row for row in flagged if row.misresponding]
    if misresponding:
        one = len(misresponding) == 1
        names = ", ".join(f"{row.policy} ({row.misresponding_share:.0%} of its probed "
                          "steps)" for row in misresponding)  # fmt: skip
        text += (
            f"Along the imagined path of {len(misresponding)} "
            f"{'policy' if one else 'policies'} the model answers a nudged action unlike "
            "its data says such a nudge acts (beyond 99% of its held-out steps), so "
            f"{'its' if one else 'their'} imagined future does not follow "
            f"{'its' if one else 'their'} actions and is not trusted: {names}. "
        )
    one = len(flagged) == 1
    specs = " ".join(row.policy for row in flagged)
    scope = "the others" if calibration.scope == "trusted" else "all of them"
    return text + (
        f"Run {'it' if one else 'them'} for real, or refine the model where "
        f"{'it goes' if one else 'they go'} with `worldgym refine {calibration.task_spec} "
        f"--checkpoint {calibration.checkpoint} --policies {specs} --real-episodes "
        f"{REFINE_EPISODES}`. What follows is about {scope}. "
    )


HEADLINE = (
    ("spearman", "Spearman ρ"), ("kendall", "Kendall τ"), ("pearson", "Pearson r"),
    ("mmrv", "MMRV"), ("mae", "mean absolute error"), ("regret_at_1", "regret@1"),
    ("regret_at_3", "regret@3"),
)  # fmt: skip


def print_headline(calibration: Calibration) -> None:
    """The headline table and the verdict, for the terminal."""
    for label, value in headline_rows(calibration):
        print(f"{label:<22} {value}")
    print()
    print(verdict(calibration))


def headline_rows(calibration: Calibration) -> list[tuple[str, str]]:
    rows = [(label, _interval(calibration.rates[key], 3)) for key, label in HEADLINE]
    if calibration.seeds:
        rows.insert(0, ("reset seeds", calibration.seeds))
    episodes = calibration.episodes
    rows.append(("episode agreement", f"{episodes.accuracy:.3f}"))
    rows.append(("Cohen's κ", f"{episodes.kappa:.3f}"))
    rows.append(("κ from rates alone", f"{episodes.kappa_rates_only:.3f}"))
    rows.append(("agreement beyond rates", f"{episodes.kappa_beyond_rates:.3f}"))
    every = calibration.all_policies
    if every:  # the statistics above leave the flagged policies out; these do not
        rows.append(("Spearman ρ, flagged included", _interval(every["spearman"], 3)))
        rows.append(("mean abs. error, flagged included", _interval(every["mae"], 3)))
    return rows


def policy_rows(evaluation) -> list[list[str]]:
    rows = []
    for row in evaluation.summaries():
        (rl, rh), (il, ih) = row["real_interval"], row["imagined_interval"]
        low, high = row["member_success_range"]
        rows.append([
            row["policy"], row["path"], support_badge(row)[0],
            data_badge(row.get("data_family", "unknown"))[0],
            f"{row['real_success']:.0%} [{rl:.0%}–{rh:.0%}]",
            f"{row['imagined_success']:.0%} [{il:.0%}–{ih:.0%}]", f"{low:.0%}–{high:.0%}",
            f"{row['episode_agreement']:.0%}", f"{row['mean_uncertainty']:.3f}",
            str(row["diverged"]), f"{row['real_return']:.1f}", f"{row['imagined_return']:.1f}",
        ])  # fmt: skip
    return rows


def support_badge(row: dict) -> tuple[str, str, str]:
    """A policy's support as (short label, css class, the full sentence for hover):
    "trusted", or what flags it with its share ("outside 30%", "optimistic 60%",
    "mis-responding 12%")."""

    full = support_label(row)
    if "support_score" not in row:
        return "unknown", "na", "no training data to judge the model's experience"
    if row["trusted"]:
        return "trusted", "ok", full
    labels = [f"outside {row['support_score']:.0%}"] if row["outside"] else []
    if row["optimistic"]:
        labels.append(f"optimistic {row['unsupported_success']:.0%}")
    if row.get("misresponding"):
        labels.append(f"mis-responding {row['misresponding_share']:.0%}")
    return " · ".join(labels), "bad", full


def data_badge(family: str) -> tuple[str, str, str]:
    """The "in the data?" column as (short label, css class, full text for hover)."""
    if family == "in the data":
        return "in data", "warn", "this policy itself is in the behaviour data (--include-zoo)"
    if family.startswith("family: "):
        return (
            "family",
            "warn",
            f"policies of its family with other parameters are in the data ({family[8:]})",
        )
    if family == "-":
        return "no", "ok", "nothing like this policy is in the behaviour data"
    return "unknown", "na", "the dataset header does not say what its behaviour data holds"


def _rate_cell(rate: float, interval) -> str:
    low, high = interval
    return (f"<td class='rate' data-sort='{rate:.6f}'>{rate:.0%}"
            f"<small> {low:.0%}–{high:.0%}</small></td>")  # fmt: skip


def _badge_cell(badge: tuple[str, str, str]) -> str:
    """One badge per reason (a flagged policy may have two), each on one line."""
    text, kind, detail = badge
    spans = "".join(f"<span class='badge {kind}' title='{html.escape(detail)}'>"
                    f"{html.escape(part)}</span>" for part in text.split(" · "))  # fmt: skip
    return f"<td class='badge-cell' data-sort='{html.escape(text)}'>{spans}</td>"


def _number_cell(value: float, text: str) -> str:
    return f"<td data-sort='{value:.6f}'>{html.escape(text)}</td>"


def policy_table_html(evaluation) -> str:
    """The policy table for a browser: one line per policy (rates with their intervals
    in small print, badges whose full sentences show on hover), sortable by any
    column (click its header)."""
    header = "".join(f"<th title='click to sort'>{html.escape(h)}</th>" for h in HTML_COLUMNS)
    rows = []
    for row in evaluation.summaries():
        low, high = row["member_success_range"]
        cells = [
            f"<td class='name' data-sort='{html.escape(row['policy'])}'>"
            f"{html.escape(row['policy'])}</td>",
            f"<td data-sort='{row['path']}'>{row['path']}</td>",
            _badge_cell(support_badge(row)),
            _badge_cell(data_badge(row.get("data_family", "unknown"))),
            _rate_cell(row["real_success"], row["real_interval"]),
            _rate_cell(row["imagined_success"], row["imagined_interval"]),
            f"<td class='rate' data-sort='{low:.6f}'>{low:.0%}–{high:.0%}</td>",
            _number_cell(row["episode_agreement"], f"{row['episode_agreement']:.0%}"),
            _number_cell(row["mean_uncertainty"], f"{row['mean_uncertainty']:.3f}"),
            _number_cell(row["diverged"], str(row["diverged"])),
            _number_cell(
                row["real_return"], f"{row['real_return']:.1f} / {row['imagined_return']:.1f}"
            ),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class='sortable policies'><thead><tr>{header}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip


LEGEND = (
    "<p class='legend'><span class='badge ok'>trusted</span> inside the model's experience; "
    "<span class='badge bad'>outside n%</span> n% of its imagined steps lie outside it; "
    "<span class='badge bad'>optimistic n%</span> n% of its episodes are imagined successes "
    "the model is unsure of; <span class='badge bad'>mis-responding n%</span> the model "
    "answers its actions wrongly on n% of probed steps. In the data: "
    "<span class='badge ok'>no</span> nothing like it, <span class='badge warn'>family</span> "
    "its kind with other parameters, <span class='badge warn'>in data</span> itself. Rates: "
    "the rate, then its 95% interval in small print. Hover a badge for the full sentence; "
    "click a column's header to sort.</p>"
)

SORTING = """
document.querySelectorAll('table.sortable th').forEach((th, column) => {
  th.addEventListener('click', () => {
    const body = th.closest('table').tBodies[0];
    const up = th.dataset.order !== 'up';
    th.closest('tr').querySelectorAll('th').forEach(h => delete h.dataset.order);
    th.dataset.order = up ? 'up' : 'down';
    const key = row => {
      const cell = row.cells[column];
      const value = cell.dataset.sort ?? cell.textContent;
      const number = parseFloat(value);
      return isNaN(number) ? value : number;
    };
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    });
    rows.forEach(row => body.appendChild(row));
  });
});
"""


RUNS_AS = (
    "Runs as: compiled = a JAX policy, rolled out inside the engine's compiled scan; host "
    "= a callable, predict() object or torch module, called on the host once per step "
    "for all of its episodes (same seeds and outcome rules in both worlds)."
)

POLICY_COLUMNS = (
    "policy", "runs as", "model's experience", "in the data?", "real success", "imagined success",
    "members' range", "episode agreement", "uncertainty", "diverged", "real return",
    "imagined return",
)  # fmt: skip

HTML_COLUMNS = (*POLICY_COLUMNS[:-2], "return real / imagined")
"""The browser's columns: both returns in one cell, so a row fits a laptop screen."""

SUPPORT = (
    "Model's experience: the share of a policy's imagined steps outside what the model "
    "knows (uncertainty, or distance to its training data, beyond what held-out data shows "
    "in 99.5% of its steps). Past 5% the policy is outside the model's experience. A policy "
    "is optimistic when more than 5% of its episodes are imagined successes along which the "
    "model is less sure than along 99.5% of its held-out episodes: the mark of a policy "
    "optimised against the model. Either way its imagined rate is not trusted, and the "
    "headline statistics leave it out. In the data?: whether the model's behaviour data "
    "holds this policy (only with --include-zoo) or policies of its family with other "
    "parameters (the oracle's random faults, random actions): such a policy is nearer the "
    "model's experience than a stranger would be."
)


PAIRED_RANKING_TITLE = "Ranking from paired real outcomes (Bradley-Terry)"
PAIRED_RANKING_NOTE = (
    "Every policy ran from the same reset seeds, so on each seed a policy that succeeds "
    "beats one that fails. Bradley-Terry strengths from those wins (maximum likelihood, one "
    "pseudo-game each against a reference), with 95% intervals and rank ranges from a "
    "bootstrap over seeds: the order reality gives, with how sure it is."
)


TOP_PAIRS_TITLE = "The top pairs: does imagination separate them?"
TOP_PAIRS_NOTE = (
    "Neighbours among the policies imagination ranks highest. Where imagination's own "
    "paired interval is clear of ±5 points it separates them, and real episodes are a "
    "check; where it is not, real episodes decide: the real difference on the shared "
    "seeds has Tango's score interval, and the verdict reads it (A better, B better, "
    "equivalent within ±5 points, or UNDERPOWERED with the episodes that would settle it)."
)


UNPAIRED = (
    "The recording holds each policy's episodes from its own starts, so no two policies "
    "share an episode: there is no paired ranking or top-pairs table, and regret's bounds "
    "use Newcombe's interval for independent rates."
)


def episodes_sentence(evaluation) -> str:
    """How many policies and episodes the report holds and where the real ones came
    from (every policy in the table, trusted or not)."""
    counts = [p.episodes for p in evaluation.policies]
    low, high = min(counts), max(counts)
    count = str(low) if low == high else f"{low}–{high}"
    policies = len(evaluation.policies)
    if evaluation.source:
        starts = "each policy's pairs from its recorded starts" if not evaluation.shared_starts \
            else "every policy from the same recorded starts"  # fmt: skip
        return (f"{policies} policies × {count} episodes per world, the real ones "
                f"{evaluation.source} ({starts})")  # fmt: skip
    return (
        f"{policies} policies × {count} episodes per world from the same reset seeds "
        f"{int(evaluation.seeds[0])}–{int(evaluation.seeds[-1])}"
    )


def paired_tables(evaluation) -> dict:
    """Rows of the paired real ranking and of the top pairs (a bootstrap each: done once
    per report); none where the policies did not start from the same states (a
    recording of each policy from its own starts): no pairs to compare."""
    if not evaluation.shared_starts:
        return {"ranking": [], "pairs": []}
    return {"ranking": ranking_rows(real_ranking(evaluation)), "pairs": top_pairs(evaluation)}


def real_ranking(evaluation):
    """Bradley-Terry over the evaluation's real outcomes."""
    return paired_ranking([p.name for p in evaluation.policies],
                          np.stack([p.real.success for p in evaluation.policies]),
                          resamples=200)  # fmt: skip


def _markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


FIGURES = (
    ("scatter.png", "Imagined vs real success rate of every policy"),
    ("ranking.png", "Ranking in reality and in imagination"),
    ("agreement.png", "Per-episode agreement of the two worlds"),
    ("uncertainty.png", "Does the model know when it is wrong?"),
    ("error_vs_horizon.png", "Open-loop prediction error vs horizon (held-out episodes)"),
)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1240px;margin:2em auto;
padding:0 1em;color:#24292f;line-height:1.5}
table.policies{font-size:.86em}
table.policies td,table.policies th{white-space:nowrap;padding:.25em .4em}
table.policies td.badge-cell{white-space:normal;text-align:left}
.badge-cell .badge{display:block;width:max-content;margin:.1em 0}
table.policies th{white-space:normal;vertical-align:bottom}
table.sortable th{cursor:pointer}table.sortable th[data-order=up]::after{content:" ▲"}
table.sortable th[data-order=down]::after{content:" ▼"}
td.rate small{color:#57606a;font-size:.82em}
.badge{display:inline-block;border-radius:1em;padding:0 .55em;font-size:.85em;cursor:help}
.badge.ok{background:#dafbe1;color:#116329}.badge.bad{background:#ffebe9;color:#a40e26}
.badge.warn{background:#fff8c5;color:#7d4e00}.badge.na{background:#eaeef2;color:#57606a}
.legend{font-size:.88em;color:#57606a}details.sub{font-size:.9em}
h1{margin-bottom:.2em}.sub{color:#57606a;margin-top:0}
.verdict{background:#f6f8fa;border-left:4px solid #1f6feb;padding:.8em 1em;font-size:1.05em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #d0d7de;padding:.3em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f6f8fa}
figure{margin:1.5em 0}img,video{max-width:100%;border:1px solid #d0d7de}
figcaption{color:#57606a;font-size:.9em}
.videos{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:1em}
"""


FAMILIES_TITLE = "World-model families side by side"
FAMILIES_NOTE = (
    "The same policies and reset seeds, imagined by each model against one set of real "
    "episodes; every policy counts here, flagged ones too. 'task predicate': the task's "
    "success rule on the imagined observations (a frame model's state readout); 'success "
    "head': the model's learned success head. Intervals: 95% bootstrap over episodes."
)


def _families_html(families: dict) -> list[str]:
    parts = [f"<h2>{FAMILIES_TITLE}</h2>", f"<p class='sub'>{html.escape(FAMILIES_NOTE)}</p>",
             f"<p class='verdict'>{html.escape(families['verdict'])}</p>",
             _html_table(families["columns"], families["rows"])]  # fmt: skip
    name, caption = families["figure"]
    parts.append(f"<figure><img src='{name}' alt='{html.escape(caption)}'>"
                 f"<figcaption>{html.escape(caption)}</figcaption></figure>")  # fmt: skip
    if families["videos"]:
        parts.append("<div class='videos'>")
        for video in families["videos"]:
            caption = f"{video['kind']}: {video['policy']}, seed {video['seed']}"
            player = (f"<img src='{video['file']}' alt='{html.escape(caption)}'>"
                      if video["file"].endswith(".gif") else
                      f"<video src='{video['file']}' controls loop muted autoplay playsinline>"
                      "</video>")  # fmt: skip
            parts.append(f"<figure>{player}<figcaption>{html.escape(caption)}</figcaption>"
                         "</figure>")  # fmt: skip
        parts.append("</div>")
    return parts


def _families_markdown(families: dict) -> list[str]:
    name, caption = families["figure"]
    lines = [f"## {FAMILIES_TITLE}", "", FAMILIES_NOTE, "", families["verdict"], "",
             _markdown_table(families["columns"], families["rows"]), "",
             f"![{caption}]({name})", ""]  # fmt: skip
    lines += [f"- [{v['kind']}: {v['policy']}, seed {v['seed']}]({v['file']})"
              for v in families["videos"]]  # fmt: skip
    return lines + [""]


def render_html(evaluation, calibration, videos, figures, model_metrics, budget=None,
                families=None, paired=None) -> str:  # fmt: skip
    """The report page; `paired` holds the paired-ranking and top-pairs rows (computed
    once by write_report for both renderings)."""
    paired = paired or paired_tables(evaluation)
    title = f"worldgym calibration report: {evaluation.task}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='sub'>world model <code>{html.escape(evaluation.checkpoint)}</code> "
        f"(fingerprint {evaluation.checkpoint_fingerprint[:12]}); "
        f"{html.escape(episodes_sentence(evaluation))}; "
        f"intervals: 95% ({calibration.bootstrap_samples} bootstrap resamples of episodes; "
        "Wilson for single rates)</p>",
        f"<p class='verdict'>{html.escape(verdict(calibration))}</p>",
        "<h2>Headline</h2>",
        _html_table(("statistic", "value [95% interval]"), headline_rows(calibration)),
        "<h2>Policies</h2>",
        LEGEND,
        policy_table_html(evaluation),
        f"<details class='sub'><summary>What the columns mean</summary>"
        f"<p>{html.escape(RUNS_AS)} {html.escape(SUPPORT)}</p></details>",
        *(
            [
                f"<h2>{PAIRED_RANKING_TITLE}</h2>",
                f"<p class='sub'>{html.escape(PAIRED_RANKING_NOTE)}</p>",
                _html_table(RANKING_COLUMNS, paired["ranking"]),
                f"<h2>{TOP_PAIRS_TITLE}</h2>",
                f"<p class='sub'>{html.escape(TOP_PAIRS_NOTE)}</p>",
                _html_table(TOP_PAIRS_COLUMNS, paired["pairs"]),
            ]
            if evaluation.shared_starts
            else [f"<p class='sub'>{html.escape(UNPAIRED)}</p>"]
        ),
        *(budget_html(budget, _html_table, html.escape) if budget else []),
        "<h2>Figures</h2>",
    ]
    for name, caption in figures:
        parts.append(f"<figure><img src='{name}' alt='{html.escape(caption)}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")  # fmt: skip
    if videos:
        parts.append("<h2>Real (left) vs imagined (right), same policy, same initial state</h2>")
        parts.append("<p class='sub'>Green border: success, red: failure.</p><div class='videos'>")
        for video in videos:
            caption = (
                f"{video['kind']}: {video['policy']}, seed {video['seed']} — real "
                f"{'success' if video['real_success'] else 'failure'}, imagined "
                f"{'success' if video['imagined_success'] else 'failure'}"
            )
            player = (
                f"<img src='{video['file']}' alt='{html.escape(caption)}'>"
                if video["file"].endswith(".gif")
                else f"<video src='{video['file']}' controls loop muted autoplay playsinline>"
                "</video>"
            )
            parts.append(
                f"<figure>{player}<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append("</div>")
    if families:
        parts += _families_html(families)
    if model_metrics:
        one = model_metrics.one_step
        parts.append(
            "<h2>The world model</h2><p>One-step normalised MSE on held-out episodes: "
            f"{one.model_nmse:.4f} (copy baseline {one.copy_nmse:.4f}, linear "
            f"{one.linear_nmse:.4f}); success head accuracy "
            f"{one.success_head_accuracy:.1%}.</p>"
        )
    parts.append("<p class='sub'>Numbers: <a href='metrics.json'>metrics.json</a>; "
                 "text version: <a href='report.md'>report.md</a>.</p>")  # fmt: skip
    parts.append(f"<script>{SORTING}</script></body></html>")
    return "\n".join(parts)


def render_markdown(evaluation, calibration, videos, figures, model_metrics,
                    budget=None, families=None, paired=None) -> str:  # fmt: skip
    paired = paired or paired_tables(evaluation)
    lines = [
        f"# worldgym calibration report: {evaluation.task}", "",
        f"World model `{evaluation.checkpoint}`; {episodes_sentence(evaluation)}.",
        "", verdict(calibration), "", "## Headline", "",
        _markdown_table(("statistic", "value [95% interval]"), headline_rows(calibration)),
        "", "## Policies", "", RUNS_AS, "", SUPPORT, "",
        _markdown_table(POLICY_COLUMNS, policy_rows(evaluation)), "",
        *([f"## {PAIRED_RANKING_TITLE}", "", PAIRED_RANKING_NOTE, "",
           _markdown_table(RANKING_COLUMNS, paired["ranking"]), "",
           f"## {TOP_PAIRS_TITLE}", "", TOP_PAIRS_NOTE, "",
           _markdown_table(TOP_PAIRS_COLUMNS, paired["pairs"]), ""]
          if evaluation.shared_starts else [UNPAIRED, ""]),
        *(budget_markdown(budget, _markdown_table) if budget else []),
        "## Figures", "",
    ]  # fmt: skip
    lines += [f"![{caption}]({name})\n" for name, caption in figures]
    if families:
        lines += _families_markdown(families)
    if videos:
        lines += ["## Real (left) vs imagined (right)", ""]
        lines += [f"- [{v['kind']}: {v['policy']}, seed {v['seed']}]({v['file']})" for v in videos]
    return "\n".join(lines) + "\n"


def write_report(evaluation, calibration: Calibration, out,
                 model_metrics: ModelEvaluation | None = None,
                 videos: bool = True, size: int = VIDEO_SIZE,
                 configs: dict | None = None, budget: dict | None = None,
                 families: list | None = None) -> Path:  # fmt: skip
    """Write the report folder; return the path of report.html.

    `configs` (the evaluation and report settings) is saved in metrics.json, so a
    report says what produced it. `budget` (estimation.episode_budget) adds the
    section on how many real episodes are still needed, `families` (FamilyResults
    of worldgym.report.families) the world-model families side by side."""

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task(evaluation.task_spec or evaluation.task)
    plot_scatter(evaluation, out / "scatter.png")
    plot_ranking(evaluation, out / "ranking.png")
    plot_agreement(evaluation, calibration, out / "agreement.png")
    plot_uncertainty(evaluation, calibration, out / "uncertainty.png")
    figures = list(FIGURES[:4])
    if model_metrics is not None:
        plot_error_growth(model_metrics.open_loop, out / "error_vs_horizon.png",
                          f"{task.name}: open-loop error growth")  # fmt: skip
        figures.append(FIGURES[4])
    if budget:
        plot_width_curve(budget, out / BUDGET_FIGURE[0], task.name)
    # Recorded real episodes keep their initial observation only: no real film to show.
    written = write_videos(evaluation, task, out, size) if videos and not evaluation.source \
        else []  # fmt: skip
    section = None
    if families:
        bootstrap = calibration.bootstrap_samples
        section = family_section(families, task, out, size, videos, bootstrap)
    paired = paired_tables(evaluation)
    metrics = {
        "config": configs or {},
        "calibration": calibration.to_dict(),
        "policies": evaluation.summaries(),
        "videos": written,
        "model": None if model_metrics is None else json.loads(model_metrics.to_json()),
        "verdict": verdict(calibration),
        "real_episodes_needed": budget,
        "families": section,
        "paired_ranking": paired["ranking"],
        "top_pairs": paired["pairs"],
    }
    with atomic_file(out / "metrics.json") as temp:
        temp.write_text(json.dumps(metrics, indent=2, default=float))
    with atomic_file(out / "report.md") as temp:
        temp.write_text(render_markdown(evaluation, calibration, written, figures, model_metrics,
                                        budget, section, paired))  # fmt: skip
    with atomic_file(out / "report.html") as temp:
        temp.write_text(render_html(evaluation, calibration, written, figures, model_metrics,
                                    budget, section, paired))  # fmt: skip
    return out / "report.html"


def model_metrics_for(checkpoint) -> ModelEvaluation | None:
    """The model-eval metrics saved next to a training run, if any."""
    folder = Path(checkpoint) / "eval"
    return ModelEvaluation.read(folder) if (folder / "metrics.json").exists() else None


def make_report(evaluate_config, report_config: ReportConfig, progress: bool = True):
    """Evaluate (or reuse cached rollouts), calibrate and write the report.

    Returns (path of report.html, the Calibration).
    """

    setup = resolve(evaluate_config, evaluate_config.sampling)  # the model, loaded once
    evaluation = evaluate(evaluate_config, progress, setup)
    calibration = calibrate(evaluation, report_config.bootstrap)
    budget = None
    if report_config.imagined_episodes > 0:
        # the evaluated policies (a recording may have named them, not the config)
        names = tuple(p.name for p in evaluation.policies)
        extra = imagined_only_for(setup, replace(evaluate_config, policies=names),
                                  report_config.imagined_episodes)  # fmt: skip
        budget = episode_budget(evaluation, extra)
    families = None
    if report_config.compare:
        families = evaluate_families(
            evaluate_config, [evaluation.checkpoint, *report_config.compare],
            report_config.bootstrap, progress, done={evaluation.checkpoint: (evaluation, setup)},
        )  # fmt: skip
    out = Path(report_config.out or RunPaths().report(evaluation.task))
    configs = {"evaluate": asdict(evaluate_config), "report": asdict(report_config)}
    path = write_report(
        evaluation, calibration, out, model_metrics_for(evaluation.checkpoint),
        report_config.videos, configs=configs, budget=budget, families=families,
    )  # fmt: skip
    return path, calibration
