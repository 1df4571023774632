"""Behaviour policies: what collects the training data of world models.

They are kept apart from the zoo, so a world model is never graded on the
policies that produced its data (unless the user asks, with include_zoo). A
collection draws one behaviour per episode from a weighted mixture, written on
the command line as NAME=WEIGHT items (`--behaviour random=0.3 ou=0.2
mypkg.agents:explorer=0.5`). A NAME is

- `random`: uniform random actions in the action box;
- `ou`: Ornstein-Uhlenbeck noise (theta 0.15, sigma 0.3 of the half-range per
  step), temporally correlated, so the robot wanders instead of jittering in place;
- `pink`: pink (1/f) noise over the episode (Eberhard et al., ICLR 2023), which
  covers more of the state space than white or OU noise on many robot tasks;
- where the task has an oracle: `perturbed-oracle` (the oracle with randomly drawn
  faults: gain, noise, jitter, target bias, latency, pauses, quantised or bang-bang
  motion and the task's own knobs, each switched on with probability 0.35 over
  ranges that bracket the zoo's faults),
  `noisy-oracle-<std>` (the oracle plus Gaussian action noise) and `play` (the
  oracle sent to random waypoints across the whole workspace, with random grip
  levels, pauses and correlated noise: see policies/exploration.py);
- a zoo policy's name, or a user's policy as `module:attribute`.

Where the task has an oracle, the default is the oracle's faults and uniform noise
(they cover the states the zoo visits), unless the task's OracleSpec names its own
mixture: PickPlace adds play and OU noise, which cover what other controllers do
(measured: docs, Behaviour data). Without an oracle it is random, OU and pink noise in equal parts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.envs import get_task
from worldgym.fingerprints import policy_fingerprint
from worldgym.policies.exploration import NoiseBehaviour, PlayBehaviour
from worldgym.policies.loading import load_policy
from worldgym.policies.oracles import ROUNDED_KNOBS, oracle_spec
from worldgym.policies.perturbed import perturbation_params, perturbed_act
from worldgym.policies.protocol import Policy
from worldgym.policies.sets import find_policy, policy_set, set_names
from worldgym.specs import is_attribute_spec

NOISE_LEVELS = (0.1, 0.3, 0.6)
"""Action-noise standard deviations of the noisy-oracle behaviours."""

DEFAULT_MIXTURE = {
    "random": 0.15,
    **{f"noisy-oracle-{level}": 0.1 for level in NOISE_LEVELS},
    "perturbed-oracle": 0.55,
}
"""Probability of each behaviour per episode, for tasks with an oracle whose spec
names no mixture of its own: the oracle's faults and uniform noise."""

NOISE_MIXTURE = {"random": 1 / 3, "ou": 1 / 3, "pink": 1 / 3}
"""The default for tasks without an oracle: exploration noise of three colours."""

NOISE_BEHAVIOURS = ("random", "ou", "pink")
ORACLE_BEHAVIOURS = ("perturbed-oracle", "noisy-oracle-<std>", "play")

FAULT_PROBABILITY = 0.35
"""Chance that each fault is switched on in a perturbed-oracle episode."""


def parse_mixture(items: Sequence[str]) -> dict[str, float]:
    """NAME=WEIGHT items -> {name: weight}; one sentence for a malformed item."""
    mixture: dict[str, float] = {}
    for item in items:
        name, equals, weight_text = item.rpartition("=")
        if not equals or not name:
            raise ValueError(f"A behaviour is NAME=WEIGHT (e.g. random=0.3), got {item!r}.")
        try:
            weight = float(weight_text)
        except ValueError:
            raise ValueError(f"Behaviour {name!r} has weight {weight_text!r}, which is not a "
                             "number.") from None  # fmt: skip
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"Behaviour {name!r} has weight {weight_text}; weights must be "
                             "positive numbers.")  # fmt: skip
        if name in mixture:
            raise ValueError(f"Behaviour {name!r} is named twice.")
        mixture[name] = weight
    return mixture


def default_mixture(task_name: str) -> dict[str, float]:
    """The oracle's own mixture (OracleSpec.mixture), the oracle default, or noise."""
    spec = oracle_spec(task_name)
    if spec is None:
        return dict(NOISE_MIXTURE)
    return dict(spec.mixture or DEFAULT_MIXTURE)


def check_behaviour_name(task, name: str) -> None:
    """Refuse a behaviour `task` cannot run, in one sentence (before collecting)."""

    task = get_task(task)
    task_name = task.name
    if name in NOISE_BEHAVIOURS:
        return
    if name in ("perturbed-oracle", "play") or name.startswith("noisy-oracle-"):
        if oracle_spec(task_name) is None:
            raise ValueError(
                f"Behaviour {name!r} perturbs the oracle, but task {task_name} has none; use "
                f"{', '.join(NOISE_BEHAVIOURS)} or your own policies."
            )
        if name.startswith("noisy-oracle-"):
            _noise_level(name)
        return
    if name.startswith("zoo:"):  # include_zoo's names
        name = name.removeprefix("zoo:")
    if is_attribute_spec(name) or find_policy(task_name, name) is not None:
        load_policy(task, name)  # imports and checks it on a real observation
        return
    builtin = ", ".join((*NOISE_BEHAVIOURS, *ORACLE_BEHAVIOURS))
    raise ValueError(f"Unknown behaviour {name!r} for task {task_name}; use {builtin}, a "
                     "policy of the task's sets or module:attribute.")  # fmt: skip


def _noise_level(name: str) -> float:
    try:
        level = float(name.removeprefix("noisy-oracle-"))
    except ValueError:
        raise ValueError(
            f"Behaviour {name!r} needs a noise level, e.g. noisy-oracle-0.3."
        ) from None
    if not level >= 0:
        raise ValueError(f"Behaviour {name!r} needs a non-negative noise level.")
    return level


def draw_perturbation(task_name: str, rng: np.random.Generator) -> dict:
    """Random faults for one perturbed-oracle episode (each on with FAULT_PROBABILITY)."""
    spec = oracle_spec(task_name)
    on = lambda: rng.uniform() < FAULT_PROBABILITY  # noqa: E731
    goal_dim = len(range(*spec.goal.indices(10_000)))
    faults = {
        "gain": rng.uniform(0.15, 1.2) if on() else 1.0,
        "noise": rng.uniform(0.0, 0.8) if on() else 0.0,
        "random_prob": rng.uniform(0.0, 0.5) if on() else 0.0,
        "latency": rng.uniform(0.0, 0.3) if on() else 0.0,
        "target_bias": rng.normal(0.0, 0.03, goal_dim) if on() else np.zeros(goal_dim),
    }
    for knob, (low, high) in spec.knob_ranges.items():
        if on():
            value = rng.uniform(low, high)
            faults[knob] = float(round(value)) if knob in ROUNDED_KNOBS else value
    # standing still and coarse commands, which experts never show (issue #22)
    if on():
        faults["pause"] = rng.uniform(0.0, 0.6)
    if on():  # quantised or bang-bang motion
        if rng.uniform() < 0.5:
            faults["levels"] = float(rng.choice([1.0, 2.0, 4.0]))
        else:
            faults["bang"], faults["deadband"] = 1.0, rng.uniform(0.05, 0.5)
    return faults


def policy_identity(policy) -> str:
    """What makes two policies the same policy: the fingerprint the result cache keys
    them by (act function and parameters; a host policy's own). Scheduled behaviours
    (noise colours, play) are no evaluation policy's kind and get their name."""
    if not isinstance(policy, Policy):
        return f"behaviour:{getattr(policy, 'name', repr(policy))}"
    return policy_fingerprint(policy)


def evaluation_identities(task_name: str) -> dict[str, str]:
    """{identity: "set/name"} of every policy in the task's named sets (zoo, novel,
    dev, ...): the policies worldgym evaluates, which behaviour data must not contain."""

    found = {}
    for set_name in set_names(task_name):
        for policy in policy_set(task_name, set_name):
            found.setdefault(policy_identity(policy), f"{set_name}/{policy.name}")
    return found


ORACLE_DATA = ("perturbed-oracle", "play")


def data_family(task_name: str, policy, mixture: dict | None) -> str:
    """How an evaluated policy relates to the behaviour data, for the report's column:
    "in the data" (mixed in on purpose with --include-zoo), "family: ..." (a
    behaviour of the same kind with other parameters is in the data, e.g. the
    oracle's faults), "-" (nothing like it), or "unknown" (no dataset header)."""
    if mixture is None:
        return "unknown"
    names = set(mixture)
    if f"zoo:{policy.name}" in names:
        return "in the data"
    if oracle_spec(task_name) is None or getattr(policy, "act", None) is not perturbed_act(
        task_name
    ):
        return "-"
    if float(np.asarray(policy.params["random_prob"])) >= 1.0:
        return "family: random actions" if "random" in names else "-"
    oracle_based = [n for n in names if n in ORACLE_DATA or n.startswith("noisy-oracle-")]
    return f"family: {', '.join(sorted(oracle_based))}" if oracle_based else "-"


def draw_fresh_perturbation(task_name: str, rng: np.random.Generator,
                            forbidden: dict[str, str]) -> dict:  # fmt: skip
    """draw_perturbation, redrawn while the faults make an evaluation policy exactly
    (e.g. every fault off: the oracle itself)."""
    for _ in range(1000):
        faults = draw_perturbation(task_name, rng)
        policy = Policy("perturbed-oracle", perturbed_act(task_name),
                        perturbation_params(task_name, **faults), "")  # fmt: skip
        if policy_identity(policy) not in forbidden:
            return faults
    raise ValueError(f"1,000 draws of perturbed-oracle faults for {task_name} were all "
                     "evaluation policies; the fault ranges leave nothing else.")  # fmt: skip


def uniform_act(params, obs, key):
    """Uniform random actions in the box [low, high] (params); obs unused."""
    del obs
    return jax.random.uniform(key, params["low"].shape, minval=params["low"],
                              maxval=params["high"])  # fmt: skip


def behaviour_policy(task, name: str, perturbation: dict | None = None):
    """The behaviour called `name` for `task`: a Policy, or for the exploration noises
    and play a scheduled behaviour (policies/exploration.py); both step in lockstep.

    perturbed-oracle needs the `perturbation` drawn for its episode.
    """

    task = get_task(task)
    task_name = task.name
    has_oracle = oracle_spec(task_name) is not None
    if name == "random":
        # Uniform actions in the box, not the oracle's random branch: that is the zoo's
        # `random` policy itself, which the data must not contain (the same family,
        # which the report says).
        space = task.action_space
        params = {"low": jnp.asarray(space.low), "high": jnp.asarray(space.high)}
        return Policy(name, uniform_act, params, "uniform random actions")
    if name in ("ou", "pink"):
        return NoiseBehaviour(name, task.action_space, task.horizon)
    if name == "play" and has_oracle:
        return PlayBehaviour(task_name, task.horizon, task.action_dim)
    if name.startswith("noisy-oracle-") and has_oracle:
        params = perturbation_params(task_name, noise=_noise_level(name))
        return Policy(name, perturbed_act(task_name), params, "behaviour policy")
    if name == "perturbed-oracle" and has_oracle:
        params = perturbation_params(task_name, **(perturbation or {}))
        return Policy(name, perturbed_act(task_name), params, "behaviour policy")
    check_behaviour_name(task, name)
    return load_policy(task, name.removeprefix("zoo:"))
