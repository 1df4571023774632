"""An operator-run evaluation on a slow robot: `worldgym session`.

On a real robot each episode takes minutes, a person resets the scene, and often
that person judges success. The session runs the active loop
(worldgym.evaluation.active, anytime-valid) one episode at a time against a live
Gymnasium env: it says which policy to run next and why, runs it, takes the
success label from the env (the task's rule or info key), from the operator
(a prompt), from a file a headless setup appends to, or from a callback; writes
each finished episode to the session folder at once (the whole log rewritten
to a temporary file and renamed, so a stop at any moment leaves the last
complete log), and ends by printing and writing the decision with its guarantee.

Run the same command again and the session resumes: the logged episodes are
replayed into the loop in order (it is deterministic given them, so it retraces
its choices) and the next live episode is the one that was missing. An episode
interrupted half-way is run again from its seed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from worldgym.envs import get_task
from worldgym.evaluation.active import Decision, allocate, parse_threshold
from worldgym.evaluation.estimation import decision_outcome, predictions
from worldgym.evaluation.paired import imagined_outcomes, load_policies
from worldgym.evaluation.selection import PolicyChoice, resolve
from worldgym.files import atomic_file
from worldgym.imagination.engine import initial_observations
from worldgym.options import Confidence
from worldgym.paths import RunPaths
from worldgym.policies.host import host_errors
from worldgym.rollouts.real import run_episodes
from worldgym.seeds import IMAGINED_ONLY, SESSION
from worldgym.specs import import_attribute, is_attribute_spec


@dataclass(frozen=True)
class SessionConfig(Confidence, PolicyChoice):
    budget: int = 100
    """Most real episodes the session may run in all."""
    threshold: str = ""
    """Decide which policies clear this real success rate (e.g. 0.8); empty: which is
    best."""
    tolerance: float = 0.05
    """Finding the best: a policy within this of the best counts as best."""
    first: int = 2
    """Real episodes of every policy before the loop starts choosing."""
    label: str = "task"
    """Where each episode's success label comes from: "task" (the env's own rule),
    "prompt" (ask the operator), "file:PATH" (line n of PATH labels live episode n:
    1/0, y/n, yes/no) or module:attribute (a callable (policy, seed, task_success) ->
    bool)."""
    imagined_episodes: int = 500
    """Imagined-only episodes per policy for the prediction-powered sequences."""
    out: str = ""
    """Session folder (default: runs/sessions/<task>); the same folder resumes."""
    seed: int = SESSION.first
    """First reset seed; live episode n runs from seed + n."""


RESUMABLE = ("task", "policies", "budget", "threshold", "tolerance", "first", "confidence",
             "checkpoint", "imagined_episodes", "seed", "imagination_seed")  # fmt: skip
"""Settings a resumed session must share with the one that wrote the log."""


class SessionLog:
    """The session folder: settings.json and episodes.jsonl, both written atomically."""

    def __init__(self, folder: Path, settings: dict):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        settings = json.loads(json.dumps(settings))  # as it reads back (tuples as lists)
        path = self.folder / "settings.json"
        if path.is_file():
            saved = json.loads(path.read_text())
            changed = [key for key in RESUMABLE if saved.get(key) != settings.get(key)]
            if changed:
                raise ValueError(f"Session {folder} was started with other settings "
                                 f"({', '.join(changed)}); resume it with the same ones or "
                                 "start a new session with --out.")  # fmt: skip
        else:
            with atomic_file(path) as temp:
                temp.write_text(json.dumps(settings, indent=2) + "\n")
        log = self.folder / "episodes.jsonl"
        lines = log.read_text().splitlines() if log.is_file() else []
        self.episodes = [json.loads(line) for line in lines if line.strip()]

    def append(self, episode: dict) -> None:
        self.episodes.append(episode)
        with atomic_file(self.folder / "episodes.jsonl") as temp:
            temp.write_text("".join(json.dumps(e) + "\n" for e in self.episodes))

    def write_decision(self, decision: dict) -> Path:
        path = self.folder / "decision.json"
        with atomic_file(path) as temp:
            temp.write_text(json.dumps(decision, indent=2) + "\n")
        return path


def labeller(spec: str, first_seed: int = SESSION.first):
    """The label source of --label: None for the task's own rule, else a callable
    (policy name, seed, task's success) -> bool."""
    if spec == "task":
        return None
    if spec == "prompt":
        return _prompt
    if spec.startswith("file:"):
        return FileLabels(Path(spec.removeprefix("file:")), first_seed)

    if is_attribute_spec(spec):
        return import_attribute(spec, "--label")
    raise ValueError(f"--label is task, prompt, file:PATH or module:attribute, got {spec!r}.")


def _prompt(policy: str, seed: int, task_success: bool) -> bool:
    while True:
        answer = input(f"Did {policy} succeed (seed {seed}; the env says "
                       f"{'yes' if task_success else 'no'})? [y/n] ").strip().lower()  # fmt: skip
        if answer in ("y", "yes", "1"):
            return True
        if answer in ("n", "no", "0"):
            return False


class FileLabels:
    """Labels from a file a headless setup appends to: line n labels the session's
    episode n (the one from reset seed first_seed + n - 1), across resumptions."""

    TRUE, FALSE = ("1", "y", "yes", "true", "success"), ("0", "n", "no", "false", "failure")

    def __init__(self, path: Path, first_seed: int):
        self.path, self.first_seed = path, first_seed

    def __call__(self, policy: str, seed: int, task_success: bool) -> bool:
        lines = (
            [line.strip().lower() for line in self.path.read_text().splitlines()]
            if self.path.is_file()
            else []
        )
        lines = [line for line in lines if line]
        number = seed - self.first_seed + 1
        if number > len(lines):
            raise LabelsMissing(f"No label yet for episode {number} ({policy}, seed {seed}) "
                                f"in {self.path}; add it and run the session again.")  # fmt: skip
        text = lines[number - 1]
        if text not in self.TRUE + self.FALSE:
            raise ValueError(f"Label {number} in {self.path} is {text!r}; write 1 or 0 "
                             "(or y/n, yes/no).")  # fmt: skip
        return text in self.TRUE


class LabelsMissing(ValueError):
    """The operator has not labelled the episode yet: the session stops (in one
    sentence, like bad input) and resumes when run again."""


@dataclass(frozen=True)
class SessionResult:
    decision: str
    settled: bool
    episodes: int
    resumed: int  # episodes replayed from the log
    estimates: list[dict]
    folder: str


def run_session(config: SessionConfig, task=None, label=None, say=print) -> SessionResult:
    """Run (or resume) an operator session; `task` and `label` override the config's
    (a Task object; a labelling callable)."""

    check_config(config)
    task = task or get_task(config.task)
    label = label if label is not None else labeller(config.label, config.seed)
    policies = load_policies(task, config.policies)  # before the model: cheap to refuse
    model = resolve(config, task=task).model
    names = [p.name for p in policies]
    folder = Path(config.out or RunPaths().session(task.name))
    log = SessionLog(folder, asdict(config))
    decision = Decision(parse_threshold(config.threshold), config.tolerance)
    cache = Path(config.cache)

    def imagine(chosen, seeds, imagination_seed):
        outcomes = imagined_outcomes(model, task, chosen, initial_observations(task, seeds),
                                     seeds, cache, imagination_seed, progress=False)  # fmt: skip
        return [predictions(o, "members") for o in outcomes]

    logged = {name: [e for e in log.episodes if e["policy"] == name] for name in names}
    used = dict.fromkeys(names, 0)
    resumed = len(log.episodes)
    why_now = {"text": "the first episodes of every policy"}

    def announce(chosen, why):
        why_now["text"] = why

    def draw(index: int, count: int):
        name = names[index]
        real, paired = [], []
        for _ in range(count):
            if used[name] < len(logged[name]):
                episode = logged[name][used[name]]
            else:
                seed = config.seed + len(log.episodes)
                say(f"Next: run {name} from reset seed {seed} ({why_now['text']}).")
                start = time.perf_counter()
                with host_errors():
                    ran = run_episodes(task, policies[index], [seed], progress=False)[0]
                    prediction = imagine(
                        [policies[index]], np.array([seed]), config.imagination_seed
                    )[0][0]
                success = ran.success if label is None else bool(label(name, seed, ran.success))
                episode = {"policy": name, "seed": seed, "success": bool(success),
                           "task_success": bool(ran.success), "prediction": float(prediction),
                           "seconds": round(time.perf_counter() - start, 3),
                           "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime())}  # fmt: skip
                log.append(episode)
                logged[name].append(episode)
                say(f"  {name}: {'success' if success else 'failure'} "
                    f"({len(log.episodes)} real episodes logged).")  # fmt: skip
            used[name] += 1
            real.append(float(episode["success"]))
            paired.append(float(episode["prediction"]))
        return np.array(real), np.array(paired)

    if resumed:
        say(f"Resuming {folder}: {resumed} logged episodes replayed.")
    with host_errors():
        only_seeds = IMAGINED_ONLY.first + np.arange(config.imagined_episodes)
        imagined_only = [np.zeros(0)] * len(policies)
        if config.imagined_episodes:
            imagined_only = imagine(policies, only_seeds, config.imagination_seed + 1)
    result = allocate(draw, imagined_only, decision, names, config.budget, config.first, 1,
                      config.confidence, announce=announce)  # fmt: skip
    outcome = decision_outcome(decision, result, names)
    estimates = [{"policy": name, "rate": e.rate, "low": e.low, "high": e.high,
                  "real_episodes": e.real_episodes}
                 for name, e in zip(names, result.estimates, strict=True)]  # fmt: skip
    log.write_decision({"decision": outcome, "settled": result.settled,
                        "episodes": result.spent, "estimates": estimates,
                        "intervals": "anytime-valid confidence sequences"})  # fmt: skip
    say(outcome)
    return SessionResult(outcome, result.settled, result.spent, resumed, estimates, str(folder))


def check_config(config: SessionConfig) -> None:
    """Refuse bad settings in one sentence each, before the robot moves."""
    if config.first < 1:
        raise ValueError(f"--first must be at least 1, got {config.first}.")
    if config.budget < config.first:
        raise ValueError(f"--budget ({config.budget}) must pay for at least --first "
                         f"({config.first}) episodes of every policy.")  # fmt: skip
    if not 0.5 <= config.confidence < 1:
        raise ValueError(f"--confidence must be in [0.5, 1), got {config.confidence}.")
    parse_threshold(config.threshold)
    if (
        config.label not in ("task", "prompt")
        and not config.label.startswith("file:")
        and ":" not in config.label
    ):
        raise ValueError(f"--label is task, prompt, file:PATH or module:attribute, got "
                         f"{config.label!r}.")  # fmt: skip
