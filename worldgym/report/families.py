"""World-model families side by side: the same task, policies and reset seeds,
imagined by several world models (say the state ensemble and the latent family
that learns from frames), against one set of real episodes.

The real side runs once (the evaluation cache is shared); each model imagines
every policy. For each model two verdicts are scored: the task's own success
predicate on the imagined observations (for a frame model, its state readout)
and the model's learned success head. The section gives a table of the ranking
statistics with intervals, a scatter of both families, videos with one panel
per world [real | model A | model B] (a frame model's panel shows the frames it
decodes, a state model's the task's drawing of its imagined observations), and
a paragraph saying which family to trust for which policies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import jax
import numpy as np

from worldgym.evaluation.calibrate import Calibration, calibrate, kappa_interval
from worldgym.evaluation.paired import evaluate
from worldgym.evaluation.selection import resolve
from worldgym.imagination.engine import initial_observations, open_loop_frames
from worldgym.plotting import save_figure, subplots
from worldgym.report.figures import rate_axes
from worldgym.report.verdict import interval_text, points_text
from worldgym.report.videos import label_strip
from worldgym.video import outcome_border, write_image, write_video

FIGURE = ("families.png", "Imagined vs real success per policy, one marker per world model")
COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df")
MARKERS = ("o", "s", "^", "D")
CLOSER = 0.05
"""A family counts as closer on a policy when its rate error is this much smaller."""


@dataclass(frozen=True)
class FamilyResult:
    """One world model's paired evaluation and its calibrations."""

    label: str
    family: str
    checkpoint: str
    evaluation: object  # worldgym.evaluation.paired.Evaluation
    calibration: Calibration  # scored by the task's predicate on the imagined observations
    head_calibration: Calibration  # scored by the model's success head
    model: object = None  # the WorldModel, loaded once (for the videos)


def head_scored(evaluation):
    """The evaluation with each imagined episode scored by the model's success head
    (probability > 0.5) instead of the task's predicate."""
    policies = []
    for policy in evaluation.policies:
        head = np.asarray(policy.imagined.success_probability) > 0.5
        policies.append(replace(policy, imagined=replace(policy.imagined, success=head)))
    return replace(evaluation, policies=policies)


def family_label(family: str, checkpoint: str, taken: set) -> str:
    """The family's name, or with its run folder where two runs share a family."""
    return family if family not in taken else f"{family} ({Path(checkpoint).name})"


def evaluate_families(evaluate_config, checkpoints, bootstrap: int = 1000, progress: bool = True,
                      done: dict | None = None) -> list[FamilyResult]:  # fmt: skip
    """Evaluate the same policies and seeds with each checkpoint (the real episodes
    are run once and cached) and calibrate each, both ways. `done`: {checkpoint:
    (Evaluation, Setup)} already made with these settings (e.g. the report's own).
    Each model is loaded once."""

    if len(checkpoints) < 2:
        raise ValueError("A family comparison needs at least two world-model runs.")
    results, taken = [], set()
    for checkpoint in checkpoints:
        if str(checkpoint) in (done or {}):
            evaluation, setup = done[str(checkpoint)]
        else:
            config = replace(evaluate_config, checkpoint=str(checkpoint))
            setup = resolve(config, config.sampling)
            evaluation = evaluate(config, progress, setup)
        family = setup.model.family
        label = family_label(family, str(checkpoint), taken)
        taken.add(family)
        results.append(FamilyResult(label, family, str(checkpoint), evaluation,
                                    calibrate(evaluation, bootstrap),
                                    calibrate(head_scored(evaluation), bootstrap),
                                    setup.model))  # fmt: skip
    return results


# --- the table -----------------------------------------------------------------------------
COLUMNS = ("model", "verdict from", "Spearman ρ", "Pearson r", "MMRV", "mean abs. error",
           "regret@1", "Cohen's κ", "trusted")  # fmt: skip
STATISTICS = ("spearman", "pearson", "mmrv", "mae", "regret_at_1")


def _kappa(evaluation, bootstrap: int) -> str:
    real = np.stack([p.real.success for p in evaluation.policies])
    imagined = np.stack([p.imagined.success for p in evaluation.policies])
    value, (low, high) = kappa_interval(real, imagined, bootstrap)
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def family_rows(results: list[FamilyResult], bootstrap: int = 1000) -> list[list[str]]:
    """One row per model and way of scoring; every policy counts (flagged ones too),
    so the models are compared on the same policies."""
    rows = []
    for result in results:
        trusted = sum(p.trusted for p in result.evaluation.policies)
        total = len(result.evaluation.policies)
        for scoring, calibration, evaluation in (
            ("task predicate", result.calibration, result.evaluation),
            ("success head", result.head_calibration, head_scored(result.evaluation)),
        ):  # fmt: skip
            rates = calibration.every_policy
            rows.append([result.label, scoring, *(interval_text(rates[s]) for s in STATISTICS),
                         _kappa(evaluation, bootstrap), f"{trusted} of {total}"])  # fmt: skip
    return rows


# --- the verdict ---------------------------------------------------------------------------


def families_verdict(results: list[FamilyResult]) -> str:
    """Which family to trust for which policies, in words, from the measured rates."""
    names = [p.name for p in results[0].evaluation.policies]
    real = np.array([p.real_rate for p in results[0].evaluation.policies])
    imagined = np.array([[p.imagined_rate for p in r.evaluation.policies] for r in results])
    error = np.abs(imagined - real)
    spearman = [r.calibration.every_policy["spearman"].value for r in results]
    ranked = ", ".join(f"the {r.label} model ranks with Spearman ρ = {rho:.2f}"
                       for r, rho in zip(results, spearman, strict=True))  # fmt: skip
    if np.all(np.isnan(spearman)):
        advice = ("no model can be judged on rankings here (a world gives every policy the "
                  "same rate)")  # fmt: skip
    else:
        advice = f"trust the {results[int(np.nanargmax(spearman))].label} model for rankings"
    parts = [f"On these {len(names)} {results[0].evaluation.task} policies, {ranked}: {advice}."]
    for index, result in enumerate(results):
        others = np.delete(error, index, axis=0).min(axis=0)
        closer = [n for n, mine, other in zip(names, error[index], others, strict=True)
                  if mine + CLOSER < other]  # fmt: skip
        worst = np.argsort(-error[index])[:2]
        misses = ", ".join(f"{names[i]} ({points_text(imagined[index, i] - real[i], sign=True)})"
                           for i in worst if error[index, i] >= CLOSER)  # fmt: skip
        sentence = f"The {result.label} model"
        sentence += (
            f" is closer to reality on {', '.join(closer)}"
            if closer
            else " is closer to reality on no policy by more than 5 points"
        )
        sentence += f"; it is furthest off on {misses}." if misses else "."
        flagged = [p.name for p in result.evaluation.policies if not p.trusted]
        if flagged:
            sentence += f" It does not trust its verdict on {', '.join(flagged)}."
        parts.append(sentence)
    for result in results:
        predicate = result.calibration.every_policy
        head = result.head_calibration.every_policy
        parts.append(
            f"Scored by its success head instead of the task's predicate, the {result.label} "
            f"model ranks with ρ = {head['spearman'].value:.2f} (predicate "
            f"{predicate['spearman'].value:.2f}) and errs by "
            f"{points_text(head['mae'].value)} on average (predicate "
            f"{points_text(predicate['mae'].value)})."
        )
    return " ".join(parts)


# --- the scatter ---------------------------------------------------------------------------
def plot_families(results: list[FamilyResult], path: Path) -> None:
    """Imagined vs real success, one colour and marker per model, lines joining a
    policy's points across models."""
    figure, axes = subplots(figsize=(6.4, 6.0), dpi=120)
    axes.plot([0, 1], [0, 1], color="#8c959f", linestyle="--", linewidth=1, label="y = x")
    real = np.array([p.real_rate for p in results[0].evaluation.policies])
    imagined = np.array([[p.imagined_rate for p in r.evaluation.policies] for r in results])
    for column in range(len(real)):
        axes.plot([real[column]] * len(results), imagined[:, column], color="#d0d7de",
                  linewidth=1, zorder=1)  # fmt: skip
    for index, result in enumerate(results):
        colour, marker = COLOURS[index % len(COLOURS)], MARKERS[index % len(MARKERS)]
        axes.scatter(real, imagined[index], s=28, color=colour, marker=marker,
                     label=result.label, zorder=2)  # fmt: skip
    for column, policy in enumerate(results[0].evaluation.policies):
        spread = np.abs(imagined[:, column] - real[column]).max()
        if spread >= 0.15:  # name the policies the models disagree about
            axes.annotate(policy.name, (real[column], imagined[:, column].max()),
                          xytext=(4, 4), textcoords="offset points", fontsize=7)  # fmt: skip
    rate_axes(axes, f"{results[0].evaluation.task}: world-model families side by side")
    axes.legend(loc="upper left", fontsize=8)
    save_figure(figure, path)


# --- the videos ----------------------------------------------------------------------------
def _upscaled(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames [T, h, w, 3] enlarged by the largest whole factor that fits in `size`."""
    factor = max(1, size // frames.shape[1])
    return np.repeat(np.repeat(frames, factor, axis=1), factor, axis=2)


def imagined_frames(model, task, policy, episode: int, seed: int, size: int) -> np.ndarray:
    """What a model imagined in one episode, as frames: a frame model's decoded
    frames along the episode's imagined actions, or the task's drawing of a state
    model's imagined observations."""

    outcomes = policy.imagined
    length = max(int(outcomes.lengths[episode]), 1)
    if model.decode_fn is None:
        return task.render_observations(outcomes.observations[episode, : length + 1], size, size)
    init_input = model.initial_inputs(np.asarray(initial_observations(task, [seed])))
    # The whole horizon's actions (zeros after the end), so every episode is one shape
    # and the decoding compiles once; the frames after the episode's end are dropped.
    actions = outcomes.actions[episode : episode + 1]
    frames = open_loop_frames(model, init_input, actions, jax.random.key(0))
    return _upscaled(np.asarray(frames[0, : length + 1]), size)


def three_panels(task, results, models, policy_index: int, episode: int, size: int) -> np.ndarray:
    """[real | model A | model B | ...] frames of one episode, each labelled and
    bordered green (success) or red (failure); shorter panels hold their last frame."""

    first = results[0].evaluation.policies[policy_index]
    seed = int(results[0].evaluation.seeds[episode])
    length = max(int(first.real.lengths[episode]), 1)
    panels = [("real", first.real.success[episode],
               task.render_observations(first.real.observations[episode, : length + 1],
                                        size, size))]  # fmt: skip
    for result, model in zip(results, models, strict=True):
        policy = result.evaluation.policies[policy_index]
        panels.append((result.label, policy.imagined.success[episode],
                       imagined_frames(model, task, policy, episode, seed, size)))  # fmt: skip
    steps = max(len(frames) for _, _, frames in panels)
    height = max(frames.shape[1] for _, _, frames in panels)
    columns = []
    for name, success, frames in panels:
        frames = np.concatenate([frames, np.repeat(frames[-1:], steps - len(frames), axis=0)])
        pad = height - frames.shape[1]
        frames = np.pad(frames, ((0, 0), (0, pad), (0, pad), (0, 0)), constant_values=255)
        frames = outcome_border(frames, bool(success), width=4)
        label = label_strip(f"{name}: {'success' if success else 'failure'}", frames.shape[2])
        columns.append(np.concatenate([np.broadcast_to(label, (steps, *label.shape)), frames],
                                      axis=1))  # fmt: skip
        columns.append(np.full((steps, columns[-1].shape[1], 6, 3), 255, np.uint8))
    return np.concatenate(columns[:-1], axis=2)


def choose_family_videos(results: list[FamilyResult]) -> list[tuple[str, int, int]]:
    """(why, policy index, episode): the best real policy, every policy that looks
    at pixels, and the episode where the models disagree most with each other."""
    policies = results[0].evaluation.policies
    best = int(np.argmax([p.real_rate for p in policies]))
    chosen = [("best policy", best, 0)]
    chosen += [("looks at pixels", index, 0) for index, policy in enumerate(policies)
               if policy.looks_at_frames]  # fmt: skip
    outcomes = np.stack([[p.imagined.success for p in r.evaluation.policies] for r in results])
    real = np.stack([p.real.success for p in policies])
    disagreement = (outcomes != outcomes[:1]).any(axis=0) & (outcomes[-1] != real)
    if disagreement.any():
        index, episode = np.argwhere(disagreement)[0]
        chosen.append(("the models disagree", int(index), int(episode)))
    return chosen


def write_family_videos(results, task, out: Path, size: int) -> list[dict]:

    models = [r.model for r in results]
    videos = []
    for number, (why, index, episode) in enumerate(choose_family_videos(results)):
        policy = results[0].evaluation.policies[index]
        frames = three_panels(task, results, models, index, episode, size)
        name = f"families-{number}-{policy.name}-episode{episode}.mp4".replace(":", "_")
        try:
            write_video(out / name, frames, fps=round(1.0 / task.dt))
        except (OSError, RuntimeError):  # no working H.264 encoder here: GIF instead
            name = name.removesuffix(".mp4") + ".gif"
            write_video(out / name, frames, fps=round(1.0 / task.dt))
        if number == 0:
            write_image(out / "families_frame.png", frames[len(frames) // 2])
        videos.append({"file": name, "kind": why, "policy": policy.name,
                       "seed": int(results[0].evaluation.seeds[episode])})  # fmt: skip
    return videos


def family_section(results: list[FamilyResult], task, out: Path, size: int, videos: bool,
                   bootstrap: int = 1000) -> dict:  # fmt: skip
    """Write the figure and videos; return what the report shows and metrics.json keeps."""
    plot_families(results, out / FIGURE[0])
    return {
        "columns": list(COLUMNS),
        "rows": family_rows(results, bootstrap),
        "verdict": families_verdict(results),
        "figure": list(FIGURE),
        "videos": write_family_videos(results, task, out, size) if videos else [],
        "models": [
            {
                "label": r.label,
                "family": r.family,
                "checkpoint": r.checkpoint,
                "calibration": r.calibration.to_dict(),
                "head_calibration": r.head_calibration.to_dict(),
                "policies": r.evaluation.summaries(),
            }
            for r in results
        ],  # fmt: skip
    }
