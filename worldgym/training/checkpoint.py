"""World-model checkpoints with Orbax: save, resume, and load with clear errors.

A training run's folder holds

    checkpoints/<epoch>/   the last few full training states (params, optimiser
                           state, early-stopping counters) for resuming
    best/<epoch>/          the parameters with the best validation loss, and the
                           metadata a user of the model needs: family, model
                           config, task id and spaces, normaliser, provenance
    metrics.jsonl          one line per epoch

Orbax writes each checkpoint to a temporary folder and renames it when complete,
so a killed run never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from worldgym.envs.registry import get_task
from worldgym.models import get_family
from worldgym.paths import RunPaths

FORMAT_VERSION = 1


def _manager(folder: Path, keep: int, create: bool = True) -> ocp.CheckpointManager:
    """Each process of a multi-process run reads and writes its checkpoints alone
    (they are small and replicated), so no process waits at another's barrier."""
    processes = ocp.options.MultiprocessingOptions(
        primary_host=jax.process_index(), active_processes={jax.process_index()}
    ) if jax.process_count() > 1 else ocp.options.MultiprocessingOptions()  # fmt: skip
    if create and jax.process_count() > 1:  # Orbax leaves that to us with active_processes
        folder.mkdir(parents=True, exist_ok=True)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=False,
        create=create and jax.process_count() == 1, multiprocessing_options=processes,
    )  # fmt: skip
    handlers = {
        "state": ocp.StandardCheckpointHandler(multiprocessing_options=processes),
        "meta": ocp.JsonCheckpointHandler(multiprocessing_options=processes),
    }
    return ocp.CheckpointManager(folder.resolve(), options=options, item_handlers=handlers)


def _abstract(tree):
    """Shapes and dtypes of `tree` on this process's first device (whatever the
    devices of the process that saved it)."""
    here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree_util.tree_map(
        lambda leaf: jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=here), tree
    )


def save(folder: Path, step: int, state: Any, metadata: dict, keep: int) -> None:
    """Save a pytree `state` and JSON `metadata` as checkpoint `step` in `folder`."""
    manager = _manager(folder, keep)
    manager.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(metadata)
        ),
    )
    manager.wait_until_finished()
    manager.close()


def resume(out: Path, like: Any, identity: dict, refusal: str,
           only_runs: bool = False) -> tuple[Any, list] | None:  # fmt: skip
    """The one resumable-run rule (training and rl): the latest checkpoint under
    out/checkpoints and the history saved with it, if it is this run's (its saved
    identity equals `identity`); None where there is none yet. A folder that holds
    another run is refused with `refusal`; with `only_runs`, so is a non-empty
    folder that holds no run at all."""
    checkpoints = out / "checkpoints"
    step = latest_step(checkpoints)
    if step is None:
        if only_runs and out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not a worldgym run.")
        return None
    state, saved = restore(checkpoints, like, step)
    # agents saved before the rule was shared kept it under "identity"
    if saved.get("run_identity", saved.get("identity")) != json.loads(json.dumps(identity)):
        raise ValueError(refusal)
    return state, saved.get("history", [])


def save_run(out: Path, step: int, state: Any, identity: dict, history: list,
             keep: int) -> None:  # fmt: skip
    """Save a resumable run's checkpoint `step`: its state, identity and history."""
    save(out / "checkpoints", step, state, {"run_identity": identity, "history": history}, keep)


def latest_step(folder: Path) -> int | None:
    if not folder.is_dir():
        return None
    manager = _manager(folder, keep=1, create=False)
    step = manager.latest_step()
    manager.close()
    return step


def restore(folder: Path, like: Any, step: int | None = None) -> tuple[Any, dict]:
    """Restore (state, metadata) of checkpoint `step` (default: latest); `like` is a
    pytree with the state's structure, shapes and dtypes (None: as saved)."""
    manager = _manager(folder, keep=1, create=False)
    step = manager.latest_step() if step is None else step
    if like is None:
        like = manager.item_metadata(step)["state"]
    restored = manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(_abstract(like)), meta=ocp.args.JsonRestore()
        ),
    )
    manager.close()
    return restored["state"], restored["meta"]


def read_metadata(run: Path) -> dict:
    """The metadata of a run's best checkpoint, or one clear error."""
    best = run / "best"
    if not run.exists():
        raise FileNotFoundError(
            f"No checkpoint at {run}: train one with `worldgym train DATASET --out {run}`."
        )
    step = latest_step(best) if best.is_dir() else None
    if step is None:
        raise ValueError(
            f"{run} holds no finished checkpoint (no {best}/<epoch>): it is not a worldgym "
            "training run, or training stopped before its first epoch ended."
        )
    meta_file = best / str(step) / "meta" / "metadata"
    try:
        metadata = json.loads(meta_file.read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"Checkpoint {run} is corrupted: {meta_file} is unreadable.") from None
    if metadata.get("format_version") != FORMAT_VERSION or "family" not in metadata:
        raise ValueError(f"Checkpoint {run} is not a worldgym world-model checkpoint.")
    return metadata


def check_compatible(metadata: dict, run: Path, task) -> None:
    """Refuse a checkpoint made for another task or other spaces, in one sentence."""
    if metadata["task"] != task.name:
        raise ValueError(
            f"Checkpoint {run} was trained for task {metadata['task']}, not {task.name}."
        )
    obs_shape = tuple(metadata["observation_shape"])
    action_shape = tuple(metadata["action_shape"])
    if obs_shape != task.observation_space.shape or action_shape != task.action_space.shape:
        raise ValueError(
            f"Checkpoint {run} expects observations of shape {obs_shape} and actions of shape "
            f"{action_shape}, but task {task.name} has {task.observation_space.shape} and "
            f"{task.action_space.shape}."
        )


def resolve_checkpoint(task, checkpoint: str | Path | None) -> Path:
    """The run folder to load: `checkpoint` if given, else the task's default
    (runs/models/<task>), with the commands that make it if it does not exist."""

    if checkpoint:
        return Path(checkpoint)
    paths = RunPaths()
    path = paths.model(task.name)
    if not path.exists():
        spec = task.spec or task.name
        raise FileNotFoundError(
            f"No world model for {task.name} at {path}: pass checkpoint=PATH (--checkpoint), "
            f"or make one with `worldgym collect {spec}` then `worldgym train "
            f"{paths.dataset(task.name)} --out {path}`."
        )
    return path


def checkpoint_task(metadata: dict):
    """The task a checkpoint was trained for, rebuilt from its spec."""

    return get_task(metadata.get("task_spec") or metadata["task"])


def load_world_model(run: str | Path, task=None, sampling: str | None = None):
    """The WorldModel of a training run's best checkpoint, whatever its family.

    With `task`, refuse a checkpoint made for another task or spaces (without,
    the checkpoint's own task is rebuilt from its spec). `sampling` overrides the
    model config's sampling mode, for families that have one.
    """

    run = Path(run)
    metadata = read_metadata(run)
    if task is not None:
        check_compatible(metadata, run, task)
    else:
        task = checkpoint_task(metadata)
    family = get_family(metadata.get("family_spec") or metadata["family"])
    values = dict(metadata["model_config"])
    if sampling is not None:
        if "sampling" not in values:
            raise ValueError(f"The {family.name} model of {run} has no sampling modes.")
        values["sampling"] = sampling
    config = family.config_from_dict(values)
    like_params = getattr(family, "like_params", None)
    like = like_params(config, task) if like_params else None
    try:
        state, _ = restore(run / "best", like)
    except Exception as error:  # Orbax/tensorstore raise many types for damaged files
        raise ValueError(
            f"Checkpoint {run} is corrupted or incomplete: {type(error).__name__}."
        ) from None
    state = jax.tree_util.tree_map(np.asarray, state)
    return family.build(config, task, state["network"], state["normalizer"], metadata)
