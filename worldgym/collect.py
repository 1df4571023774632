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

from envs.registry import DEFAULT_TASK
from worldgym.dataset import (
    EpisodeRecord,
    create_dataset,
    finish_dataset,
    observation_space,
    write_episodes,
)
from worldgym.files import atomic_directory
from worldgym.parallel import chunks, imap_in_workers
from worldgym.provenance import library_versions

EPISODES_PER_JOB = 25
"""Episodes per worker job; they step in lockstep, so larger jobs call the policy
less often per transition, while enough jobs remain to keep both workers busy."""
DEFAULT_SEED = 1_000_000
"""First reset seed of collected data: far from the evaluation seeds (0, 1, ...),
so no evaluation episode starts from a state the model was trained on."""


@dataclass(frozen=True)
class CollectConfig:
    task: str = DEFAULT_TASK
    """Task name (see `worldgym tasks`)."""
    episodes: int = 2500
    """Number of episodes to collect."""
    out: str | None = None
    """Dataset folder (default: runs/datasets/worldgym/<task>/behaviour-v0, so that
    MINARI_DATASETS_PATH=runs/datasets finds it as worldgym/<task>/behaviour-v0)."""
    seed: int = DEFAULT_SEED
    """First reset seed; also seeds the choice of behaviour policies."""
    images: str | None = None
    """Also record rendered frames of this size, e.g. 64x64 (width x height)."""
    include_zoo: bool = False
    """Also collect with the evaluation zoo (off by default: no grading on training data)."""
    workers: int | None = None
    """Worker processes (default: one per core)."""
    overwrite: bool = False
    """Replace an existing dataset at `out`."""


@dataclass(frozen=True)
class PlannedEpisode:
    """Everything a worker needs to reproduce one episode (picklable)."""

    index: int
    seed: int
    behaviour: str
    perturbation: dict


def default_output(task_name: str) -> Path:
    return Path("runs/datasets") / dataset_id(task_name)


def dataset_id(task_name: str) -> str:
    return f"worldgym/{task_name.lower()}/behaviour-v0"


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


def plan_episodes(task_name: str, episodes: int, seed: int, include_zoo: bool):
    """Which behaviour (and drawn faults) runs from which reset seed, per episode."""
    from policies import policy_names
    from policies.behaviour import DEFAULT_MIXTURE, draw_perturbation

    mixture = dict(DEFAULT_MIXTURE)
    if include_zoo:
        zoo_names = [f"zoo:{name}" for name in policy_names(task_name)]
        mixture = {name: 0.7 * weight for name, weight in mixture.items()}
        mixture.update({name: 0.3 / len(zoo_names) for name in zoo_names})
    names = list(mixture)
    probabilities = np.array([mixture[name] for name in names])
    rng = np.random.default_rng(seed)
    plan = []
    for index in range(episodes):
        behaviour = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
        perturbation = draw_perturbation(task_name, rng) if behaviour == "perturbed-oracle" else {}
        plan.append(PlannedEpisode(index, seed + index, behaviour, perturbation))
    return plan, mixture


def _policy_for(task_name: str, planned: PlannedEpisode):
    from policies import load_policy
    from policies.behaviour import behaviour_policy

    if planned.behaviour.startswith("zoo:"):
        return load_policy(task_name, planned.behaviour.removeprefix("zoo:"))
    return behaviour_policy(task_name, planned.behaviour, planned.perturbation)


def _collect_job(job) -> list[tuple[int, EpisodeRecord]]:
    """Worker: run planned episodes, return (index, record) pairs.

    Without images, episodes whose policies share a structure (all behaviour
    policies do) step in lockstep, one vmapped policy call per step; with images
    they run one at a time, each rendering as it goes.
    """
    task_name, planned_episodes, image_size = job
    from envs import get_task
    from policies import as_actor
    from policies.protocol import stacking_signature
    from worldgym.rollout import run_episode, run_episodes_in_lockstep

    task = get_task(task_name)
    policies = [_policy_for(task_name, planned) for planned in planned_episodes]
    episodes = {}
    if image_size is None:
        groups: dict = {}
        for position, policy in enumerate(policies):
            groups.setdefault(stacking_signature(policy), []).append(position)
        for positions in groups.values():
            seeds = [planned_episodes[i].seed for i in positions]
            ran = run_episodes_in_lockstep(task, [policies[i] for i in positions], seeds)
            episodes.update(zip(positions, ran, strict=True))
    else:
        height, width = image_size
        env = task.make_env(render_mode="rgb_array", width=width, height=height)
        for position, (planned, policy) in enumerate(zip(planned_episodes, policies, strict=True)):
            actor = as_actor(policy, planned.behaviour, seed=planned.seed)
            episodes[position] = run_episode(env, task, actor, planned.seed, render=True)
        env.close()
    records = []
    for position, planned in enumerate(planned_episodes):
        episode = episodes[position]
        record = EpisodeRecord(
            seed=planned.seed,
            observations=episode.observations,
            actions=episode.actions,
            rewards=episode.rewards,
            terminations=_at_last_step(episode.terminated, episode.length),
            truncations=_at_last_step(episode.truncated, episode.length),
            success=np.concatenate([[episode.reset_success], episode.step_success]),
            behaviour=planned.behaviour,
            behaviour_params=planned.perturbation,
            images=episode.frames,
        )
        records.append((planned.index, record))
    return records


def _at_last_step(flag: bool, length: int) -> np.ndarray:
    """[length] bool, True only at the last step if `flag`."""
    result = np.zeros(length, bool)
    result[-1] = flag
    return result


def collect(config: CollectConfig, progress: bool = True) -> dict:
    """Collect a dataset as configured; return a summary with throughput."""
    from envs import get_task

    task = get_task(config.task)
    if config.episodes < 1:
        raise ValueError(f"Collecting needs at least one episode, got {config.episodes}.")
    image_size = parse_image_size(config.images)
    out = Path(config.out) if config.out else default_output(task.name)
    plan, mixture = plan_episodes(task.name, config.episodes, config.seed, config.include_zoo)
    jobs = [(task.name, list(chunk), image_size) for chunk in chunks(plan, EPISODES_PER_JOB)]
    metadata = {
        "task": task.name,
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
            folder, dataset_id(task.name), task.env_id,
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
    return {
        "path": str(out),
        "episodes": config.episodes,
        "transitions": total_steps,
        "seconds": seconds,
        "transitions_per_second": total_steps / seconds,
    }
