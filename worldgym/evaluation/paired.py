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
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from worldgym.data.dataset import find_dataset, read_header
from worldgym.data.frames import stacks_at_reset
from worldgym.data.recorded import read_recorded, write_recorded
from worldgym.devices import is_main_process
from worldgym.envs import get_task
from worldgym.envs.registry import task_spec
from worldgym.evaluation.cache import cached_outcomes
from worldgym.evaluation.outcomes import Outcomes
from worldgym.evaluation.real import EPISODES_PER_JOB, real_episodes
from worldgym.evaluation.selection import RecordedSelection, Setup, named_policies, resolve
from worldgym.evaluation.support import load_or_build_reference, policy_support
from worldgym.fingerprints import model_fingerprint, policy_fingerprint
from worldgym.imagination.engine import initial_observations, rollout_policies
from worldgym.models import member_models
from worldgym.paths import task_slug
from worldgym.policies import load_policy, policy_names
from worldgym.policies.behaviour import data_family
from worldgym.policies.host import host_errors
from worldgym.policies.sets import expand_sets, find_policy
from worldgym.seeds import TEST
from worldgym.specs import is_attribute_spec


@dataclass(frozen=True)
class EvaluateConfig(RecordedSelection):
    """`worldgym evaluate`, `calibrate` and `report`: the selection (task, model,
    policies, cache; worldgym.evaluation.selection) and the episodes to run."""

    episodes: int = 50
    """Episodes per policy in each world, from reset seeds seed, seed+1, ..."""
    seed: int = TEST.first
    """First reset seed (default: the test range of worldgym.seeds, which training,
    tuning and collection never use; pick the dev range, 200,000 on, to tune)."""
    sampling: str = ""
    """How an ensemble predicts: mean, ts1 or ts1-noise ("" keeps the checkpoint's)."""
    record_real: str = ""
    """Also write the real episodes to this folder in the recorded layout (with their
    first frames, as the model sees them, for a model that starts from frames)."""


@dataclass(frozen=True)
class PolicyEvaluation:
    """One policy, evaluated in both worlds from the same seeds."""

    name: str
    description: str
    path: str
    """How the policy ran: "compiled" (a JAX policy inside the engine's compiled
    scan) or "host" (a callable, predict() object or torch module, called on the
    host once per step for all its episodes)."""
    real: Outcomes
    imagined: Outcomes
    support: object = None
    """PolicySupport (worldgym.evaluation.support): is the policy inside the model's
    experience? None when the model's training data was not available to judge."""
    looks_at_frames: bool = False
    """The policy acts on camera frames (Policy.frame_size), not on the state."""
    data_family: str = "unknown"
    """How the policy relates to the model's behaviour data (policies.behaviour.data_family):
    the same kind of policy in the data makes a good figure easier to earn."""

    @property
    def trusted(self) -> bool:
        """Not flagged as outside the model's experience or optimistic (unknown support:
        trusted)."""
        return self.support is None or not self.support.flagged

    @property
    def episodes(self) -> int:
        return self.real.episodes

    @property
    def real_rate(self) -> float:
        return self.real.rate

    @property
    def imagined_rate(self) -> float:
        return self.imagined.rate

    @property
    def uncertainty(self) -> np.ndarray:
        return self.imagined.uncertainty

    @property
    def diverged(self) -> np.ndarray:
        return self.imagined.diverged

    @property
    def member_success(self) -> np.ndarray:
        return self.imagined.member_success

    @property
    def member_rates(self) -> np.ndarray:
        return self.member_success.mean(axis=1)

    def interval(self, world: str) -> tuple[float, float]:
        """95% Wilson interval of the success rate in "real" or "imagined"."""
        return (self.real if world == "real" else self.imagined).interval()

    def summary(self) -> dict:
        real_low, real_high = self.interval("real")
        imagined_low, imagined_high = self.interval("imagined")
        return {
            "policy": self.name,
            "description": self.description,
            "path": self.path,
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
            "data_family": self.data_family,
            **(self.support.summary() if self.support is not None else {"trusted": True}),
        }


@dataclass(frozen=True)
class Evaluation:
    """A paired evaluation of several policies on one task and one world model."""

    task: str
    checkpoint: str
    checkpoint_fingerprint: str
    seeds: np.ndarray
    policies: list[PolicyEvaluation]
    task_spec: str = ""
    """The spec that rebuilds the task (for the report's renderer)."""
    source: str = ""
    """Where the real episodes came from when not run live (recorded rollouts)."""
    shared_starts: bool = True
    """Every policy's episode i started from the same state (always, live): their real
    outcomes are paired across policies too. A recording may hold each policy's
    episodes from its own starts, and in different numbers."""

    def summaries(self) -> list[dict]:
        return [policy.summary() for policy in self.policies]


# --- what a result depends on --------------------------------------------------------------
OUTCOMES_VERSION = 2
"""Part of every cache key: version 2 stores actions and per-step uncertainty."""


def _task_key(task) -> str:
    """The task in a cache key: its name, or its spec where that says more."""
    return task.name if task.spec in ("", task.name) else task.spec


# --- each world ---------------------------------------------------------------------------
def real_outcomes(task, policies, seeds, cache: Path, workers=None, progress=True) -> list:
    """Outcomes of each policy in the ground-truth task (cached per policy)."""
    seeds = [int(seed) for seed in seeds]
    entries = [
        (policy.name, {
            "task": _task_key(task), "seeds": seeds, "policy": policy_fingerprint(policy),
            # batched policy numerics can depend on the batch: part of the result's identity
            "runner": f"lockstep-{EPISODES_PER_JOB}", "outcomes": OUTCOMES_VERSION,
        })
        for policy in policies
    ]  # fmt: skip

    def compute(missing: list[int]) -> list[Outcomes]:
        specs = [policies[index].name for index in missing]
        fresh = real_episodes(task, specs, seeds, workers, progress)
        return [fresh[spec] for spec in specs]

    return cached_outcomes(Path(cache) / task_slug(task.name) / "real", entries, compute)


def policy_stream(name: str) -> int:
    """A policy's own random stream inside imagination, from its name alone, so its
    imagined episodes do not depend on which other policies are evaluated with it."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:7], 16)


def imagined_outcomes(model, task, policies, init_obs, seeds, cache: Path,
                      imagination_seed: int = 0, progress: bool = True,
                      starts: str | None = None, init_input=None) -> list:  # fmt: skip
    """Outcomes of each policy in imagination, with member_success [M, E] (cached per
    policy). The uncached policies are one engine call with the model, then one per
    member (each member imagining alone). A stochastic policy draws the same noise
    as in its real episode from the same reset seed (common random numbers), so
    the two worlds differ by the model alone. `starts` fingerprints episodes that
    begin where a recording says (with `init_input`, e.g. its first frames, what the
    model starts from there)."""

    fingerprint = model_fingerprint(model)
    entries = [
        (policy.name, {
            "task": _task_key(task), "model": fingerprint, "seeds": [int(s) for s in seeds],
            "policy": policy_fingerprint(policy), "imagination_seed": imagination_seed,
            "outcomes": OUTCOMES_VERSION, "policy_noise": "per reset seed",
            # recorded starts: the episodes begin where the logs say, not at a reset
            **({"starts": starts} if starts is not None else {}),
        })
        for policy in policies
    ]  # fmt: skip

    def compute(missing: list[int]) -> list[Outcomes]:
        chosen = [policies[index] for index in missing]
        streams = [policy_stream(policy.name) for policy in chosen]
        key = jax.random.key(imagination_seed)
        worlds = [model, *member_models(model)]
        runs = [
            rollout_policies(
                world,
                chosen,
                init_obs,
                key,
                task,
                streams=streams,
                seeds=seeds,
                init_input=init_input,
            )
            for world in tqdm(
                worlds, desc=f"{task.name} imagined rollouts (model, members)", disable=not progress
            )  # fmt: skip
        ]
        results = []
        for policy in chosen:
            members = np.stack([Outcomes.from_trajectories(run[policy.name], task).success
                                for run in runs[1:]])  # fmt: skip
            results.append(Outcomes.from_trajectories(runs[0][policy.name], task, members))
        return results

    folder = Path(cache) / task_slug(task.name) / "imagined" / fingerprint[:12]
    return cached_outcomes(folder, entries, compute)  # None in processes other than 0


# --- both worlds ---------------------------------------------------------------------------
def load_policies(task, specs) -> list:
    """Policies by name, set name (e.g. "novel") or module:attribute (default: the
    task's zoo), each checked on real observations; a task without a zoo needs them
    named."""

    specs = expand_sets(task.name, specs) if specs else tuple(policy_names(task))
    if not specs:
        raise ValueError(
            f"Task {task.name} has no policy zoo: name the policies to evaluate "
            "(--policies NAME or module:attribute ...)."
        )
    if len(set(specs)) != len(specs):
        raise ValueError(f"Each policy may be named once; got {', '.join(specs)}.")
    return [load_policy(task, spec) for spec in specs]


def evaluate_policies(task, model, policies, seeds, cache, checkpoint: str = "",
                      imagination_seed: int = 0, workers=None, progress: bool = True,
                      reference=None) -> Evaluation | None:  # fmt: skip
    """Every policy in both worlds from reset seeds `seeds` (cached on disk).

    In a multi-process run (see worldgym.devices) every process imagines its share
    of the episodes and runs its share of the real ones; process 0 gathers both and
    returns the Evaluation, the others None.

    Each policy's name must be in one of the task's policy sets or a module:attribute
    spec: the worker processes of the real rollouts rebuild the policies by name.
    With a SupportReference, each policy also gets its support score and flag.
    """

    if not policies:
        raise ValueError(f"No policies to evaluate for task {task.name}: give at least one.")
    for policy in policies:
        if not is_attribute_spec(policy.name) and find_policy(task.name, policy.name) is None:
            raise ValueError(
                f"Policy {policy.name!r} is neither in a {task.name} policy set nor a "
                "module:attribute spec, so worker processes cannot load it by name."
            )
    if len(seeds) < 1:
        raise ValueError("Evaluation needs at least one episode (reset seed).")
    if model.metadata.get("task", task.name) != task.name:
        raise ValueError(
            f"The world model was trained for task {model.metadata['task']}, not {task.name}."
        )
    spec = task_spec(task)
    with host_errors():
        init_obs = initial_observations(task, seeds)
        imagined = imagined_outcomes(
            model, task, policies, init_obs, seeds, cache, imagination_seed, progress
        )
        real = real_outcomes(task, policies, seeds, cache, workers, progress)
        if not is_main_process():
            return None  # it ran its share of both worlds; process 0 gathers and writes
    mixture = training_mixture(model)
    evaluations = [
        PolicyEvaluation(policy.name, policy.description, policy.path, real_world, dreamt,
                         policy_support(reference, model, dreamt) if reference else None,
                         policy.looks_at_frames, data_family(task.name, policy, mixture))
        for policy, real_world, dreamt in zip(policies, real, imagined, strict=True)
    ]  # fmt: skip
    return Evaluation(task.name, checkpoint, model_fingerprint(model), np.asarray(seeds),
                      evaluations, spec)  # fmt: skip


def training_mixture(model) -> dict | None:
    """The behaviour mixture of the dataset the model was trained on (None: unknown)."""

    source = model.metadata.get("provenance", {}).get("dataset")
    try:
        header = read_header(find_dataset(source)) if source else {}
    except (ValueError, OSError):
        return None
    return header.get("worldgym", {}).get("behaviour_mixture")


def evaluate(config: EvaluateConfig, progress: bool = True,
             setup: Setup | None = None) -> Evaluation | None:  # fmt: skip
    """Run (or load from the cache) every policy in both worlds from the same seeds
    (None in the processes other than 0 of a multi-process run). `setup`: the
    config's selection already resolved (a command that goes on to use the model)."""

    if config.episodes < 1:
        raise ValueError(f"Evaluation needs at least one episode, got {config.episodes}.")

    task = get_task(config.task) if setup is None else setup.task
    policies = load_policies(task, named_policies(config))  # before the model: cheap to refuse
    setup = resolve(config, config.sampling, task) if setup is None else setup
    checkpoint, model = setup.checkpoint, setup.model
    seeds = np.arange(config.seed, config.seed + config.episodes)
    main = is_main_process()
    reference = (
        load_or_build_reference(model, task, checkpoint, key=model_fingerprint(model))
        if main
        else None
    )
    if config.real_from:
        return evaluate_recorded(task, model, policies, config, str(checkpoint), reference,
                                 progress)  # fmt: skip
    evaluation = evaluate_policies(
        task, model, policies, seeds, config.cache, str(checkpoint), config.imagination_seed,
        config.workers, progress, reference,
    )  # fmt: skip
    if evaluation is not None and config.record_real:
        record_real(evaluation, config.record_real, model)
    return evaluation


def record_real(evaluation: Evaluation, folder, model=None) -> None:
    """Write an evaluation's real episodes in the recorded layout; for a `model` that
    starts from frames, with each episode's first frame as the model saw it (the
    last frame of its reset stack)."""

    frames = None
    if model is not None and model.frame_stack:
        starts = evaluation.policies[0].real.observations[:, 0]
        frames = np.asarray(model.initial_inputs(starts))[..., -3:]
    write_recorded(folder, evaluation.task, {
        p.name: {"initial_observations": p.real.observations[:, 0], "success": p.real.success,
                 "seeds": evaluation.seeds, "returns": p.real.returns, "lengths": p.real.lengths,
                 "initial_frames": frames}
        for p in evaluation.policies
    })  # fmt: skip


def imagine_recorded(model, task, policies, recorded, cache, imagination_seed: int = 0,
                     progress: bool = True) -> list[Outcomes]:  # fmt: skip
    """Each policy imagined from its recorded episodes' starts (RecordedEpisodes by
    name), the recorded seeds keying its noise; a model that starts from frames
    starts from the recorded first frames where there are some. Cached under the
    starts' fingerprint too. Policies recorded from the same starts and seeds (a
    live run's log) share one engine call, as in a live evaluation, so the numbers
    are the live ones."""

    groups: dict[bytes, list[int]] = {}
    for index, policy in enumerate(policies):
        episodes = recorded[policy.name]
        frames = episodes.initial_frames  # read only for a model that starts from frames
        key = (
            episodes.initial_observations.tobytes()
            + episodes.seeds.tobytes()
            + (b"" if frames is None else frames.tobytes())
        )
        groups.setdefault(key, []).append(index)
    found: list[Outcomes | None] = [None] * len(policies)
    for members in groups.values():
        episodes = recorded[policies[members[0]].name]
        starts, frames = episodes.initial_observations, episodes.initial_frames
        digest = hashlib.sha256(starts.tobytes())
        init_input = None
        if frames is not None:
            digest.update(frames.tobytes())
            init_input = stacks_at_reset(frames, model.frame_stack,
                                         model.config.get("image_size"))  # fmt: skip
        outcomes = imagined_outcomes(model, task, [policies[i] for i in members],
                                     jnp.asarray(starts), episodes.seeds, Path(cache),
                                     imagination_seed, progress, starts=digest.hexdigest(),
                                     init_input=init_input)  # fmt: skip
        for index, outcome in zip(members, outcomes, strict=True):
            found[index] = outcome
    return found


def evaluate_recorded(task, model, policies, config: EvaluateConfig, checkpoint: str,
                      reference, progress: bool) -> Evaluation:  # fmt: skip
    """Both worlds with the real side from recorded episodes: imagination starts each
    paired episode from the recorded initial observation, with the recorded seed
    keying the policy's noise (the row number where none was recorded)."""

    recorded = read_recorded(config.real_from, task, [p.name for p in policies],
                             frames=bool(model.frame_stack), camera=config.real_camera)  # fmt: skip
    mixture = training_mixture(model)
    evaluations = []
    with host_errors():
        imagined = imagine_recorded(model, task, policies, recorded, config.cache,
                                    config.imagination_seed, progress)  # fmt: skip
        for policy, dreamt in zip(policies, imagined, strict=True):
            episodes = recorded[policy.name]
            starts = episodes.initial_observations
            horizon = task.horizon + 1
            real = Outcomes(
                episodes.success,
                episodes.returns,
                np.repeat(starts[:, None], horizon, axis=1),
                episodes.lengths,
            )
            support = policy_support(reference, model, dreamt) if reference else None
            evaluations.append(PolicyEvaluation(
                policy.name, policy.description, policy.path, real, dreamt, support,
                policy.looks_at_frames, data_family(task.name, policy, mixture)))  # fmt: skip
    first = recorded[policies[0].name]
    shared = all(np.array_equal(r.initial_observations, first.initial_observations)
                 and np.array_equal(r.seeds, first.seeds) for r in recorded.values())  # fmt: skip
    return Evaluation(task.name, checkpoint, model_fingerprint(model), first.seeds,
                      evaluations, task_spec(task),
                      source=f"recorded episodes in {config.real_from}",
                      shared_starts=shared)  # fmt: skip


def format_evaluation(evaluation: Evaluation) -> str:
    """A Markdown table: one row per policy, both worlds side by side."""
    lines = [
        f"| {evaluation.task} policy | real | 95% interval | imagined | 95% interval "
        "| member spread | uncertainty | support | diverged | real return | imagined return |",
        "|---|---:|---|---:|---|---|---:|---|---:|---:|---:|",
    ]
    for row in evaluation.summaries():
        (rl, rh), (il, ih) = row["real_interval"], row["imagined_interval"]
        low, high = row["member_success_range"]
        lines.append(
            f"| {row['policy']} ({row['path']}) | {row['real_success']:.0%} | [{rl:.0%}, {rh:.0%}] "
            f"| {row['imagined_success']:.0%} | [{il:.0%}, {ih:.0%}] | {low:.0%}-{high:.0%} "
            f"| {row['mean_uncertainty']:.3f} | {support_label(row)} | {row['diverged']} "
            f"| {row['real_return']:.1f} | {row['imagined_return']:.1f} |"
        )
    return "\n".join(lines)


def support_label(row: dict) -> str:
    """A policy summary's support, in words: trusted, outside (with its score) and/or
    optimistic (with its share of unsupported successes)."""
    if "support_score" not in row:
        return "unknown"
    steps = f"{row['support_score']:.0%} of steps outside"
    unsupported = f"{row['unsupported_success']:.0%} of episodes unsupported successes"
    if row["trusted"]:
        return f"trusted ({steps}, {unsupported})"
    labels = [f"OUTSIDE ({steps})"] if row["outside"] else []
    if row["optimistic"]:
        labels.append(f"OPTIMISTIC ({unsupported})")
    if row.get("misresponding"):
        labels.append(f"MIS-RESPONDING ({row['misresponding_share']:.0%} of probed steps)")
    return ", ".join(labels)
