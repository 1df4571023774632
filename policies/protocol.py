"""The policy protocol: a pure JAX function plus its parameters.

`act(params, obs, key) -> action` works on one observation [obs_dim] (or, for a
policy that looks at pixels, one frame; see `Policy.frame_size`) and is batched
with `jax.vmap`, so a whole policy zoo can be rolled out in one compiled
call. `NumpyPolicy` is the thin adapter that runs it in a Gymnasium loop.

Policies that are not JAX functions (a plain `obs -> action` callable, an object
with a Stable-Baselines3-style `predict`, a torch module) become Policies too,
through `worldgym.policies.host`: their `act` calls the object on the host, and
`Policy.host` says so. The actors below run any of them one observation at a time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from worldgym.policies.exploration import ScheduledActor

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
    host: Any = None
    """For a policy that is not a JAX function: its HostRunner (worldgym.policies.host),
    which calls the user's object on the host, one call per step for a whole batch.
    None for JAX policies, which take the fully compiled path."""
    frame_size: tuple[int, int] | None = None
    """(height, width) of the RGB frames the policy looks at, for a policy that acts
    on pixels: `act` then receives a uint8 frame [height, width, 3] instead of the
    state observation. In reality that is the task's camera (envs/frames.py); in
    imagination, the frame the world model draws (see imagination/engine.py).
    None: the policy acts on the state observation."""

    @property
    def looks_at_frames(self) -> bool:
        return self.frame_size is not None

    @property
    def path(self) -> str:
        """How the policy runs: "compiled" (JAX) or "host" (one host call per step)."""
        return "compiled" if self.host is None else "host"


def stacking_signature(policy: Policy) -> tuple:
    """(act, params structure, leaf shapes and dtypes, frame size): policies with
    equal signatures can have their params stacked and be vmapped as one (a host
    policy's act is its own, so it never stacks with another)."""
    leaves, structure = jax.tree_util.tree_flatten(policy.params)
    shapes = tuple((np.shape(leaf), np.asarray(leaf).dtype.str) for leaf in leaves)
    return policy.act, structure, shapes, policy.frame_size


class NumpyPolicy:
    """Runs a Policy on numpy observations, one Gymnasium step at a time.

    Keys come from `jax.random.fold_in(key, step)`, so an episode's actions depend
    only on the seed and the step index, not on how many calls came before.
    """

    def __init__(self, policy: Policy, seed: int = 0):
        self.policy = policy
        self.name = policy.name
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


class CallablePolicy:
    """Runs a plain `obs -> action` callable (numpy in, array-like out)."""

    def __init__(self, function: Callable[[np.ndarray], Any], name: str):
        self.function = function
        self.name = name

    def reset(self, seed: int) -> None:
        """Plain callables carry no episode state worldgym can reset."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(obs), dtype=np.float32)


class PredictPolicy:
    """Runs an object with a Stable-Baselines3-style `predict(obs, deterministic=True)`
    returning `(action, state)` or just an action."""

    def __init__(self, model: Any, name: str):
        self.model = model
        self.name = name

    def reset(self, seed: int) -> None:
        """Stateless between episodes, as SB3 policies are without recurrent state."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        result = self.model.predict(obs, deterministic=True)
        action = result[0] if isinstance(result, tuple) else result
        return np.asarray(action, dtype=np.float32)


class TorchPolicy:
    """Runs a torch module: a float32 tensor of observations in, actions out (no grad)."""

    def __init__(self, module: Any, name: str):
        self.module = module
        self.name = name

    def reset(self, seed: int) -> None:
        """Stateless between episodes (a recurrent module keeps its own state)."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            # a writable copy: torch warns on (and may write through) read-only arrays
            action = self.module(torch.from_numpy(np.array(obs, dtype=np.float32)))
        return np.asarray(action.detach().cpu().numpy(), dtype=np.float32)


Actor = NumpyPolicy | CallablePolicy | PredictPolicy | TorchPolicy
"""Anything that runs in a Gymnasium loop: reset(seed), then obs -> action."""


def is_torch_module(value: Any) -> bool:
    """A torch.nn.Module, recognised without importing torch where it is not loaded."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def as_actor(policy: Any, name: str = "policy", seed: int = 0) -> Actor:
    """Wrap a Policy, an object with predict(), a torch module or a callable for a
    Gymnasium loop."""
    if isinstance(policy, Policy):
        return NumpyPolicy(policy, seed) if policy.host is None else as_actor(
            policy.host.source, policy.name, seed
        )  # fmt: skip
    if hasattr(policy, "schedule") and hasattr(policy, "act"):  # exploration behaviours
        return ScheduledActor(policy)
    if is_torch_module(policy):
        return TorchPolicy(policy, name)
    if hasattr(policy, "predict"):
        return PredictPolicy(policy, name)
    if callable(policy):
        return CallablePolicy(policy, name)
    raise ValueError(
        f"Policy {name!r} is a {type(policy).__name__}; expected a worldgym Policy, a "
        "callable obs -> action, an object with predict(obs, deterministic=True) or a "
        "torch module."
    )
