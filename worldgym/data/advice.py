"""Is this behaviour data able to teach a model what actions do? Measured before training.

A world model learns the effect of an action from transitions in which similar
states met different actions. Two habits of behaviour data make that impossible
whatever the model:

- **actions that follow from the state**: a data set of experts aiming at the
  goal shows the hand moving towards the goal *and* the action pointing there; a
  model cannot tell which of the two moved it, and may learn "the hand goes to
  the goal" (then a policy aiming beside the goal is imagined to succeed). Measured
  as the share of the actions' variance explained by the actions taken at the
  nearest observations (R²), and the share the goal-like entries (those that never
  change within an episode) add to it;
- **narrow actions**: a data set that never shows the robot standing still, or
  that uses only part of the action box, says nothing of what the rest does.
  Measured as the share of steps with every motion entry near zero, and the
  share of each action entry's range the data covers.

Each measure comes with the sentence a user should read when it is out of line,
and what to add to the data. The thresholds are set from the default datasets of
worldgym's tasks and outside suites (docs: Behaviour data, "Data advice").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from worldgym.data.frames import recorded_previous_actions

PREDICTABLE_ACTIONS = 0.5
"""R² of the actions from the observation above which the data cannot separate
what an action does from where the robot is."""
GOAL_SHARE = 0.1
"""Share of the actions' variance explained by the goal-like entries alone (on top
of the others) above which the data ties actions to the goal."""
STILL_SHARE = 0.01
"""Share of steps with the robot told to stand still below which the model never
sees it stand still."""
STILL_LEVEL = 0.05
"""A motion entry within this share of its half-range from the middle is 'still'."""
COVERAGE = 0.8
"""Share of each action entry's range (in ten bins) the data must visit."""
SAMPLE = 20_000
"""Transitions used (a fixed random sample; the figures barely move beyond it)."""


@dataclass(frozen=True)
class DataAdvice:
    """The measures and, for each one out of line, a sentence of advice."""

    action_r2: float
    """Share of the actions' variance the actions at the nearest observations explain."""
    goal_r2: float
    """Share the entries that never change within an episode add to that."""
    still_share: float
    """Share of steps with every motion entry within STILL_LEVEL of the middle."""
    coverage: list[float]
    """Per action entry: share of its range (ten bins) the data visits."""
    history_gain: float
    """The largest share of an entry's one-step change that a linear fit on the
    observation and action leaves unexplained and the three previous actions
    explain: the robot has state its observation does not show (a lagging
    controller), which a model reads from its past actions (the default state
    ensemble reads three)."""
    advice: list[str]
    """One sentence per problem found (empty: nothing to say)."""

    def summary(self) -> dict:
        return asdict(self)


def _r2(inputs: np.ndarray, targets: np.ndarray, queries: int = 4000) -> float:
    """Share of the targets' variance that the mean target of each point's NEIGHBOURS
    nearest inputs (the point itself left out) explains: a dependence of any shape
    (experts' actions are clipped, piecewise functions of the state, which a linear
    fit misses)."""
    if inputs.shape[1] == 0:
        return 0.0
    count = min(queries, len(inputs))
    predicted = np.empty((count, targets.shape[1]))
    squared = np.sum(np.square(inputs), axis=1)
    for start in range(0, count, 500):
        block = slice(start, min(count, start + 500))
        distance = squared[block, None] - 2 * inputs[block] @ inputs.T + squared[None]
        distance[np.arange(block.stop - block.start), np.arange(block.start, block.stop)] = np.inf
        nearest = np.argpartition(distance, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
        predicted[block] = targets[nearest].mean(axis=1)
    residual = np.sum(np.square(targets[:count] - predicted))
    total = np.sum(np.square(targets[:count] - targets.mean(0)))
    return float(max(0.0, 1.0 - residual / max(total, 1e-12)))


NEIGHBOURS = 10
"""Neighbours whose mean action predicts a step's action (see _r2)."""


def data_advice(data, task, motion_dims: int | None = None, seed: int = 0) -> DataAdvice:
    """Measure `data` (an EpisodeDataset of `task`) and say what it lacks.
    `motion_dims`: leading action entries that move the robot (default: all)."""
    transitions = data.transitions()
    rng = np.random.default_rng(seed)
    count = len(transitions["actions"])
    rows = np.sort(rng.choice(count, SAMPLE, replace=False)) if count > SAMPLE else np.arange(count)
    obs = np.asarray(transitions["observations"][rows], np.float64)
    actions = np.asarray(transitions["actions"][rows], np.float64)
    delta = transitions["next_observations"] - transitions["observations"]
    goal_like = np.all(delta == 0.0, axis=0) & (transitions["observations"].std(0) > 0)
    scale = np.maximum(obs.std(0), 1e-12)
    standardised = (obs - obs.mean(0)) / scale * (obs.std(0) > 0)
    action_r2 = _r2(standardised, actions)
    goal_r2 = max(0.0, action_r2 - _r2(standardised[:, ~goal_like], actions))
    low, high = task.action_space.low.astype(np.float64), task.action_space.high.astype(np.float64)
    middle, half = (high + low) / 2, np.maximum((high - low) / 2, 1e-12)
    motion = slice(0, motion_dims or actions.shape[1])
    still = np.all(np.abs(actions[:, motion] - middle[motion]) <= STILL_LEVEL * half[motion],
                   axis=1)  # fmt: skip
    position = np.clip((actions - low) / np.maximum(high - low, 1e-12), 0.0, 1.0 - 1e-9)
    coverage = [float(len(np.unique((position[:, i] * 10).astype(int))) / 10)
                for i in range(actions.shape[1])]  # fmt: skip
    advice = []
    if goal_r2 > GOAL_SHARE:
        advice.append(
            f"The goal explains {goal_r2:.0%} of the actions' variance: the data's policies "
            "aim at it, so a model may learn that the robot moves towards the goal rather "
            "than as commanded; add behaviour that ignores the goal (random, ou, pink, or "
            "play, which sends the policy to random waypoints)."
        )
    elif action_r2 > PREDICTABLE_ACTIONS:
        advice.append(
            f"The observation explains {action_r2:.0%} of the actions' variance: states and "
            "actions go together, so a model cannot tell what an action does from where the "
            "robot is; add exploration noise (random, ou, pink) or noisier behaviours."
        )
    if still.mean() < STILL_SHARE:
        advice.append(
            f"Only {still.mean():.1%} of the steps tell the robot to stand still: a model "
            "will not know what standing still does (a hand left near an object may drift "
            "into it); add behaviours that pause (perturbed-oracle and play pause, or your own)."
        )
    narrow = [i for i, share in enumerate(coverage) if share < COVERAGE]
    if narrow:
        entries = ", ".join(f"{i} ({coverage[i]:.0%})" for i in narrow)
        advice.append(
            f"Action entries {entries} visit less than {COVERAGE:.0%} of their range: a model "
            "will guess what the rest does; add uniform random or ou behaviour."
        )
    gain = history_gain(data, rows)
    if gain > HIDDEN_STATE_GAIN:
        advice.append(
            f"The last three actions explain {gain:.0%} of what the observation and action "
            "leave unexplained of some entry's change: the robot has state its observation "
            "does not show (a lagging controller); models must read past actions (the "
            "default state ensemble reads three: --action-history)."
        )
    return DataAdvice(action_r2, goal_r2, float(still.mean()), coverage, gain, advice)


HIDDEN_STATE_GAIN = 0.3
"""Share of the unexplained change the previous actions explain above which the
data shows hidden state."""


def _linear_r2(inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Held-out R² of a least-squares fit per target column (fit on even rows, scored
    on odd ones; 1 for a column that never varies)."""
    inputs = np.concatenate([inputs, np.ones((len(inputs), 1))], axis=1)
    weights = np.linalg.lstsq(inputs[::2], targets[::2], rcond=None)[0]
    residual = np.sum(np.square(targets[1::2] - inputs[1::2] @ weights), axis=0)
    total = np.sum(np.square(targets[1::2] - targets[1::2].mean(0)), axis=0)
    varies = total > 0
    return np.where(varies, 1.0 - residual / np.where(varies, total, 1.0), 1.0)


def history_gain(data, rows, history: int = 3) -> float:
    """The largest share, over the observation's entries, of an entry's one-step
    change left unexplained by a linear fit on (observation, action) that the
    `history` previous actions explain (entries the fit leaves less than 1% of
    unexplained are skipped: their share is noise)."""
    transitions = data.transitions()
    obs = transitions["observations"][rows].astype(np.float64)
    change = transitions["next_observations"][rows] - transitions["observations"][rows]
    change = change / np.maximum(change.std(0), 1e-12)
    index = np.arange(len(data.actions))[rows]
    previous = recorded_previous_actions(data, data.observation_index()[index], history)
    base = np.concatenate([obs, data.actions[index]], axis=1)
    with_history = np.concatenate([base, previous.reshape(len(index), -1)], axis=1)
    before, after = _linear_r2(base, change), _linear_r2(with_history, change)
    unexplained = 1.0 - before
    shares = np.where(unexplained > 0.01, (after - before) / np.maximum(unexplained, 0.01), 0.0)
    return float(max(0.0, shares.max()))


def format_advice(advice: DataAdvice) -> str:
    lines = [
        f"data advice: actions explained by the observation R² {advice.action_r2:.2f} "
        f"(by the goal-like entries {advice.goal_r2:.2f}); standing still "
        f"{advice.still_share:.1%} of steps; action range visited "
        + ", ".join(f"{share:.0%}" for share in advice.coverage)
        + f"; previous actions explain {advice.history_gain:.0%} of the rest of a change"
    ]
    lines += [f"  - {sentence}" for sentence in advice.advice] or ["  nothing to add."]
    return "\n".join(lines)
