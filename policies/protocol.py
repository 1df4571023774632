"""The policy protocol: a pure JAX function plus its parameters.

`act(params, obs, key) -> action` works on one observation [obs_dim] and is
batched with `jax.vmap`, so a whole policy zoo can be rolled out in one compiled
call. `NumpyPolicy` is the thin adapter that runs it in a Gymnasium loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

ActFn = Callable[[Any, jax.Array, jax.Array], jax.Array]
"""(params pytree, obs [obs_dim], PRNG key) -> action [action_dim]."""


@dataclass(frozen=True)
class Policy:
    """A named, pure JAX policy."""

    name: str
    """Unique name within its task's zoo, used on the command line."""
    act: ActFn
    """Pure, jittable, vmappable action function."""
    params: Any = None
    """Parameters pytree passed as the first argument of `act`."""
    description: str = ""
    """One line saying what the policy does (and how it fails, if it does)."""


class NumpyPolicy:
    """Runs a Policy on numpy observations, one Gymnasium step at a time.

    Keys come from `jax.random.fold_in(key, step)`, so an episode's actions depend
    only on the seed and the step index, not on how many calls came before.
    """

    def __init__(self, policy: Policy, seed: int = 0):
        self.policy = policy
        self._act = jax.jit(policy.act)
        self._key = jax.random.key(seed)
        self._step = 0

    def reset(self, seed: int) -> None:
        """Start a new episode whose randomness is fixed by `seed`."""
        self._key = jax.random.key(seed)
        self._step = 0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        key = jax.random.fold_in(self._key, self._step)
        self._step += 1
        return np.asarray(self._act(self.policy.params, obs, key))
