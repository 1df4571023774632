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
  - `return` (float) and `length` (int): optional;
  - `initial_frame` (binary: a PNG image, height x width x RGB): optional; the
    camera's first frame, which a model that starts from frames (the latent
    family) starts from. Frames of another size are resized to the model's
    (bilinear, as PIL resizes); without them the task draws the start from the
    recorded observation, which only a simulated task can.

LeRobot's layout (v2 or v3: `meta/info.json`, per-episode metadata in
`meta/episodes.jsonl` or `meta/episodes/*.parquet`, frames as Parquet under `data/`)
works where the episode metadata names the policy (`policy`), with `success` there or
a per-step `next.success` column; the initial observation is `observation.state` at
each episode's first frame, and a frame model's first frame is the camera's (an
`image` feature, stored in the Parquet frames, or a `video` feature, the first
frame of the episode's stretch of its MP4; `--real-camera` picks one camera where
there are several). A Minari dataset works too, where each episode's
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

import imageio.v3 as iio
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from worldgym.data.dataset import read_header
from worldgym.data.foreign import _flatten_batch, _success, check_spaces
from worldgym.files import atomic_directory

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
    initial_frames: np.ndarray | None = None
    """[E, H, W, 3] uint8: each episode's first camera frame, where recorded and asked
    for (a model that starts from frames)."""


def write_recorded(folder, task_name: str, episodes: dict[str, dict]) -> Path:
    """Write {policy: {"initial_observations", "success", "seeds", "returns",
    "lengths", and optionally "initial_frames"}} in the recorded layout (atomically:
    a temporary folder, renamed)."""

    with atomic_directory(Path(folder), overwrite=True) as out:
        for policy, columns in episodes.items():
            table = {
                "initial_observation": [list(map(float, row))
                                        for row in columns["initial_observations"]],
                "success": [bool(v) for v in columns["success"]],
                "seed": [int(v) for v in columns["seeds"]],
                "return": [float(v) for v in columns["returns"]],
                "length": [int(v) for v in columns["lengths"]],
            }  # fmt: skip
            if columns.get("initial_frames") is not None:
                table["initial_frame"] = [encode_png(frame) for frame in columns["initial_frames"]]
            pq.write_table(pa.table(table), out / f"{_file_name(policy)}.parquet")
        manifest = {"format": FORMAT, "task": task_name, "policies": list(episodes)}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return Path(folder)


def read_recorded(folder, task, policies, frames: bool = False,
                  camera: str = "") -> dict[str, RecordedEpisodes]:  # fmt: skip
    """The recorded episodes of `policies` (names) for `task`; with `frames`, each
    episode's first camera frame too where the recording holds them (`camera`: which,
    in a LeRobot dataset of several). One sentence for a missing folder, manifest or
    field, a policy the logs do not hold, or observations of the wrong size."""

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--real-from {folder}: no such folder.")
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file() and _is_minari(folder):
        return read_minari(folder, task, policies)
    if not manifest_path.is_file() and (folder / "meta" / "info.json").is_file():
        return read_lerobot(folder, task, policies, frames, camera)
    if not manifest_path.is_file():
        raise ValueError(f"--real-from {folder}: no manifest.json there; recorded rollouts are "
                         f"a folder with manifest.json and one <policy>.parquet per policy "
                         f"(worldgym.data.recorded).")  # fmt: skip
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"--real-from {folder}: manifest.json is not valid JSON ({error})."
        ) from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"--real-from {folder}: manifest.json says format "
                         f"{manifest.get('format')!r}, expected {FORMAT!r}.")  # fmt: skip
    if manifest.get("task") not in (task.name, task.spec):
        raise ValueError(f"--real-from {folder} holds episodes of task {manifest.get('task')!r}, "
                         f"not {task.name}.")  # fmt: skip
    refuse_missing(folder, policies, manifest.get("policies", []))
    rows = {}
    for name in policies:
        path = folder / f"{_file_name(name)}.parquet"
        if not path.is_file():
            raise ValueError(f"--real-from {folder}: the manifest lists {name}, but "
                             f"{path.name} is missing.")  # fmt: skip
        try:
            table = pq.read_table(path).to_pydict()
        except Exception as error:  # pyarrow raises several kinds for a damaged file
            raise ValueError(
                f"--real-from {folder}: {path.name} cannot be read ({error})."
            ) from None
        rows[name] = _table_rows(table, path.name, frames)
    return _grouped(folder, rows, task, policies)


def recorded_policies(folder) -> list[str]:
    """The policy names a recording holds, in the order first met (for --real-from
    without --policies)."""

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
        (folder / "metadata.json").is_file() and (folder / "0").is_dir()
    )


def read_minari(folder: Path, task, policies) -> dict[str, RecordedEpisodes]:
    """Recorded episodes from a Minari dataset whose episode metadata name the policy
    (`"policy"`), with `"success"` there too or success from the task's rule (its
    predicate on the observations, or its info key); `"seed"` where recorded."""
    import minari

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
                                          float(np.sum(episode.rewards)), len(episode.actions),
                                          None))  # fmt: skip
    return _grouped(folder, rows, task, policies)


def read_lerobot(folder: Path, task, policies, frames: bool = False,
                 camera: str = "") -> dict[str, RecordedEpisodes]:  # fmt: skip
    """Recorded episodes from LeRobot's dataset layout (v2: meta/episodes.jsonl and a
    Parquet file per episode; v3: meta/episodes/*.parquet and Parquet files of many
    episodes), read with pyarrow. The per-episode metadata names the policy
    (`policy`) and may carry `success` and `seed`; otherwise success is the
    per-step `next.success` column. The initial observation is `observation.state`
    at each episode's first frame; with `frames`, its camera's first frame (see
    lerobot_first_frames)."""

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
    table_frames = ds.dataset(files, format="parquet").to_table()
    names = set(table_frames.column_names)
    if not {"observation.state", "episode_index", "frame_index"} <= names:
        raise ValueError(f"--real-from {folder}: LeRobot frames need observation.state, "
                         "episode_index and frame_index columns.")  # fmt: skip
    info = json.loads((meta / "info.json").read_text())
    key = lerobot_camera(folder, info, camera) if frames else None
    columns = ["observation.state", "episode_index", "frame_index",
               *(["next.success"] if "next.success" in names else []),
               *([key] if key in names else [])]  # fmt: skip
    table = table_frames.select(columns).to_pydict()
    first: dict[int, tuple] = {}
    stepped_success: dict[int, bool] = {}
    for row in range(len(table["episode_index"])):
        episode, frame = int(table["episode_index"][row]), int(table["frame_index"][row])
        if episode not in first or frame < first[episode][0]:
            first[episode] = (
                frame,
                table["observation.state"][row],
                table[key][row] if key in table else None,
            )
        if "next.success" in table:
            stepped_success[episode] = stepped_success.get(episode, False) or bool(
                table["next.success"][row])  # fmt: skip
    videos = None  # a video camera: every episode's first frame, each file decoded once
    if key is not None and info["features"][key].get("dtype") == "video":
        videos = read_video_frames(folder, [video_frame(folder, info, key, row)
                                            for row in by_index.values()])  # fmt: skip
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
        image = None
        if key is not None:
            image = (
                videos[video_frame(folder, info, key, meta_row)]
                if videos is not None
                else stored_image(folder, key, meta_row, first[index][2])
            )
        rows.setdefault(meta_row["policy"], []).append(
            (first[index][1], success, meta_row.get("seed"), 0.0, int(meta_row.get("length", 0)),
             image))  # fmt: skip
    return _grouped(folder, rows, task, policies)


def lerobot_camera(folder: Path, info: dict, camera: str) -> str:
    """The LeRobot feature holding the camera a frame model starts from: `camera`, or
    the only image or video feature."""
    cameras = [name for name, feature in info.get("features", {}).items()
               if feature.get("dtype") in ("image", "video")]  # fmt: skip
    if camera:
        if camera not in cameras:
            raise ValueError(f"--real-from {folder}: no camera {camera!r} (it has "
                             f"{', '.join(cameras) or 'none'}).")  # fmt: skip
        return camera
    if len(cameras) != 1:
        raise ValueError(f"--real-from {folder}: the model starts from frames; name the camera "
                         f"with --real-camera ({', '.join(cameras) or 'the dataset has none'})."
                         )  # fmt: skip
    return cameras[0]


def stored_image(folder: Path, key: str, episode: dict, stored) -> np.ndarray:
    """An episode's first frame of an image camera: the image in its first Parquet row."""
    if not stored or not stored.get("bytes"):
        raise ValueError(f"--real-from {folder}: episode {episode['episode_index']} has no "
                         f"{key} image in its first frame.")  # fmt: skip
    return decode_png(stored["bytes"], folder)


def video_frame(folder: Path, info: dict, key: str, episode: dict) -> tuple[Path, int]:
    """(video file, frame number) of an episode's first frame of video camera `key`
    (v2: a file per episode; v3: a file of many, the episode's stretch starting at
    videos/KEY/from_timestamp)."""
    index = int(episode["episode_index"])
    chunk = episode.get(f"videos/{key}/chunk_index", index // int(info.get("chunks_size", 1000)))
    path = folder / info.get("video_path", "").format(
        video_key=key, episode_chunk=chunk, episode_index=index, chunk_index=chunk,
        file_index=episode.get(f"videos/{key}/file_index", 0))  # fmt: skip
    start = float(episode.get(f"videos/{key}/from_timestamp", 0.0))
    return path, int(round(start * float(info.get("fps", 30))))


def read_video_frames(folder: Path, wanted) -> dict[tuple[Path, int], np.ndarray]:
    """{(file, frame number): frame} for the (file, frame) pairs wanted, each file
    decoded once from its start up to the last frame wanted from it (a v3 file holds
    many episodes: seeking for each would decode its beginning again and again)."""

    by_file: dict[Path, set[int]] = {}
    for path, frame in wanted:
        by_file.setdefault(path, set()).add(frame)
    found = {}
    for path, frames in by_file.items():
        try:
            for number, image in enumerate(iio.imiter(path, extension=path.suffix)):
                if number in frames:
                    found[path, number] = np.asarray(image)[..., :3]
                if number >= max(frames):
                    break
        except Exception as error:  # imageio raises several kinds for a missing or bad file
            raise ValueError(f"--real-from {folder}: {path} cannot be read "
                             f"({type(error).__name__}: {error}).") from None  # fmt: skip
        missing = sorted(frames - {number for (file, number) in found if file == path})
        if missing:
            raise ValueError(f"--real-from {folder}: {path} has no frame {missing[0]} "
                             f"(it ends sooner).")  # fmt: skip
    return found


def encode_png(frame) -> bytes:

    return iio.imwrite("<bytes>", np.asarray(frame, np.uint8), extension=".png")


def decode_png(data: bytes, where) -> np.ndarray:

    try:
        return np.asarray(iio.imread(data))[..., :3]
    except Exception as error:  # a damaged image
        raise ValueError(f"--real-from {where}: a recorded frame is not a readable image "
                         f"({type(error).__name__}).") from None  # fmt: skip


def refuse_missing(folder, policies, held) -> None:
    """One sentence where the recording holds no episodes of a policy asked for."""
    missing = [name for name in policies if name not in held]
    if missing:
        raise ValueError(f"--real-from {folder} has no episodes of {', '.join(missing)} (it "
                         f"holds {', '.join(held) or 'none'}).")  # fmt: skip


def _grouped(folder, rows: dict[str, list], task, policies) -> dict[str, RecordedEpisodes]:
    """RecordedEpisodes per policy from (start, success, seed, return, length, first
    frame or None) rows."""
    refuse_missing(folder, policies, list(rows))
    found = {}
    for name in policies:
        starts, success, seeds, returns, lengths, images = zip(*rows[name], strict=True)
        sizes = {np.asarray(start).shape for start in starts}
        if sizes != {(task.obs_dim,)}:
            raise ValueError(f"--real-from {folder}: {name} has initial observations of shape "
                             f"{sorted(sizes)}, but task {task.name} observes "
                             f"({task.obs_dim},).")  # fmt: skip
        seeded = all(isinstance(seed, int) for seed in seeds)
        found[name] = RecordedEpisodes(
            name, np.stack(starts).astype(np.float32), np.asarray(success, bool),
            np.asarray(seeds if seeded else np.arange(len(seeds)), np.int64),
            np.asarray(returns, np.float64), np.asarray(lengths, np.int64), seeded,
            _stacked_frames(folder, name, images))  # fmt: skip
    return found


def _stacked_frames(folder, name: str, images) -> np.ndarray | None:
    """[E, H, W, 3] uint8 first frames, None where none were recorded (or asked for)."""
    if all(image is None for image in images):
        return None
    if any(image is None for image in images):
        raise ValueError(f"--real-from {folder}: some of {name}'s episodes have a first frame "
                         "and some do not.")  # fmt: skip
    sizes = {np.shape(image) for image in images}
    if len(sizes) > 1:
        raise ValueError(f"--real-from {folder}: {name}'s first frames differ in size "
                         f"({', '.join(map(str, sorted(sizes)))}).")  # fmt: skip
    return np.stack(images).astype(np.uint8)


def _table_rows(table: dict, file: str, frames: bool = False) -> list[tuple]:
    """(start, success, seed, return, length, first frame) rows of one plain-layout
    table (the frame: decoded where asked for and recorded, else None)."""
    absent = [column for column in REQUIRED if column not in table]
    if absent:
        raise ValueError(f"Recorded episodes {file} lack the column(s) {', '.join(absent)}.")
    count = len(table["success"])
    if count == 0:
        raise ValueError(f"Recorded episodes {file} hold no episode.")
    if any(value is None for value in table["success"]):
        raise ValueError(f"Recorded episodes {file} have episodes without a success label.")
    column = lambda name: table.get(name) or [None] * count  # noqa: E731
    images = column("initial_frame") if frames else [None] * count
    return [(start, bool(success), seed, float(value or 0.0), int(length or 0),
             None if image is None else decode_png(image, file))
            for start, success, seed, value, length, image in zip(
                table["initial_observation"], table["success"], column("seed"),
                column("return"), column("length"), images, strict=True)]  # fmt: skip


def _file_name(policy: str) -> str:
    """A policy name as a file name (module:attribute specs hold ':' and '.')."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in policy)
