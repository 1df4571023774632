"""Datasets worldgym did not write: any Minari dataset whose spaces match a task.

A lab's logged data is usually a Minari dataset written by Minari's own
`DataCollector` (or downloaded): no worldgym header, observations in the
environment's own space (a Dict, float64, ...), and success, if recorded at all,
under whatever info key the environment used. It is read here through Minari
itself (so either storage backend works) and turned into the flat arrays of
`EpisodeDataset`:

- observations are flattened to the task's flat float32 space, the way
  Gymnasium's FlattenObservation does it (the way adapted tasks observe);
- success of each observation comes from the task's success predicate when it
  has one, else from the info key the task names (`Task.success_key`), which the
  dataset must then carry.

Every mismatch is one sentence: spaces of other sizes, no success information
where the task needs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import jax
import numpy as np

from worldgym.data.episodes import EpisodeDataset
from worldgym.envs.registry import get_task, task_names
from worldgym.specs import first_line


def _flatten_batch(space: gymnasium.Space, values) -> np.ndarray:
    """Observations [T, ...] of `space` (Box or Dict of them) -> [T, flat] float32,
    in the order gymnasium.spaces.flatten uses."""
    if isinstance(space, gymnasium.spaces.Dict):
        parts = [_flatten_batch(sub, values[key]) for key, sub in space.spaces.items()]
        return np.concatenate(parts, axis=1)
    if isinstance(space, gymnasium.spaces.Box):
        array = np.asarray(values)
        return array.reshape(len(array), -1).astype(np.float32)
    raise ValueError(f"worldgym reads Box or Dict observations, not {type(space).__name__}.")


def check_spaces(name: str, observation_space, action_space, task) -> None:
    """Refuse a dataset whose flattened spaces are not the task's, in one sentence."""
    obs_size = int(gymnasium.spaces.flatdim(observation_space))
    action_size = int(gymnasium.spaces.flatdim(action_space))
    if obs_size != task.obs_dim or action_size != task.action_dim:
        raise ValueError(
            f"Dataset {name} has observations/actions of sizes {obs_size}/{action_size}, but "
            f"task {task.name} has {task.obs_dim}/{task.action_dim}."
        )


def _success(task, observations: np.ndarray, infos, name: str) -> np.ndarray:
    """[T + 1] success flag of each observation of one episode."""
    if task.success_fn is not None:
        return np.asarray(jax.jit(task.success_fn)(observations), bool)
    key = task.success_key
    if not isinstance(infos, dict) or key not in infos:
        raise ValueError(
            f"Dataset {name} records no {key!r} info, and task {task.name} has no success "
            "predicate to compute success from observations: record infos "
            "(DataCollector(record_infos=True)) or give the task a success_fn."
        )
    flags = np.asarray(infos[key], bool).reshape(-1)
    if len(flags) != len(observations):
        raise ValueError(f"Dataset {name} has {len(flags)} {key!r} flags for "
                         f"{len(observations)} observations in an episode.")  # fmt: skip
    return flags


def load_minari_dataset(data: Path, header: dict, task) -> EpisodeDataset:
    """Read a Minari dataset (its data folder) for `task` through Minari's own reader."""
    import minari
    from minari.serialization import deserialize_space

    name = str(data.parent if data.name == "data" else data)
    try:
        observation_space = deserialize_space(header["observation_space"])
        action_space = deserialize_space(header["action_space"])
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise ValueError(f"Dataset {name} has no readable observation/action spaces.") from None
    check_spaces(name, observation_space, action_space, task)
    try:
        dataset = minari.MinariDataset(data)
        episodes = list(dataset.iterate_episodes())
    except Exception as error:  # Minari and its backends raise many types
        raise ValueError(f"Minari cannot read dataset {name}: {type(error).__name__}: "
                         f"{first_line(error)}") from None  # fmt: skip
    if not episodes:
        raise ValueError(f"Dataset {name} holds no episodes.")
    observations, actions, success = [], [], []
    rewards, terminations, truncations, lengths, seeds = [], [], [], [], []
    for episode in episodes:
        flat = _flatten_batch(observation_space, episode.observations)
        observations.append(flat)
        actions.append(_flatten_batch(action_space, episode.actions))
        success.append(_success(task, flat, episode.infos, name))
        rewards.append(np.asarray(episode.rewards, np.float32))
        terminations.append(np.asarray(episode.terminations, bool))
        truncations.append(np.asarray(episode.truncations, bool))
        lengths.append(len(episode.actions))
        seeds.append(-1)  # Minari's DataCollector does not record reset seeds per episode
    return EpisodeDataset(
        observations=np.concatenate(observations),
        actions=np.concatenate(actions),
        rewards=np.concatenate(rewards),
        terminations=np.concatenate(terminations),
        truncations=np.concatenate(truncations),
        success=np.concatenate(success),
        episode_lengths=np.asarray(lengths, np.int64),
        seeds=np.asarray(seeds, np.int64),
        behaviours=tuple(header.get("algorithm_name") or "unknown" for _ in episodes),
        metadata=header,
    )


def dataset_task(header: dict, name: str, override: str | None = None):
    """The task a dataset is for: `override` (--task) if given, else the worldgym
    header's task, else the registered task whose Gymnasium id is the dataset's
    environment (when exactly one is)."""

    if override:
        return get_task(override)
    worldgym_header = header.get("worldgym", {})
    if "task_spec" in worldgym_header or "task" in worldgym_header:
        return get_task(worldgym_header.get("task_spec") or worldgym_header["task"])
    env_id = None
    try:
        env_id = json.loads(header.get("env_spec") or "null")["id"]
    except (TypeError, KeyError, json.JSONDecodeError):
        pass
    if env_id:
        matches = []
        for candidate in task_names():
            try:
                if get_task(candidate).env_id == env_id:
                    matches.append(candidate)
            except ValueError:  # a broken plugin must not hide the others
                continue
        if len(matches) == 1:
            return get_task(matches[0])
    about = f" (its environment is {env_id!r})" if env_id else ""
    raise ValueError(
        f"Dataset {name} does not say which worldgym task it is for{about}; pass --task "
        "NAME or module:attribute."
    )
