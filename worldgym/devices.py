"""The JAX devices worldgym computes on, and how a batch of episodes is spread over them.

The imagination engine shards its episode axis over every visible device with
`jax.sharding` (a one-axis Mesh and NamedSharding): XLA partitions the compiled
rollout, each device imagines its share of the episodes, and the outcomes do
not depend on the device count (every episode's randomness is drawn inside the
program from the same keys). With one device this is a no-op.

Several processes (one per host) join one run through `jax.distributed`: the
mesh then spans every process's devices, each process imagines its share of the
episodes, and the outcomes are gathered back (see `join_processes`).
"""

from __future__ import annotations

import os
import pickle
from collections import Counter

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


PROCESS_VARIABLES = ("WORLDGYM_NUM_PROCESSES", "WORLDGYM_PROCESS_ID", "JAX_COORDINATOR_ADDRESS")
"""Set all three on every host to run one command as several processes; or set
WORLDGYM_DISTRIBUTED=auto where JAX detects the cluster itself (SLURM, Open MPI,
Cloud TPU pods, Kubernetes)."""


def join_processes() -> None:
    """Join the multi-process run the environment describes, if any (before any
    other JAX call): `jax.distributed.initialize` with this process's place in it.
    A missing or malformed variable is one clear sentence, not a hang."""
    if os.environ.get("WORLDGYM_DISTRIBUTED") == "auto":
        jax.distributed.initialize()
        return
    given = [name for name in PROCESS_VARIABLES if os.environ.get(name)]
    if not given:
        return
    if len(given) < len(PROCESS_VARIABLES):
        missing = ", ".join(name for name in PROCESS_VARIABLES if name not in given)
        raise ValueError(f"A multi-process run needs {', '.join(PROCESS_VARIABLES)} on every "
                         f"process; {missing} is not set.")  # fmt: skip
    try:
        count = int(os.environ["WORLDGYM_NUM_PROCESSES"])
        index = int(os.environ["WORLDGYM_PROCESS_ID"])
    except ValueError:
        raise ValueError("WORLDGYM_NUM_PROCESSES and WORLDGYM_PROCESS_ID must be whole "
                         "numbers.") from None  # fmt: skip
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"WORLDGYM_PROCESS_ID must be in 0…{count - 1} for "
                         f"WORLDGYM_NUM_PROCESSES={count}; got {index}.")  # fmt: skip
    if count > 1:
        jax.distributed.initialize(os.environ["JAX_COORDINATOR_ADDRESS"], count, index)


def is_main_process() -> bool:
    """Whether this process prints and writes the results (process 0 of the run)."""
    return jax.process_index() == 0


def describe_devices() -> str:
    """One line naming the devices JAX will use, e.g. "devices: 4 × cpu", and the
    processes sharing them in a multi-process run."""
    kinds = Counter(device.platform for device in jax.devices())
    line = "devices: " + ", ".join(f"{count} × {kind}" for kind, count in kinds.items())
    if jax.process_count() > 1:
        line += f" over {jax.process_count()} processes (this is process {jax.process_index()})"
    return line


def _sharding(spec: PartitionSpec) -> NamedSharding | None:
    """`spec` over a one-axis mesh of all devices, or None with a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    return NamedSharding(Mesh(np.asarray(devices), (BATCH_AXIS,)), spec)


def shard_episodes(array):
    """`array` [episodes, ...] padded (repeating its last row) to a multiple of the
    device count and split over the devices along its first axis; unchanged with
    one device. Callers keep the first len(array) rows of what they compute."""
    sharding = _sharding(PartitionSpec(BATCH_AXIS))
    if sharding is None:
        return array
    extra = -len(array) % jax.device_count()
    if extra:
        array = jax.numpy.concatenate([array, jax.numpy.repeat(array[-1:], extra, axis=0)])
    if jax.process_count() == 1:
        return jax.device_put(array, sharding)
    # every process holds the whole array; each hands its own devices their rows
    typed_keys = jax.dtypes.issubdtype(array.dtype, jax.dtypes.prng_key)
    rows = np.asarray(jax.random.key_data(array) if typed_keys else array)
    spread = jax.make_array_from_callback(rows.shape, sharding, lambda index: rows[index])
    return jax.random.wrap_key_data(spread) if typed_keys else spread


def gather_episodes(tree):
    """Every process's share of a sharded result, whole, in every process (after a
    multi-process computation; unchanged in a single process)."""
    if jax.process_count() == 1:
        return tree

    return multihost_utils.process_allgather(tree, tiled=True)


def gather_objects(value) -> list:
    """Every process's `value` (any picklable object), in process order, in every
    process: how processes that each ran their share of the real episodes hand the
    outcomes to each other. A single process gets [value]."""
    if jax.process_count() == 1:
        return [value]
    data = np.frombuffer(pickle.dumps(value), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([data.size]))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[: data.size] = data
    rows = np.asarray(multihost_utils.process_allgather(padded))  # [processes, longest]
    return [pickle.loads(row[:size].tobytes()) for row, size in zip(rows, sizes, strict=True)]


def process_share(items: list) -> list[int]:
    """The positions of `items` this process takes: every process_count-th, starting at
    its own index (all of them in a single process)."""
    return list(range(jax.process_index(), len(items), jax.process_count()))


def replicated(tree):
    """`tree` (the same numpy or local arrays in every process) as arrays replicated on
    every device of a multi-process run, which a compiled step spanning the processes
    takes (training's parameters and dataset); unchanged in a single process."""
    if jax.process_count() == 1:
        return tree
    sharding = NamedSharding(Mesh(np.asarray(jax.devices()), (BATCH_AXIS,)), PartitionSpec())

    def spread(leaf):
        dtype = leaf.dtype if hasattr(leaf, "dtype") else np.result_type(leaf)
        typed = jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
        values = np.asarray(jax.random.key_data(leaf) if typed else leaf)
        array = jax.make_array_from_callback(values.shape, sharding, lambda index: values[index])
        return jax.random.wrap_key_data(array) if typed else array

    return jax.tree_util.tree_map(spread, tree)


def local(tree):
    """This process's copy of replicated results, as numpy (to save, print or compare;
    unchanged in a single process)."""
    if jax.process_count() == 1:
        return tree
    return jax.tree_util.tree_map(
        lambda leaf: np.asarray(leaf.addressable_data(0)) if isinstance(leaf, jax.Array) else leaf,
        tree,
    )


def from_main(tree):
    """Process 0's pytree of arrays in every process (e.g. the training state it resumed
    from its checkpoints), so every process continues from the same place."""
    if jax.process_count() == 1:
        return tree
    return jax.tree_util.tree_map(np.asarray, multihost_utils.broadcast_one_to_all(tree))


def agree(value):
    """Process 0's `value` (a numpy array) in every process, so all of them take the
    same branch, e.g. which cached results still need computing."""
    if jax.process_count() == 1:
        return value

    return np.asarray(multihost_utils.broadcast_one_to_all(value))


def batch_sharding(batch_size: int) -> NamedSharding | None:
    """A batch [batch_size, ...] split over all devices along its first axis (e.g.
    PPO's parallel imagined episodes), or None with one device or a batch the
    devices do not divide."""
    if batch_size % jax.device_count():
        return None
    return _sharding(PartitionSpec(BATCH_AXIS))


def minibatch_sharding(batch_size: int) -> NamedSharding | None:
    """Training's minibatch [members, batch] split over all devices along the batch
    axis (parameters stay replicated; XLA all-reduces the gradients), or None with
    one device or a batch the devices do not divide."""
    if batch_size % jax.device_count():
        return None
    return _sharding(PartitionSpec(None, BATCH_AXIS))
