"""Knowing when not to trust: is a policy inside the model's experience?

A world model's verdict on a policy can only be as good as the model is where
that policy goes. Two things the model and its data already know say whether
it goes somewhere familiar:

- the model's own uncertainty (ensemble disagreement) at each imagined step,
  compared with its level on the held-out episodes of its training data;
- the distance of each visited (observation, action), in the model's normalised
  units, to the nearest one in the training data, compared with the same distance
  for held-out transitions.

A step is *outside the model's experience* when either exceeds what held-out data
shows in all but OUTLIER_QUANTILE of its steps (so familiar data has about 0.5%
of its steps outside by construction). A policy's support score is the share of
its imagined steps outside; past FLAG_SHARE the policy is flagged: its imagined
rate is not trusted, and the verdict ranks it apart.

A policy optimised against the model (trained in imagination, or picked because
imagination liked it) fails differently: it finds futures the model gets wrong,
and succeeds there. Its steps may each look familiar, but whole episodes along
which the model is unsure are not. An imagined success is *unsupported* when the
model's mean uncertainty along that episode exceeds what it shows along all but
OUTLIER_QUANTILE of the held-out episodes (imagined open loop, from their first
state with their recorded actions). A policy with more than FLAG_SHARE of its
episodes such successes is flagged as *optimistic*: its imagined success exceeds
what the model's own uncertainty supports.

A model can also be wrong in a way it is sure of: it answers the policy's actions
unlike the robot does (a model that learned "the hand goes to the goal" moves the
hand there whatever the policy commands; one that never saw small commands
ignores them). The *action probe* asks the model, at each probed step of a
policy's imagined path, how the next observation changes when the action is
nudged (a fixed random half-range nudge), and compares that with what the data
says such a nudge does (a least-squares linear fit of the training transitions'
changes on observation and action). On held-out steps the ratio of the two has a
range; a step whose ratio falls outside what all but 1 - OUTLIER_QUANTILE of
held-out steps show (on either side) is *mis-responding*, and a policy with more
than FLAG_SHARE of its probed steps so is flagged: its imagined future does not
follow its actions as the data says it should.

All thresholds are fixed from held-out data and these rules, not from the
policies being judged.

The reference (levels, and a sample of the training data to measure distances
to) is computed once per model from its training dataset and saved beside the
checkpoint (`<run>/support-reference.npz`, written atomically).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.data.dataset import find_dataset, load_dataset
from worldgym.data.frames import recorded_inputs
from worldgym.data.splits import run_split, trained_episodes, window_starts
from worldgym.files import atomic_file, read_npz
from worldgym.imagination.engine import open_loop

OUTLIER_QUANTILE = 0.995
"""Held-out steps beyond this quantile of uncertainty or distance count as outside."""
FLAG_SHARE = 0.05
"""A policy with more than this share of its imagined steps outside is flagged
(ten times the share held-out data has by construction)."""
TRAIN_POINTS = 20_000
"""Training transitions kept to measure distances to (a fixed random sample)."""
HELD_OUT_POINTS = 5_000
"""Held-out transitions that set the step levels."""
HELD_OUT_EPISODES = 500
"""Held-out episodes (at most) that set the episode level."""
CHUNK = 2048
"""Queries per distance computation (bounds memory, not results)."""
REFERENCE_FILE = "support-reference.npz"


@dataclass(frozen=True)
class SupportReference:
    """What familiar looks like for one model and its training data."""

    train_points: np.ndarray  # [N, obs_dim + action_dim] normalised training (obs, action)
    uncertainty_level: float  # OUTLIER_QUANTILE of one-step uncertainty on held-out steps
    distance_level: float  # OUTLIER_QUANTILE of held-out distances to the training points
    episode_uncertainty_level: float  # OUTLIER_QUANTILE of held-out episodes' mean uncertainty
    action_center: np.ndarray  # [action_dim]
    action_scale: np.ndarray  # [action_dim]
    response: np.ndarray | None = None  # [action_dim, obs_dim] the data's linear response
    response_levels: np.ndarray | None = None  # [2] low and high held-out ratio quantiles


@dataclass(frozen=True)
class PolicySupport:
    """How much of a policy's imagined experience lies outside the model's."""

    outside_share: float
    """Share of its imagined steps outside (by either measure): the support score."""
    uncertain_share: float
    """Share of steps whose uncertainty exceeds the held-out level."""
    distant_share: float
    """Share of steps farther from the training data than held-out steps are."""
    unsupported_success: float = 0.0
    """Share of its episodes that are imagined successes along which the model is
    more uncertain than along all but OUTLIER_QUANTILE of held-out episodes."""
    misresponding_share: float = 0.0
    """Share of its probed steps where the model's answer to a nudged action is
    unlike the data's, beyond what held-out steps show (the action probe)."""

    @property
    def misresponding(self) -> bool:
        """misresponding_share > FLAG_SHARE: the model does not answer its actions
        as the data says it should."""
        return self.misresponding_share > FLAG_SHARE

    @property
    def outside(self) -> bool:
        """Outside the model's experience: outside_share > FLAG_SHARE."""
        return self.outside_share > FLAG_SHARE

    @property
    def optimistic(self) -> bool:
        """unsupported_success > FLAG_SHARE: its imagined success exceeds what the
        model's uncertainty supports (the mark of a policy optimised against the model)."""
        return self.unsupported_success > FLAG_SHARE

    @property
    def flagged(self) -> bool:
        """Outside, optimistic or mis-responding: the imagined rate is not trusted."""
        return self.outside or self.optimistic or self.misresponding

    def summary(self) -> dict:
        return {"support_score": self.outside_share, "uncertain_share": self.uncertain_share,
                "distant_share": self.distant_share, "trusted": not self.flagged,
                "outside": self.outside, "unsupported_success": self.unsupported_success,
                "optimistic": self.optimistic, "misresponding_share": self.misresponding_share,
                "misresponding": self.misresponding}  # fmt: skip


def _features(model, observations, actions, action_scaling) -> np.ndarray:
    """(observation, action) pairs in the model's normalised units [..., obs + action]."""
    center, scale = action_scaling
    obs = np.asarray(observations, np.float32) - model.observation_center
    act = (np.asarray(actions, np.float32) - center) / scale
    return np.concatenate([obs / model.observation_scale, act], axis=-1)


@jax.jit
def _nearest_squared(queries, points):
    """Squared distance of each query [Q, k] to its nearest point [N, k]."""
    squared = (jnp.sum(queries**2, 1)[:, None] + jnp.sum(points**2, 1)[None, :]
               - 2.0 * queries @ points.T)  # fmt: skip
    return jnp.maximum(jnp.min(squared, axis=1), 0.0)


def nearest_distances(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Euclidean distance of each query to its nearest training point, in chunks."""
    queries = np.asarray(queries, np.float32)
    out = np.empty(len(queries), np.float32)
    points = jnp.asarray(points, jnp.float32)
    for start in range(0, len(queries), CHUNK):
        chunk = queries[start : start + CHUNK]
        padded = np.zeros((CHUNK, queries.shape[1]), np.float32)  # one compiled shape
        padded[: len(chunk)] = chunk
        out[start : start + len(chunk)] = np.sqrt(np.asarray(_nearest_squared(padded, points)))[
            : len(chunk)
        ]
    return out


def one_step_uncertainty(model, observations, actions, seed: int = 0,
                         inputs=None) -> np.ndarray:  # fmt: skip
    """The model's uncertainty of one step from each (observation, action); `inputs`:
    what the model starts from where that is not the observations (e.g. the
    recorded frames; default: the model's initial_inputs of the observations)."""
    keys = jax.random.split(jax.random.key(seed), len(observations))

    @jax.jit
    def uncertainty(params, inputs, action, key):
        carry = jax.vmap(model.init_fn, in_axes=(None, 0, 0))(params, inputs, key)
        step = jax.vmap(model.step_fn, in_axes=(None, 0, 0, 0))
        return step(params, carry, action, key).uncertainty

    if inputs is None:
        inputs = model.initial_inputs(jnp.asarray(observations, jnp.float32))
    return np.asarray(uncertainty(model.params, inputs, jnp.asarray(actions, jnp.float32),
                                  keys))  # fmt: skip


PROBE_NUDGE = 0.5
"""Size of the action probe's nudge, in units of each action entry's half-range."""
PROBE_STEPS = 2000
"""Steps of a policy's imagined path (at most) the action probe asks about."""


def linear_response(observations, actions, next_observations) -> np.ndarray:
    """[action_dim, obs_dim]: the change of the next observation per unit of each
    action entry, by least squares over (observation, action, 1) (ridge 1e-6)."""
    inputs = np.concatenate([observations, actions, np.ones((len(actions), 1))], axis=1)
    inputs = inputs.astype(np.float64)
    gram = inputs.T @ inputs + 1e-6 * np.eye(inputs.shape[1])
    weights = np.linalg.solve(gram, inputs.T @ (next_observations - observations))
    obs_dim = observations.shape[1]
    return weights[obs_dim : obs_dim + actions.shape[1]].astype(np.float32)


def probe_nudges(count: int, action_dim: int, seed: int = 0) -> np.ndarray:
    """[count, action_dim] random +-PROBE_NUDGE nudges (in half-range units)."""
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], (count, action_dim))
    return (PROBE_NUDGE * signs).astype(np.float32)


def response_ratios(model, reference_response, starts, actions, action_scaling,
                    seed: int = 0) -> np.ndarray:  # fmt: skip
    """[N] how much the model's next observation moves when each action is nudged,
    over how much the data's linear response says it should (both in the model's
    observation units). `starts`: what the model starts from at each step (the
    observations, or what recorded_inputs gives)."""
    center, scale = action_scaling
    actions = np.asarray(actions, np.float32)
    nudged = np.clip(actions + probe_nudges(len(actions), actions.shape[1], seed) * scale,
                     center - scale, center + scale)  # fmt: skip
    key = jax.random.key(seed)

    @jax.jit
    def next_obs(params, start, action):
        keys = jax.random.split(key, action.shape[0])
        carry = jax.vmap(model.init_fn, in_axes=(None, 0, 0))(params, start, keys)
        return jax.vmap(model.step_fn, in_axes=(None, 0, 0, 0))(params, carry, action, keys).obs

    starts = jax.tree_util.tree_map(jnp.asarray, starts)
    moved = np.asarray(next_obs(model.params, starts, jnp.asarray(nudged))
                       - next_obs(model.params, starts, jnp.asarray(actions)))  # fmt: skip
    expected = (nudged - actions) @ reference_response
    units = model.observation_scale
    model_size = np.linalg.norm(moved / units, axis=1)
    data_size = np.linalg.norm(expected / units, axis=1)
    return model_size / np.maximum(data_size, 1e-9)


def build_reference(model, task, data, train_episodes, held_out_episodes,
                    seed: int = 0) -> SupportReference:  # fmt: skip
    """Levels from held-out episodes and a sample of training transitions."""

    rng = np.random.default_rng(seed)
    space = task.action_space
    action_center = ((space.high + space.low) / 2).astype(np.float32)
    action_scale = np.maximum((space.high - space.low) / 2, 1e-6).astype(np.float32)
    transitions = data.transitions()

    def sample(episodes, count):
        starts = window_starts(data, episodes, 1)
        return np.sort(rng.choice(starts, min(count, len(starts)), replace=False))

    train, held = sample(train_episodes, TRAIN_POINTS), sample(held_out_episodes, HELD_OUT_POINTS)
    scaling = (action_center, action_scale)
    points = _features(model, transitions["observations"][train], transitions["actions"][train],
                       scaling)  # fmt: skip
    queries = _features(model, transitions["observations"][held], transitions["actions"][held],
                        scaling)  # fmt: skip
    distances = nearest_distances(queries, points)

    recorded = recorded_inputs(model, data, held + data.episode_index()[held])
    uncertainty = one_step_uncertainty(model, transitions["observations"][held],
                                       transitions["actions"][held], inputs=recorded)  # fmt: skip
    response = linear_response(transitions["observations"][train], transitions["actions"][train],
                               transitions["next_observations"][train])  # fmt: skip
    starts = recorded if recorded is not None else transitions["observations"][held]
    ratios = response_ratios(model, response, starts, transitions["actions"][held], scaling, seed)
    levels = np.quantile(ratios, [1.0 - OUTLIER_QUANTILE, OUTLIER_QUANTILE]).astype(np.float32)
    return SupportReference(
        points, float(np.quantile(uncertainty, OUTLIER_QUANTILE)),
        float(np.quantile(distances, OUTLIER_QUANTILE)),
        float(np.quantile(episode_uncertainty(model, data, held_out_episodes[:HELD_OUT_EPISODES],
                                              seed), OUTLIER_QUANTILE)),
        action_center, action_scale, response, levels,
    )  # fmt: skip


def episode_uncertainty(model, data, episodes, seed: int = 0) -> np.ndarray:
    """The model's mean uncertainty along each episode [E], imagined open loop from
    its first state with its recorded actions (what familiar behaviour looks like
    over a whole episode, to compare a policy's imagined episodes with)."""

    episodes = np.asarray(episodes)
    lengths = data.episode_lengths[episodes]
    within = np.minimum(np.arange(int(lengths.max()))[None, :], lengths[:, None] - 1)  # [E, T]
    first = data.observation_starts[episodes]
    actions = data.actions[data.transition_starts[episodes][:, None] + within]
    inputs = recorded_inputs(model, data, first)
    uncertainty = np.asarray(open_loop(model, data.observations[first], actions,
                                       jax.random.key(seed), inputs).uncertainty)  # fmt: skip
    valid = np.arange(within.shape[1])[None, :] < lengths[:, None]
    return (uncertainty * valid).sum(axis=1) / lengths


def load_or_build_reference(model, task, run: Path, dataset: str | None = None,
                            key: str = "") -> SupportReference | None:  # fmt: skip
    """The model's reference, from `<run>/support-reference.npz` if it matches `key`
    (the model's fingerprint), else built from the training dataset and saved; None
    if the dataset cannot be found (the report then says support is unknown)."""

    path = Path(run) / REFERENCE_FILE
    stored = read_npz(path)  # None if missing or damaged: then rebuilt, as a stale one is
    fields = ("train_points", "uncertainty_level", "distance_level",
              "episode_uncertainty_level", "action_center", "action_scale", "response",
              "response_levels")  # fmt: skip
    if stored is not None and str(stored.get("key")) == key and all(f in stored for f in fields):
        return SupportReference(
            stored["train_points"], float(stored["uncertainty_level"]),
            float(stored["distance_level"]), float(stored["episode_uncertainty_level"]),
            stored["action_center"], stored["action_scale"], stored["response"],
            stored["response_levels"],
        )  # fmt: skip
    provenance = model.metadata.get("provenance", {})
    source = dataset or provenance.get("dataset")
    try:
        data = load_dataset(find_dataset(source), task) if source else None
    except (FileNotFoundError, ValueError):
        data = None
    count = trained_episodes(data, provenance) if data is not None else None
    if count is None:
        return None
    train, held = run_split(count, provenance["train_config"])
    reference = build_reference(model, task, data, train, held)
    with atomic_file(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, key=key, train_points=reference.train_points,
                 uncertainty_level=reference.uncertainty_level,
                 distance_level=reference.distance_level,
                 episode_uncertainty_level=reference.episode_uncertainty_level,
                 action_center=reference.action_center,
                 action_scale=reference.action_scale, response=reference.response,
                 response_levels=reference.response_levels)  # fmt: skip
    return reference


def policy_support(reference: SupportReference, model, imagined) -> PolicySupport:
    """The support of one policy from its imagined Outcomes (every active step)."""
    steps = imagined.actions.shape[1]
    active = np.arange(steps)[None, :] < imagined.lengths[:, None]  # [E, H]
    observations = imagined.observations[:, :-1][active]
    actions = imagined.actions[active]
    if len(actions) == 0:
        return PolicySupport(0.0, 0.0, 0.0)
    along = imagined.step_uncertainty.sum(axis=1) / np.maximum(imagined.lengths, 1)  # [E]
    unsupported = float(np.mean(imagined.success & (along > reference.episode_uncertainty_level)))
    scaling = (reference.action_center, reference.action_scale)
    distances = nearest_distances(_features(model, observations, actions, scaling),
                                  reference.train_points)  # fmt: skip
    distant = distances > reference.distance_level
    uncertain = imagined.step_uncertainty[active] > reference.uncertainty_level
    outside = float(np.mean(distant | uncertain))
    misresponding = misresponding_share(reference, model, imagined, active)
    return PolicySupport(outside, float(np.mean(uncertain)), float(np.mean(distant)),
                         unsupported, misresponding)  # fmt: skip


def misresponding_share(reference: SupportReference, model, imagined, active) -> float:
    """Share of a sample of the policy's imagined steps where the action probe finds
    the model answering a nudge unlike the data (see the module docstring)."""
    if reference.response is None or model.frame_stack:  # frame models start from frames
        return 0.0
    rows, steps = np.nonzero(active)
    if len(rows) > PROBE_STEPS:
        chosen = np.random.default_rng(0).choice(len(rows), PROBE_STEPS, replace=False)
        rows, steps = rows[np.sort(chosen)], steps[np.sort(chosen)]
    observations = imagined.observations[rows, steps]
    starts = observations
    if model.action_history:  # the imagined actions before each step, zeros before the start
        back = steps[:, None] - np.arange(model.action_history, 0, -1)[None, :]
        previous = imagined.actions[rows[:, None], np.maximum(back, 0)]
        starts = {"obs": observations,
                  "previous_actions": np.where((back >= 0)[..., None], previous, 0.0)}  # fmt: skip
    ratios = response_ratios(model, reference.response, starts, imagined.actions[rows, steps],
                             (reference.action_center, reference.action_scale))  # fmt: skip
    low, high = reference.response_levels
    return float(np.mean((ratios < low) | (ratios > high)))
