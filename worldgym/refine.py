"""Refine where it matters: real episodes of the policies the model is unsure about,
added to its data, and the model trained on from where it was.

This is the data-aggregation loop of model-based RL (DAgger-style, as in PETS and
MBPO's real-data refreshes), applied to evaluation: run k real episodes of each
named policy (typically the ones the report flags as outside the model's
experience), append them to the model's dataset atomically, continue training
from the checkpoint into a new run (the new episodes drawn more often), and
re-evaluate those policies with the old and the new model.

The steps are idempotent, so a killed `worldgym refine` resumes when run again:
the plan (which policies, which reset seeds) is written first into the new run
folder; episodes already in the dataset are not run again; training resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from worldgym.data.collect import record_from_episode
from worldgym.data.dataset import append_episodes, find_dataset, load_dataset
from worldgym.envs import get_task
from worldgym.evaluation.paired import EvaluateConfig, evaluate, load_policies
from worldgym.evaluation.selection import PolicyChoice, Setup, resolve
from worldgym.files import atomic_file
from worldgym.models import get_family
from worldgym.policies import load_policy
from worldgym.rollouts.real import run_episodes_in_lockstep
from worldgym.seeds import REFINE
from worldgym.training.checkpoint import read_metadata
from worldgym.training.train import TrainConfig, TrainResult, train

REFINE_SEED = REFINE.first
"""First reset seed of refine's real episodes: apart from evaluation (0, 1, ...),
collection (1,000,000 on) and behaviour cloning's demonstrations (100,000 on)."""
PLAN_FILE = "refine.json"


@dataclass(frozen=True)
class PolicyRates:
    """One policy's real and imagined success rates under one model."""

    real: float
    imagined: float
    trusted: bool


@dataclass(frozen=True)
class RefineResult:
    """What a refine run did."""

    added: int
    """Real episodes added to the dataset in this call (0 when all were there)."""
    plan: dict
    """The plan written to refine.json: task, checkpoint, base episodes, seeds per policy."""
    train: TrainResult
    """The continued training run."""
    before: dict[str, PolicyRates]
    """Per policy: rates with the model refined from."""
    after: dict[str, PolicyRates]
    """Per policy: rates with the refined model."""
    out: Path
    """The refined run folder."""


@dataclass(frozen=True)
class RefineConfig(PolicyChoice):
    """`worldgym refine`: the run to refine (--checkpoint; its dataset is the one in
    its provenance, or --dataset) and the policies to run for real (typically the
    ones the report flags)."""

    real_episodes: int = 20
    """Real episodes of each policy added to the data."""
    out: str = ""
    """The refined run (default: <checkpoint>-refined); re-running resumes it."""
    dataset: str = ""
    """Dataset to append to (default: the checkpoint's training dataset)."""
    epochs: int = 10
    """Epochs of training continued from the checkpoint."""
    recent_weight: float = 10.0
    """How much more often the new episodes' windows are drawn than the old ones'."""
    episodes: int = 100
    """Evaluation episodes per policy, before and after (reset seeds 0, 1, ...)."""


def plan(config: RefineConfig, task, data, specs: list[str]) -> dict:
    """The episodes to add: per policy, reset seeds no refine has used on this data."""
    used = [name for name in data.behaviours if name.startswith("refine:")]
    first = REFINE_SEED + len(used)
    return {
        "task": task.spec or task.name, "checkpoint": str(config.checkpoint),
        "base_episodes": int(data.num_episodes),
        "episodes": {spec: list(range(first + i * config.real_episodes,
                                      first + (i + 1) * config.real_episodes))
                     for i, spec in enumerate(specs)},
    }  # fmt: skip


def missing_episodes(data, refine_plan: dict) -> dict[str, list[int]]:
    """The planned (policy, seed) pairs the dataset does not hold yet."""
    held = {(name, int(seed)) for name, seed in zip(data.behaviours, data.seeds, strict=True)}
    return {spec: [s for s in seeds if (f"refine:{spec}", s) not in held]
            for spec, seeds in refine_plan["episodes"].items()}  # fmt: skip


def run_real_episodes(task, missing: dict[str, list[int]]) -> list:
    """EpisodeRecords of each policy's real episodes from its seeds (one lockstep batch)."""

    records = []
    for spec, seeds in missing.items():
        if seeds:
            episodes = run_episodes_in_lockstep(task, load_policy(task, spec), seeds)
            records += [record_from_episode(e, e.seed, f"refine:{spec}", {}) for e in episodes]
    return records


def refine(config: RefineConfig, progress: bool = True) -> RefineResult:
    """Run, append, train on, re-evaluate (each step skipped if already done)."""

    if config.real_episodes < 1:
        raise ValueError(f"Refining needs at least one real episode per policy, got "
                         f"{config.real_episodes}.")  # fmt: skip
    if not config.policies:
        raise ValueError("Name the policies to refine for (--policies ...).")
    task = get_task(config.task)
    specs = [policy.name for policy in load_policies(task, config.policies)]
    setup = resolve(config, task=task)  # one sentence if the run is not for this task
    run, model = setup.checkpoint, setup.model
    source = config.dataset or model.metadata["provenance"]["dataset"]
    out = Path(config.out or f"{run}-refined")
    plan_path = out / PLAN_FILE
    data = load_dataset(find_dataset(source), task)
    if plan_path.is_file():
        refine_plan = json.loads(plan_path.read_text())
    else:
        refine_plan = plan(config, task, data, specs)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_file(plan_path) as temp:
            temp.write_text(json.dumps(refine_plan, indent=2))
    missing = missing_episodes(data, refine_plan)
    added = sum(len(seeds) for seeds in missing.values())
    if added:
        append_episodes(source, run_real_episodes(task, missing))
    settings = dict(read_metadata(run)["provenance"]["train_config"])
    train_config = replace(
        TrainConfig(**{k: v for k, v in settings.items() if k in TrainConfig.__annotations__}),
        dataset=str(source), out=str(out / "model"), epochs=config.epochs,
        init_from=str(run), base_episodes=refine_plan["base_episodes"],
        recent_weight=config.recent_weight, warmup_steps=0,
    )  # fmt: skip
    family = get_family(train_config.family)
    trained = train(train_config, family.config_from_dict(model.config), progress)
    before, after = compare(task, setup, out / "model", specs, config, progress)
    return RefineResult(added, refine_plan, trained, before, after, out / "model")


def compare(task, old: Setup, new_run, specs, config: RefineConfig,
            progress: bool) -> list[dict[str, PolicyRates]]:  # fmt: skip
    """Per policy (real, imagined) rates with the old (already loaded) and the
    refined model."""

    rows = []
    for run, setup in ((old.checkpoint, old), (new_run, None)):
        evaluation = evaluate(EvaluateConfig(
            task=task.spec or task.name, checkpoint=str(run), policies=tuple(specs),
            episodes=config.episodes, cache=config.cache,
            imagination_seed=config.imagination_seed,
        ), progress, setup)  # fmt: skip
        rows.append({p.name: PolicyRates(p.real_rate, p.imagined_rate, p.trusted)
                     for p in evaluation.policies})  # fmt: skip
    return rows


def format_refine(result: RefineResult) -> str:
    before, after = result.before, result.after
    lines = [
        f"added {result.added} real episodes; trained {result.train.epochs} more "
        f"epochs -> {result.out}",
        "| policy | real | imagined before | imagined after | trusted before -> after |",
        "|---|---:|---:|---:|---|",
    ]
    for name, old in before.items():
        new = after[name]
        error_before, error_after = old.imagined - old.real, new.imagined - new.real
        lines.append(
            f"| {name} | {old.real:.0%} | {old.imagined:.0%} ({error_before:+.0%}) "
            f"| {new.imagined:.0%} ({error_after:+.0%}) "
            f"| {'yes' if old.trusted else 'no'} -> {'yes' if new.trusted else 'no'} |"
        )
    return "\n".join(lines)
