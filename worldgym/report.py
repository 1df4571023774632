"""The calibration report: one folder a person can open from disk and read.

report.html (self-contained: inline style, only relative links to files in the
folder), report.md, metrics.json, figures (PNG) and side-by-side videos (MP4)
of real (left) and imagined (right) rollouts of the same policy from the same
seed: the best policy, the worst, and the episodes where the worlds disagree most.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldgym.files import atomic_file


@dataclass(frozen=True)
class ReportConfig:
    out: str = ""
    """Report folder (default: runs/reports/<task>)."""
    bootstrap: int = 1000
    """Bootstrap resamples of episodes for the intervals of the statistics."""
    videos: bool = True
    """Write the side-by-side videos (the slowest part of the report)."""


VIDEO_SIZE = 192
"""Pixels of each panel of the side-by-side videos."""
DISAGREEMENT_VIDEOS = 3
"""Episodes shown where imagination and reality disagree most."""
REAL_COLOUR, IMAGINED_COLOUR = "#1f6feb", "#d1242f"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    with atomic_file(path) as temp:
        figure.savefig(temp)
    _pyplot().close(figure)


# --- figures ------------------------------------------------------------------------------
def plot_scatter(evaluation, path: Path) -> None:
    """Imagined vs real success rate per policy, both 95% intervals, and y = x."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.0, 6.0), dpi=120)
    axes.plot([0, 1], [0, 1], color="#8c959f", linestyle="--", linewidth=1, label="y = x")
    for policy in evaluation.policies:
        real, imagined = policy.real_rate, policy.imagined_rate
        (rl, rh), (il, ih) = policy.interval("real"), policy.interval("imagined")
        axes.errorbar(
            real, imagined, xerr=[[max(real - rl, 0)], [max(rh - real, 0)]],
            yerr=[[max(imagined - il, 0)], [max(ih - imagined, 0)]], fmt="o", color=REAL_COLOUR,
            ecolor="#afb8c1", elinewidth=1, capsize=2, markersize=5,
        )  # fmt: skip
        axes.annotate(policy.name, (real, imagined), xytext=(4, 3), textcoords="offset points",
                      fontsize=7, color="#24292f")  # fmt: skip
    axes.set_xlim(-0.04, 1.04)
    axes.set_ylim(-0.04, 1.04)
    axes.set_xlabel("real success rate (95% Wilson interval)")
    axes.set_ylabel("imagined success rate (95% Wilson interval)")
    axes.set_title(f"{evaluation.task}: imagined vs real success")
    axes.grid(True, alpha=0.3)
    axes.set_aspect("equal")
    _save(figure, path)


def _spread_ties(ranks: np.ndarray) -> np.ndarray:
    """Distinct plotting positions for tied ranks, centred on their shared rank."""
    positions = ranks.astype(np.float64).copy()
    for value in np.unique(ranks):
        members = np.flatnonzero(ranks == value)
        if len(members) > 1:
            positions[members] = value + np.arange(len(members)) - (len(members) - 1) / 2
    return positions


def plot_ranking(evaluation, path: Path) -> None:
    """Bump chart: each policy's rank in reality (left) and in imagination (right)."""
    from worldgym.calibrate import rank_data

    plt = _pyplot()
    names = [p.name for p in evaluation.policies]
    real_rank = rank_data([-p.real_rate for p in evaluation.policies])
    imagined_rank = rank_data([-p.imagined_rate for p in evaluation.policies])
    # Tied policies share an average rank; spread them so every label can be read.
    real_rank, imagined_rank = _spread_ties(real_rank), _spread_ties(imagined_rank)
    figure, axes = plt.subplots(figsize=(6.4, 0.32 * len(names) + 1.6), dpi=120)
    for name, left, right in zip(names, real_rank, imagined_rank, strict=True):
        moved = abs(left - right) >= 2
        colour = IMAGINED_COLOUR if moved else "#57606a"
        axes.plot([0, 1], [left, right], color=colour, linewidth=2 if moved else 1, marker="o")
        axes.text(-0.04, left, name, ha="right", va="center", fontsize=8)
        axes.text(1.04, right, name, ha="left", va="center", fontsize=8)
    axes.set_xlim(-0.6, 1.6)
    axes.invert_yaxis()
    axes.set_xticks([0, 1], ["real rank", "imagined rank"])
    axes.set_yticks([])
    axes.set_title("Ranking: reality vs imagination (red: moved 2+ places)")
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    _save(figure, path)


def plot_agreement(evaluation, calibration: dict, path: Path) -> None:
    """Per-episode confusion matrix and each policy's episode agreement."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(9.6, 0.3 * len(evaluation.policies) + 2.4), dpi=120,
        gridspec_kw={"width_ratios": [1, 1.4]},
    )  # fmt: skip
    confusion = np.array(calibration["episodes"]["confusion"])
    left.imshow(confusion, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        colour = "white" if count > confusion.max() / 2 else "#24292f"
        left.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=12)
    left.set_xticks([0, 1], ["imagined fail", "imagined success"])
    left.set_yticks([0, 1], ["real fail", "real success"])
    episodes = calibration["episodes"]
    left.set_title(f"episodes: accuracy {episodes['accuracy']:.0%}, kappa {episodes['kappa']:.2f}")
    names = [p.name for p in evaluation.policies]
    agreement = [float((p.real.success == p.imagined.success).mean()) for p in evaluation.policies]
    right.barh(names, agreement, color=REAL_COLOUR)
    right.set_xlim(0, 1)
    right.invert_yaxis()
    right.set_xlabel("episodes where both worlds agree")
    right.tick_params(axis="y", labelsize=8)
    right.grid(True, axis="x", alpha=0.3)
    _save(figure, path)


def plot_uncertainty(evaluation, calibration: dict, path: Path) -> None:
    """Model uncertainty against error: per policy and per episode."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=120)
    uncertainty = [float(p.uncertainty.mean()) for p in evaluation.policies]
    error = [abs(p.imagined_rate - p.real_rate) for p in evaluation.policies]
    left.scatter(uncertainty, error, color=REAL_COLOUR)
    for policy, x, y in zip(evaluation.policies, uncertainty, error, strict=True):
        left.annotate(policy.name, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=7)
    trust = calibration["trust_per_policy"]
    left.set_xlabel("mean ensemble disagreement")
    left.set_ylabel("|imagined - real| success rate")
    left.set_title(f"per policy (Spearman {trust['spearman']:.2f})")
    left.grid(True, alpha=0.3)
    agreed = np.concatenate(
        [p.uncertainty[p.real.success == p.imagined.success] for p in evaluation.policies]
    )
    disagreed = np.concatenate(
        [p.uncertainty[p.real.success != p.imagined.success] for p in evaluation.policies]
    )
    bins = np.linspace(0, max(np.concatenate([agreed, disagreed]).max(), 1e-6), 30)
    right.hist(agreed, bins=bins, density=True, alpha=0.6, color=REAL_COLOUR,
               label=f"worlds agree ({len(agreed)})")  # fmt: skip
    if len(disagreed):
        right.hist(disagreed, bins=bins, density=True, alpha=0.6, color=IMAGINED_COLOUR,
                   label=f"worlds disagree ({len(disagreed)})")  # fmt: skip
    trust = calibration["trust_per_episode"]
    right.set_title(f"per episode (point-biserial r {trust['pearson']:.2f})")
    right.set_xlabel("episode's mean ensemble disagreement")
    right.set_ylabel("density")
    right.legend()
    _save(figure, path)


def plot_error_growth(open_loop: dict, path: Path, title: str) -> None:
    from worldgym.model_eval import plot_error_growth as plot

    plot(open_loop, path, title)


# --- videos -------------------------------------------------------------------------------
def _framed(frames: np.ndarray, success: bool) -> np.ndarray:
    """Frames with a green (success) or red (failure) border."""
    frames = frames.copy()
    colour = np.array([40, 180, 70] if success else [210, 50, 40], np.uint8)
    frames[:, :5], frames[:, -5:], frames[:, :, :5], frames[:, :, -5:] = (colour,) * 4
    return frames


def label_strip(text: str, width: int, height: int = 22) -> np.ndarray:
    """A white strip [height, width, 3] with `text` centred on it (drawn by matplotlib)."""
    plt = _pyplot()
    dpi = 100
    figure = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, color="#24292f")
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return pixels[:height, :width]


def side_by_side(task, policy, episode: int, size: int) -> np.ndarray:
    """[real | imagined] frames of one episode of one policy, same initial state,
    each panel labelled and bordered green (success) or red (failure)."""
    panels = []
    for world, outcomes in (("real", policy.real), ("imagined", policy.imagined)):
        frames = _framed(
            task.render_observations(outcomes.observations[episode], size, size),
            bool(outcomes.success[episode]),
        )
        label = label_strip(f"{world}: {'success' if outcomes.success[episode] else 'failure'}",
                            size)  # fmt: skip
        panels.append(np.concatenate([np.broadcast_to(label, (len(frames), *label.shape)),
                                      frames], axis=1))  # fmt: skip
    gap = np.full((*panels[0].shape[:2], 6, 3), 255, np.uint8)
    return np.concatenate([panels[0], gap, panels[1]], axis=2)


def disagreement_scores(policy) -> np.ndarray:
    """How much the worlds disagree on each episode: a different outcome counts most,
    then the distance between the real and imagined final observations."""
    distance = np.linalg.norm(
        policy.real.observations[:, -1] - policy.imagined.observations[:, -1], axis=-1
    )
    return (policy.real.success != policy.imagined.success) + distance / (1 + distance.max())


def choose_videos(evaluation) -> list[dict]:
    """Best policy, worst policy, then the most disagreeing episodes overall."""
    policies = evaluation.policies
    best = max(policies, key=lambda p: (p.real_rate, p.imagined_rate))
    worst = min(policies, key=lambda p: (p.real_rate, p.imagined_rate))
    chosen = [
        {"kind": "best policy", "policy": best, "episode": 0},
        {"kind": "worst policy", "policy": worst, "episode": 0},
    ]
    scores = [(score, i, e) for i, p in enumerate(policies)
              for e, score in enumerate(disagreement_scores(p))]  # fmt: skip
    for _, index, episode in sorted(scores, key=lambda row: -row[0])[:DISAGREEMENT_VIDEOS]:
        chosen.append({"kind": "disagreement", "policy": policies[index], "episode": episode})
    return chosen


def write_videos(evaluation, task, out: Path, size: int = VIDEO_SIZE) -> list[dict]:
    """Write the chosen side-by-side videos (and one still frame of the first)."""
    from worldgym.video import write_image, write_video

    videos = []
    for number, item in enumerate(choose_videos(evaluation)):
        policy, episode = item["policy"], item["episode"]
        frames = side_by_side(task, policy, episode, size)
        name = f"video-{number}-{policy.name}-episode{episode}.mp4".replace(":", "_")
        try:
            write_video(out / name, frames, fps=round(1.0 / task.dt))
        except (OSError, RuntimeError):  # no working H.264 encoder here: fall back to GIF
            name = name.removesuffix(".mp4") + ".gif"
            write_video(out / name, frames, fps=round(1.0 / task.dt))
        if number == 0:
            write_image(out / "side_by_side.png", frames[len(frames) // 2])
        seed = int(evaluation.seeds[episode])
        videos.append({
            "file": name, "kind": item["kind"], "policy": policy.name, "seed": seed,
            "real_success": bool(policy.real.success[episode]),
            "imagined_success": bool(policy.imagined.success[episode]),
        })  # fmt: skip
    return videos


# --- words --------------------------------------------------------------------------------
def _interval(stat: dict, digits: int = 2) -> str:
    low, high = stat["interval"]
    return f"{stat['value']:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def verdict(calibration: dict) -> str:
    """One plain-language paragraph on how far to trust imagination's verdicts."""
    rates = calibration["rates"]
    rho, mmrv_value = rates["spearman"]["value"], rates["mmrv"]["value"]
    if not np.isfinite(rho):
        judgement = (
            "Imagination cannot rank these policies, because one of the worlds gives them "
            "all the same success rate"
        )
    elif rho >= 0.9 and mmrv_value <= 0.05:
        judgement = "Imagination is good enough to rank these policies"
    elif rho >= 0.7:
        judgement = "Imagination is useful for coarse screening, not fine ranking"
    else:
        judgement = "Imagination does not rank these policies reliably"
    over, under = calibration["largest_overestimate"], calibration["largest_underestimate"]
    episodes = calibration["episodes"]
    bias = calibration["bias"]
    if abs(bias) < 0.005:
        overall = "shows no overall bias"
    else:
        direction = "over-estimates" if bias > 0 else "under-estimates"
        overall = f"{direction} success by {100 * abs(bias):.0f} points overall"
    text = (
        f"{judgement}: it ranks these {calibration['policies']} {calibration['task']} policies "
        f"with Spearman ρ = {_interval(rates['spearman'])} and MMRV = "
        f"{_interval(rates['mmrv'], 3)}. Its success rates are off by "
        f"{100 * rates['mae']['value']:.0f} points on average and it {overall}; the largest "
        "over-estimate is "
        f"{over['policy']} (+{100 * over['points']:.0f} points), the largest under-estimate "
        f"{under['policy']} ({100 * under['points']:.0f} points). Picking the policy imagination "
        f"likes best costs {100 * rates['regret_at_1']['value']:.0f} points of real success "
        f"(regret@1). Episode by episode the two worlds agree {episodes['accuracy']:.0%} of the "
        f"time (Cohen's κ = {episodes['kappa']:.2f})."
    )
    trust = calibration["trust_per_episode"]["pearson"]
    if np.isfinite(trust):
        helps = "points at" if trust > 0.1 else "does not point at"
        text += f" The model's uncertainty {helps} the episodes it gets wrong (r = {trust:.2f})."
    if calibration["diverged"]:
        text += f" {calibration['diverged']} imagined episodes diverged and count as failures."
    return text


HEADLINE = (
    ("spearman", "Spearman ρ"), ("kendall", "Kendall τ"), ("pearson", "Pearson r"),
    ("mmrv", "MMRV"), ("mae", "mean absolute error"), ("regret_at_1", "regret@1"),
    ("regret_at_3", "regret@3"),
)  # fmt: skip


def headline_rows(calibration: dict) -> list[tuple[str, str]]:
    rows = [(label, _interval(calibration["rates"][key], 3)) for key, label in HEADLINE]
    episodes = calibration["episodes"]
    rows.append(("episode agreement", f"{episodes['accuracy']:.3f}"))
    rows.append(("Cohen's κ", f"{episodes['kappa']:.3f}"))
    return rows


def policy_rows(evaluation) -> list[list[str]]:
    rows = []
    for row in evaluation.summaries():
        (rl, rh), (il, ih) = row["real_interval"], row["imagined_interval"]
        low, high = row["member_success_range"]
        rows.append([
            row["policy"], f"{row['real_success']:.0%} [{rl:.0%}, {rh:.0%}]",
            f"{row['imagined_success']:.0%} [{il:.0%}, {ih:.0%}]", f"{low:.0%}–{high:.0%}",
            f"{row['episode_agreement']:.0%}", f"{row['mean_uncertainty']:.3f}",
            str(row["diverged"]), f"{row['real_return']:.1f}", f"{row['imagined_return']:.1f}",
        ])  # fmt: skip
    return rows


POLICY_COLUMNS = (
    "policy", "real success", "imagined success", "members' range", "episode agreement",
    "uncertainty", "diverged", "real return", "imagined return",
)  # fmt: skip


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
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#24292f;line-height:1.5}
h1{margin-bottom:.2em}.sub{color:#57606a;margin-top:0}
.verdict{background:#f6f8fa;border-left:4px solid #1f6feb;padding:.8em 1em;font-size:1.05em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #d0d7de;padding:.3em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f6f8fa}
figure{margin:1.5em 0}img,video{max-width:100%;border:1px solid #d0d7de}
figcaption{color:#57606a;font-size:.9em}
.videos{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:1em}
"""


def render_html(evaluation, calibration, videos, figures, model_metrics) -> str:
    title = f"worldgym calibration report: {evaluation.task}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='sub'>world model <code>{html.escape(evaluation.checkpoint)}</code> "
        f"(fingerprint {evaluation.checkpoint_fingerprint[:12]}); "
        f"{calibration['policies']} policies × {calibration['episodes_per_policy']} episodes "
        f"per world, reset seeds {int(evaluation.seeds[0])}–{int(evaluation.seeds[-1])}, "
        f"intervals: 95% ({calibration['bootstrap_samples']} bootstrap resamples of episodes; "
        "Wilson for single rates)</p>",
        f"<p class='verdict'>{html.escape(verdict(calibration))}</p>",
        "<h2>Headline</h2>",
        _html_table(("statistic", "value [95% interval]"), headline_rows(calibration)),
        "<h2>Policies</h2>",
        _html_table(POLICY_COLUMNS, policy_rows(evaluation)),
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
    if model_metrics:
        one = model_metrics["one_step"]
        parts.append(
            "<h2>The world model</h2><p>One-step normalised MSE on held-out episodes: "
            f"{one['model_nmse']:.4f} (copy baseline {one['copy_nmse']:.4f}, linear "
            f"{one['linear_nmse']:.4f}); success head accuracy "
            f"{one['success_head_accuracy']:.1%}.</p>"
        )
    parts.append("<p class='sub'>Numbers: <a href='metrics.json'>metrics.json</a>; "
                 "text version: <a href='report.md'>report.md</a>.</p></body></html>")  # fmt: skip
    return "\n".join(parts)


def render_markdown(evaluation, calibration, videos, figures, model_metrics) -> str:
    lines = [
        f"# worldgym calibration report: {evaluation.task}", "",
        f"World model `{evaluation.checkpoint}`; {calibration['policies']} policies × "
        f"{calibration['episodes_per_policy']} episodes per world from the same reset seeds.",
        "", verdict(calibration), "", "## Headline", "",
        _markdown_table(("statistic", "value [95% interval]"), headline_rows(calibration)),
        "", "## Policies", "", _markdown_table(POLICY_COLUMNS, policy_rows(evaluation)), "",
        "## Figures", "",
    ]  # fmt: skip
    lines += [f"![{caption}]({name})\n" for name, caption in figures]
    if videos:
        lines += ["## Real (left) vs imagined (right)", ""]
        lines += [f"- [{v['kind']}: {v['policy']}, seed {v['seed']}]({v['file']})" for v in videos]
    return "\n".join(lines) + "\n"


def write_report(evaluation, calibration: dict, out, model_metrics: dict | None = None,
                 videos: bool = True, size: int = VIDEO_SIZE) -> Path:  # fmt: skip
    """Write the report folder; return the path of report.html."""
    from envs import get_task

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task(evaluation.task)
    plot_scatter(evaluation, out / "scatter.png")
    plot_ranking(evaluation, out / "ranking.png")
    plot_agreement(evaluation, calibration, out / "agreement.png")
    plot_uncertainty(evaluation, calibration, out / "uncertainty.png")
    figures = list(FIGURES[:4])
    if model_metrics and "open_loop" in model_metrics:
        plot_error_growth(model_metrics["open_loop"], out / "error_vs_horizon.png",
                          f"{task.name}: open-loop error growth")  # fmt: skip
        figures.append(FIGURES[4])
    written = write_videos(evaluation, task, out, size) if videos else []
    metrics = {
        "calibration": calibration,
        "policies": evaluation.summaries(),
        "videos": written,
        "model": model_metrics,
        "verdict": verdict(calibration),
    }
    with atomic_file(out / "metrics.json") as temp:
        temp.write_text(json.dumps(metrics, indent=2, default=float))
    with atomic_file(out / "report.md") as temp:
        temp.write_text(render_markdown(evaluation, calibration, written, figures, model_metrics))
    with atomic_file(out / "report.html") as temp:
        temp.write_text(render_html(evaluation, calibration, written, figures, model_metrics))
    return out / "report.html"


def model_metrics_for(checkpoint) -> dict | None:
    """The model-eval metrics saved next to a training run, if any."""
    path = Path(checkpoint) / "eval" / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def make_report(evaluate_config, report_config: ReportConfig, progress: bool = True):
    """Evaluate (or reuse cached rollouts), calibrate and write the report.

    Returns (path of report.html, calibration dict).
    """
    from worldgym.calibrate import calibrate
    from worldgym.evaluate import evaluate

    evaluation = evaluate(evaluate_config, progress)
    calibration = calibrate(evaluation, report_config.bootstrap)
    out = Path(report_config.out or Path("runs/reports") / evaluation.task.lower())
    path = write_report(
        evaluation, calibration, out, model_metrics_for(evaluation.checkpoint),
        report_config.videos,
    )  # fmt: skip
    return path, calibration
