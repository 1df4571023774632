"""The report's two pages, report.html and report.md, from an evaluation, its
calibration and what write_report made (figures, videos, the episode budget,
the family comparison).

report.html is self-contained: its style and the table sorting (assets/) are
inlined, and it links only to files in its folder.
"""

from __future__ import annotations

import html
from importlib.resources import files

import numpy as np

from worldgym.evaluation.comparison import TOP_PAIRS_COLUMNS, top_pairs
from worldgym.evaluation.paired import support_label
from worldgym.evaluation.ranking import RANKING_COLUMNS, paired_ranking, ranking_rows
from worldgym.report.budget import budget_html, budget_markdown
from worldgym.report.verdict import headline_rows, verdict

ASSETS = files("worldgym.report") / "assets"
"""report.css and sorting.js, inlined into report.html."""


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
        starts = (
            "each policy's pairs from its recorded starts"
            if not evaluation.shared_starts
            else "every policy from the same recorded starts"
        )
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
        f"<style>{ASSETS.joinpath('report.css').read_text()}</style></head><body>",
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
    parts.append(f"<script>{ASSETS.joinpath('sorting.js').read_text()}</script></body></html>")
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
