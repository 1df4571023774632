"""The pure-JAX imagination engine: batched rollouts inside a world model.

Every function here is one jitted `lax.scan` over time of a `vmap`ped batch;
there is no Python loop per step.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from worldgym.devices import gather_episodes, shard_episodes
from worldgym.envs.pool import borrowed_env
from worldgym.models.base import Prediction, WorldModel
from worldgym.policies.host import host_errors
from worldgym.policies.protocol import stacking_signature


@partial(jax.jit, static_argnums=(0, 1))
def _open_loop(init_fn, step_fn, params, init_input, actions, key):
    batch = actions.shape[0]
    init_keys, step_keys = jax.random.split(key)
    carry = jax.vmap(init_fn, in_axes=(None, 0, 0))(
        params, init_input, jax.random.split(init_keys, batch)
    )
    step = jax.vmap(step_fn, in_axes=(None, 0, 0, 0))

    def one_step(carry, inputs):
        action, key = inputs
        prediction = step(params, carry, action, jax.random.split(key, batch))
        return prediction.carry, prediction._replace(carry=None)

    horizon = actions.shape[1]
    _, predictions = jax.lax.scan(
        one_step, carry, (jnp.moveaxis(actions, 1, 0), jax.random.split(step_keys, horizon))
    )
    return jax.tree_util.tree_map(lambda x: jnp.moveaxis(x, 0, 1), predictions)


def open_loop(model: WorldModel, init_obs, actions, key, init_input=None) -> Prediction:
    """Predict H steps from each start with given actions (no feedback from reality).

    init_obs [B, obs_dim], actions [B, H, action_dim] -> Prediction with fields
    [B, H, ...] (carry is None). `init_input`: what the model starts from, where
    that is not the observations (e.g. recorded frames; default: the model's
    initial_inputs of init_obs).
    """
    if init_input is None:
        init_input = model.initial_inputs(jnp.asarray(init_obs, jnp.float32))
    return _open_loop(
        model.init_fn, model.step_fn, model.params, init_input,
        jnp.asarray(actions, jnp.float32), key,
    )  # fmt: skip


@partial(jax.jit, static_argnums=(0, 1, 2))
def _open_loop_frames(init_fn, step_fn, decode_fn, params, init_input, actions, key):
    batch = actions.shape[0]
    init_keys, step_keys = jax.random.split(key)
    carry = jax.vmap(init_fn, in_axes=(None, 0, 0))(
        params, init_input, jax.random.split(init_keys, batch)
    )
    step = jax.vmap(step_fn, in_axes=(None, 0, 0, 0))
    decode = jax.vmap(decode_fn, in_axes=(None, 0))

    def one_step(carry, inputs):
        action, key = inputs
        prediction = step(params, carry, action, jax.random.split(key, batch))
        return prediction.carry, decode(params, prediction.carry)

    first = decode(params, carry)
    horizon = actions.shape[1]
    _, frames = jax.lax.scan(
        one_step, carry, (jnp.moveaxis(actions, 1, 0), jax.random.split(step_keys, horizon))
    )
    return jnp.concatenate([first[:, None], jnp.moveaxis(frames, 0, 1)], axis=1)


def open_loop_frames(model: WorldModel, init_input, actions, key) -> jax.Array:
    """The frames a frame-drawing model imagines along open-loop actions: [B, H + 1,
    h, w, 3] uint8, the first decoded from the start (the same keys as open_loop,
    so the same predictions)."""
    if model.decode_fn is None:
        raise ValueError(f"The {model.family} model does not draw frames.")
    return _open_loop_frames(model.init_fn, model.step_fn, model.decode_fn, model.params,
                             init_input, jnp.asarray(actions, jnp.float32), key)  # fmt: skip


class Trajectories(NamedTuple):
    """Imagined episodes, batch-major. Steps after an episode ended are masked, not cut."""

    observations: jax.Array  # [B, H + 1, obs_dim]
    actions: jax.Array  # [B, H, action_dim]
    rewards: jax.Array  # [B, H] the task's reward of each step (0 after the episode ended)
    success_probability: jax.Array  # [B, H] learned success head on the next observation
    predicate_success: jax.Array  # [B, H] bool, the task's predicate on the next observation
    uncertainty: jax.Array  # [B, H] ensemble disagreement
    active: jax.Array  # [B, H] bool, the step belongs to the episode (before it ended)
    diverged: jax.Array  # [B] bool, the model left the finite/plausible range


DIVERGENCE_LIMIT = 1e3
"""An imagined observation farther than this many of the model's observation scales
from its observation centre is treated as diverged (as is any non-finite value)."""


class World(NamedTuple):
    """What a jitted imagination function receives of a model: its parameters and
    the range its observations should stay in (WorldModel.observation_center/scale).
    Passed as arguments, not baked in, so new parameters never recompile."""

    params: object
    center: jax.Array  # [obs_dim]
    scale: jax.Array  # [obs_dim]


def world_of(model: WorldModel) -> World:
    return World(model.params, jnp.asarray(model.observation_center),
                 jnp.asarray(model.observation_scale))  # fmt: skip


class GuardedStep(NamedTuple):
    """One imagined step of one episode, scored by the task and guarded against divergence."""

    carry: object
    obs: jax.Array  # the next observation (the last sound one if the model diverged)
    reward: jax.Array  # the task's reward on (obs, action, next obs)
    predicate_success: jax.Array  # the task's success predicate on the next observation
    success_probability: jax.Array  # the model's success head
    uncertainty: jax.Array
    diverged: jax.Array  # non-finite or far out of the data's range


def episode_ends(task, success, diverged, steps, horizon: int):
    """(terminated, truncated) after an imagined step: the one rule of the engine, both
    Gymnasium classes and PPO. Terminated where the step reached the task's success
    (for a task that ends on it) or the model diverged; truncated at the horizon.
    Elementwise on numpy or JAX arrays (bools and step counts) alike."""
    terminated = (success & bool(task.terminate_on_success)) | diverged
    return terminated, steps >= horizon


def make_guarded_step(model: WorldModel, task):
    """(world, carry, obs, action, key) -> GuardedStep for one episode; vmappable.

    Shared by the engine and both Gymnasium classes, so every way of imagining
    scores and guards a step identically.
    """

    def guarded_step(world: World, carry, obs, action, key) -> GuardedStep:
        prediction = model.step_fn(world.params, carry, action, key)
        distance = jnp.abs(prediction.obs - world.center) / world.scale
        bad = ~jnp.all(jnp.isfinite(prediction.obs)) | jnp.any(distance > DIVERGENCE_LIMIT)
        next_obs = jnp.where(bad, obs, prediction.obs)
        next_carry = jax.tree_util.tree_map(
            lambda new, old: jnp.where(bad, old, new), prediction.carry, carry
        )
        reward = task.reward_fn(obs, action, next_obs) if task.reward_fn else jnp.float32(0)
        reached = task.success_fn(next_obs) if task.success_fn else jnp.bool_(False)
        return GuardedStep(
            next_carry, next_obs, reward, reached, jax.nn.sigmoid(prediction.success_logit),
            prediction.uncertainty, bad,
        )  # fmt: skip

    return guarded_step


def frame_view(model: WorldModel, task, frame_size: tuple[int, int]):
    """view(params, carry, obs) -> the frame [h, w, 3] uint8 that a policy looking at
    pixels sees in imagination, for one episode (vmappable):

    - a model that draws frames (decode_fn): the frame it imagines;
    - a model that does not (a state model): the task's own camera on the imagined
      observation, drawn on the host (a callback per step for the whole batch), so
      both families can be asked about the same pixel policy.
    """
    if model.decode_fn is not None:
        return lambda params, carry, obs: model.decode_fn(params, carry)
    if task.observation_renderer is None:
        raise ValueError(
            f"The {model.family} model draws no frames and task {task.name!r} cannot draw "
            "observations, so a policy that looks at pixels cannot be imagined with it."
        )
    height, width = frame_size
    draw = _host_drawing(task, width, height)
    shape = jax.ShapeDtypeStruct((height, width, 3), jnp.uint8)
    return lambda params, carry, obs: jax.pure_callback(draw, shape, obs, vmap_method="expand_dims")


_DRAWING: dict = {}
"""(task id, width, height) -> (task, draw function): one per task and size, so every
compiled rollout that draws the task's frames shares one renderer."""


def _host_drawing(task, width: int, height: int):
    """observations [..., obs_dim] -> frames [..., height, width, 3] uint8, drawn by
    the task's renderer in one thread of its own.

    XLA calls back from any of its threads, but a GL context belongs to one thread
    at a time (MuJoCo's EGL contexts crashed when used from several), so the
    callback hands the drawing to a single dedicated thread and waits for it."""
    key = (id(task), width, height)
    if key not in _DRAWING:
        painter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="worldgym-draw")
        renderer = []

        def paint(flat):
            if not renderer:
                renderer.append(task.observation_renderer(width, height))
            return np.stack([renderer[0].render(obs) for obs in flat])

        def draw(observations):
            observations = np.asarray(observations, np.float64)
            flat = observations.reshape(-1, observations.shape[-1])
            if not len(flat):
                return np.zeros((*observations.shape[:-1], height, width, 3), np.uint8)
            frames = painter.submit(paint, flat).result()
            return frames.reshape(*observations.shape[:-1], height, width, 3)

        _DRAWING[key] = (task, draw)
    return _DRAWING[key][1]


def check_frame_policy(model: WorldModel, policy, init_input) -> None:
    """One sentence when a model's imagined frames are not the size a pixel policy
    looks at (checked before anything is compiled)."""
    if not policy.looks_at_frames or model.decode_fn is None:
        return
    first = jax.tree_util.tree_map(lambda x: x[0], init_input)
    drawn = jax.eval_shape(
        lambda params, x: model.decode_fn(params, model.init_fn(params, x, jax.random.key(0))),
        model.params, first,
    )  # fmt: skip
    if tuple(drawn.shape[:2]) != tuple(policy.frame_size):
        raise ValueError(
            f"Policy {policy.name!r} looks at {policy.frame_size[0]}x{policy.frame_size[1]} "
            f"frames, but the {model.family} model draws {drawn.shape[0]}x{drawn.shape[1]} "
            "frames; train the model on frames of the policy's size."
        )


def make_rollout(model: WorldModel, act_fn, task, horizon: int,
                 frame_size: tuple[int, int] | None = None):  # fmt: skip
    """rollout(world, policy_params, init_obs [B, d], key, episode_keys, init_input)
    -> Trajectories. `init_input` is what the model starts from where that is not
    the observations (see WorldModel.initial_input). With `frame_size`, the policy
    looks at pixels: it acts on the frames of `frame_view` instead of the observations.

    With episode_keys [B] (jax.random.key(reset seed) of each episode), the policy's
    key at step t is fold_in(episode_key, t), exactly as in the real runner, so a
    stochastic policy draws the same noise in both worlds (common random numbers:
    real and imagined episodes then differ by the model alone). Without them, the
    policy's keys come from `key`.

    One `lax.scan` over time of a `vmap`ped batch. An episode stops counting when
    it terminates (the task's predicate, if the task ends on success) or diverges;
    its later steps keep the batch shape, are masked inactive, and hold the last
    valid observation, so NaN never propagates.
    """
    step = jax.vmap(make_guarded_step(model, task), in_axes=(None, 0, 0, 0, 0))
    act = jax.vmap(act_fn, in_axes=(None, 0, 0))
    view = None if frame_size is None else jax.vmap(
        frame_view(model, task, frame_size), in_axes=(None, 0, 0)
    )  # fmt: skip

    def rollout(world, policy_params, init_obs, key, episode_keys=None, init_input=None):
        batch = init_obs.shape[0]
        init_key, scan_key = jax.random.split(key)
        carry = jax.vmap(model.init_fn, in_axes=(None, 0, 0))(
            world.params, init_obs if init_input is None else init_input,
            jax.random.split(init_key, batch),
        )  # fmt: skip

        def one_step(state, inputs):
            step_key, t = inputs
            carry, obs, active, diverged = state
            policy_key, model_key = jax.random.split(step_key)
            if episode_keys is None:
                policy_keys = jax.random.split(policy_key, batch)
            else:  # the real runner's keys: the same policy noise in both worlds
                policy_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(episode_keys, t)
            seen = obs if view is None else view(world.params, carry, obs)
            action = act(policy_params, seen, policy_keys)
            result = step(world, carry, obs, action, jax.random.split(model_key, batch))
            newly_diverged = active & result.diverged
            outputs = (
                result.obs, action, jnp.where(active, result.reward, 0.0),
                result.success_probability, result.predicate_success, result.uncertainty, active,
            )  # fmt: skip
            ended, _ = episode_ends(task, result.predicate_success, newly_diverged, t + 1, horizon)
            state = (result.carry, result.obs, active & ~ended, diverged | newly_diverged)
            return state, outputs

        initial = (carry, init_obs, jnp.ones(batch, bool), jnp.zeros(batch, bool))
        (_, _, _, diverged), outputs = jax.lax.scan(
            one_step, initial, (jax.random.split(scan_key, horizon), jnp.arange(horizon))
        )
        next_obs, actions, rewards, probability, reached, uncertainty, active = (
            jnp.moveaxis(x, 0, 1) for x in outputs
        )
        observations = jnp.concatenate([init_obs[:, None], next_obs], axis=1)
        return Trajectories(
            observations, actions, rewards, probability, reached, uncertainty, active, diverged
        )

    return jax.jit(rollout)


_COMPILED: dict = {}
"""(kind, model functions, act, task, horizon) -> (task, compiled function); the task
is held so its id, part of the key, stays its own."""


def _compiled(kind: str, model: WorldModel, act_fn, task, horizon: int, frame_size=None):
    """The jitted rollout for one (model, act, task, horizon, frame size), built once
    and cached, so a second call does not recompile: "stacked" is vmapped over policies."""
    frame_size = None if frame_size is None else tuple(frame_size)
    cache_key = (kind, model.init_fn, model.step_fn, act_fn, id(task), horizon, frame_size)
    if cache_key not in _COMPILED:
        single = make_rollout(model, act_fn, task, horizon, frame_size)
        function = (
            jax.jit(jax.vmap(single, in_axes=(None, 0, None, 0, None, None)))
            if kind == "stacked"
            else single
        )
        _COMPILED[cache_key] = (task, function)
    return _COMPILED[cache_key][1]


def episode_keys(seeds) -> jax.Array:
    """[E] the real runner's per-episode policy keys, jax.random.key(reset seed)."""
    return jax.vmap(jax.random.key)(jnp.asarray(np.asarray(seeds, np.uint32)))


def rollout_policy(model: WorldModel, policy, init_obs, key, task, horizon: int | None = None,
                   seeds=None):  # fmt: skip
    """Roll one policy from each initial observation [B, obs_dim] -> Trajectories.

    With the episodes' reset `seeds`, the policy draws the real runner's noise."""

    horizon = task.horizon if horizon is None else horizon
    rollout = _compiled("single", model, policy.act, task, horizon, policy.frame_size)
    size = len(init_obs)
    init_input = _spread_input(model, init_obs)
    check_frame_policy(model, policy, init_input)
    init_obs, keys = _spread(init_obs, seeds)
    with host_errors():
        trajectories = rollout(world_of(model), policy.params, init_obs, key, keys, init_input)
        jax.block_until_ready(trajectories)  # a host policy's error surfaces here
    trajectories = gather_episodes(trajectories)  # every process's share, whole
    if len(init_obs) == size:
        return trajectories
    return jax.tree_util.tree_map(lambda x: x[:size], trajectories)  # drop the padding


def _spread(init_obs, seeds):
    """Initial observations and per-episode keys spread over all devices (padded to
    a multiple of the device count; see worldgym.devices). Random keys are split
    inside the program from one key, and threefry is partitionable, so episode i
    draws the same numbers whatever the padding and the device count."""
    init_obs = shard_episodes(jnp.asarray(init_obs, jnp.float32))
    keys = None if seeds is None else shard_episodes(episode_keys(seeds))
    return init_obs, keys


def _spread_input(model: WorldModel, init_obs, init_input=None):
    """What the model starts from (`init_input`, e.g. recorded frames, or else the
    model's own initial inputs of the observations) spread like the observations, or
    None for a model that starts from the observations."""
    if init_input is None and model.initial_input is None:
        return None
    if init_input is None:
        init_input = model.initial_inputs(init_obs)
    return jax.tree_util.tree_map(shard_episodes, init_input)


def initial_observations(task, seeds) -> jnp.ndarray:
    """The ground-truth task's reset observations for `seeds` [E, obs_dim], so imagined
    episode i starts exactly where real episode i starts."""
    with borrowed_env(task) as env:
        observations = [env.reset(seed=int(seed))[0] for seed in seeds]
    return jnp.asarray(np.stack(observations))


def rollout_policies(model: WorldModel, policies, init_obs, key, task,
                     horizon: int | None = None, streams=None, seeds=None,
                     init_input=None):  # fmt: skip
    """Roll every policy from every initial observation; {policy name: Trajectories}.

    Policies that share an act function and parameter shapes are stacked and
    vmapped in one compiled call; structurally different ones form other groups.
    Policy i's randomness is `fold_in(key, streams[i])` (streams default to the
    list positions), so its result does not depend on which other policies were
    evaluated with it. With the episodes' reset `seeds`, every policy instead draws
    the real runner's noise for each episode (see make_rollout). `init_input`: what a
    model that starts from more than the observation starts from (recorded frame
    stacks; default: its initial_inputs of the observations).
    """

    streams = list(range(len(policies))) if streams is None else list(streams)
    horizon = task.horizon if horizon is None else horizon
    size = len(init_obs)
    init_input = _spread_input(model, init_obs, init_input)
    init_obs, noise = _spread(init_obs, seeds)
    world = world_of(model)
    groups: dict = {}
    for index, policy in enumerate(policies):
        groups.setdefault(stacking_signature(policy), []).append(index)
    results = {}
    for index in range(len(policies)):
        check_frame_policy(model, policies[index], init_input)
    for (act_fn, *_), indices in groups.items():
        stacked = jax.tree_util.tree_map(
            lambda *leaves: jnp.stack(leaves), *[policies[i].params for i in indices]
        )
        keys = jnp.stack([jax.random.fold_in(key, streams[i]) for i in indices])
        frame_size = policies[indices[0]].frame_size
        with host_errors():
            trajectories = _compiled("stacked", model, act_fn, task, horizon, frame_size)(
                world, stacked, init_obs, keys, noise, init_input
            )
            jax.block_until_ready(trajectories)  # a host policy's error surfaces here
        trajectories = gather_episodes(trajectories)  # every process's share, whole
        for position, index in enumerate(indices):
            results[policies[index].name] = jax.tree_util.tree_map(
                lambda x, p=position: x[p, :size],
                trajectories,  # without the padding
            )
    return results
