"""Training a world model on an episode dataset: resumable and reproducible.

One epoch is one jitted `lax.scan` over minibatch steps; each ensemble member
draws its minibatches from its own bootstrap of the training windows. The
validation split is by episode. After every epoch the full training state is
checkpointed, so a run killed at any moment and restarted with the same command
continues from its last epoch and ends with the same parameters and metrics as
an uninterrupted run (every random draw derives from the seed and the epoch).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from worldgym import checkpoint
from worldgym.dataset import EpisodeDataset, load_dataset
from worldgym.files import atomic_file
from worldgym.models import ensemble
from worldgym.provenance import library_versions

VALIDATION_BATCH = 4096
"""Windows per validation chunk (bounds memory, not results)."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = ""
    """Dataset folder (from `worldgym collect`)."""
    out: str = ""
    """Run folder for checkpoints and metrics; re-running the same command resumes."""
    epochs: int = 40
    """Maximum number of passes over the training windows."""
    patience: int = 6
    """Stop after this many epochs without a better validation loss."""
    batch_size: int = 512
    """Windows per minibatch, per ensemble member."""
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


def dataset_fingerprint(data: EpisodeDataset) -> str:
    """SHA-256 over the arrays a model learns from (changes if any value does)."""
    digest = hashlib.sha256()
    for array in (data.observations, data.actions, data.success, data.episode_lengths):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def split_episodes(num_episodes: int, fraction: float, seed: int):
    """(train, validation) episode numbers, split by episode."""
    if num_episodes < 2:
        raise ValueError("Training needs a dataset of at least 2 episodes (train + validation).")
    order = np.random.default_rng(seed).permutation(num_episodes)
    held_out = min(max(1, round(fraction * num_episodes)), num_episodes - 1)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def window_starts(data: EpisodeDataset, episodes: np.ndarray, steps: int) -> np.ndarray:
    """Transition indices t where a k-step window t..t+k-1 stays in one episode."""
    starts = []
    for episode in episodes:
        length = int(data.episode_lengths[episode])
        first = int(data.transition_starts[episode])
        starts.append(first + np.arange(max(0, length - steps + 1)))
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)


def gather_windows(arrays: dict, starts, steps: int) -> dict:
    """k-step windows (start obs, actions, next obs, ...) at transition indices `starts`.

    Works on any leading shape of `starts` ([members, batch] during training).
    """
    offsets = jnp.arange(steps)
    transitions = starts[..., None] + offsets  # [..., k]
    obs_index = starts + arrays["episode_of"][starts]  # observation index of each start
    next_index = obs_index[..., None] + 1 + offsets
    return {
        "obs": arrays["observations"][obs_index],
        "actions": arrays["actions"][transitions],
        "next_obs": arrays["observations"][next_index],
        "next_success": arrays["success"][next_index],
        "terminations": arrays["terminations"][transitions],
    }


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


def load_training_data(config: TrainConfig) -> TrainingData:
    """Load the dataset, check it against its task, split it by episode."""
    from envs import get_task

    load_start = time.perf_counter()
    data = load_dataset(config.dataset)
    load_seconds = time.perf_counter() - load_start
    header = data.metadata.get("worldgym", {})
    if "task" not in header:
        raise ValueError(f"Dataset {config.dataset} has no worldgym task in its metadata.")
    task = get_task(header["task"])
    if data.observations.shape[1] != task.obs_dim or data.actions.shape[1] != task.action_dim:
        raise ValueError(
            f"Dataset {config.dataset} has observations/actions of sizes "
            f"{data.observations.shape[1]}/{data.actions.shape[1]}, but task {task.name} has "
            f"{task.obs_dim}/{task.action_dim}."
        )
    episodes = np.arange(data.num_episodes)
    if config.max_episodes is not None:
        episodes = episodes[: config.max_episodes]
    train_eps, val_eps = split_episodes(len(episodes), config.validation_fraction, config.seed)
    train_eps, val_eps = episodes[train_eps], episodes[val_eps]
    steps = config.rollout_steps
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
    }
    return TrainingData(
        data, task, train_eps, val_eps, train_starts, val_starts, arrays, load_seconds
    )


def training_normalizer(training: TrainingData, model_config) -> dict:
    """Normaliser statistics from the training episodes' one-step transitions."""
    data = training.data
    transitions = window_starts(data, training.train_episodes, 1)
    observation_index = transitions + data.episode_index()[transitions]
    return ensemble.normalizer_from_data(
        data.observations[observation_index], data.actions[transitions],
        data.observations[observation_index + 1], model_config,
    )  # fmt: skip


def make_epoch_functions(config: TrainConfig, model_config, training: TrainingData,
                         normalizer: dict, optimiser):  # fmt: skip
    """(run_epoch, validate): one jitted epoch of minibatch steps, and the
    validation metrics of a set of parameters."""
    task, arrays, steps = training.task, training.arrays, config.rollout_steps
    members = model_config.members
    learn_termination = bool(training.data.terminations.any())
    loss_fn = ensemble.make_loss(
        task.obs_dim, task.action_dim, model_config, normalizer, learn_termination
    )
    rng = np.random.default_rng(config.seed)
    train_starts = training.train_starts
    bootstraps = jnp.asarray(rng.integers(0, len(train_starts), (members, len(train_starts))))
    train_starts_device = jnp.asarray(train_starts)
    steps_per_epoch = len(train_starts) // config.batch_size

    def train_step(carry, batch_starts):  # batch_starts [members, batch]
        params, opt_state = carry
        window = gather_windows(arrays, batch_starts, steps)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, window)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def run_epoch(params, opt_state, epoch):
        keys = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), epoch), members)
        order = jax.vmap(jax.random.permutation)(keys, bootstraps)  # each member's bootstrap
        batches = order[:, : steps_per_epoch * config.batch_size]
        batches = train_starts_device[batches].reshape(members, steps_per_epoch, -1)
        (params, opt_state), losses = jax.lax.scan(
            train_step, (params, opt_state), jnp.moveaxis(batches, 1, 0)
        )
        return params, opt_state, losses.mean()

    @jax.jit
    def validate_chunk(params, starts):
        window = gather_windows(arrays, starts, steps)
        window = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (members, *x.shape)), window)
        loss, metrics = loss_fn(params, window)
        return loss, metrics["mse"]

    def validate(params) -> dict:
        losses, errors, weights = [], [], []
        val_starts = training.validation_starts
        for begin in range(0, len(val_starts), VALIDATION_BATCH):
            chunk = val_starts[begin : begin + VALIDATION_BATCH]
            loss, error = validate_chunk(params, jnp.asarray(chunk))
            losses.append(float(loss))
            errors.append(float(error))
            weights.append(len(chunk))
        return {
            "validation_loss": float(np.average(losses, weights=weights)),
            "validation_delta_mse": float(np.average(errors, weights=weights)),
        }

    return run_epoch, validate


def checkpoint_metadata(config: TrainConfig, model_config, training: TrainingData,
                        fingerprint: str) -> dict:  # fmt: skip
    """What the best checkpoint says about itself: model, task, spaces, provenance."""
    task = training.task
    return {
        "format_version": checkpoint.FORMAT_VERSION,
        "family": ensemble.FAMILY,
        "model_config": asdict(model_config),
        "task": task.name,
        "env_id": task.env_id,
        "observation_shape": list(task.observation_space.shape),
        "action_shape": list(task.action_space.shape),
        "action_low": task.action_space.low.tolist(),
        "action_high": task.action_space.high.tolist(),
        "provenance": {
            "dataset": str(Path(config.dataset).resolve()),
            "dataset_fingerprint": fingerprint,
            "train_config": asdict(config),
            "versions": library_versions(),
            "train_episodes": int(len(training.train_episodes)),
            "validation_episodes": int(len(training.validation_episodes)),
        },
    }


def restore_or_start(out: Path, initial_state: dict, run_identity: dict):
    """(training state, history): from the run's last checkpoint, or fresh.

    Refuses a folder that holds another run (other config or data) or that is
    not a training run at all.
    """
    checkpoints = out / "checkpoints"
    last = checkpoint.latest_step(checkpoints)
    if last is None:
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not a worldgym training run.")
        return initial_state, []
    state, saved = checkpoint.restore(checkpoints, initial_state, last)
    if saved["run_identity"] != json.loads(json.dumps(run_identity)):
        raise ValueError(
            f"{out} holds a run with another config or dataset; resume it with the same "
            "command, or train into a new --out folder."
        )
    return state, saved["history"]


def train(
    config: TrainConfig, model_config: ensemble.EnsembleConfig, progress: bool = True
) -> dict:
    """Train (or resume) a world model; return a summary of the run."""
    if config.rollout_steps < 1:
        raise ValueError(f"rollout_steps must be at least 1, got {config.rollout_steps}.")
    if not config.out:
        raise ValueError("Training needs an output folder (--out).")
    training = load_training_data(config)
    task = training.task
    model_config = ensemble.resolve_features(model_config, task)
    normalizer = training_normalizer(training, model_config)
    members = model_config.members
    steps_per_epoch = len(training.train_starts) // config.batch_size
    optimiser = make_optimiser(config, config.epochs * steps_per_epoch)
    run_epoch, validate = make_epoch_functions(
        config, model_config, training, normalizer, optimiser
    )

    out = Path(config.out)
    fingerprint = dataset_fingerprint(training.data)
    # What must match to resume: everything but where the data and the run live
    # (a run folder may be moved; the fingerprint pins the data itself).
    settings = {k: v for k, v in asdict(config).items() if k not in ("dataset", "out")}
    run_identity = {
        "train_config": settings, "model_config": asdict(model_config),
        "dataset_fingerprint": fingerprint,
    }  # fmt: skip
    checkpoints, best_folder = out / "checkpoints", out / "best"
    initial_params = ensemble.init_network_params(
        task.obs_dim, task.action_dim, model_config, config.seed
    )
    training_state, history = restore_or_start(
        out,
        {
            "params": initial_params,
            "opt_state": optimiser.init(initial_params),
            "epoch": np.asarray(0, np.int32),
            "best_loss": np.asarray(np.inf, np.float32),
            "bad_epochs": np.asarray(0, np.int32),
        },
        run_identity,
    )
    base_metadata = checkpoint_metadata(config, model_config, training, fingerprint)
    params, opt_state = training_state["params"], training_state["opt_state"]
    best_loss, bad_epochs = float(training_state["best_loss"]), int(training_state["bad_epochs"])
    first_epoch = int(training_state["epoch"])
    samples_per_epoch = steps_per_epoch * config.batch_size * members
    bar = tqdm(
        total=config.epochs, initial=first_epoch, desc=f"train {task.name}", disable=not progress
    )
    stopped_early = bool(history) and bad_epochs >= config.patience
    best_params = None  # set when an epoch improves in this process
    epoch = first_epoch
    while epoch < config.epochs and not stopped_early:
        start = time.perf_counter()
        params, opt_state, train_loss = run_epoch(params, opt_state, epoch)
        train_loss = float(train_loss)
        seconds = time.perf_counter() - start
        metrics = {
            "epoch": epoch + 1, "train_loss": train_loss, **validate(params),
            "samples_per_second": samples_per_epoch / seconds, "seconds": seconds,
        }  # fmt: skip
        improved = metrics["validation_loss"] < best_loss
        if improved:
            best_loss, bad_epochs = metrics["validation_loss"], 0
        else:
            bad_epochs += 1
        history.append(metrics)
        epoch += 1
        stopped_early = bad_epochs >= config.patience
        if improved:
            best_params = params
            best_meta = {
                **base_metadata, "best_epoch": epoch,
                "metrics": {"best": metrics, "history": history},
            }  # fmt: skip
            checkpoint.save(
                best_folder, epoch, {"network": params, "normalizer": normalizer}, best_meta, 1
            )
        state = {
            "params": params, "opt_state": opt_state, "epoch": np.asarray(epoch, np.int32),
            "best_loss": np.asarray(best_loss, np.float32),
            "bad_epochs": np.asarray(bad_epochs, np.int32),
        }  # fmt: skip
        checkpoint.save(
            checkpoints, epoch, state, {"run_identity": run_identity, "history": history},
            config.keep,
        )  # fmt: skip
        _write_metrics(out / "metrics.jsonl", history)
        bar.set_postfix(
            train=f"{train_loss:.3f}", val=f"{metrics['validation_loss']:.3f}",
            samples_s=f"{metrics['samples_per_second']:.0f}",
        )  # fmt: skip
        bar.update(1)
    bar.close()
    best = min(history, key=lambda row: row["validation_loss"]) if history else {}
    return {
        "out": str(out),
        "transitions": training.data.num_transitions,
        "load_seconds": training.load_seconds,
        "epochs": len(history),
        "stopped_early": stopped_early,
        "best": best,
        "samples_per_second": float(np.median([row["samples_per_second"] for row in history]))
        if history else 0.0,
        "final_params": params,
        "best_params": {"network": best_params, "normalizer": normalizer} if history else None,
    }  # fmt: skip
