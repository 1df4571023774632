"""An RL library nobody here wrote, trained through `gymnasium.make_vec` of the imagined
environment: skrl's PPO with its JAX backend (a dev dependency: it installs without
torch). Stable-Baselines3 stays the documented optional extra (scripts/rl_in_imagination.py)."""

import gymnasium
import jax
import numpy as np
import pytest

import worldgym  # noqa: F401  (registers the imagined environments)

skrl = pytest.importorskip("skrl")


def skrl_models(env):
    """A Gaussian policy and a value MLP, as skrl's Flax models."""
    import flax.linen as nn
    import jax.numpy as jnp
    from skrl.models.jax import DeterministicMixin, GaussianMixin, Model

    class Policy(GaussianMixin, Model):
        def __init__(self, observation_space, state_space, action_space, device, **kwargs):
            Model.__init__(self, observation_space=observation_space, state_space=state_space,
                           action_space=action_space, device=device, **kwargs)  # fmt: skip
            GaussianMixin.__init__(self, clip_actions=True)

        @nn.compact
        def __call__(self, inputs, role):
            x = nn.tanh(nn.Dense(64)(inputs["observations"]))
            log_std = self.param("log_std", lambda _: jnp.full(self.num_actions, -0.5))
            return nn.tanh(nn.Dense(self.num_actions)(x)), {"log_std": log_std}

    class Value(DeterministicMixin, Model):
        def __init__(self, observation_space, state_space, action_space, device, **kwargs):
            Model.__init__(self, observation_space=observation_space, state_space=state_space,
                           action_space=action_space, device=device, **kwargs)  # fmt: skip
            DeterministicMixin.__init__(self)

        @nn.compact
        def __call__(self, inputs, role):
            return nn.Dense(1)(nn.tanh(nn.Dense(64)(inputs["observations"]))), {}

    spaces = (env.observation_space, env.state_space, env.action_space, env.device)
    models = {"policy": Policy(*spaces), "value": Value(*spaces)}
    for role, model in models.items():
        model.init_state_dict(role=role)
    return models


def test_skrl_ppo_trains_in_the_imagined_vector_env(reach_ensemble_run, tmp_path):
    """A short skrl PPO run through gymnasium.make_vec of the imagined Reach task: its
    updates change the policy, and the trained policy acts inside the action space."""
    from skrl import config
    from skrl.agents.jax.ppo import PPO, PPO_CFG
    from skrl.envs.wrappers.jax import wrap_env
    from skrl.memories.jax import RandomMemory
    from skrl.trainers.jax import SequentialTrainer
    from skrl.utils import set_seed

    config.jax.backend = "jax"
    skrl.logger.setLevel("WARNING")  # its exit hook logs to pytest's closed streams otherwise
    set_seed(0)
    vector = gymnasium.make_vec("worldgym/Reach-imagined-v0", num_envs=32,
                                vectorization_mode="vector_entry_point",
                                checkpoint=str(reach_ensemble_run[1]))  # fmt: skip
    env = wrap_env(vector, verbose=False)
    models = skrl_models(env)
    cfg = PPO_CFG()
    cfg.rollouts, cfg.learning_epochs, cfg.mini_batches = 16, 2, 4
    cfg.experiment.write_interval = cfg.experiment.checkpoint_interval = 0
    cfg.experiment.directory = str(tmp_path)
    agent = PPO(models=models, memory=RandomMemory(memory_size=16, num_envs=32, device=env.device),
                cfg=cfg, observation_space=env.observation_space, state_space=env.state_space,
                action_space=env.action_space, device=env.device)  # fmt: skip
    before = jax.tree_util.tree_map(np.array, models["policy"].state_dict.params)
    settings = {"timesteps": 48, "headless": True, "disable_progressbar": True}
    trainer = SequentialTrainer(cfg=settings, env=env, agents=agent)
    trainer.train()
    after = jax.tree_util.tree_map(np.array, models["policy"].state_dict.params)
    changed = jax.tree_util.tree_map(lambda a, b: bool(np.any(a != b)), before, after)
    assert all(jax.tree_util.tree_leaves(changed))  # three PPO updates ran
    observations, _ = vector.reset(seed=0)
    actions, _ = models["policy"].act({"observations": np.asarray(observations)}, role="policy")
    actions = np.asarray(actions)
    assert actions.shape == (32, 2) and np.all(np.abs(actions) <= 1.0)
    env.close()
