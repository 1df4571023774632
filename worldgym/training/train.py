"""Training a world model of any family on an episode dataset: resumable and reproducible.

The loop knows nothing of the family it trains: the family (a ModelFamily,
`worldgym.models`) gives the initial parameters, the normaliser and the loss,
and says how many members train side by side. One epoch is one jitted
`lax.scan` over minibatch steps; each member draws its minibatches from its own
bootstrap of the training windows. The
validation split is by episode. After every epoch the full training state is
checkpointed, so a run killed at any moment and restarted with the same command
continues from its last epoch and ends with the same parameters and metrics as
an uninterrupted run (every random draw derives from the seed and the epoch).

Data-parallel over devices and processes: each minibatch is split over every
device of the run (worldgym.devices), the parameters stay replicated and XLA sums
the gradients. In a multi-process run every process holds the dataset, the same
initial state (process 0's, when resuming) and the same draws; process 0 alone
writes the checkpoints and metrics.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from worldgym.data.dataset import find_dataset, load_dataset, read_header
from worldgym.data.episodes import EpisodeDataset
from worldgym.data.foreign import dataset_task
from worldgym.data.frames import frame_stacks, previous_observations
from worldgym.data.splits import run_split, window_starts
from worldgym.devices import (
    from_main,
    gather_objects,
    is_main_process,
    local,
    minibatch_sharding,
    replicated,
)
from worldgym.envs.registry import task_spec
from worldgym.files import atomic_file
from worldgym.models import DEFAULT_FAMILY, get_family
from worldgym.provenance import library_versions
from worldgym.training import checkpoint
from worldgym.training.checkpoint import read_metadata, restore

VALIDATION_BATCH = 4096
"""Windows per validation chunk (bounds memory, not results)."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = ""
    """Dataset: a folder (from `worldgym collect`, or any Minari dataset), or a Minari
    dataset id under $MINARI_DATASETS_PATH."""
    out: str = ""
    """Run folder for checkpoints and metrics (required); re-running the same command
    resumes."""
    task: str = ""
    """Task the data is for (name or module:attribute); needed only when the dataset
    does not say (e.g. one written by Minari's DataCollector)."""
    family: str = DEFAULT_FAMILY
    """World-model family: a registered name or module:attribute (its own options
    follow; see `worldgym train --family NAME --help`)."""
    epochs: int = 40
    """Maximum number of passes over the training windows."""
    patience: int = 6
    """Stop after this many epochs without a better validation loss."""
    batch_size: int = 512
    """Windows per minibatch, per member of the model."""
    learning_rate: float = 2e-3
    """Peak learning rate of AdamW (reached after the warm-up, then cosine decay)."""
    warmup_steps: int = 500
    """Linear warm-up steps of the learning rate."""
    weight_decay: float = 1e-5
    """AdamW weight decay."""
    gradient_clip: float = 1.0
    """Clip gradients to this global norm."""
    rollout_steps: int = 1
    """k of the k-step open-loop loss (1: the ordinary one-step loss)."""
    validation_fraction: float = 0.1
    """Fraction of episodes held out for validation (split by episode)."""
    max_episodes: int | None = None
    """Use only this many episodes of the dataset (for quick runs)."""
    keep: int = 3
    """Number of most recent training checkpoints kept (the best is kept apart)."""
    seed: int = 0
    """Seed of the split, bootstraps, initialisation and minibatch order."""
    init_from: str = ""
    """Start from this run's best parameters and normaliser instead of a fresh
    initialisation (`worldgym refine` continues a model this way)."""
    base_episodes: int | None = None
    """Split only the first this-many episodes into training and validation; later
    ones (appended by refine) all train, drawn recent_weight times as often."""
    recent_weight: float = 1.0
    """How much more often windows of episodes beyond base_episodes are drawn."""


def dataset_fingerprint(data: EpisodeDataset) -> str:
    """SHA-256 over the arrays a model learns from (see EpisodeDataset.fingerprint)."""
    return data.fingerprint()


def gather_windows(arrays: dict, starts, steps: int, frame_stack: int = 0,
                   history: int = 0) -> dict:  # fmt: skip
    """k-step windows (start obs, actions, next obs, ...) at transition indices `starts`.

    Works on any leading shape of `starts` ([members, batch] during training). With
    frame_stack s > 0 (a family that learns from frames), the window also holds
    frames [..., k + 1, H, W, 3 s]: the stack of s frames ending at the start and at
    each next observation.
    """
    offsets = jnp.arange(steps)
    transitions = starts[..., None] + offsets  # [..., k]
    obs_index = starts + arrays["episode_of"][starts]  # observation index of each start
    next_index = obs_index[..., None] + 1 + offsets
    window = {
        "obs": arrays["observations"][obs_index],
        "actions": arrays["actions"][transitions],
        "next_obs": arrays["observations"][next_index],
        "next_success": arrays["success"][next_index],
        "terminations": arrays["terminations"][transitions],
    }
    if history:  # the actions before the start, oldest first; zeros before the reset
        back = starts[..., None] - jnp.arange(history, 0, -1)  # [..., h]
        first = arrays["episode_first"][starts][..., None]
        recorded = arrays["actions"][jnp.maximum(back, 0)]
        window["previous_actions"] = jnp.where((back >= first)[..., None], recorded, 0.0)
    if frame_stack:
        ends = jnp.concatenate([obs_index[..., None], next_index], axis=-1)  # [..., k + 1]
        window["frames"] = frame_stacks(arrays["frames"], arrays["previous"], ends, frame_stack)
    return window


def make_optimiser(config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate, min(config.warmup_steps, max(1, total_steps // 2)),
        max(total_steps, 2), end_value=0.01 * config.learning_rate,
    )  # fmt: skip
    return optax.chain(
        optax.clip_by_global_norm(config.gradient_clip),
        optax.adamw(schedule, weight_decay=config.weight_decay),
    )


def _write_metrics(path: Path, history: list[dict]) -> None:
    with atomic_file(path) as temp:
        temp.write_text("".join(json.dumps(row) + "\n" for row in history))


@dataclass(frozen=True)
class TrainingData:
    """What a run learns from: the dataset, its split and the device arrays."""

    data: EpisodeDataset
    task: object
    train_episodes: np.ndarray
    validation_episodes: np.ndarray
    train_starts: np.ndarray  # window start transitions of the training episodes
    validation_starts: np.ndarray
    arrays: dict  # device copies of the dataset's arrays, for jitted gathers
    load_seconds: float
    frame_stack: int = 0  # frames per window observation (0: the family reads states)


def check_frames(data: EpisodeDataset, dataset: str, frames: tuple[int, int, int]) -> None:
    """Refuse, in one sentence, a dataset without frames or with frames of another
    size than the family (height, width, stack) reads."""
    height, width, _ = frames
    if data.images is None:
        raise ValueError(
            f"Dataset {dataset} has no frames, and this model family learns from frames: "
            f"collect one with `worldgym collect TASK --images {width}x{height}`."
        )
    if data.images.shape[1:] != (height, width, 3):
        raise ValueError(
            f"Dataset {dataset} has frames of shape {list(data.images.shape[1:])}, but the "
            f"model reads {height}x{width} RGB frames: collect with --images {width}x{height} "
            f"or set --image-size {data.images.shape[1]} {data.images.shape[2]}."
        )


def load_training_data(config: TrainConfig, frames: tuple[int, int, int] | None = None
                       ) -> TrainingData:  # fmt: skip
    """Load the dataset, find its task and check the two agree, split by episode.
    With `frames` (height, width, stack) the family learns from frames, which the
    dataset must hold at that size."""
    load_start = time.perf_counter()
    folder = find_dataset(config.dataset)
    task = dataset_task(read_header(folder), config.dataset, config.task or None)
    data = load_dataset(folder, task)
    load_seconds = time.perf_counter() - load_start
    if data.observations.shape[1] != task.obs_dim or data.actions.shape[1] != task.action_dim:
        raise ValueError(
            f"Dataset {config.dataset} has observations/actions of sizes "
            f"{data.observations.shape[1]}/{data.actions.shape[1]}, but task {task.name} has "
            f"{task.obs_dim}/{task.action_dim}."
        )
    train_eps, val_eps = run_split(data.num_episodes, asdict(config))
    episodes = np.concatenate([train_eps, val_eps])
    steps = config.rollout_steps
    if int(data.episode_lengths[episodes].max()) < steps:
        raise ValueError(
            f"Every episode of {config.dataset} is shorter than the {steps}-step training "
            f"window (the longest has {int(data.episode_lengths[episodes].max())} steps); "
            "lower --rollout-steps."
        )
    train_starts = window_starts(data, train_eps, steps)
    val_starts = window_starts(data, val_eps, steps)
    if len(train_starts) < config.batch_size or len(val_starts) == 0:
        raise ValueError(
            f"Too little data for {steps}-step windows in batches of {config.batch_size}: "
            f"{len(train_starts)} training and {len(val_starts)} validation windows."
        )
    arrays = {
        "observations": jnp.asarray(data.observations),
        "actions": jnp.asarray(data.actions),
        "success": jnp.asarray(data.success),
        "terminations": jnp.asarray(data.terminations),
        "episode_of": jnp.asarray(data.episode_index()),
        "episode_first": jnp.asarray(data.transition_starts[data.episode_index()]),
    }
    if frames is not None:
        check_frames(data, config.dataset, frames)
        arrays["frames"] = jnp.asarray(data.images)
        arrays["previous"] = jnp.asarray(previous_observations(data))
    return TrainingData(
        data, task, train_eps, val_eps, train_starts, val_starts, arrays, load_seconds,
        frames[2] if frames is not None else 0,
    )  # fmt: skip


def training_normalizer(training: TrainingData, family, model_config) -> dict:
    """The family's normaliser statistics of the training episodes' transitions."""
    data = training.data
    transitions = window_starts(data, training.train_episodes, 1)
    observation_index = transitions + data.episode_index()[transitions]
    return family.normalizer(
        model_config, training.task, data.observations[observation_index],
        data.actions[transitions], data.observations[observation_index + 1],
    )  # fmt: skip


def window_weights(config: TrainConfig, training: TrainingData):
    """Sampling probability of each training window: windows of episodes past
    base_episodes count recent_weight times (None: uniform, the default)."""
    if config.base_episodes is None or config.recent_weight == 1.0:
        return None
    episode_of = training.data.episode_index()[training.train_starts]
    weights = np.where(episode_of >= config.base_episodes, config.recent_weight, 1.0)
    return weights / weights.sum()


def make_epoch_functions(config: TrainConfig, family, model_config, training: TrainingData,
                         normalizer: dict, optimiser):  # fmt: skip
    """(run_epoch, validate): one jitted epoch of minibatch steps, and the
    validation metrics of a set of parameters."""
    task, arrays, steps = training.task, replicated(training.arrays), config.rollout_steps
    members = family.member_count(model_config)
    learn_termination = bool(training.data.terminations.any())
    loss_fn = family.loss(model_config, task, normalizer, learn_termination)
    history = family.action_history(model_config) if hasattr(family, "action_history") else 0
    rng = np.random.default_rng(config.seed)
    train_starts = training.train_starts
    weights = window_weights(config, training)
    bootstraps = replicated(jnp.asarray(
        rng.integers(0, len(train_starts), (members, len(train_starts))) if weights is None
        else rng.choice(len(train_starts), (members, len(train_starts)), p=weights)
    ))  # fmt: skip
    train_starts_device = replicated(jnp.asarray(train_starts))
    steps_per_epoch = len(train_starts) // config.batch_size
    sharding = minibatch_sharding(config.batch_size)  # None on one device

    # The dataset's arrays are arguments of the jitted functions, never closed over: a
    # closure bakes them into the program as constants (2.5 GB for 2,500 episodes of
    # 64x64 frames), which slows compilation and, on a GPU, the first epoch (147 s).
    def train_step(arrays, carry, batch):  # batch_starts [members, batch]
        params, opt_state = carry
        batch_starts, key = batch
        if sharding is not None:
            batch_starts = jax.lax.with_sharding_constraint(batch_starts, sharding)
        window = gather_windows(arrays, batch_starts, steps, training.frame_stack, history)
        window["key"] = key  # for losses that draw (e.g. the ensemble's input noise)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, window)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def epoch_of(params, opt_state, epoch, arrays, bootstraps, train_starts):
        keys = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), epoch), members)
        order = jax.vmap(jax.random.permutation)(keys, bootstraps)  # each member's bootstrap
        batches = order[:, : steps_per_epoch * config.batch_size]
        batches = train_starts[batches].reshape(members, steps_per_epoch, -1)
        step_keys = jax.random.split(jax.random.fold_in(jax.random.key(config.seed + 1), epoch),
                                     steps_per_epoch)  # fmt: skip
        (params, opt_state), losses = jax.lax.scan(
            partial(train_step, arrays), (params, opt_state),
            (jnp.moveaxis(batches, 1, 0), step_keys),
        )  # fmt: skip
        return params, opt_state, losses.mean()

    def run_epoch(params, opt_state, epoch):
        return epoch_of(params, opt_state, epoch, arrays, bootstraps, train_starts_device)

    @jax.jit
    def validate_chunk(params, starts, arrays):
        window = gather_windows(arrays, starts, steps, training.frame_stack, history)
        window = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (members, *x.shape)), window)
        return loss_fn(params, {**window, "validation": True})  # families may score robustly

    def validate(params) -> dict:
        rows, weights = [], []
        val_starts = training.validation_starts
        for begin in range(0, len(val_starts), VALIDATION_BATCH):
            chunk = val_starts[begin : begin + VALIDATION_BATCH]
            loss, metrics = local(validate_chunk(params, replicated(jnp.asarray(chunk)), arrays))
            rows.append({"loss": float(loss), **{k: float(v) for k, v in metrics.items()}})
            weights.append(len(chunk))
        return {
            f"validation_{name}": float(np.average([row[name] for row in rows], weights=weights))
            for name in rows[0]
        }

    return run_epoch, validate


def checkpoint_metadata(config: TrainConfig, family, model_config, training: TrainingData,
                        fingerprint: str) -> dict:  # fmt: skip
    """What the best checkpoint says about itself: model, task, spaces, provenance."""

    task = training.task
    return {
        "format_version": checkpoint.FORMAT_VERSION,
        "family": family.name,
        "family_spec": config.family,
        "model_config": asdict(model_config),
        "task": task.name,
        "task_spec": task_spec(task),
        "env_id": task.env_id,
        "observation_shape": list(task.observation_space.shape),
        "action_shape": list(task.action_space.shape),
        "action_low": task.action_space.low.tolist(),
        "action_high": task.action_space.high.tolist(),
        "provenance": {
            "dataset": str(Path(config.dataset).resolve()) if Path(config.dataset).exists()
            else config.dataset,
            "dataset_fingerprint": fingerprint,
            "train_config": asdict(config),
            "versions": library_versions(),
            "dataset_episodes": int(training.data.num_episodes),
            "train_episodes": int(len(training.train_episodes)),
            "validation_episodes": int(len(training.validation_episodes)),
        },
    }  # fmt: skip


def restore_or_start(out: Path, initial_state: dict, identity: dict):
    """(training state, history): from the run's last checkpoint, or fresh.

    Refuses a folder that holds another run (other config or data) or that is
    not a training run at all.
    """
    resumed = checkpoint.resume(
        out,
        initial_state,
        identity,
        f"{out} holds a run with another config or dataset; "
        "resume it with the same command, or train into a new --out folder.",
        only_runs=True,
    )
    return resumed if resumed is not None else (initial_state, [])


def run_identity(config: TrainConfig, family, model_config, fingerprint: str) -> dict:
    """What must match to resume a run: everything but where the data and the run
    live (a run folder may be moved; the fingerprint pins the data itself)."""
    settings = {k: v for k, v in asdict(config).items()
                if k not in ("dataset", "out", "task", "family")}  # fmt: skip
    model_settings = asdict(model_config)
    if model_settings.get("prior") == "none":  # runs from before priors existed resume
        del model_settings["prior"]
    identity = {
        "train_config": settings, "model_config": model_settings,
        "dataset_fingerprint": fingerprint,
    }  # fmt: skip
    if family.name != DEFAULT_FAMILY:  # runs of worldgym 0.1 (one family) still resume
        identity["family"] = family.name
    return identity


@dataclass
class Run:
    """The mutable state of a training run between epochs (one place, passed around)."""

    params: object
    opt_state: object
    epoch: int
    best_loss: float
    bad_epochs: int
    history: list

    def checkpoint_state(self) -> dict:
        return {
            "params": self.params, "opt_state": self.opt_state,
            "epoch": np.asarray(self.epoch, np.int32),
            "best_loss": np.asarray(self.best_loss, np.float32),
            "bad_epochs": np.asarray(self.bad_epochs, np.int32),
        }  # fmt: skip


@dataclass(frozen=True)
class TrainResult:
    """What a training run did; its folder holds the checkpoints and metrics.jsonl."""

    out: Path
    """The run folder."""
    transitions: int
    """Transitions in the dataset (training and validation episodes)."""
    load_seconds: float
    """Seconds spent reading the dataset."""
    epochs: int
    """Epochs trained so far (an already finished run reports its own)."""
    stopped_early: bool
    """Whether early stopping (patience) ended the run before `epochs`."""
    best: dict
    """The best epoch's metrics row as in metrics.jsonl (epoch, train_loss,
    validation_loss, ...); empty before the first epoch."""
    samples_per_second: float
    """Median training throughput over the epochs."""
    final_params: object
    """The parameters after the last epoch (a pytree)."""
    best_params: dict | None
    """{"network": best parameters, "normalizer": ...}; None before the first epoch."""


def train(config: TrainConfig, model_config=None, progress: bool = True) -> TrainResult:
    """Train (or resume) a world model of `config.family`; return what the run did.

    `model_config` is the family's Config (default: its defaults).
    """
    if config.rollout_steps < 1:
        raise ValueError(f"rollout_steps must be at least 1, got {config.rollout_steps}.")
    if not config.out:
        raise ValueError("Training needs an output folder (--out).")
    family = get_family(config.family)
    model_config = family.Config() if model_config is None else model_config
    if not isinstance(model_config, family.Config):
        raise ValueError(f"Family {family.name} takes its own config ({family.Config.__name__}), "
                         f"not {type(model_config).__name__}.")  # fmt: skip
    frames = getattr(family, "frames", None)  # families that learn from frames say which
    training = load_training_data(config, frames(model_config) if frames else None)
    task = training.task
    model_config = family.prepare_config(model_config, task)
    if config.init_from:
        initial_params, normalizer = warm_start(config.init_from, family, model_config, task)
    else:
        initial_params = family.init_params(model_config, task, config.seed)
        normalizer = training_normalizer(training, family, model_config)
    steps_per_epoch = len(training.train_starts) // config.batch_size
    optimiser = make_optimiser(config, config.epochs * steps_per_epoch)
    run_epoch, validate = make_epoch_functions(
        config, family, model_config, training, normalizer, optimiser
    )
    out = Path(config.out)
    fingerprint = dataset_fingerprint(training.data)
    run = Run(initial_params, optimiser.init(initial_params), 0, float(np.inf), 0, [])
    state, history = restore_or_start(
        out, run.checkpoint_state(), run_identity(config, family, model_config, fingerprint)
    )
    state, history = from_main(state), gather_objects(history)[0]  # process 0's, everywhere
    run = Run(replicated(state["params"]), replicated(state["opt_state"]), int(state["epoch"]),
              float(state["best_loss"]), int(state["bad_epochs"]), history)  # fmt: skip
    samples_per_epoch = steps_per_epoch * config.batch_size * family.member_count(model_config)
    identity = run_identity(config, family, model_config, fingerprint)
    metadata = checkpoint_metadata(config, family, model_config, training, fingerprint)
    bar = tqdm(total=config.epochs, initial=run.epoch, desc=f"train {task.name}",
               disable=not progress)  # fmt: skip
    best_params = None  # set when an epoch improves in this process
    while run.epoch < config.epochs and not stopped(run, config):
        start = time.perf_counter()
        run.params, run.opt_state, train_loss = run_epoch(run.params, run.opt_state, run.epoch)
        train_loss = float(local(train_loss))  # waits for the epoch: the timing is honest
        seconds = time.perf_counter() - start
        metrics = {
            "epoch": run.epoch + 1, "train_loss": train_loss, **validate(run.params),
            "samples_per_second": samples_per_epoch / seconds, "seconds": seconds,
        }  # fmt: skip
        if end_epoch(run, metrics, out, identity, metadata, normalizer, config.keep):
            best_params = run.params
        bar.set_postfix(train=f"{metrics['train_loss']:.3f}",
                        val=f"{metrics['validation_loss']:.3f}",
                        samples_s=f"{metrics['samples_per_second']:.0f}")  # fmt: skip
        bar.update(1)
    bar.close()
    return summary(run, config, training, normalizer, best_params)


def warm_start(run: str, family, model_config, task):
    """(params, normaliser) of a run's best checkpoint, to continue training from; the
    run must hold a model of this family and config (the network keeps its inputs'
    scaling, so the normaliser carries over too)."""

    metadata = read_metadata(Path(run))
    if (
        metadata["family"] != family.name
        or family.config_from_dict(metadata["model_config"]) != model_config
    ):
        raise ValueError(
            f"{run} holds a {metadata['family']} model with another config; continue it with "
            "the config it was trained with."
        )
    like_params = getattr(family, "like_params", None)
    like = like_params(model_config, task) if like_params else None
    state, _ = restore(Path(run) / "best", like)
    state = jax.tree_util.tree_map(np.asarray, state)
    return state["network"], state["normalizer"]


def stopped(run: Run, config: TrainConfig) -> bool:
    """Early stopping: patience epochs in a row without a better validation loss."""
    return bool(run.history) and run.bad_epochs >= config.patience


def end_epoch(run: Run, metrics: dict, out: Path, identity: dict, metadata: dict,
              normalizer: dict, keep: int) -> bool:  # fmt: skip
    """Record an epoch: early-stopping counters, the best checkpoint if it improved,
    the training checkpoint and metrics.jsonl. Returns whether it improved."""
    improved = metrics["validation_loss"] < run.best_loss
    if improved:
        run.best_loss, run.bad_epochs = metrics["validation_loss"], 0
    else:
        run.bad_epochs += 1
    run.history.append(metrics)
    run.epoch += 1
    if not is_main_process():  # process 0 writes for the run
        return improved
    if improved:
        best_meta = {**metadata, "best_epoch": run.epoch,
                     "metrics": {"best": metrics, "history": run.history}}  # fmt: skip
        best_state = {"network": local(run.params), "normalizer": normalizer}
        checkpoint.save(out / "best", run.epoch, best_state, best_meta, 1)
    checkpoint.save_run(out, run.epoch, local(run.checkpoint_state()), identity, run.history,
                        keep)  # fmt: skip
    _write_metrics(out / "metrics.jsonl", run.history)
    return improved


def summary(run: Run, config: TrainConfig, training: TrainingData, normalizer: dict,
            best_params) -> TrainResult:  # fmt: skip
    history = run.history
    rates = [row["samples_per_second"] for row in history]
    return TrainResult(
        out=Path(config.out),
        transitions=training.data.num_transitions,
        load_seconds=training.load_seconds,
        epochs=len(history),
        stopped_early=stopped(run, config),
        best=min(history, key=lambda row: row["validation_loss"]) if history else {},
        samples_per_second=float(np.median(rates)) if rates else 0.0,
        final_params=local(run.params),
        best_params={"network": local(best_params), "normalizer": normalizer} if history else None,
    )
