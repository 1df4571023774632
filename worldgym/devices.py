"""The JAX devices worldgym computes on, and how a batch of episodes is spread over them.

The imagination engine shards its episode axis over every visible device with
`jax.sharding` (a one-axis Mesh and NamedSharding): XLA partitions the compiled
rollout, each device imagines its share of the episodes, and the outcomes do
not depend on the device count (every episode's randomness is drawn inside the
program from the same keys). With one device this is a no-op.
"""

from __future__ import annotations

from collections import Counter

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def describe_devices() -> str:
    """One line naming the devices JAX will use, e.g. "devices: 4 × cpu"."""
    kinds = Counter(device.platform for device in jax.devices())
    return "devices: " + ", ".join(f"{count} × {kind}" for kind, count in kinds.items())


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
    return jax.device_put(array, sharding)


def minibatch_sharding(batch_size: int) -> NamedSharding | None:
    """Training's minibatch [members, batch] split over all devices along the batch
    axis (parameters stay replicated; XLA all-reduces the gradients), or None with
    one device or a batch the devices do not divide."""
    if batch_size % jax.device_count():
        return None
    return _sharding(PartitionSpec(None, BATCH_AXIS))
