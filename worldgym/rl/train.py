"""`worldgym rl`: train a PPO agent inside a world model, then check it in reality.

The run folder holds Orbax checkpoints of the whole training state (agent,
optimiser, imagined episodes in flight, random key), so an interrupted run
resumes exactly where it stopped; `metrics.jsonl` and `learning_curve.png` after
every checkpoint; `agent.npz`, the trained policy; and `evaluation.json`, the
agent's success and return in both worlds from the same reset seeds.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from worldgym.data.dataset import find_dataset, load_dataset
from worldgym.data.frames import recorded_inputs
from worldgym.envs import get_task
from worldgym.evaluation.calibrate import gap_interval
from worldgym.evaluation.differences import wilson_interval
from worldgym.evaluation.outcomes import Outcomes
from worldgym.evaluation.selection import ModelChoice, resolve
from worldgym.files import atomic_file
from worldgym.fingerprints import model_fingerprint
from worldgym.imagination.engine import initial_observations, rollout_policy
from worldgym.paths import RunPaths
from worldgym.plotting import save_figure, subplots
from worldgym.policies.neural import agent_policy, layers_to_arrays
from worldgym.rl.ppo import (
    PPOConfig,
    RunnerState,
    Starts,
    combine_starts,
    make_trainer,
    reset_starts,
)
from worldgym.rollouts.real import run_episodes_in_lockstep
from worldgym.seeds import RL_STARTS
from worldgym.training import checkpoint

START_SEED = RL_STARTS.first
"""Reset seeds of the training starts begin here, far from evaluation seeds."""
STARTS = ("resets", "dataset", "both")


@dataclass(frozen=True)
class RLConfig(ModelChoice):
    """`worldgym rl`: the world model to train in (--checkpoint) and the agent's run."""

    out: str = ""
    """Agent folder (default: runs/agents/<task>-ppo, -ppo-penalty<λ> with a penalty)."""
    starts: str = "resets"
    """Where imagined episodes start: the task's real reset states ("resets"), states
    of the model's training dataset ("dataset"), or half of each ("both")."""
    start_states: int = 4096
    """How many start states to draw from."""
    checkpoint_every: int = 25
    """Updates between checkpoints (and points of the learning curve file)."""
    episodes: int = 100
    """Episodes per world of the final check (reset seeds 0, 1, ...)."""


def agent_folder(config: RLConfig, ppo: PPOConfig, task_name: str) -> Path:

    return Path(config.out) if config.out else RunPaths().agent(task_name, ppo.uncertainty_penalty)


def dataset_starts(model, task, count: int, seed: int) -> Starts:
    """`count` observations drawn from the model's training dataset (any step)."""

    source = model.metadata.get("provenance", {}).get("dataset")
    try:
        data = load_dataset(find_dataset(source), task)
    except (FileNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"Dataset starts need the model's training dataset, and {source!r} (named in the "
            "checkpoint) cannot be read: use --starts resets."
        ) from None
    index = np.random.default_rng(seed).choice(len(data.observations), count)
    observations = data.observations[index]
    inputs = None
    if model.initial_input is not None:
        inputs = recorded_inputs(model, data, index)
        inputs = model.initial_inputs(observations) if inputs is None else np.asarray(inputs)
    return Starts(jnp.asarray(observations), inputs)


def training_starts(model, task, config: RLConfig, seed: int) -> Starts:
    if config.starts not in STARTS:
        raise ValueError(f"--starts must be one of {', '.join(STARTS)}, got {config.starts!r}.")
    if config.start_states < 1:
        raise ValueError(f"--start-states must be at least 1, got {config.start_states}.")
    half = max(1, config.start_states // 2)
    resets = range(START_SEED, START_SEED + (half if config.starts == "both"
                                             else config.start_states))  # fmt: skip
    if config.starts == "resets":
        return reset_starts(model, task, resets)
    if config.starts == "dataset":
        return dataset_starts(model, task, config.start_states, seed)
    both = (reset_starts(model, task, resets), dataset_starts(model, task, half, seed))
    return combine_starts(*both)


def _identity(config: RLConfig, ppo: PPOConfig, fingerprint: str) -> dict:
    """What a run's results depend on: resuming with anything else is refused. The
    number of updates is not part of it, so a finished run can be trained on."""
    settings = {k: v for k, v in asdict(ppo).items() if k != "updates"}
    identity = {"task": config.task, "model": fingerprint, "starts": config.starts,
                "start_states": config.start_states, "ppo": settings}  # fmt: skip
    return json.loads(json.dumps(identity))  # as the checkpoint's JSON gives it back


def _savable(state: RunnerState):
    """The runner state with its PRNG key as raw data (Orbax stores plain arrays)."""
    return state._replace(key=jax.random.key_data(state.key))


def _loaded(state) -> RunnerState:
    return RunnerState(*state)._replace(key=jax.random.wrap_key_data(state.key))


def restore_or_start(out: Path, init, identity: dict, seed: int) -> tuple[RunnerState, list]:
    """The latest checkpoint of this run (refused if it is another run's), or a fresh
    start; with the metrics logged so far."""

    fresh = init(jax.random.key(seed))
    resumed = checkpoint.resume(out, _savable(fresh), identity, f"{out} holds another training "
                                "run (other task, model or PPO settings): choose another "
                                "--out, or delete it to start again.")  # fmt: skip
    if resumed is None:
        return fresh, []
    state, history = resumed
    return _loaded(state), history


def plot_learning_curve(history: list[dict], path: Path, title: str) -> None:

    rows = [row for row in history if row.get("episodes")]  # rollouts in which episodes ended
    steps = [row["imagined_steps"] for row in rows]
    figure, (left, right) = subplots(1, 2, figsize=(10, 3.6), dpi=120)
    left.plot(steps, [row["imagined_return"] for row in rows], color="#0969da")
    left.set_ylabel("imagined episode return")
    right.plot(steps, [row["imagined_success"] for row in rows], color="#1a7f37")
    right.set_ylim(-0.02, 1.02)
    right.set_ylabel("imagined success rate")
    for axes in (left, right):
        axes.set_xlabel("imagined steps")
        axes.grid(True, alpha=0.3)
    figure.suptitle(title)
    save_figure(figure, path)


@dataclass(frozen=True)
class WorldCheck:
    """An agent's episodes in one world (imagined or real)."""

    success: float
    """Success rate."""
    success_interval: tuple[float, float]
    """Its 95% Wilson interval."""
    mean_return: float
    """Mean episode return."""


@dataclass(frozen=True)
class BothWorlds:
    """An agent checked from the same reset seeds in imagination and for real."""

    episodes: int
    imagined: WorldCheck
    real: WorldCheck
    gap: float
    """Imagined minus real success rate."""
    gap_interval: tuple[float, float]
    """Its 95% score interval for paired proportions (Tango's; both worlds start
    episode i from reset seed i)."""


@dataclass(frozen=True)
class AgentResult:
    """What `worldgym rl` trained and how the agent did (also in evaluation.json)."""

    out: Path
    """The agent's folder: agent.npz, metrics.jsonl, learning_curve.png."""
    updates: int
    imagined_steps: int
    imagined_steps_per_s: float
    check: BothWorlds


def train_agent(config: RLConfig, ppo: PPOConfig, progress: bool = True) -> AgentResult:
    """Train (or resume) PPO in the world model; evaluate the agent in both worlds."""

    task = get_task(config.task)
    model = resolve(config, task=task).model
    out = agent_folder(config, ppo, task.name)
    identity = _identity(config, ppo, model_fingerprint(model))
    init, update = make_trainer(model, task, ppo, training_starts(model, task, config, ppo.seed))
    state, history = restore_or_start(out, init, identity, ppo.seed)
    done = int(state.update)
    steps_per_update = ppo.envs * ppo.rollout_steps
    bar = tqdm(total=ppo.updates, initial=done, desc=f"{task.name} PPO in imagination",
               disable=not progress)  # fmt: skip
    started, start_update = time.perf_counter(), done
    while done < ppo.updates:
        state, metrics = update(state)
        done += 1
        rate = (done - start_update) * steps_per_update / (time.perf_counter() - started)
        metrics = {k: float(v) if np.isfinite(v) else None  # None: no episode ended
                   for k, v in jax.device_get(metrics).items()}  # fmt: skip
        history.append({"update": done, "imagined_steps": done * steps_per_update,
                        "imagined_steps_per_s": rate, **metrics})  # fmt: skip
        bar.update(1)
        if metrics["episodes"]:  # the bar shows the last rollout in which episodes ended
            bar.set_postfix(steps_s=f"{rate:,.0f}", ret=f"{metrics['imagined_return']:.2f}",
                            success=f"{metrics['imagined_success']:.2f}")  # fmt: skip
        if done % config.checkpoint_every == 0 or done == ppo.updates:
            checkpoint.save_run(out, done, _savable(state), identity, history, keep=2)
            with atomic_file(out / "metrics.jsonl") as temp:
                temp.write_text("".join(json.dumps(row) + "\n" for row in history))
            plot_learning_curve(history, out / "learning_curve.png",
                                f"{task.name}: PPO inside the world model")  # fmt: skip
    bar.close()
    with atomic_file(out / "agent.npz") as temp:
        np.savez(temp, **agent_arrays(state.agent))
    check = check_in_both_worlds(model, task, agent_policy(out.name, state.agent),
                                 range(config.episodes))  # fmt: skip
    result = AgentResult(
        out=out, updates=done, imagined_steps=done * steps_per_update,
        imagined_steps_per_s=history[-1]["imagined_steps_per_s"] if history else 0.0,
        check=check,
    )  # fmt: skip
    with atomic_file(out / "evaluation.json") as temp:
        temp.write_text(json.dumps({**asdict(result), "out": str(out)}, indent=2))
    return result


def agent_arrays(agent) -> dict[str, np.ndarray]:
    """The acting part of an agent as named arrays (the policies/weights format)."""

    return layers_to_arrays(agent["actor"], obs_center=agent["obs_center"],
                            obs_scale=agent["obs_scale"])  # fmt: skip


def check_in_both_worlds(model, task, policy, seeds) -> BothWorlds:
    """Success rate and mean return of `policy` from each reset seed, imagined and real
    (Wilson intervals for the rates, Tango's paired score interval for their gap)."""

    seeds = [int(seed) for seed in seeds]
    trajectories = rollout_policy(model, policy, initial_observations(task, seeds),
                                  jax.random.key(0), task, seeds=seeds)  # fmt: skip
    imagined = Outcomes.from_trajectories(trajectories, task)
    real = Outcomes.from_episodes(run_episodes_in_lockstep(task, policy, seeds), task)
    imagined_check, real_check = (world_check(outcomes) for outcomes in (imagined, real))
    low, high = gap_interval(real.success, imagined.success)
    return BothWorlds(
        len(seeds),
        imagined_check,
        real_check,
        imagined_check.success - real_check.success,
        (float(low), float(high)),
    )


def world_check(outcomes: Outcomes) -> WorldCheck:
    low, high = wilson_interval(outcomes.success.sum(), len(outcomes.success))
    return WorldCheck(
        float(outcomes.success.mean()), (float(low), float(high)), float(outcomes.returns.mean())
    )


def format_check(result: AgentResult) -> str:
    check = result.check
    lines = [f"{result.imagined_steps:,} imagined steps "
             f"({result.imagined_steps_per_s:,.0f}/s); {check.episodes} episodes "
             "per world from reset seeds 0...:"]  # fmt: skip
    for world, row in (("imagined", check.imagined), ("real", check.real)):
        low, high = row.success_interval
        lines.append(f"  {world:<9} success {row.success:.0%} [{low:.0%}, {high:.0%}]   "
                     f"return {row.mean_return:8.2f}")  # fmt: skip
    low, high = check.gap_interval
    lines.append(f"  imagined - real success: {check.gap:+.0%} [{low:+.0%}, {high:+.0%}] "
                 "(95%, Tango's score interval over paired episodes)")  # fmt: skip
    lines.append(f"agent: {result.out / 'agent.npz'}; learning curve: "
                 f"{result.out / 'learning_curve.png'}")  # fmt: skip
    return "\n".join(lines)
