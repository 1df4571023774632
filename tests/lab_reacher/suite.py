"""The lab's reacher as an outside suite would ship it: registered with a callable
entry point (as Meta-World registers its environments), observed as a
goal-conditioned Dict (as Gymnasium-Robotics observes), and in a variant whose
reset ignores the seed it is given and draws its target from numpy's global
generator (as Meta-World's environments do)."""

import gymnasium
import jax.numpy as jnp
import numpy as np

from worldgym import adapt_gym_env

CALLABLE_ID = "LabSuite/DictReacher-v0"
SEEDLESS_ID = "LabSuite/SeedlessReacher-v0"
HOPELESS_ID = "LabSuite/HopelessReacher-v0"


class DictObservation(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """Reacher-v5's observation as {"observation", "achieved_goal", "desired_goal"}."""

    def __init__(self, env):
        gymnasium.utils.RecordConstructorArgs.__init__(self)
        gymnasium.ObservationWrapper.__init__(self, env)
        box = lambda n: gymnasium.spaces.Box(-np.inf, np.inf, (n,), np.float64)  # noqa: E731
        self.observation_space = gymnasium.spaces.Dict(
            {"achieved_goal": box(2), "desired_goal": box(2), "observation": box(10)}
        )

    def observation(self, obs):
        fingertip = obs[4:6] + obs[8:10]
        return {"achieved_goal": fingertip, "desired_goal": obs[4:6].copy(), "observation": obs}


class SeedlessTarget(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Ignores reset's seed: the target comes from numpy's global generator (or, with
    `private`, from a generator of its own that nothing can seed)."""

    def __init__(self, env, private: bool = False):
        gymnasium.utils.RecordConstructorArgs.__init__(self, private=private)
        gymnasium.Wrapper.__init__(self, env)
        self._private = np.random.default_rng() if private else None

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(options=options)
        draw = self._private.uniform if self._private is not None else np.random.uniform
        target = draw(-0.2, 0.2, 2)
        data = self.env.unwrapped.data
        data.qpos[2:4] = target
        self.env.unwrapped.set_state(data.qpos.copy(), data.qvel.copy())
        return self.env.unwrapped._get_obs().astype(np.float64), info


def make_dict_reacher(**kwargs):
    return DictObservation(gymnasium.make("Reacher-v5", **kwargs))


def make_seedless_reacher(**kwargs):
    return SeedlessTarget(gymnasium.make("Reacher-v5", **kwargs))


def make_hopeless_reacher(**kwargs):
    return SeedlessTarget(gymnasium.make("Reacher-v5", **kwargs), private=True)


for _id, _make in ((CALLABLE_ID, make_dict_reacher), (SEEDLESS_ID, make_seedless_reacher),
                   (HOPELESS_ID, make_hopeless_reacher)):  # fmt: skip
    if _id not in gymnasium.registry:  # a lambda, as Meta-World registers its own
        gymnasium.register(id=_id, entry_point=lambda make=_make, **kw: make(**kw),
                           max_episode_steps=50)  # fmt: skip


def near(obs, xp=jnp):
    """Dict reacher flattened: achieved_goal (0:2) within 3 cm of desired_goal (2:4)."""
    return xp.linalg.norm(obs[..., 0:2] - obs[..., 2:4], axis=-1) < 0.03


def dict_task():
    """The Dict reacher through its callable-entry-point id."""
    return adapt_gym_env(CALLABLE_ID, name="LabDictReacher", success_fn=near)


def factory_task():
    """The Dict reacher built by a factory function, with a horizon of 30."""
    return adapt_gym_env(make_dict_reacher, name="LabFactoryReacher", success_fn=near, horizon=30)


def seedless_task():
    """The reacher whose reset ignores its seed (made repeatable by worldgym)."""
    return adapt_gym_env(SEEDLESS_ID, name="LabSeedlessReacher", success_key="never")
