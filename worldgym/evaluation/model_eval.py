"""How good a world model's predictions are, on held-out episodes.

Reports one-step error against two baselines fitted or defined in the same run
("nothing changes" and a least-squares linear model), open-loop error growth
over the horizon (PNG), the success head's accuracy and Brier score, how often
the task's success predicate agrees on predicted observations, how well ensemble
disagreement tracks actual error, and a [real | imagined | difference] video of
the model continuing held-out episodes from their midpoint (as in DreamerV3's
report).

A model that starts from camera frames starts from the recorded ones (the
stack ending at each start), and a model that draws frames is also scored on
them: PSNR and SSIM of its decoded frames against the recorded ones over the
open-loop horizon (a second PNG), and its video shows the decoded frames.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.ndimage import uniform_filter

from worldgym.data.advice import data_advice
from worldgym.data.dataset import find_dataset, load_dataset, read_header
from worldgym.data.episodes import EpisodeDataset
from worldgym.data.foreign import dataset_task
from worldgym.data.frames import recorded_inputs
from worldgym.data.splits import run_split, trained_episodes, window_starts
from worldgym.evaluation.calibrate import pearson, spearman
from worldgym.files import atomic_file
from worldgym.imagination.engine import open_loop, open_loop_frames
from worldgym.plotting import save_figure, subplots
from worldgym.policies.oracles import oracle_spec
from worldgym.training.checkpoint import checkpoint_task, load_world_model, read_metadata
from worldgym.video import write_video


@dataclass(frozen=True)
class ModelEvalConfig:
    checkpoint: str = ""
    """Training run folder (from `worldgym train`)."""
    dataset: str = ""
    """Dataset (folder or Minari id); if it is the training dataset, only its validation
    episodes are used."""
    out: str | None = None
    """Folder for metrics.json, the plot and the video (default: <checkpoint>/eval)."""
    sampling: str | None = None
    """Override the model's sampling mode, for families that have one (the ensemble:
    mean, ts1, ts1-noise)."""
    max_episodes: int = 200
    """Evaluate on at most this many held-out episodes."""
    videos: int = 3
    """Held-out episodes continued in the video (0: no video)."""
    size: int = 192
    """Video frame size in pixels (each of the three panels)."""
    seed: int = 0
    """Seed of the model's sampling."""


@dataclass(frozen=True)
class OneStepMetrics:
    """One predicted step from every held-out transition, against its baselines."""

    transitions: int
    model_nmse: float
    """Normalised MSE of the model's prediction (per-dimension scale of the model)."""
    copy_nmse: float
    """... of "nothing changes" (the observation itself)."""
    linear_nmse: float
    """... of a least-squares linear model fitted on the other episodes."""
    model_nmse_per_dimension: dict[str, float]
    success_head_accuracy: float
    success_head_brier: float
    success_rate_recorded: float
    predicate_agreement: float | None
    """How often the task's success predicate on the prediction agrees with the
    recorded outcome; None for a task without a predicate."""
    disagreement_error_pearson: float
    disagreement_error_spearman: float

    @property
    def model_over_copy(self) -> float:
        return self.model_nmse / self.copy_nmse

    @property
    def model_over_linear(self) -> float:
        return self.model_nmse / self.linear_nmse


@dataclass(frozen=True)
class OpenLoopMetrics:
    """Normalised MSE after H = 1..horizon open-loop steps, averaged over the held-out
    episodes still running at H."""

    horizon: int
    model: list[float]
    copy: list[float]
    linear: list[float]
    episodes: list[int]
    """Episodes still running at each H."""


@dataclass(frozen=True)
class FrameQuality:
    """PSNR (dB) and SSIM of decoded open-loop frames at H = 0..horizon."""

    horizon: int
    psnr: list[float]
    ssim: list[float]


@dataclass(frozen=True)
class ModelEvaluation:
    """Every measure of `worldgym model-eval`; saved as metrics.json in `out`."""

    task: str
    checkpoint: str
    dataset: str
    held_out: str
    """Which episodes were scored, in words."""
    family: str
    sampling: str | None
    one_step: OneStepMetrics
    open_loop: OpenLoopMetrics
    frames: FrameQuality | None
    data_advice: dict
    """The dataset's data advice (worldgym.data.advice), as saved."""
    out: Path

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "out": str(self.out)}, indent=2)

    @classmethod
    def read(cls, folder: Path) -> ModelEvaluation | None:
        """The evaluation saved in `folder` (its metrics.json); None where there is none,
        or one this version cannot read (damaged, or written by an older worldgym with
        other fields): a command then evaluates again or leaves the section out."""
        try:
            saved = json.loads((Path(folder) / "metrics.json").read_text())
            frames = saved.get("frames")
            return _known(cls, {
                **saved, "out": Path(folder),
                "one_step": _known(OneStepMetrics, saved["one_step"]),
                "open_loop": _known(OpenLoopMetrics, saved["open_loop"]),
                "frames": _known(FrameQuality, frames) if frames else None,
            })  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def _known(cls, values: dict):
    """`cls` from the saved values it has fields for (a file may hold more, e.g. ratios
    an older version saved)."""
    names = {field.name for field in fields(cls)}
    return cls(**{name: value for name, value in values.items() if name in names})


def held_out_episodes(data: EpisodeDataset, model_metadata: dict):
    """Validation episodes of the run if `data` is its training dataset, else all."""
    provenance = model_metadata["provenance"]
    count = trained_episodes(data, provenance)
    if count is None:
        return np.arange(data.num_episodes), "all episodes (not the training dataset)"
    _, validation = run_split(count, provenance["train_config"])
    return validation, "the training run's validation episodes"


def fit_linear(observations, actions, next_observations) -> np.ndarray:
    """Least-squares map [obs, action, 1] -> change of obs (ridge 1e-6)."""
    inputs = np.concatenate([observations, actions, np.ones((len(actions), 1))], axis=1)
    targets = next_observations - observations
    gram = inputs.T @ inputs + 1e-6 * np.eye(inputs.shape[1])
    return np.linalg.solve(gram, inputs.T @ targets)


def predict_linear(weights, observations, actions):
    inputs = np.concatenate([observations, actions, np.ones((*actions.shape[:-1], 1))], axis=-1)
    return observations + inputs @ weights


def _normalised_mse(predicted, target, scale) -> np.ndarray:
    """Mean over dimensions of ((predicted - target) / scale)^2, per row."""
    return np.mean(np.square((predicted - target) / scale), axis=-1)


FRAME_CHUNK = 2048
"""Starts per call when a model starts from recorded frames: the frame stacks of every
held-out transition of 2,500 Push episodes at once took 17 GB and were killed."""


def _one_step_predictions(model, data, starts, obs, actions, key):
    """One open-loop step from each start, from what the model starts from there
    (recorded frames, previous actions), in chunks (each chunk's frame stacks
    gathered only when it runs), so memory does not grow with the data."""
    if not ((model.frame_stack and data.images is not None) or model.action_history):
        return open_loop(model, obs, actions[:, None], key)
    parts = []
    for number, begin in enumerate(range(0, len(starts), FRAME_CHUNK)):
        chunk = starts[begin : begin + FRAME_CHUNK]
        inputs = recorded_inputs(model, data, chunk + data.episode_index()[chunk])
        part = open_loop(model, obs[begin : begin + FRAME_CHUNK],
                         actions[begin : begin + FRAME_CHUNK, None],
                         jax.random.fold_in(key, number), inputs)  # fmt: skip
        parts.append(jax.tree_util.tree_map(np.asarray, part))
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)


def one_step_metrics(model, task, data, episodes, linear, scale, key) -> OneStepMetrics:
    starts = window_starts(data, episodes, 1)
    transitions = data.transitions()
    obs = transitions["observations"][starts]
    actions = transitions["actions"][starts]
    target = transitions["next_observations"][starts]
    recorded_success = transitions["next_success"][starts]
    prediction = _one_step_predictions(model, data, starts, obs, actions, key)
    predicted = np.asarray(prediction.obs[:, 0])
    model_error = _normalised_mse(predicted, target, scale)
    per_dimension = np.mean(np.square((predicted - target) / scale), axis=0)
    copy_error = _normalised_mse(obs, target, scale)
    linear_error = _normalised_mse(predict_linear(linear, obs, actions), target, scale)
    probability = np.asarray(jax.nn.sigmoid(prediction.success_logit[:, 0]))
    predicate = (np.asarray(jax.vmap(task.success_fn)(jnp.asarray(predicted)))
                 if task.success_fn else None)  # fmt: skip
    uncertainty = np.asarray(prediction.uncertainty[:, 0])
    return OneStepMetrics(
        transitions=int(len(starts)),
        model_nmse=float(model_error.mean()),
        copy_nmse=float(copy_error.mean()),
        linear_nmse=float(linear_error.mean()),
        model_nmse_per_dimension=dict(
            zip(task.observation_names, per_dimension.astype(float).tolist(), strict=True)
        ),
        success_head_accuracy=float(np.mean((probability > 0.5) == recorded_success)),
        success_head_brier=float(np.mean(np.square(probability - recorded_success))),
        success_rate_recorded=float(recorded_success.mean()),
        predicate_agreement=None
        if predicate is None
        else float(np.mean(predicate == recorded_success)),
        disagreement_error_pearson=pearson(uncertainty, model_error),
        disagreement_error_spearman=spearman(uncertainty, model_error),
    )


def open_loop_metrics(model, data, episodes, linear, scale, key) -> OpenLoopMetrics:
    """Error after H = 1..T open-loop steps from each held-out episode's start.

    T is the longest held-out episode; the error at H averages the episodes that
    last at least H steps (episodes that end on success are shorter).
    """
    lengths = data.episode_lengths[episodes]
    horizon = int(lengths.max())
    first = data.observation_starts[episodes]
    steps = data.transition_starts[episodes]
    within = np.minimum(np.arange(horizon)[None, :], lengths[:, None] - 1)  # [E, T]
    valid = np.arange(horizon)[None, :] < lengths[:, None]  # [E, T]
    obs0 = data.observations[first]
    actions = data.actions[steps[:, None] + within]
    truth = data.observations[first[:, None] + 1 + within]
    inputs = recorded_inputs(model, data, first)
    predicted = np.asarray(open_loop(model, obs0, actions, key, inputs).obs)
    linear_path = [obs0]
    for t in range(horizon):
        linear_path.append(predict_linear(linear, linear_path[-1], actions[:, t]))
    linear_predicted = np.stack(linear_path[1:], axis=1)

    def mean_over_episodes(error):  # error [E, T] -> [T], only episodes still running
        return (error * valid).sum(0) / valid.sum(0)

    model_error = mean_over_episodes(_normalised_mse(predicted, truth, scale))
    copy_error = mean_over_episodes(_normalised_mse(obs0[:, None], truth, scale))
    linear_error = mean_over_episodes(_normalised_mse(linear_predicted, truth, scale))
    return OpenLoopMetrics(
        horizon=horizon,
        model=model_error.tolist(),
        copy=copy_error.tolist(),
        linear=np.minimum(linear_error, 1e6).tolist(),
        episodes=valid.sum(0).tolist(),
    )


def psnr(predicted, target) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of uint8 frames [..., H, W, 3], per frame."""
    error = np.mean(np.square(predicted.astype(np.float64) - target.astype(np.float64)),
                    axis=(-3, -2, -1))  # fmt: skip
    return 10.0 * np.log10(255.0**2 / np.maximum(error, 1e-10))


def ssim(predicted, target, window: int = 7) -> np.ndarray:
    """Structural similarity of uint8 frames [..., H, W, 3], per frame: Wang et al.
    (2004) with a uniform window, on each colour channel, averaged."""

    x, y = predicted.astype(np.float64) / 255.0, target.astype(np.float64) / 255.0
    size = (1,) * (x.ndim - 3) + (window, window, 1)
    mean_x, mean_y = uniform_filter(x, size), uniform_filter(y, size)
    var_x = uniform_filter(x * x, size) - mean_x**2
    var_y = uniform_filter(y * y, size) - mean_y**2
    cov = uniform_filter(x * y, size) - mean_x * mean_y
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)
             / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)))  # fmt: skip
    return index.mean(axis=(-3, -2, -1))


def frame_metrics(model, data, episodes, key) -> FrameQuality | None:
    """PSNR and SSIM of the model's decoded open-loop frames against the recorded ones,
    per horizon H = 0..T (H = 0: the start, decoded), for a model that draws frames
    and a dataset with frames; None otherwise."""
    if model.decode_fn is None or data.images is None:
        return None
    lengths = data.episode_lengths[episodes]
    horizon = int(lengths.max())
    first = data.observation_starts[episodes]
    steps = data.transition_starts[episodes]
    within = np.minimum(np.arange(horizon)[None, :], lengths[:, None] - 1)
    actions = data.actions[steps[:, None] + within]
    inputs = recorded_inputs(model, data, first)
    imagined = np.asarray(open_loop_frames(model, inputs, actions, key))  # [E, T + 1, ...]
    shown = np.concatenate([np.zeros((len(episodes), 1), int), within + 1], axis=1)
    recorded = data.images[first[:, None] + shown]
    valid = np.arange(horizon + 1)[None, :] <= lengths[:, None]
    if imagined.shape[2:] != recorded.shape[2:]:
        raise ValueError(f"The model draws frames of shape {list(imagined.shape[2:])}, the "
                         f"dataset has {list(recorded.shape[2:])}.")  # fmt: skip

    def mean_over_episodes(values):
        return ((values * valid).sum(0) / valid.sum(0)).tolist()

    # One horizon step at a time: SSIM's float64 filters of every frame at once held
    # about ten copies of the frames (over 15 GB for 250 Push episodes of 81 frames).
    scores = [(psnr(imagined[:, t], recorded[:, t]), ssim(imagined[:, t], recorded[:, t]))
              for t in range(horizon + 1)]  # fmt: skip
    return FrameQuality(horizon,
                        mean_over_episodes(np.stack([p for p, _ in scores], axis=1)),
                        mean_over_episodes(np.stack([q for _, q in scores], axis=1)))  # fmt: skip


def plot_frame_quality(frames: FrameQuality, path: Path, title: str) -> None:
    steps = np.arange(frames.horizon + 1)
    figure, left = subplots(figsize=(6.4, 4.0), dpi=120)
    left.plot(steps, frames.psnr, color="#1f6feb", linewidth=2.2, label="PSNR (dB)")
    left.set_xlabel("open-loop steps H (0: the start, decoded)")
    left.set_ylabel("PSNR (dB)", color="#1f6feb")
    right = left.twinx()
    right.plot(steps, frames.ssim, color="#bf8700", linestyle="--", label="SSIM")
    right.set_ylabel("SSIM", color="#bf8700")
    right.set_ylim(0, 1)
    left.set_title(title)
    left.grid(True, alpha=0.3)
    save_figure(figure, path)


def plot_error_growth(growth: OpenLoopMetrics, path: Path, title: str) -> None:
    steps = np.arange(1, growth.horizon + 1)
    figure, axes = subplots(figsize=(6.4, 4.0), dpi=120)
    axes.plot(steps, growth.model, label="world model", linewidth=2.2, color="#1f6feb")
    axes.plot(steps, growth.linear, label="linear baseline", linestyle="--", color="#bf8700")
    axes.plot(steps, growth.copy, label='"nothing changes"', linestyle=":", color="#6e7781")
    axes.set_yscale("log")
    axes.set_xlabel("open-loop steps H")
    axes.set_ylabel("normalised MSE (log scale)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    save_figure(figure, path)


def continuation_video(model, task, data, episodes, path: Path, size: int, key) -> None:
    """[real | imagined | difference] of the model continuing episodes from midpoint:
    the recorded and decoded frames for a model that draws frames (enlarged to
    `size`), the task's drawings of real and predicted observations otherwise."""

    clips = []
    for episode in episodes:
        recorded = data.episode(int(episode))
        middle = len(recorded["actions"]) // 2
        actions = recorded["actions"][middle:]
        start = int(data.observation_starts[episode]) + middle
        inputs = recorded_inputs(model, data, np.array([start]))
        if model.decode_fn is not None and data.images is not None:
            frames = np.asarray(open_loop_frames(model, inputs, actions[None], key)[0])
            real = data.images[start : start + len(actions) + 1]
            real, imagined = (enlarge(clip, size) for clip in (real, frames))
        else:
            predicted = open_loop(model, recorded["observations"][middle][None], actions[None],
                                  key, inputs).obs[0]  # fmt: skip
            real = task.render_observations(recorded["observations"][middle:], size, size)
            imagined = task.render_observations(
                np.concatenate([recorded["observations"][middle][None], np.asarray(predicted)]),
                size, size,
            )  # fmt: skip
        difference = np.clip(3 * np.abs(real.astype(int) - imagined.astype(int)), 0, 255)
        clips.append(np.concatenate([real, imagined, difference.astype(np.uint8)], axis=2))
    write_video(path, np.concatenate(clips), fps=round(1.0 / task.dt))


def enlarge(frames, size: int):
    """Frames [T, h, w, 3] enlarged by a whole factor (nearest pixel) towards `size`."""
    factor = max(1, size // frames.shape[1])
    return np.repeat(np.repeat(frames, factor, axis=1), factor, axis=2)


def evaluate_model(config: ModelEvalConfig) -> ModelEvaluation:
    """Compute every metric, write metrics.json, the plot and the video; return them."""
    folder = find_dataset(config.dataset)
    header = read_header(folder)
    task = checkpoint_task(read_metadata(Path(config.checkpoint)))
    if "worldgym" in header:  # a dataset that names its task must name the model's
        task = dataset_task(header, config.dataset)
    model = load_world_model(config.checkpoint, task, config.sampling)
    data = load_dataset(folder, task)
    episodes, which = held_out_episodes(data, model.metadata)
    episodes = episodes[: config.max_episodes]
    train_eps = np.setdiff1d(np.arange(data.num_episodes), episodes)
    fit_eps = train_eps if len(train_eps) else episodes
    fit = window_starts(data, fit_eps, 1)
    transitions = data.transitions()
    linear = fit_linear(
        transitions["observations"][fit], transitions["actions"][fit],
        transitions["next_observations"][fit],
    )  # fmt: skip
    scale = np.asarray(model.observation_scale)
    key = jax.random.key(config.seed)
    out = Path(config.out) if config.out else Path(config.checkpoint) / "eval"
    metrics = ModelEvaluation(
        task=task.name,
        checkpoint=str(config.checkpoint),
        dataset=str(config.dataset),
        held_out=f"{len(episodes)} of {which}",
        family=model.family,
        sampling=model.config.get("sampling"),
        one_step=one_step_metrics(model, task, data, episodes, linear, scale, key),
        open_loop=open_loop_metrics(model, data, episodes, linear, scale, key),
        frames=frame_metrics(model, data, episodes, key),
        data_advice=training_data_advice(data, task),
        out=out,
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_error_growth(metrics.open_loop, out / "error_vs_horizon.png",
                      f"{task.name}: open-loop error on held-out episodes")  # fmt: skip
    if metrics.frames is not None:
        plot_frame_quality(metrics.frames, out / "frames_vs_horizon.png",
                           f"{task.name}: decoded frames on held-out episodes")  # fmt: skip
    if config.videos > 0 and task.observation_renderer is not None:
        continuation_video(
            model, task, data, episodes[: config.videos], out / "continuations.mp4",
            config.size, key,
        )  # fmt: skip
    with atomic_file(out / "metrics.json") as temp:
        temp.write_text(metrics.to_json())
    return metrics


def training_data_advice(data, task) -> dict:
    """The data advice of the dataset (measured on all of it, as before training)."""

    spec = oracle_spec(task.name)
    return data_advice(data, task, spec.motion_dims if spec else None).summary()


def format_metrics(metrics: ModelEvaluation) -> str:
    one = metrics.one_step
    growth = metrics.open_loop
    at = lambda h: growth.model[min(h, growth.horizon) - 1]  # noqa: E731
    agreement = one.predicate_agreement
    predicate = (
        "no success predicate"
        if agreement is None
        else f"predicate on predictions agrees {agreement:.1%}"
    )
    return "\n".join(
        [
            f"{metrics.task}: {metrics.held_out}; {metrics.family}"
            + (f", sampling {metrics.sampling}" if metrics.sampling else ""),
            f"one-step normalised MSE: model {one.model_nmse:.5f} | copy "
            f"{one.copy_nmse:.5f} | linear {one.linear_nmse:.5f}  (model/copy "
            f"{one.model_over_copy:.1%}, model/linear {one.model_over_linear:.1%})",
            f"open loop: H=1 {at(1):.4f}, H=10 {at(10):.4f}, H={growth.horizon} "
            f"{at(growth.horizon):.4f}  (copy at H={growth.horizon}: "
            f"{growth.copy[-1]:.4f})",
            f"success head: accuracy {one.success_head_accuracy:.1%}, Brier "
            f"{one.success_head_brier:.4f}; {predicate} (recorded success rate "
            f"{one.success_rate_recorded:.1%})",
            "largest one-step errors: "
            + ", ".join(
                f"{name} {value:.4f}"
                for name, value in sorted(
                    one.model_nmse_per_dimension.items(), key=lambda item: -item[1]
                )[:3]
            ),  # fmt: skip
            f"model uncertainty vs error: Pearson {one.disagreement_error_pearson:.2f}, "
            f"Spearman {one.disagreement_error_spearman:.2f}",
            *frame_lines(metrics.frames),
            *[f"data: {sentence}" for sentence in metrics.data_advice["advice"]],
            f"written to {metrics.out}",
        ]
    )


def frame_lines(frames: FrameQuality | None) -> list[str]:
    if frames is None:
        return []
    last = frames.horizon
    at = lambda h: min(h, last)  # noqa: E731
    return [
        "decoded frames: PSNR " + ", ".join(
            f"H={at(h)} {frames.psnr[at(h)]:.1f} dB" for h in (0, 1, 10, last)
        ) + "; SSIM " + ", ".join(f"H={at(h)} {frames.ssim[at(h)]:.3f}" for h in (0, 10, last))
    ]  # fmt: skip
