"""The graded policy zoo of each task: policies whose real success rates span
the whole range, so that rankings of them mean something.

They differ in kind, not only in noise: gains, action noise, random jitter,
biased targets, perception latency, wrong approach directions, grasp timing
errors, early release, and small neural networks trained by behaviour cloning
(`scripts/train_bc.py`). The zoo is for *evaluation*: it is not used to collect
world-model training data unless asked (see policies/behaviour.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from worldgym.policies.neural import neural_policies, shipped_kinds
from worldgym.policies.novel import NOVEL_SETS
from worldgym.policies.perturbed import oracle, perturbed_policy
from worldgym.policies.protocol import Policy
from worldgym.policies.sets import DEFAULT_SET, policy_set, register_policy_set, set_names


def _reach() -> list[Policy]:
    p = lambda name, text, **kw: perturbed_policy("Reach", name, text, **kw)  # noqa: E731
    return [
        oracle("Reach"),
        p("weak", "Oracle with 20% of the torque: slow, but usually in time.", gain=0.2),
        p("feeble", "Oracle with 15% of the torque: too slow for far targets.", gain=0.15),
        p("noisy", "Oracle plus Gaussian action noise (std 0.5).", noise=0.5),
        p("shaky", "85% of its actions are uniformly random.", random_prob=0.85),
        p("jittery", "Half of its actions are uniformly random.", random_prob=0.5),
        p("biased-2.5cm", "Aims 2.5 cm beside the target.", target_bias=(0.025, 0.0)),
        p("biased-4cm", "Aims 4 cm beside the target.", target_bias=(0.03, 0.03)),
        p("laggy", "Acts on where the arm was 300 ms ago.", latency=0.3),
        p("undamped", "No velocity feedback: overshoots and swings.", damping=0.0),
        p(
            "wrong-elbow",
            "Asks for the other elbow branch: dithers at the straight arm.",
            elbow_flip=1.0,
        ),  # fmt: skip
        p("frozen", "Sends zero torque: the arm stays where it started.", gain=0.0),
        p("random", "Uniformly random torques.", random_prob=1.0),
    ]


def _push() -> list[Policy]:
    p = lambda name, text, **kw: perturbed_policy("Push", name, text, **kw)  # noqa: E731
    return [
        oracle("Push"),
        p("half-speed", "Oracle at half speed.", gain=0.5),
        p("slow", "Oracle at 35% of the speed: runs out of time on far goals.", gain=0.35),
        p("noisy", "Oracle plus Gaussian action noise (std 0.5).", noise=0.5),
        p("very-noisy", "Oracle plus Gaussian action noise (std 1.0).", noise=1.0),
        p("jittery", "40% of its actions are uniformly random.", random_prob=0.4),
        p("biased-4cm", "Pushes the block to 4 cm beside the goal.", target_bias=(0.04, 0.0)),
        p("biased-6cm", "Pushes the block to 6 cm beside the goal.", target_bias=(0.0, 0.06)),
        p("laggy", "Acts on where things were 120 ms ago.", latency=0.12),
        p(
            "off-centre",
            "Pushes 1.5 cm off the block's centre line: the block turns.",
            contact_offset=0.015,
        ),  # fmt: skip
        p("skewed", "Pushes 50 degrees off the goal direction.", push_angle=0.9),
        p("frozen", "Never moves.", gain=0.0),
        p("random", "Uniformly random velocities.", random_prob=1.0),
    ]


def _pick_place() -> list[Policy]:
    p = lambda name, text, **kw: perturbed_policy("PickPlace", name, text, **kw)  # noqa: E731
    return [
        oracle("PickPlace"),
        p("slow", "Oracle at 30% of the hand speed.", gain=0.3),
        p("noisy", "Oracle plus Gaussian action noise (std 0.3).", noise=0.3),
        p("very-noisy", "Oracle plus Gaussian action noise (std 0.5).", noise=0.5),
        p("jittery", "20% of its actions are uniformly random.", random_prob=0.2),
        p(
            "early-release",
            "Opens the fingers once the cube is within 4.5 cm of the goal.",
            release_distance=0.045,
        ),  # fmt: skip
        p(
            "drops-it",
            "Opens the fingers once the cube is within 15 cm of the goal.",
            release_distance=0.15,
        ),  # fmt: skip
        p("high-grasp", "Closes the fingers 1.2 cm above the cube's centre.", grasp_height=0.012),
        p(
            "biased-4cm",
            "Carries the cube to 3.8 cm beside the goal.",
            target_bias=(0.038, 0.0, 0.0),
        ),  # fmt: skip
        p("sluggish", "Oracle at 20% of the hand speed.", gain=0.2),
        p("laggy", "Acts on where things were 150 ms ago.", latency=0.15),
        p("frozen", "Never moves.", gain=0.0),
        p("random", "Uniformly random hand velocities and grip.", random_prob=1.0),
    ]


def register_zoo(task_name: str, build: Callable[[], Sequence[Policy]]) -> None:
    """Give a task a zoo (its default policy set): `build()` returns its graded
    policies (called once, lazily). A task needs no zoo; without one, evaluation
    runs the policies a user names."""
    register_policy_set(task_name, DEFAULT_SET, build)


def has_zoo(task_name: str) -> bool:
    return DEFAULT_SET in set_names(task_name)


def zoo(task_name: str) -> tuple[Policy, ...]:
    """The zoo of a task (empty for a task without one)."""
    return policy_set(task_name, DEFAULT_SET)


for _name, _build in (("Reach", _reach), ("Push", _push), ("PickPlace", _pick_place)):
    # worldgym's own zoos, through the same door: scripted policies, then neural ones;
    # and the novel sets, other kinds of policy (policies/novel.py).
    register_zoo(_name, lambda build=_build, name=_name: (*build(), *neural_policies(name)))
    register_policy_set(_name, "novel", NOVEL_SETS[_name])
    if "agent" in shipped_kinds(_name):  # agents trained only inside its default model
        register_policy_set(_name, "imagined", lambda name=_name: neural_policies(name, "agent"))
