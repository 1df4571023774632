"""The calibration report: one folder a person can open from disk and read.

report.html (self-contained: inline style, only relative links to files in the
folder), report.md, metrics.json, figures (PNG) and side-by-side videos (MP4)
of real (left) and imagined (right) rollouts of the same policy from the same
seed: the best policy, the worst, and the episodes where the worlds disagree most.
The words live in worldgym.report.verdict, the pages in worldgym.report.pages.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from worldgym.envs import get_task
from worldgym.evaluation.calibrate import Calibration, calibrate
from worldgym.evaluation.estimation import episode_budget, imagined_only_for
from worldgym.evaluation.model_eval import ModelEvaluation, plot_error_growth
from worldgym.evaluation.paired import EvaluateConfig, evaluate
from worldgym.evaluation.selection import resolve
from worldgym.files import atomic_file
from worldgym.options import Bootstrap
from worldgym.paths import RunPaths
from worldgym.report.budget import FIGURE as BUDGET_FIGURE
from worldgym.report.families import evaluate_families, family_section
from worldgym.report.figures import (
    plot_agreement,
    plot_ranking,
    plot_scatter,
    plot_uncertainty,
    plot_width_curve,
)
from worldgym.report.pages import FIGURES, paired_tables, render_html, render_markdown
from worldgym.report.verdict import verdict
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
    written = write_videos(evaluation, task, out, size) if videos and not evaluation.source else []
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
    return ModelEvaluation.read(Path(checkpoint) / "eval")


def make_report(evaluate_config: EvaluateConfig, report_config: ReportConfig,
                progress: bool = True) -> tuple[Path, Calibration]:  # fmt: skip
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
