"""Paired evaluation: every policy in the ground-truth task and in imagination,
from the same reset seeds.

Episode i of policy p starts from the real task's reset state for seed i in both
worlds, so the two outcomes of an episode can be compared one to one. Real
rollouts are spread over worker processes; imagined rollouts of the whole zoo are
one engine call (plus one per ensemble member, for the spread of the verdict
across members). Results are cached on disk, keyed by what they depend on: real
ones by task, policy and seeds; imagined ones also by the checkpoint's
fingerprint, the sampling mode and the imagination seed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from envs.registry import DEFAULT_TASK
from worldgym.calibrate import wilson_interval
from worldgym.files import atomic_file
from worldgym.measure import EPISODES_PER_JOB, real_episodes


@dataclass(frozen=True)
class EvaluateConfig:
    task: str = DEFAULT_TASK
    """Task name (see `worldgym tasks`)."""
    checkpoint: str = ""
    """World-model run folder or checkpoint (default: runs/models/<task>)."""
    policies: tuple[str, ...] = ()
    """Zoo names or module:attribute JAX policies (default: the task's whole zoo)."""
    episodes: int = 50
    """Episodes per policy in each world, from reset seeds seed, seed+1, ..."""
    seed: int = 0
    """First reset seed (collection uses seeds from 1,000,000, so these are unseen)."""
    sampling: str = ""
    """How the ensemble predicts: mean, ts1 or ts1-noise ("" keeps the checkpoint's)."""
    imagination_seed: int = 0
    """Seed of the randomness inside imagination (policy noise, member draws)."""
    workers: int | None = None
    """Worker processes for the real rollouts (default: one per core)."""
    cache: str = "runs/eval"
    """Folder of cached rollouts; delete it to force re-running them."""


@dataclass(frozen=True)
class WorldOutcomes:
    """One policy's episodes in one world (arrays over episodes)."""

    success: np.ndarray  # [E] bool, episode outcome by the task's rule
    returns: np.ndarray  # [E] float
    observations: np.ndarray  # [E, H + 1, obs_dim]; after an early end, the last one repeats
    lengths: np.ndarray  # [E] int, steps the episode ran


@dataclass(frozen=True)
class PolicyEvaluation:
    """One policy, evaluated in both worlds from the same seeds."""

    name: str
    description: str
    real: WorldOutcomes
    imagined: WorldOutcomes
    success_probability: np.ndarray  # [E] success head's probability for the episode outcome
    uncertainty: np.ndarray  # [E] mean ensemble disagreement over the episode's steps
    diverged: np.ndarray  # [E] bool, the model left its plausible range
    member_success: np.ndarray  # [M, E] bool, outcome when one member alone imagines

    @property
    def episodes(self) -> int:
        return len(self.real.success)

    @property
    def real_rate(self) -> float:
        return float(self.real.success.mean())

    @property
    def imagined_rate(self) -> float:
        return float(self.imagined.success.mean())

    @property
    def member_rates(self) -> np.ndarray:
        return self.member_success.mean(axis=1)

    def interval(self, world: str) -> tuple[float, float]:
        """95% Wilson interval of the success rate in "real" or "imagined"."""
        outcomes = self.real if world == "real" else self.imagined
        low, high = wilson_interval(int(outcomes.success.sum()), self.episodes)
        return float(low), float(high)

    def summary(self) -> dict:
        real_low, real_high = self.interval("real")
        imagined_low, imagined_high = self.interval("imagined")
        return {
            "policy": self.name,
            "description": self.description,
            "episodes": self.episodes,
            "real_success": self.real_rate,
            "real_interval": [real_low, real_high],
            "imagined_success": self.imagined_rate,
            "imagined_interval": [imagined_low, imagined_high],
            "member_success_std": float(self.member_rates.std()),
            "member_success_range": [
                float(self.member_rates.min()),
                float(self.member_rates.max()),
            ],  # fmt: skip
            "mean_uncertainty": float(self.uncertainty.mean()),
            "diverged": int(self.diverged.sum()),
            "real_return": float(self.real.returns.mean()),
            "imagined_return": float(self.imagined.returns.mean()),
            "episode_agreement": float((self.real.success == self.imagined.success).mean()),
        }


@dataclass(frozen=True)
class Evaluation:
    """A paired evaluation of several policies on one task and one world model."""

    task: str
    checkpoint: str
    checkpoint_fingerprint: str
    seeds: np.ndarray
    policies: list[PolicyEvaluation]

    def summaries(self) -> list[dict]:
        return [policy.summary() for policy in self.policies]


# --- fingerprints and the cache ----------------------------------------------------------
def tree_fingerprint(tree) -> str:
    """SHA-256 over a pytree's structure and every leaf's bytes."""
    digest = hashlib.sha256()
    leaves, structure = jax.tree_util.tree_flatten(tree)
    digest.update(str(structure).encode())
    for leaf in leaves:
        array = np.asarray(leaf)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def model_fingerprint(model) -> str:
    """Identifies a world model by family, config and parameters."""
    config = json.dumps({"family": model.family, "config": model.config}, sort_keys=True)
    return hashlib.sha256((config + tree_fingerprint(model.params)).encode()).hexdigest()


def policy_fingerprint(policy) -> str:
    """Identifies a JAX policy by its function's name and its parameters."""
    act = getattr(policy.act, "__qualname__", repr(policy.act))
    module = getattr(policy.act, "__module__", "")
    return hashlib.sha256(f"{module}.{act}{tree_fingerprint(policy.params)}".encode()).hexdigest()


def _cache_path(folder: Path, policy_name: str, key: dict) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", policy_name)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return folder / f"{safe}-{digest}.npz"


def _load_cached(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError):  # a damaged cache entry is only recomputed
        return None


def _save_cached(path: Path, arrays: dict) -> None:
    with atomic_file(path) as temp:
        with open(temp, "wb") as handle:
            np.savez(handle, **arrays)


# --- the real world ---------------------------------------------------------------------
def real_outcomes(task, policies, seeds, cache: Path, workers=None, progress=True) -> list:
    """WorldOutcomes of each policy in the ground-truth task (cached per policy)."""
    seeds = [int(seed) for seed in seeds]
    results, missing = {}, []
    for policy in policies:
        key = {
            "task": task.name, "seeds": seeds, "policy": policy_fingerprint(policy),
            # vmapped policy numerics can depend on the batch: part of the result's identity
            "runner": f"lockstep-{EPISODES_PER_JOB}",
        }  # fmt: skip
        path = _cache_path(cache / task.name.lower() / "real", policy.name, key)
        cached = _load_cached(path)
        if cached is None:
            missing.append((policy.name, path))
        else:
            results[policy.name] = cached
    if missing:
        fresh = real_episodes(task.name, [name for name, _ in missing], seeds, workers, progress)
        for name, path in missing:
            _save_cached(path, fresh[name])
            results[name] = fresh[name]
    return [WorldOutcomes(**results[policy.name]) for policy in policies]


# --- the imagined world -----------------------------------------------------------------
def imagined_arrays(trajectories, task) -> dict:
    """Episode outcomes of imagined Trajectories [B, ...] by the task's rule."""
    active = np.asarray(trajectories.active)
    if task.success_fn is not None:
        step_success = np.asarray(trajectories.predicate_success) & active
    else:
        step_success = (np.asarray(trajectories.success_probability) > 0.5) & active
    probability = np.asarray(trajectories.success_probability) * active
    if task.terminate_on_success:
        success = step_success.any(axis=1)
        episode_probability = probability.max(axis=1)
    else:
        success = step_success[:, -1]
        episode_probability = probability[:, -1]
    observations = np.asarray(trajectories.observations)
    lengths = active.sum(axis=1)
    steps = np.maximum(lengths, 1)
    uncertainty = (np.asarray(trajectories.uncertainty) * active).sum(axis=1) / steps
    last = np.take_along_axis(observations, lengths[:, None, None], axis=1)
    held = np.arange(observations.shape[1])[None, :, None] > lengths[:, None, None]
    return {
        "success": success,
        "returns": np.asarray(trajectories.rewards).sum(axis=1, dtype=np.float64),
        "observations": np.where(held, last, observations),
        "lengths": lengths,
        "success_probability": episode_probability,
        "uncertainty": uncertainty,
        "diverged": np.asarray(trajectories.diverged),
    }


def policy_stream(name: str) -> int:
    """A policy's own random stream inside imagination, from its name alone, so its
    imagined episodes do not depend on which other policies are evaluated with it."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:7], 16)


def imagined_outcomes(model, task, policies, init_obs, seeds, cache: Path,
                      imagination_seed: int = 0, progress: bool = True) -> list[dict]:  # fmt: skip
    """Per policy: imagined episode arrays plus member_success [M, E] (cached per policy).

    The whole set of uncached policies is one engine call with the model, then one
    per ensemble member (each member imagining alone).
    """
    from tqdm.auto import tqdm

    from worldgym.imagine import rollout_policies
    from worldgym.models import member_models

    fingerprint = model_fingerprint(model)
    results, missing = {}, []
    for policy in policies:
        cache_key = {
            "task": task.name, "model": fingerprint, "seeds": [int(s) for s in seeds],
            "policy": policy_fingerprint(policy), "imagination_seed": imagination_seed,
        }  # fmt: skip
        folder = cache / task.name.lower() / "imagined" / fingerprint[:12]
        path = _cache_path(folder, policy.name, cache_key)
        cached = _load_cached(path)
        if cached is None:
            missing.append((policy, path))
        else:
            results[policy.name] = cached
    if missing:
        chosen = [policy for policy, _ in missing]
        streams = [policy_stream(policy.name) for policy in chosen]
        key = jax.random.key(imagination_seed)
        models = [model, *member_models(model)]
        runs = []
        for world in tqdm(models, desc=f"{task.name} imagined rollouts (model, members)",
                          disable=not progress):  # fmt: skip
            runs.append(rollout_policies(world, chosen, init_obs, key, task, streams=streams))
        for policy, path in missing:
            arrays = imagined_arrays(runs[0][policy.name], task)
            arrays["member_success"] = np.stack(
                [imagined_arrays(run[policy.name], task)["success"] for run in runs[1:]]
            )
            _save_cached(path, arrays)
            results[policy.name] = arrays
    return [results[policy.name] for policy in policies]


# --- both worlds ------------------------------------------------------------------------
def load_jax_policies(task_name: str, specs) -> list:
    """Policies by zoo name or module:attribute; imagination needs JAX policies."""
    from policies import load_policy, policy_names
    from policies.protocol import Policy

    specs = tuple(specs) or tuple(policy_names(task_name))
    if not specs:
        raise ValueError(f"No policies to evaluate for task {task_name}.")
    if len(set(specs)) != len(specs):
        raise ValueError(f"Each policy may be named once; got {', '.join(specs)}.")
    policies = []
    for spec in specs:
        policy = load_policy(task_name, spec)
        if not isinstance(policy, Policy):
            raise ValueError(
                f"Policy {spec!r} is a {type(policy).__name__}, but imagination rolls out "
                "JAX policies only: give a policies.Policy (act(params, obs, key) in jax)."
            )
        policies.append(policy)
    return policies


def evaluate_policies(task, model, policies, seeds, cache, checkpoint: str = "",
                      imagination_seed: int = 0, workers=None, progress: bool = True,
                      ) -> Evaluation:  # fmt: skip
    """Every JAX policy in both worlds from reset seeds `seeds` (cached on disk).

    Each policy's name must be a zoo name or a module:attribute spec: the worker
    processes of the real rollouts load policies by name (see load_jax_policies).
    """
    from policies import policy_names
    from worldgym.imagine import initial_observations

    if not policies:
        raise ValueError(f"No policies to evaluate for task {task.name}: give at least one.")
    for policy in policies:
        if ":" not in policy.name and policy.name not in policy_names(task.name):
            raise ValueError(
                f"Policy {policy.name!r} is neither in the {task.name} zoo nor a "
                "module:attribute spec, so worker processes cannot load it by name."
            )
    if len(seeds) < 1:
        raise ValueError("Evaluation needs at least one episode (reset seed).")
    if model.metadata.get("task", task.name) != task.name:
        raise ValueError(
            f"The world model was trained for task {model.metadata['task']}, not {task.name}."
        )
    cache = Path(cache)
    real = real_outcomes(task, policies, seeds, cache, workers, progress)
    init_obs = initial_observations(task, seeds)
    imagined = imagined_outcomes(
        model, task, policies, init_obs, seeds, cache, imagination_seed, progress
    )
    evaluations = []
    for policy, real_world, arrays in zip(policies, real, imagined, strict=True):
        fields = ("success", "returns", "observations", "lengths")
        evaluations.append(
            PolicyEvaluation(
                name=policy.name,
                description=policy.description,
                real=real_world,
                imagined=WorldOutcomes(**{k: arrays[k] for k in fields}),
                success_probability=arrays["success_probability"],
                uncertainty=arrays["uncertainty"],
                diverged=arrays["diverged"],
                member_success=arrays["member_success"],
            )  # fmt: skip
        )
    seeds = np.asarray(seeds)
    return Evaluation(task.name, checkpoint, model_fingerprint(model), seeds, evaluations)


def evaluate(config: EvaluateConfig, progress: bool = True) -> Evaluation:
    """Run (or load from the cache) every policy in both worlds from the same seeds."""
    from envs import get_task
    from worldgym.checkpoint import load_world_model
    from worldgym.env import resolve_checkpoint

    if config.episodes < 1:
        raise ValueError(f"Evaluation needs at least one episode, got {config.episodes}.")
    task = get_task(config.task)
    policies = load_jax_policies(task.name, config.policies)
    checkpoint = resolve_checkpoint(task.name, config.checkpoint or None)
    model = load_world_model(checkpoint, task, config.sampling or None)
    seeds = np.arange(config.seed, config.seed + config.episodes)
    return evaluate_policies(
        task, model, policies, seeds, config.cache, str(checkpoint), config.imagination_seed,
        config.workers, progress,
    )  # fmt: skip


def format_evaluation(evaluation: Evaluation) -> str:
    """A Markdown table: one row per policy, both worlds side by side."""
    lines = [
        f"| {evaluation.task} policy | real | 95% interval | imagined | 95% interval "
        "| member spread | uncertainty | diverged | real return | imagined return |",
        "|---|---:|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in evaluation.summaries():
        (rl, rh), (il, ih) = row["real_interval"], row["imagined_interval"]
        low, high = row["member_success_range"]
        lines.append(
            f"| {row['policy']} | {row['real_success']:.0%} | [{rl:.0%}, {rh:.0%}] "
            f"| {row['imagined_success']:.0%} | [{il:.0%}, {ih:.0%}] | {low:.0%}-{high:.0%} "
            f"| {row['mean_uncertainty']:.3f} | {row['diverged']} | {row['real_return']:.1f} "
            f"| {row['imagined_return']:.1f} |"
        )
    return "\n".join(lines)
