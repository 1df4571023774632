"""PPO inside the batched imagination engine (in the style of PureJaxRL).

One jitted `update` does a whole PPO iteration: thousands of imagined episodes
step together through the world model for `rollout_steps` (a lax.scan), the
advantages come from GAE, and the clipped surrogate is optimised for a few epochs
of shuffled minibatches. Nothing steps per Python iteration but `update` itself.
With several devices, the parallel episodes are split over all of them
(worldgym.devices, as the engine splits its episodes; parameters stay replicated),
and the result does not depend on the device count.

What world-model RL needs on top of plain PPO:

- the reward is the task's own reward function on the imagined observations;
- `uncertainty_penalty` λ subtracts λ × ensemble disagreement from each reward
  (MOPO, Yu et al. 2020), so the agent is paid less where the model is unsure;
- `halt_uncertainty` ends an imagined episode whose disagreement exceeds it
  (MOReL's halting, Kidambi et al. 2020); so does divergence of the model;
- episodes start from real reset states (the task's own resets) and, with
  `dataset_starts`, also from states of the behaviour dataset.

The agent is a Gaussian actor (tanh mean, learned log std) and a critic, both
MLPs on observations normalised by the world model's own observation scale.
`worldgym.policies.neural.agent_policy` turns it into a worldgym Policy (the
deterministic mean action), jittable and vmappable like every zoo policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from worldgym.devices import batch_sharding
from worldgym.imagination.engine import (
    episode_ends,
    initial_observations,
    make_guarded_step,
    world_of,
)
from worldgym.policies.neural import agent_mean, normalised_observation, tanh_mlp


@dataclass(frozen=True)
class PPOConfig:
    envs: int = 1024
    """Imagined episodes stepping together."""
    rollout_steps: int = 16
    """Steps per episode slot between updates."""
    updates: int = 250
    """PPO iterations (each envs × rollout_steps imagined steps)."""
    epochs: int = 4
    """Passes over each rollout."""
    minibatches: int = 4
    """Minibatches per pass."""
    learning_rate: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    initial_log_std: float = -0.5
    uncertainty_penalty: float = 0.0
    """λ of the MOPO-style penalty: reward - λ × ensemble disagreement."""
    halt_uncertainty: float = 0.0
    """End an imagined episode when its disagreement exceeds this (MOReL); 0: never."""
    seed: int = 0

    def __post_init__(self):
        if self.uncertainty_penalty < 0:
            raise ValueError(f"The uncertainty penalty must be 0 or more, got "
                             f"{self.uncertainty_penalty}.")  # fmt: skip
        if self.halt_uncertainty < 0:
            raise ValueError(f"The halting threshold must be 0 or more, got "
                             f"{self.halt_uncertainty}.")  # fmt: skip
        for name in ("envs", "rollout_steps", "updates", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if (self.envs * self.rollout_steps) % self.minibatches:
            raise ValueError(f"envs × rollout_steps ({self.envs * self.rollout_steps}) must "
                             f"divide into {self.minibatches} minibatches.")  # fmt: skip


# --- the agent -------------------------------------------------------------------------
def _mlp_init(key, sizes, last_scale: float) -> list[dict]:
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    for index, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True)):
        scale = last_scale if index == len(sizes) - 2 else jnp.sqrt(2.0)
        w = jax.nn.initializers.orthogonal(scale)(k, (n_in, n_out))
        layers.append({"w": w, "b": jnp.zeros(n_out)})
    return layers


def init_agent(key, obs_dim: int, action_dim: int, config: PPOConfig, center, scale) -> dict:
    """Actor, critic, log std and the fixed observation normalisation."""
    actor_key, critic_key = jax.random.split(key)
    sizes = (obs_dim, *config.hidden)
    return {
        "actor": _mlp_init(actor_key, (*sizes, action_dim), 0.01),
        "critic": _mlp_init(critic_key, (*sizes, 1), 1.0),
        "log_std": jnp.full(action_dim, config.initial_log_std, jnp.float32),
        "obs_center": jnp.asarray(center, jnp.float32),
        "obs_scale": jnp.asarray(scale, jnp.float32),
    }


def agent_value(agent, obs):
    return tanh_mlp(agent["critic"], normalised_observation(agent, obs))[..., 0]


def _log_prob(agent, obs, action):
    mean, log_std = agent_mean(agent, obs), agent["log_std"]
    z = (action - mean) / jnp.exp(log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


# --- imagined episodes ----------------------------------------------------------------
class Starts(NamedTuple):
    """The states imagined episodes start from: observations [P, d] and, for a model
    that starts from something else (frames), its inputs [P, ...] (else None)."""

    observations: jax.Array
    inputs: object


class EnvState(NamedTuple):
    carry: object
    obs: jax.Array  # [E, d]
    t: jax.Array  # [E] steps into the episode
    returns: jax.Array  # [E] return so far (task reward, without the penalty)
    success: jax.Array  # [E] bool, reached success this episode


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array  # penalised (a truncated episode's includes its bootstrap value)
    done: jax.Array  # the episode ended at this step (terminated or truncated)
    episode_return: jax.Array
    episode_success: jax.Array
    uncertainty: jax.Array


class RunnerState(NamedTuple):
    agent: dict
    opt_state: object
    env: EnvState
    key: jax.Array
    update: jax.Array


def make_trainer(model, task, config: PPOConfig, starts: Starts):
    """(init(key) -> RunnerState, update(RunnerState) -> (RunnerState, metrics)),
    both jitted; `update` is one whole PPO iteration."""
    world = world_of(model)
    guarded = jax.vmap(make_guarded_step(model, task), in_axes=(None, 0, 0, 0, 0))
    model_init = jax.vmap(model.init_fn, in_axes=(None, 0, 0))
    horizon = task.horizon
    batch = config.envs * config.rollout_steps
    optimiser = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                            optax.adam(config.learning_rate, eps=1e-5))  # fmt: skip
    pool = len(starts.observations)
    sharding = batch_sharding(config.envs)  # the episodes over all devices (None: one)

    def spread(env: EnvState) -> EnvState:
        """Every episode's state on its device: XLA partitions the rollout accordingly."""
        if sharding is None:
            return env
        return jax.tree_util.tree_map(lambda x: jax.lax.with_sharding_constraint(x, sharding),
                                      env)  # fmt: skip

    def fresh(key, count):
        pick_key, init_key = jax.random.split(key)
        index = jax.random.randint(pick_key, (count,), 0, pool)
        obs = starts.observations[index]
        source = obs if starts.inputs is None else jax.tree_util.tree_map(
            lambda x: x[index], starts.inputs)  # fmt: skip
        carry = model_init(world.params, source, jax.random.split(init_key, count))
        zeros = jnp.zeros(count)
        return spread(EnvState(carry, obs, zeros.astype(jnp.int32), zeros, zeros.astype(bool)))

    def env_step(env: EnvState, action, key):
        step_key, reset_key = jax.random.split(key)
        result = guarded(world, env.carry, env.obs, action,
                         jax.random.split(step_key, config.envs))  # fmt: skip
        t = env.t + 1
        reached = result.predicate_success
        terminated, truncated = episode_ends(task, reached, result.diverged, t, horizon)
        if config.halt_uncertainty > 0:
            terminated = terminated | (result.uncertainty > config.halt_uncertainty)
        done = terminated | truncated
        reward = result.reward - config.uncertainty_penalty * result.uncertainty
        returns = env.returns + result.reward
        success = env.success | reached
        episode_success = success if task.terminate_on_success else reached
        restart = fresh(reset_key, config.envs)
        keep = lambda new, old: jnp.where(  # noqa: E731
            done.reshape(done.shape + (1,) * (new.ndim - 1)), new, old
        )
        next_env = EnvState(
            jax.tree_util.tree_map(keep, restart.carry, result.carry),
            keep(restart.obs, result.obs), jnp.where(done, 0, t),
            jnp.where(done, 0.0, returns), jnp.where(done, False, success),
        )  # fmt: skip
        # A truncated episode's value is bootstrapped from its last observation.
        truncated = done & ~terminated
        return next_env, reward, done, truncated, result, returns, episode_success

    def init(key) -> RunnerState:
        agent_key, env_key, key = jax.random.split(key, 3)
        agent = init_agent(agent_key, task.obs_dim, task.action_dim, config,
                           model.observation_center, model.observation_scale)  # fmt: skip
        return RunnerState(agent, optimiser.init(agent), fresh(env_key, config.envs), key,
                           jnp.zeros((), jnp.int32))  # fmt: skip

    def rollout(state: RunnerState):
        def one(carry, key):
            env, agent = carry
            act_key, step_key = jax.random.split(key)
            mean = agent_mean(agent, env.obs)
            action = mean + jnp.exp(agent["log_std"]) * jax.random.normal(act_key, mean.shape)
            log_prob = _log_prob(agent, env.obs, action)
            value = agent_value(agent, env.obs)
            next_env, reward, done, truncated, result, returns, success = env_step(
                env, jnp.clip(action, -1.0, 1.0), step_key
            )
            bootstrap = jnp.where(truncated, config.gamma * agent_value(agent, result.obs), 0.0)
            transition = Transition(env.obs, action, log_prob, value, reward + bootstrap, done,
                                    returns, success, result.uncertainty)  # fmt: skip
            return (next_env, agent), transition

        key, rollout_key = jax.random.split(state.key)
        (env, _), transitions = jax.lax.scan(
            one, (state.env, state.agent), jax.random.split(rollout_key, config.rollout_steps)
        )
        return env, transitions, key

    def advantages(transitions: Transition, last_value):
        def back(carry, t):
            gae, next_value = carry
            delta = t.reward + config.gamma * next_value * (1 - t.done) - t.value
            gae = delta + config.gamma * config.gae_lambda * (1 - t.done) * gae
            return (gae, t.value), gae

        _, gaes = jax.lax.scan(back, (jnp.zeros_like(last_value), last_value), transitions,
                               reverse=True)  # fmt: skip
        return gaes, gaes + transitions.value

    def loss(agent, data):
        obs, action, old_log_prob, old_value, advantage, target = data
        log_prob = _log_prob(agent, obs, action)
        ratio = jnp.exp(log_prob - old_log_prob)
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        surrogate = jnp.minimum(
            ratio * advantage, jnp.clip(ratio, 1 - config.clip, 1 + config.clip) * advantage
        )
        value = agent_value(agent, obs)
        clipped = old_value + jnp.clip(value - old_value, -config.clip, config.clip)
        value_loss = 0.5 * jnp.maximum(jnp.square(value - target),
                                       jnp.square(clipped - target)).mean()  # fmt: skip
        entropy = jnp.sum(agent["log_std"] + 0.5 * jnp.log(2 * jnp.pi * jnp.e))
        total = -surrogate.mean() + config.value_coef * value_loss - config.entropy_coef * entropy
        return total, value_loss

    @jax.jit
    def update(state: RunnerState):
        env, transitions, key = rollout(state)
        gaes, targets = advantages(transitions, agent_value(state.agent, env.obs))
        flat = jax.tree_util.tree_map(lambda x: x.reshape(batch, *x.shape[2:]), (
            transitions.obs, transitions.action, transitions.log_prob, transitions.value,
            gaes, targets))  # fmt: skip

        def epoch(carry, key):
            def minibatch(carry, data):
                agent, opt_state = carry
                (total, value_loss), grads = jax.value_and_grad(loss, has_aux=True)(agent, data)
                grads = {
                    **grads,
                    "obs_center": jnp.zeros_like(grads["obs_center"]),
                    "obs_scale": jnp.zeros_like(grads["obs_scale"]),
                }  # fixed
                updates, opt_state = optimiser.update(grads, opt_state, agent)
                return (optax.apply_updates(agent, updates), opt_state), (total, value_loss)

            order = jax.random.permutation(key, batch)
            shuffled = jax.tree_util.tree_map(
                lambda x: x[order].reshape(config.minibatches, -1, *x.shape[1:]), flat
            )
            return jax.lax.scan(minibatch, carry, shuffled)

        key, epoch_key = jax.random.split(key)
        (agent, opt_state), (totals, value_losses) = jax.lax.scan(
            epoch, (state.agent, state.opt_state), jax.random.split(epoch_key, config.epochs)
        )
        ended = transitions.done
        count = ended.sum()
        mean = lambda x: jnp.where(count > 0, jnp.where(ended, x, 0).sum() / count, jnp.nan)  # noqa: E731
        metrics = {  # of the episodes that ended in this rollout (NaN if none did)
            "episodes": count,
            "imagined_return": mean(transitions.episode_return),
            "imagined_success": mean(transitions.episode_success),
            "uncertainty": transitions.uncertainty.mean(),
            "loss": totals.mean(),
            "value_loss": value_losses.mean(),
        }
        return RunnerState(agent, opt_state, spread(env), key, state.update + 1), metrics

    return jax.jit(init), update


def reset_starts(model, task, seeds) -> Starts:
    """Start states: the task's real reset observations for `seeds` (and the model's
    inputs of them, e.g. their frames)."""

    observations = np.asarray(initial_observations(task, seeds))
    inputs = None if model.initial_input is None else model.initial_inputs(observations)
    return Starts(jnp.asarray(observations), inputs)


def combine_starts(*parts: Starts) -> Starts:
    observations = jnp.concatenate([part.observations for part in parts])
    if parts[0].inputs is None:
        return Starts(observations, None)
    inputs = jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *[p.inputs for p in parts])
    return Starts(observations, inputs)
