"""Collecting behaviour data from a ground-truth task into a Minari dataset.

The plan (which behaviour policy, with which drawn faults, from which reset
seed) is fixed up front from the seed, so the dataset is the same whichever
worker runs which episode and however many workers there are. Workers return
finished episodes; this process writes them into a temporary folder that is
renamed into place only when the dataset is complete.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from worldgym.data.advice import DataAdvice, data_advice
from worldgym.data.dataset import (
    EpisodeRecord,
    create_dataset,
    finish_dataset,
    load_dataset,
    observation_space,
    write_episodes,
)
from worldgym.envs import get_task
from worldgym.envs.pool import borrowed_env
from worldgym.envs.registry import task_spec
from worldgym.files import atomic_directory
from worldgym.options import TaskChoice, Workers
from worldgym.paths import RunPaths
from worldgym.policies import as_actor, policy_names
from worldgym.policies.behaviour import (
    behaviour_policy,
    check_behaviour_name,
    default_mixture,
    draw_fresh_perturbation,
    evaluation_identities,
    parse_mixture,
    policy_identity,
)
from worldgym.policies.oracles import oracle_spec
from worldgym.provenance import library_versions
from worldgym.rollouts.real import looks_at_frames, run_episode, run_lockstep_groups
from worldgym.rollouts.workers import chunks, imap_in_workers
from worldgym.seeds import COLLECTION

EPISODES_PER_JOB = 50
"""Episodes per worker job; they step in lockstep, so larger jobs call the policy
less often per transition, while enough jobs remain to keep both workers busy."""
DEFAULT_SEED = COLLECTION.first
"""First reset seed of collected data: far from the evaluation seeds (0, 1, ...),
so no evaluation episode starts from a state the model was trained on."""


@dataclass(frozen=True)
class CollectConfig(Workers, TaskChoice):
    episodes: int = 2500
    """Number of episodes to collect."""
    behaviour: tuple[str, ...] = ()
    """Behaviour mixture as NAME=WEIGHT items: random, ou, pink, play, perturbed-oracle,
    noisy-oracle-<std>, a policy of the task's sets or module:attribute (default: the
    task's own mixture where it has an oracle, else random, ou and pink in equal parts)."""
    out: str | None = None
    """Dataset folder (default: runs/datasets/worldgym/<task>/behaviour-v0, so that
    MINARI_DATASETS_PATH=runs/datasets finds it as worldgym/<task>/behaviour-v0)."""
    seed: int = DEFAULT_SEED
    """First reset seed; also seeds the choice of behaviour policies."""
    images: str | None = None
    """Also record rendered frames of this size, e.g. 64x64 (width x height)."""
    include_zoo: bool = False
    """Also collect with the evaluation zoo (off by default: no grading on training data)."""
    overwrite: bool = False
    """Replace an existing dataset at `out`."""


@dataclass(frozen=True)
class PlannedEpisode:
    """Everything a worker needs to reproduce one episode (picklable)."""

    index: int
    seed: int
    behaviour: str
    perturbation: dict


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """ "WxH" -> (height, width); None stays None."""
    if text is None:
        return None
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--images takes WIDTHxHEIGHT such as 64x64, got {text!r}.") from None
    if not (8 <= width <= 1024 and 8 <= height <= 1024):
        raise ValueError(f"--images sizes must be between 8 and 1024 pixels, got {text!r}.")
    return height, width


def behaviour_mixture(task, items: tuple[str, ...], include_zoo: bool) -> dict:
    """{behaviour name: probability weight} from --behaviour items (or the task's
    default), with the zoo mixed in when asked; every name checked up front."""

    task = get_task(task)
    mixture = parse_mixture(items) if items else default_mixture(task.name)
    for name in mixture:
        check_behaviour_name(task, name)
        refuse_evaluation_policy(task, name)
    if include_zoo:
        zoo_names = [f"zoo:{name}" for name in policy_names(task)]
        if not zoo_names:
            raise ValueError(f"Task {task.name} has no zoo to include (--include-zoo).")
        mixture = {name: 0.7 * weight for name, weight in mixture.items()}
        mixture.update({name: 0.3 / len(zoo_names) for name in zoo_names})
    return mixture


def refuse_evaluation_policy(task, name: str) -> None:
    """A behaviour that is one of the task's evaluation policies (same function and
    parameters) would grade the model on its own data: refused in one sentence,
    unless asked for by name with the zoo: prefix (--include-zoo)."""

    if name.startswith("zoo:") or name == "perturbed-oracle":  # the latter: per draw
        return
    same = evaluation_identities(task.name).get(policy_identity(behaviour_policy(task, name)))
    if same is not None:
        raise ValueError(f"Behaviour {name!r} is the evaluation policy {same} of {task.name} "
                         "(same function and parameters), so the model would be graded on "
                         "its own data; use another behaviour, or --include-zoo to mix the "
                         "zoo in on purpose.")  # fmt: skip


def plan_episodes(task_name: str, episodes: int, seed: int, mixture: dict):
    """Which behaviour (and drawn faults) runs from which reset seed, per episode.

    Perturbed-oracle faults that would make an evaluation policy exactly (every
    fault off is the oracle) are drawn again."""

    names = list(mixture)
    probabilities = np.array([mixture[name] for name in names])
    rng = np.random.default_rng(seed)
    forbidden = evaluation_identities(task_name) if "perturbed-oracle" in names else {}
    plan = []
    for index in range(episodes):
        behaviour = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
        perturbation = (draw_fresh_perturbation(task_name, rng, forbidden)
                        if behaviour == "perturbed-oracle" else {})  # fmt: skip
        plan.append(PlannedEpisode(index, seed + index, behaviour, perturbation))
    return plan


def _collect_job(job) -> list[tuple[int, EpisodeRecord]]:
    """Worker: run planned episodes, return (index, record) pairs.

    Without images, episodes of one kind of behaviour (policies that share a
    structure, or one scheduled exploration behaviour) step in lockstep, one
    batched call per step; with images every episode runs on its own, rendering
    as it goes.
    """
    task_spec, planned_episodes, image_size = job

    task = get_task(task_spec)
    behaviours = [behaviour_policy(task, p.behaviour, p.perturbation) for p in planned_episodes]
    seeds = [planned.seed for planned in planned_episodes]
    episodes = {}
    if image_size is None:  # every behaviour steps in lockstep with its kind
        positions = list(range(len(behaviours)))
        episodes.update(run_lockstep_groups(task, behaviours, seeds, positions))
    remaining = [position for position in range(len(behaviours)) if position not in episodes]
    if remaining:
        height, width = image_size or (64, 64)
        render = image_size is not None
        make_kwargs = (
            {"render_mode": "rgb_array", "width": width, "height": height} if render else {}
        )
        with borrowed_env(task, **make_kwargs) as env:
            for position in remaining:
                sees_frames = looks_at_frames(behaviours[position])
                if sees_frames and tuple(behaviours[position].frame_size) != (height, width):
                    size = behaviours[position].frame_size
                    raise ValueError(
                        f"Behaviour {planned_episodes[position].behaviour!r} looks at "
                        f"{size[1]}x{size[0]} frames, but this dataset records "
                        f"{width}x{height} ones: collect with --images {size[1]}x{size[0]} "
                        "or leave it out."
                    )
                actor = as_actor(behaviours[position], planned_episodes[position].behaviour,
                                 seed=seeds[position])  # fmt: skip
                episodes[position] = run_episode(
                    env, task, actor, seeds[position], render=render, sees_frames=sees_frames
                )
    return [
        (planned.index, record_from_episode(episodes[position], planned.seed,
                                            planned.behaviour, planned.perturbation))
        for position, planned in enumerate(planned_episodes)
    ]  # fmt: skip


def record_from_episode(episode, seed: int, behaviour: str, params: dict) -> EpisodeRecord:
    """The dataset record of a real episode run by `behaviour` from reset seed `seed`."""
    return EpisodeRecord(
        seed=seed,
        observations=episode.observations,
        actions=episode.actions,
        rewards=episode.rewards,
        terminations=_at_last_step(episode.terminated, episode.length),
        truncations=_at_last_step(episode.truncated, episode.length),
        success=np.concatenate([[episode.reset_success], episode.step_success]),
        behaviour=behaviour,
        behaviour_params=params,
        images=episode.frames,
    )


def _at_last_step(flag: bool, length: int) -> np.ndarray:
    """[length] bool, True only at the last step if `flag`."""
    result = np.zeros(length, bool)
    result[-1] = flag
    return result


@dataclass(frozen=True)
class CollectResult:
    """What a collection wrote, and how fast."""

    path: Path
    """The dataset folder."""
    episodes: int
    transitions: int
    seconds: float
    """Wall-clock seconds of the collection."""
    transitions_per_second: float
    advice: DataAdvice
    """What the data covers (worldgym.data.advice), measured on the whole dataset."""


def collect(config: CollectConfig, progress: bool = True) -> CollectResult:
    """Collect a dataset as configured; return what was written, with throughput."""

    task = get_task(config.task)
    if config.episodes < 1:
        raise ValueError(f"Collecting needs at least one episode, got {config.episodes}.")
    image_size = parse_image_size(config.images)
    if image_size is not None and task.observation_renderer is None:
        task.make_env(render_mode="rgb_array").close()  # one sentence if it cannot render
    paths = RunPaths()
    out = Path(config.out) if config.out else paths.dataset(task.name)
    mixture = behaviour_mixture(task, config.behaviour, config.include_zoo)
    plan = plan_episodes(task.name, config.episodes, config.seed, mixture)
    spec = task_spec(task)
    jobs = [(spec, list(chunk), image_size) for chunk in chunks(plan, EPISODES_PER_JOB)]
    metadata = {
        "task": task.name,
        "task_spec": spec,
        "behaviour_mixture": mixture,
        "include_zoo": config.include_zoo,
        "first_seed": config.seed,
        "image_size": image_size,
        "config": asdict(config),
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    start = time.perf_counter()
    total_steps = 0
    with atomic_directory(out, overwrite=config.overwrite) as folder:
        data = create_dataset(
            folder, paths.dataset_id(task.name), task,
            observation_space(task.observation_space, image_size), task.action_space, metadata,
        )  # fmt: skip
        for _, records in imap_in_workers(
            _collect_job, jobs, workers=config.workers, description=f"collect {task.name}",
            progress=progress, units=len, total_units=config.episodes,
        ):  # fmt: skip
            for index, record in records:
                write_episodes(data, index, [record])
                total_steps += len(record.actions)
        finish_dataset(data, config.episodes, total_steps)
    seconds = time.perf_counter() - start
    return CollectResult(
        path=Path(out),
        episodes=config.episodes,
        transitions=total_steps,
        seconds=seconds,
        transitions_per_second=total_steps / seconds,
        advice=dataset_advice(out, task),
    )


def dataset_advice(path: Path, task):
    """The data advice (worldgym.data.advice) of a dataset on disk."""

    spec = oracle_spec(task.name)
    return data_advice(load_dataset(path, task), task, spec.motion_dims if spec else None)
