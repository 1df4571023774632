"""What identifies a model, a policy or any pytree of arrays: SHA-256 fingerprints.

The result cache keys rollouts by them, collection's leakage guard compares
behaviours with evaluation policies by them, and RL runs resume only onto the
model they started on. One definition, below everything that uses it.
"""

from __future__ import annotations

import hashlib
import json

import jax
import numpy as np


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
    """Identifies a policy: a JAX policy by its function's name and its parameters,
    a host policy by its object (see worldgym.policies.host.host_fingerprint)."""
    if policy.host is not None:
        return policy.host.fingerprint
    act = getattr(policy.act, "__qualname__", repr(policy.act))
    module = getattr(policy.act, "__module__", "")
    return hashlib.sha256(f"{module}.{act}{tree_fingerprint(policy.params)}".encode()).hexdigest()
