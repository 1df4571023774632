"""The calibration report's side-by-side videos: real (left) and imagined (right)
rollouts of the same policy from the same seed, drawn with the task's renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from worldgym.plotting import pixels
from worldgym.video import outcome_border, write_image, write_video

VIDEO_SIZE = 192
"""Pixels of each panel of the side-by-side videos."""
DISAGREEMENT_VIDEOS = 3
"""Episodes shown where imagination and reality disagree most."""


def label_strip(text: str, width: int, height: int = 22) -> np.ndarray:
    """A white strip [height, width, 3] with `text` centred on it (drawn by matplotlib)."""
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, color="#24292f")
    return pixels(figure)[:height, :width]


def side_by_side(task, policy, episode: int, size: int) -> np.ndarray:
    """[real | imagined] frames of one episode of one policy, same initial state,
    each panel labelled and bordered green (success) or red (failure)."""
    panels = []
    for world, outcomes in (("real", policy.real), ("imagined", policy.imagined)):
        frames = outcome_border(
            task.render_observations(outcomes.observations[episode], size, size),
            bool(outcomes.success[episode]),
            width=5,
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
