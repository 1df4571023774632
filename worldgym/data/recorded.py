"""Real episodes a lab already ran, as ground truth: the recorded-rollouts layout.

A lab evaluating policies on a robot has logs, not a reset-by-seed simulator. This
module reads (and, from a live evaluation, writes) a plain layout any logger can
produce: a folder with

- `manifest.json`: {"format": "worldgym-recorded-v1", "task": NAME, "policies": [...]};
- one Parquet table per policy, `<policy>.parquet`, one row per episode, with
  columns
  - `initial_observation` (list of floats, the task's observation size): required;
    imagination starts the paired episode here;
  - `success` (bool): required; the episode's label (from the task's rule, an info
    key or the person who judged it);
  - `seed` (int, may be null): the reset seed where there was one; it also keys the
    policy's noise in imagination, so a stochastic policy draws the same noise in
    both worlds; without it the episode's row number does;
  - `return` (float) and `length` (int): optional.

LeRobot's layout (v2 or v3: `meta/info.json`, per-episode metadata in
`meta/episodes.jsonl` or `meta/episodes/*.parquet`, frames as Parquet under `data/`)
works where the episode metadata names the policy (`policy`), with `success` there or
a per-step `next.success` column; the initial observation is `observation.state` at
each episode's first frame. A Minari dataset works too, where each episode's
metadata names its policy (`"policy"`), and may carry `"success"` (else the task's
rule decides from the observations or its info key) and `"seed"`.

`worldgym evaluate --record-real FOLDER` writes this layout from live episodes,
and `--real-from FOLDER` reads it instead of running the task (calibrate, report
and estimate take it too). Read with pyarrow, already a dependency through
Minari.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "worldgym-recorded-v1"
REQUIRED = ("initial_observation", "success")


@dataclass(frozen=True)
class RecordedEpisodes:
    """One policy's recorded real episodes."""

    policy: str
    initial_observations: np.ndarray  # [E, obs_dim] float32
    success: np.ndarray  # [E] bool
    seeds: np.ndarray  # [E] int: reset seeds, or row numbers where none was recorded
    returns: np.ndarray  # [E] float64 (0 where not recorded)
    lengths: np.ndarray  # [E] int (0 where not recorded)
    seeded: bool  # whether the seeds are real reset seeds


def write_recorded(folder, task_name: str, episodes: dict[str, dict]) -> Path:
    """Write {policy: {"initial_observations", "success", "seeds", "returns",
    "lengths"}} in the recorded layout (atomically: a temporary folder, renamed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from worldgym.files import atomic_directory

    with atomic_directory(Path(folder), overwrite=True) as out:
        for policy, columns in episodes.items():
            table = pa.table({
                "initial_observation": [list(map(float, row))
                                        for row in columns["initial_observations"]],
                "success": [bool(v) for v in columns["success"]],
                "seed": [int(v) for v in columns["seeds"]],
                "return": [float(v) for v in columns["returns"]],
                "length": [int(v) for v in columns["lengths"]],
            })  # fmt: skip
            pq.write_table(table, out / f"{_file_name(policy)}.parquet")
        manifest = {"format": FORMAT, "task": task_name, "policies": list(episodes)}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return Path(folder)


def read_recorded(folder, task, policies) -> dict[str, RecordedEpisodes]:
    """The recorded episodes of `policies` (names) for `task`; one sentence for a
    missing folder, manifest or field, a policy the logs do not hold, or
    observations of the wrong size."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--real-from {folder}: no such folder.")
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file() and _is_minari(folder):
        return read_minari(folder, task, policies)
    if not manifest_path.is_file() and (folder / "meta" / "info.json").is_file():
        return read_lerobot(folder, task, policies)
    if not manifest_path.is_file():
        raise ValueError(f"--real-from {folder}: no manifest.json there; recorded rollouts are "
                         f"a folder with manifest.json and one <policy>.parquet per policy "
                         f"(worldgym.data.recorded).")  # fmt: skip
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"--real-from {folder}: manifest.json is not valid JSON ({error}).") \
            from None  # fmt: skip
    if manifest.get("format") != FORMAT:
        raise ValueError(f"--real-from {folder}: manifest.json says format "
                         f"{manifest.get('format')!r}, expected {FORMAT!r}.")  # fmt: skip
    if manifest.get("task") not in (task.name, task.spec):
        raise ValueError(f"--real-from {folder} holds episodes of task {manifest.get('task')!r}, "
                         f"not {task.name}.")  # fmt: skip
    held = manifest.get("policies", [])
    missing = [name for name in policies if name not in held]
    if missing:
        raise ValueError(f"--real-from {folder} has no episodes of {', '.join(missing)} (it "
                         f"holds {', '.join(held) or 'none'}).")  # fmt: skip
    rows = {}
    for name in policies:
        path = folder / f"{_file_name(name)}.parquet"
        if not path.is_file():
            raise ValueError(f"--real-from {folder}: the manifest lists {name}, but "
                             f"{path.name} is missing.")  # fmt: skip
        try:
            table = pq.read_table(path).to_pydict()
        except Exception as error:  # pyarrow raises several kinds for a damaged file
            raise ValueError(f"--real-from {folder}: {path.name} cannot be read ({error}).") \
                from None  # fmt: skip
        rows[name] = _table_rows(table, path.name)
    return _grouped(folder, rows, task, policies)


def recorded_policies(folder) -> list[str]:
    """The policy names a recording holds, in the order first met (for --real-from
    without --policies)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--real-from {folder}: no such folder.")
    if (folder / "manifest.json").is_file():
        return list(json.loads((folder / "manifest.json").read_text()).get("policies", []))
    if _is_minari(folder):
        data = folder / "data" if (folder / "data").is_dir() else folder
        metas = [json.loads((episode / "metadata.json").read_text())
                 for episode in sorted(data.iterdir(), key=lambda p: (len(p.name), p.name))
                 if episode.is_dir() and (episode / "metadata.json").is_file()]  # fmt: skip
        names = [meta.get("policy") for meta in metas]
    elif (folder / "meta" / "episodes.jsonl").is_file():
        lines = (folder / "meta" / "episodes.jsonl").read_text().splitlines()
        names = [json.loads(line).get("policy") for line in lines if line.strip()]
    elif (folder / "meta" / "episodes").is_dir():
        names = [row.get("policy") for file in sorted((folder / "meta" / "episodes").rglob(
            "*.parquet")) for row in pq.read_table(file).to_pylist()]  # fmt: skip
    else:
        raise ValueError(f"--real-from {folder}: not a recording (no manifest.json, Minari "
                         "dataset or LeRobot meta/ folder).")  # fmt: skip
    return list(dict.fromkeys(name for name in names if name is not None))


def _is_minari(folder: Path) -> bool:
    return (folder / "data" / "metadata.json").is_file() or (
        (folder / "metadata.json").is_file() and (folder / "0").is_dir())


def read_minari(folder: Path, task, policies) -> dict[str, RecordedEpisodes]:
    """Recorded episodes from a Minari dataset whose episode metadata name the policy
    (`"policy"`), with `"success"` there too or success from the task's rule (its
    predicate on the observations, or its info key); `"seed"` where recorded."""
    import minari

    from worldgym.data.dataset import read_header
    from worldgym.data.foreign import _flatten_batch, _success, check_spaces

    data = folder / "data" if (folder / "data").is_dir() else folder
    header = read_header(data)
    try:
        from minari.serialization import deserialize_space

        observation_space = deserialize_space(header["observation_space"])
        action_space = deserialize_space(header["action_space"])
        dataset = minari.MinariDataset(data)
        episodes = list(dataset.iterate_episodes())
        metadata = list(dataset.storage.get_episode_metadata(dataset.episode_indices))
    except Exception as error:  # Minari and its backends raise many types
        raise ValueError(f"--real-from {folder}: Minari cannot read it ({type(error).__name__}: "
                         f"{error}).") from None  # fmt: skip
    check_spaces(str(folder), observation_space, action_space, task)
    rows: dict[str, list] = {}
    for episode, meta in zip(episodes, metadata, strict=True):
        name = meta.get("policy")
        if name is None:
            raise ValueError(f"--real-from {folder}: episode {episode.id} names no policy "
                             "(put it in the episode metadata as \"policy\").")  # fmt: skip
        observations = _flatten_batch(observation_space, episode.observations)
        if meta.get("success") is not None:
            success = bool(meta["success"])
        else:
            steps = _success(task, observations, episode.infos, str(folder))
            success = bool(steps.any() if task.terminate_on_success else steps[-1])
        seed = meta.get("seed")
        rows.setdefault(name, []).append((observations[0], success, seed,
                                          float(np.sum(episode.rewards)), len(episode.actions)))
    return _grouped(folder, rows, task, policies)


def read_lerobot(folder: Path, task, policies) -> dict[str, RecordedEpisodes]:
    """Recorded episodes from LeRobot's dataset layout (v2: meta/episodes.jsonl and a
    Parquet file per episode; v3: meta/episodes/*.parquet and Parquet files of many
    episodes), read with pyarrow. The per-episode metadata names the policy
    (`policy`) and may carry `success` and `seed`; otherwise success is the
    per-step `next.success` column. The initial observation is `observation.state`
    at each episode's first frame."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    meta = folder / "meta"
    if (meta / "episodes.jsonl").is_file():
        episodes = [json.loads(line) for line in (meta / "episodes.jsonl").read_text().splitlines()
                    if line.strip()]  # fmt: skip
    else:
        files = sorted((meta / "episodes").rglob("*.parquet"))
        if not files:
            raise ValueError(f"--real-from {folder}: a LeRobot dataset needs "
                             "meta/episodes.jsonl or meta/episodes/*.parquet.")  # fmt: skip
        episodes = [row for file in files for row in pq.read_table(file).to_pylist()]
    by_index = {int(row["episode_index"]): row for row in episodes}
    unnamed = [index for index, row in by_index.items() if row.get("policy") is None]
    if unnamed:
        raise ValueError(f"--real-from {folder}: episode {unnamed[0]} names no policy (add a "
                         "\"policy\" field to its episode metadata).")  # fmt: skip
    files = sorted(str(path) for path in (folder / "data").rglob("*.parquet"))
    if not files:
        raise ValueError(f"--real-from {folder}: no Parquet files under data/.")
    frames = ds.dataset(files, format="parquet").to_table()
    names = set(frames.column_names)
    if not {"observation.state", "episode_index", "frame_index"} <= names:
        raise ValueError(f"--real-from {folder}: LeRobot frames need observation.state, "
                         "episode_index and frame_index columns.")  # fmt: skip
    table = frames.to_pydict()
    first: dict[int, tuple] = {}
    stepped_success: dict[int, bool] = {}
    for row in range(len(table["episode_index"])):
        episode, frame = int(table["episode_index"][row]), int(table["frame_index"][row])
        if episode not in first or frame < first[episode][0]:
            first[episode] = (frame, table["observation.state"][row])
        if "next.success" in table:
            stepped_success[episode] = stepped_success.get(episode, False) or bool(
                table["next.success"][row])  # fmt: skip
    rows: dict[str, list] = {}
    for index, meta_row in sorted(by_index.items()):
        if index not in first:
            raise ValueError(f"--real-from {folder}: episode {index} has no frames under data/.")
        if meta_row.get("success") is not None:  # v3 tables hold null where unlabelled
            success = bool(meta_row["success"])
        elif index in stepped_success:
            success = stepped_success[index]
        else:
            raise ValueError(f"--real-from {folder}: episode {index} has no success label "
                             "(a \"success\" field in its metadata or a next.success "
                             "column).")  # fmt: skip
        rows.setdefault(meta_row["policy"], []).append(
            (first[index][1], success, meta_row.get("seed"), 0.0, int(meta_row.get("length", 0))))
    return _grouped(folder, rows, task, policies)


def _grouped(folder, rows: dict[str, list], task, policies) -> dict[str, RecordedEpisodes]:
    """RecordedEpisodes per policy from (start, success, seed, return, length) rows."""
    missing = [name for name in policies if name not in rows]
    if missing:
        raise ValueError(f"--real-from {folder} has no episodes of {', '.join(missing)} (it "
                         f"holds {', '.join(rows)}).")  # fmt: skip
    found = {}
    for name in policies:
        starts, success, seeds, returns, lengths = zip(*rows[name], strict=True)
        sizes = {np.asarray(start).shape for start in starts}
        if sizes != {(task.obs_dim,)}:
            raise ValueError(f"--real-from {folder}: {name} has initial observations of shape "
                             f"{sorted(sizes)}, but task {task.name} observes "
                             f"({task.obs_dim},).")  # fmt: skip
        seeded = all(isinstance(seed, int) for seed in seeds)
        found[name] = RecordedEpisodes(
            name, np.stack(starts).astype(np.float32), np.asarray(success, bool),
            np.asarray(seeds if seeded else np.arange(len(seeds)), np.int64),
            np.asarray(returns, np.float64), np.asarray(lengths, np.int64), seeded)  # fmt: skip
    return found


def _table_rows(table: dict, file: str) -> list[tuple]:
    """(start, success, seed, return, length) rows of one plain-layout table."""
    absent = [column for column in REQUIRED if column not in table]
    if absent:
        raise ValueError(f"Recorded episodes {file} lack the column(s) {', '.join(absent)}.")
    count = len(table["success"])
    if count == 0:
        raise ValueError(f"Recorded episodes {file} hold no episode.")
    if any(value is None for value in table["success"]):
        raise ValueError(f"Recorded episodes {file} have episodes without a success label.")
    column = lambda name: table.get(name) or [None] * count  # noqa: E731
    return [(start, bool(success), seed, float(value or 0.0), int(length or 0))
            for start, success, seed, value, length in zip(
                table["initial_observation"], table["success"], column("seed"),
                column("return"), column("length"), strict=True)]  # fmt: skip


def _file_name(policy: str) -> str:
    """A policy name as a file name (module:attribute specs hold ':' and '.')."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in policy)
