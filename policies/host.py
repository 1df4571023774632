"""Policies that are not JAX functions, running batched on the host in both worlds.

Most users' policies are a plain `obs -> action` callable, an object with a
Stable-Baselines3-style `predict`, or a torch module. Each becomes a worldgym
Policy whose `act` calls the object through `jax.pure_callback`, so the
imagination engine runs it inside its compiled scan with the same paired seeds
and outcome rules as a JAX policy, and whose `host` runner the real-world runner
calls directly. Either way the object is called once per step for the whole
batch of episodes: with all observations at once if it handles a batch (checked
once, on real observations, against row-by-row calls), else row by row inside
that one host call.

Every action is checked as the real environment checks it (shape, finite, in
bounds), so a policy that misbehaves in imagination gets the same one sentence
as in reality, not an error from inside XLA.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.envs.pool import borrowed_env
from worldgym.envs.validation import TOLERANCE
from worldgym.policies.protocol import Policy, as_actor
from worldgym.specs import first_line


class HostPolicyError(ValueError):
    """A host policy failed or returned a bad action; the message is one sentence."""


_raised: list[HostPolicyError] = []
"""Errors raised inside host callbacks, for `host_errors` to re-raise plainly
(XLA wraps a callback's exception in its own runtime error)."""


@dataclass(frozen=True, eq=False)  # hashed by identity: JAX keys compiled callbacks by it
class HostRunner:
    """Calls a user's policy object on batches of observations, checking its actions."""

    source: Any
    """The user's object: a callable, a predict() object or a torch module."""
    name: str
    task_name: str
    action_space: Any
    batched: bool
    """Whether the object takes all observations at once (else one row at a time)."""
    fingerprint: str
    """Identifies the object for result caches (see host_fingerprint)."""

    def __call__(self, observations) -> np.ndarray:
        """observations [..., obs_dim] -> actions [..., action_dim] float32, checked."""
        observations = np.asarray(observations, np.float32)
        rows = observations.reshape(-1, observations.shape[-1])
        try:
            actions = self._call(rows)
        except HostPolicyError as error:
            _raised.append(error)
            raise
        return actions.reshape(*observations.shape[:-1], -1)

    @cached_property
    def _actor(self) -> Callable:
        """The object as an obs -> action callable, made once rather than every step."""
        return as_actor(self.source, self.name)

    def _call(self, rows: np.ndarray) -> np.ndarray:
        try:
            if self.batched:
                actions = np.asarray(self._actor(rows), np.float32)
            else:
                actions = np.stack([np.asarray(self._actor(row), np.float32) for row in rows])
        except HostPolicyError:
            raise
        except Exception as error:  # a user's code: report it, whatever it raised
            raise HostPolicyError(
                f"Policy {self.name!r} failed on an observation of shape {rows.shape[1:]}: "
                f"{type(error).__name__}: {first_line(error)}"
            ) from None
        check_actions(actions, len(rows), self.action_space, self.name, self.task_name)
        return actions


def check_actions(actions: np.ndarray, count: int, space, name: str, task_name: str) -> None:
    """Refuse a batch of actions the real environment would refuse, in one sentence."""
    expected = (count, *space.shape)
    if actions.shape != expected:
        got = actions.shape[1:] if actions.ndim >= 1 and len(actions) == count else actions.shape
        raise HostPolicyError(
            f"Policy {name!r} returned an action of shape {got}, but task {task_name} expects "
            f"shape {space.shape}."
        )
    if not np.all(np.isfinite(actions)):
        raise HostPolicyError(f"Policy {name!r} returned a non-finite action (NaN or inf).")
    if np.any(actions < space.low - TOLERANCE) or np.any(actions > space.high + TOLERANCE):
        raise HostPolicyError(
            f"Policy {name!r} returned an action outside the bounds "
            f"[{space.low.min():g}, {space.high.max():g}]; clip it first."
        )


def host_fingerprint(source: Any, name: str) -> str:
    """Identifies a host policy for caches: its name, the source of the module that
    defines it, and its pickled bytes where it pickles (a torch module's weights)."""
    digest = hashlib.sha256(name.encode())
    try:
        digest.update(inspect.getsource(inspect.getmodule(source) or type(source)).encode())
    except (OSError, TypeError):
        digest.update(type(source).__qualname__.encode())
    try:
        digest.update(pickle.dumps(source))
    except Exception:  # not every user object pickles; its module's source identifies it
        pass
    return digest.hexdigest()


def _takes_batches(source: Any, name: str, probe: np.ndarray) -> bool:
    """Does the object act on a whole batch as it acts on each row? Decided once:
    an explicit `worldgym_batched` attribute wins, else a batch call must give
    exactly the row-by-row actions on real observations."""
    declared = getattr(source, "worldgym_batched", None)
    if declared is not None:
        return bool(declared)
    actor = as_actor(source, name)
    single = np.stack([np.asarray(actor(row), np.float32) for row in probe])
    try:
        batch = np.asarray(actor(probe), np.float32)
    except Exception:  # a per-observation function given a batch may fail in any way
        return False
    return batch.shape == single.shape and np.allclose(batch, single, atol=1e-5)


def host_policy(source: Any, name: str, task, description: str = "",
                probe_seeds: int | None = None) -> Policy:  # fmt: skip
    """A Policy that runs `source` (callable, predict() object or torch module) on the
    host, checked first on real reset observations of `task`."""
    as_actor(source, name)  # refuses objects that are no policy at all, in one sentence
    count = probe_seeds or task.action_dim + 2  # never equal to the action size
    with borrowed_env(task) as env:
        probe = np.stack([env.reset(seed=seed)[0] for seed in range(count)]).astype(np.float32)
    fingerprint = host_fingerprint(source, name)
    runner = HostRunner(source, name, task.name, task.action_space, False, fingerprint)
    runner(probe[:1])  # one clear sentence now if it errs or returns the wrong shape
    batched = _takes_batches(source, name, probe)
    runner = HostRunner(source, name, task.name, task.action_space, batched, fingerprint)
    return Policy(name, _callback_act(runner, task.action_dim), None, description, runner)


def _callback_act(runner: HostRunner, action_dim: int) -> Callable:
    """act(params, obs, key) calling `runner` through jax.pure_callback; under vmap the
    callback receives the whole batch (vmap_method="expand_dims"): one call per step."""

    def act(params, obs, key):
        del params, key  # host policies are deterministic or keep their own randomness
        shape = jax.ShapeDtypeStruct((*obs.shape[:-1], action_dim), jnp.float32)
        return jax.pure_callback(runner, shape, obs, vmap_method="expand_dims")

    act.__qualname__ = f"host_act[{runner.name}]"
    return act


@contextmanager
def host_errors() -> Iterator[None]:
    """Re-raise a host policy's error from compiled code as its own one sentence."""
    _raised.clear()
    try:
        yield
    except Exception:
        if _raised:
            error = _raised[-1]
            _raised.clear()
            raise HostPolicyError(str(error)) from None
        raise
