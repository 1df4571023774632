"""The report's section "How many real episodes do you still need".

Rows and words from worldgym.evaluation.estimation.episode_budget: each policy's
real success rate from the evaluation's real episodes alone (Wilson) and
prediction-powered (those episodes plus imagined-only ones), the interval width
against n, and the saving in one sentence.
"""

from __future__ import annotations

from worldgym.evaluation.estimation import budget_sentence

TITLE = "How many real episodes do you still need"
FIGURE = ("episodes_needed.png", "Interval width of real success vs real episodes per policy")
COLUMNS = ("policy", "real only [95%]", "prediction-powered [95%]", "width saved", "λ",
           "imagined-only")  # fmt: skip
EXPLAIN = (
    "Prediction-powered inference (PPI++): imagination on many further seeds gives the bulk "
    "of each estimate, and the real episodes, each paired with imagination from the same "
    "reset seed, correct its bias; λ is how much the estimate leans on imagination (0: real "
    "episodes only). The intervals are valid whatever the model's errors. `worldgym "
    "estimate` runs this with a budget, spending real episodes where a decision is open."
)


def budget_rows(budget: dict) -> list[list[str]]:
    rows = []
    for row in budget["policies"]:
        real, ppi = row["real_only"], row["prediction_powered"]
        real_width, ppi_width = real["high"] - real["low"], ppi["high"] - ppi["low"]
        saved = 1 - ppi_width / real_width if real_width > 0 else 0.0
        only = row["imagined_only_rate"]
        rows.append([
            row["policy"],
            f"{real['rate']:.0%} [{real['low']:.0%}, {real['high']:.0%}]",
            f"{ppi['rate']:.0%} [{ppi['low']:.0%}, {ppi['high']:.0%}]",
            f"{saved:.0%}", f"{ppi['power']:.2f}", "—" if only is None else f"{only:.0%}",
        ])  # fmt: skip
    return rows


def budget_markdown(budget: dict, table) -> list[str]:
    """Markdown lines of the section; `table(header, rows)` renders a table."""
    return [f"## {TITLE}", "", budget_sentence(budget), "", EXPLAIN, "",
            table(COLUMNS, budget_rows(budget)), "",
            f"![{FIGURE[1]}]({FIGURE[0]})", ""]  # fmt: skip


def budget_html(budget: dict, table, escape) -> list[str]:
    """HTML parts of the section; `table(header, rows)` renders a table."""
    return [
        f"<h2>{escape(TITLE)}</h2>", f"<p class='verdict'>{escape(budget_sentence(budget))}</p>",
        f"<p class='sub'>{escape(EXPLAIN)}</p>", table(COLUMNS, budget_rows(budget)),
        f"<figure><img src='{FIGURE[0]}' alt='{escape(FIGURE[1])}'>"
        f"<figcaption>{escape(FIGURE[1])}</figcaption></figure>",
    ]  # fmt: skip
