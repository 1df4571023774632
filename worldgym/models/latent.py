"""A world model that learns from camera frames: an ensemble in a learned latent space.

The model never sees the true state as input. A convolutional encoder maps a
short stack of frames (the current one and the ones before it, so velocities
can be seen) to a compact latent; an ensemble of MLPs predicts the next latent
from the latent and the action; a decoder draws the frame a latent stands for;
and small heads read the task's observation (the state readout), the success
and the termination from a latent. In imagination, policies that act on state
receive the readout, and the task's own success predicate scores it.

Why a latent ensemble rather than a recurrent state-space model (DreamerV3's
RSSM): the members' disagreement is the uncertainty the trust analysis already
reads for the state ensemble, so the verdicts of both families mean the same
thing; an RSSM's uncertainty would need a notion of its own. The members share
the encoder, decoder and heads and differ in their dynamics (random
initialisation: they all train on each minibatch).

Training (one loss over k-step windows of frames): the frame each encoded
latent stands for is reconstructed; every member rolls the first latent forward
k steps open loop, and its predicted latents must match the encoded ones (no
gradient into the targets) and must read out the recorded state, success and
termination. The recorded states supervise the readout head only through this
loss; the model's input stays the frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from worldgym.models.base import Prediction, WorldModel
from worldgym.models.ensemble import StackedLinear

NAME = "latent"


@dataclass(frozen=True)
class LatentConfig:
    image_size: tuple[int, ...] = (64, 64)
    """Frames the model reads, height and width (the dataset's must match)."""
    frame_stack: int = 2
    """Frames per encoder input: the current one and the ones before it (an
    episode's first frame is repeated), so the latent can hold velocities."""
    channels: tuple[int, ...] = (32, 64, 128)
    """Channels of the encoder's patch layers (the decoder mirrors them): the first
    takes first_patch x first_patch pixel patches, each later one 2x2 patches."""
    first_patch: int = 4
    """Side of the first layer's pixel patches."""
    latent: int = 128
    """Size of the latent (64 read Reach's state back at 0.166 normalised error after
    8 epochs on 500 episodes, 128 at 0.030 after 15 on 1000, with 4-step windows)."""
    members: int = 5
    """Latent dynamics members; their disagreement is the model's uncertainty."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of each member's dynamics MLP and of the heads."""
    frame_weight: float = 1.0
    """Weight of the frame reconstruction loss (mean squared error on [0, 1] pixels)."""
    latent_weight: float = 1.0
    """Weight of the predicted-vs-encoded latent loss."""
    readout_weight: float = 10.0
    """Weight of the state readout loss (normalised units). On Reach, 10 against 1
    took the zoo's Spearman from 0.60 to 0.87 and the open-loop readout error at
    H = 50 from 0.53 to 0.21 (docs: World models)."""
    sampling: str = "mean"
    """How members make one prediction: "mean" of their latents, or "ts1" (one
    member per episode, drawn at its start)."""

    def __post_init__(self):
        if self.sampling not in ("mean", "ts1"):
            raise ValueError(
                f"The latent family samples by 'mean' or 'ts1', not {self.sampling!r}."
            )
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"image_size is height and width, got {self.image_size}.")
        scale = self.first_patch * 2 ** (len(self.channels) - 1)
        if any(size % scale for size in self.image_size):
            raise ValueError(
                f"Frames of {self.image_size[0]}x{self.image_size[1]} do not split into the "
                f"encoder's patches evenly; use sizes divisible by {scale}."
            )
        if self.members < 1 or self.frame_stack < 1 or self.latent < 1 or not self.hidden:
            raise ValueError("The latent family needs at least one member, frame, latent "
                             "unit and hidden layer.")  # fmt: skip


def frame_channels(config: LatentConfig) -> int:
    return 3 * config.frame_stack


def normalise_latent(z):
    """Every latent on the unit sphere times sqrt(size): a fixed scale, so the
    encoder cannot shrink latents to make their prediction look easy."""
    return z * jax.lax.rsqrt(jnp.mean(jnp.square(z), axis=-1, keepdims=True) + 1e-6)


def space_to_depth(x, block: int):
    """[..., H, W, C] -> [..., H/b, W/b, b*b*C]: each b x b block of pixels becomes one."""
    *lead, height, width, channels = x.shape
    x = x.reshape(*lead, height // block, block, width // block, block, channels)
    x = jnp.swapaxes(x, -4, -3)  # [..., H/b, W/b, b, b, C]
    return x.reshape(*lead, height // block, width // block, block * block * channels)


def depth_to_space(x, block: int):
    """[..., H, W, b*b*C] -> [..., b H, b W, C], the inverse of space_to_depth."""
    *lead, height, width, channels = x.shape
    x = x.reshape(*lead, height, width, block, block, channels // (block * block))
    x = jnp.swapaxes(x, -4, -3)  # [..., H, b, W, b, C]
    return x.reshape(*lead, block * height, block * width, channels // (block * block))


class PatchDown(nnx.Module):
    """Shrink the resolution `block` times: each block x block patch of pixels through
    one dense layer (a convolution of that kernel and stride, written as a reshape
    and a matmul: XLA's CPU convolutions ran at 7% of its matmul rate here)."""

    def __init__(self, features_in: int, features_out: int, block: int, rngs: nnx.Rngs):
        self.dense = nnx.Linear(block * block * features_in, features_out, rngs=rngs)
        self.block = block

    def __call__(self, x):
        return self.dense(space_to_depth(x, self.block))


class PatchUp(nnx.Module):
    """Grow the resolution `block` times: each pixel through one dense layer to a
    block x block patch (the transposed PatchDown)."""

    def __init__(self, features_in: int, features_out: int, block: int, rngs: nnx.Rngs):
        self.dense = nnx.Linear(features_in, block * block * features_out, rngs=rngs)
        self.block = block

    def __call__(self, x):
        return depth_to_space(self.dense(x), self.block)


class LatentNetwork(nnx.Module):
    """Encoder, decoder, dynamics members and heads of the latent family."""

    def __init__(self, obs_dim: int, action_dim: int, config: LatentConfig, rngs: nnx.Rngs):
        channels = config.channels
        height, width = config.image_size
        shrink = config.first_patch * 2 ** (len(channels) - 1)
        self.bottom = (height // shrink, width // shrink, channels[-1])
        ins = (frame_channels(config), *channels[:-1])
        blocks = (config.first_patch, *[2] * (len(channels) - 1))
        self.encoder = nnx.List([
            PatchDown(a, b, block, rngs) for a, b, block in zip(ins, channels, blocks, strict=True)
        ])  # fmt: skip
        flat = int(np.prod(self.bottom))
        self.to_latent = nnx.Linear(flat, config.latent, rngs=rngs)
        self.from_latent = nnx.Linear(config.latent, flat, rngs=rngs)
        outs = (*reversed(channels[:-1]), 3)
        self.decoder = nnx.List([
            PatchUp(a, b, block, rngs)
            for a, b, block in zip(reversed(channels), outs, reversed(blocks), strict=True)
        ])  # fmt: skip
        sizes = (config.latent + action_dim, *config.hidden)
        self.dynamics = nnx.List([
            StackedLinear(config.members, a, b, rngs)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ])  # fmt: skip
        self.dynamics_out = StackedLinear(config.members, sizes[-1], config.latent, rngs)
        heads = (config.latent, *config.hidden)
        self.heads = nnx.List([
            nnx.Linear(a, b, rngs=rngs) for a, b in zip(heads[:-1], heads[1:], strict=True)
        ])  # fmt: skip
        self.heads_out = nnx.Linear(heads[-1], obs_dim + 2, rngs=rngs)
        self.obs_dim = obs_dim

    def encode(self, frames):
        """frames [..., H, W, 3 * frame_stack] uint8 -> latents [..., latent]."""
        x = frames.astype(jnp.float32) / 255.0 - 0.5
        for layer in self.encoder:
            x = jax.nn.silu(layer(x))
        return normalise_latent(self.to_latent(x.reshape(*x.shape[:-3], -1)))

    def decode(self, z):
        """latents [..., latent] -> frames [..., H, W, 3] in [0, 1] (float)."""
        x = jax.nn.silu(self.from_latent(z)).reshape(*z.shape[:-1], *self.bottom)
        for index, layer in enumerate(self.decoder):
            x = layer(x)
            if index < len(self.decoder) - 1:
                x = jax.nn.silu(x)
        return jax.nn.sigmoid(x)

    def predict(self, z, action):
        """z [members, ..., latent], action [..., a] -> each member's next latent."""
        action = jnp.broadcast_to(action, (*z.shape[:-1], action.shape[-1]))
        x = jnp.concatenate([z, action], axis=-1)
        x = x.reshape(z.shape[0], -1, x.shape[-1])  # [members, rows, in] for the stacked layers
        for layer in self.dynamics:
            x = jax.nn.silu(layer(x))
        return normalise_latent(z + self.dynamics_out(x).reshape(z.shape))

    def read(self, z):
        """latents [..., latent] -> (normalised observation, success logit, termination logit)."""
        x = z
        for layer in self.heads:
            x = jax.nn.silu(layer(x))
        out = self.heads_out(x)
        return out[..., : self.obs_dim], out[..., -2], out[..., -1]


def _graph(obs_dim: int, action_dim: int, config: LatentConfig):
    abstract = nnx.eval_shape(lambda: LatentNetwork(obs_dim, action_dim, config, nnx.Rngs(0)))
    return nnx.split(abstract)


def make_network(obs_dim: int, action_dim: int, config: LatentConfig):
    """network(params) -> the LatentNetwork with those weights, as a pure function."""
    graph, abstract_state = _graph(obs_dim, action_dim, config)

    def network(params):
        state = jax.tree_util.tree_map(lambda x: x, abstract_state)
        nnx.replace_by_pure_dict(state, params)
        return nnx.merge(graph, state)

    return network


def init_network_params(obs_dim: int, action_dim: int, config: LatentConfig, seed: int) -> dict:
    network = LatentNetwork(obs_dim, action_dim, config, nnx.Rngs(seed))
    return nnx.to_pure_dict(nnx.state(network))


def like_params(obs_dim: int, action_dim: int, config: LatentConfig) -> dict:
    """Zeros shaped like the saved {"network", "normalizer"}."""
    _, abstract_state = _graph(obs_dim, action_dim, config)
    network = jax.tree_util.tree_map(
        lambda x: np.zeros(x.shape, x.dtype), nnx.to_pure_dict(abstract_state)
    )
    normalizer = {name: np.zeros(obs_dim, np.float32) for name in ("obs_mean", "obs_std")}
    return {"network": network, "normalizer": normalizer}


def normalizer_from_data(observations) -> dict:
    """Mean and std of the recorded observations: the readout's units."""
    return {
        "obs_mean": np.asarray(observations.mean(0), np.float32),
        "obs_std": np.asarray(np.maximum(observations.std(0), 1e-6), np.float32),
    }


# --- frames ------------------------------------------------------------------------------
def initial_frames(task, config: LatentConfig):
    """obs [B, obs_dim] -> the frame stacks an imagined episode starts from
    [B, H, W, 3 s] uint8: the task draws each initial observation with its own
    camera (the frame a real camera sees at reset), repeated frame_stack times.

    One renderer serves every call: making one costs about 180 ms (a GL context),
    drawing a frame under a millisecond, and an imagined env resets every episode."""
    height, width = config.image_size
    renderer = None

    def frames_of(observations):
        nonlocal renderer
        observations = np.asarray(observations, np.float64).reshape(-1, task.obs_dim)
        if len(observations) == 0:
            return np.zeros((0, height, width, frame_channels(config)), np.uint8)
        if renderer is None:
            if task.observation_renderer is None:
                raise ValueError(f"Task {task.name!r} cannot draw observations, so a model "
                                 "that learns from frames cannot start from them.")  # fmt: skip
            renderer = task.observation_renderer(width, height)
        frames = np.stack([renderer.render(obs) for obs in observations])
        return np.concatenate([frames] * config.frame_stack, axis=-1)

    return frames_of


# --- the world model ---------------------------------------------------------------------
def make_world_model(params: dict, obs_dim: int, action_dim: int, config: LatentConfig,
                     initial_input, metadata: dict | None = None) -> WorldModel:  # fmt: skip
    """The WorldModel of {"network": ..., "normalizer": ...}; it starts from the frame
    stacks `initial_input` draws of the initial observations."""
    network = make_network(obs_dim, action_dim, config)
    members = config.members

    def init(params, frames, key=None):
        z = network(params["network"]).encode(frames)
        member = jnp.int32(0) if key is None else jax.random.randint(key, (), 0, members)
        return {"z": z, "member": member}

    def step(params, carry, action, key) -> Prediction:
        net, norm = network(params["network"]), params["normalizer"]
        action = jnp.asarray(action, jnp.float32)
        z = jnp.broadcast_to(carry["z"], (members, *carry["z"].shape))
        candidates = net.predict(z, action)  # [members, latent]
        chosen = carry["member"]
        z_next = (
            normalise_latent(candidates.mean(0))
            if config.sampling == "mean"
            else candidates[chosen]
        )
        readout, success_logit, termination_logit = net.read(z_next)
        obs = norm["obs_mean"] + norm["obs_std"] * readout
        uncertainty = jnp.mean(jnp.std(candidates, axis=0))  # disagreement, latent units
        return Prediction({"z": z_next, "member": chosen}, obs, success_logit, uncertainty,
                          termination_logit)  # fmt: skip

    def decode(params, carry):
        """The frame the carry's latent stands for, [H, W, 3] uint8."""
        frame = network(params["network"]).decode(carry["z"])
        return jnp.round(frame * 255.0).astype(jnp.uint8)

    return WorldModel(
        NAME, params, init, step, obs_dim, action_dim, asdict(config), metadata or {},
        params["normalizer"]["obs_mean"], params["normalizer"]["obs_std"],
        initial_input=initial_input, decode_fn=decode, frame_stack=config.frame_stack,
    )  # fmt: skip


def member_models(model: WorldModel) -> list[WorldModel]:
    """One single-member model per dynamics member (shared encoder and heads)."""
    config = config_from_dict(model.config)
    single = replace(config, members=1, sampling="mean")
    network = model.params["network"]

    def member_params(index):
        def take(path, leaf):
            stacked = getattr(path[0], "key", None) in ("dynamics", "dynamics_out")
            return leaf[index : index + 1] if stacked else leaf

        return jax.tree_util.tree_map_with_path(take, network)

    normalizer = model.params["normalizer"]
    first = make_world_model({"network": member_params(0), "normalizer": normalizer},
                             model.obs_dim, model.action_dim, single, model.initial_input,
                             model.metadata)  # fmt: skip
    # one set of functions for all members: rolling them out compiles once
    return [replace(first, params={"network": member_params(i), "normalizer": normalizer})
            for i in range(config.members)]  # fmt: skip


# --- training loss -----------------------------------------------------------------------
def make_loss(task, config: LatentConfig, normalizer: dict, learn_termination: bool):
    """loss(network_params, window) over k-step windows of frames (see the module
    docstring). The window holds, besides the state fields, frames [m, b, k + 1, H,
    W, 3 s]: the frame stack of the start and of each next observation."""
    network = make_network(task.obs_dim, task.action_dim, config)
    norm = jax.tree_util.tree_map(jnp.asarray, normalizer)

    def loss(network_params, window):
        net = network(network_params)
        frames = window["frames"][0]  # [b, k + 1, H, W, 3 s]: members share the batch
        states = jnp.concatenate([window["obs"][0][:, None], window["next_obs"][0]], axis=1)
        states = (states - norm["obs_mean"]) / norm["obs_std"]  # [b, k + 1, d]
        actions = window["actions"][0]  # [b, k, a]
        success = window["next_success"][0].astype(jnp.float32)  # [b, k]
        terminated = window["terminations"][0].astype(jnp.float32)

        encoded = net.encode(frames)  # [b, k + 1, latent]
        current = frames[..., -3:].astype(jnp.float32) / 255.0
        frame_error = jnp.mean(jnp.square(net.decode(encoded) - current))
        read_encoded, _, _ = net.read(encoded)
        readout_encoded = jnp.mean(jnp.square(read_encoded - states))

        def one_step(z, inputs):  # z [members, b, latent]
            action = inputs
            z = net.predict(z, action)
            return z, z

        start = jnp.broadcast_to(encoded[:, 0], (config.members, *encoded[:, 0].shape))
        _, predicted = jax.lax.scan(one_step, start, jnp.moveaxis(actions, 1, 0))
        predicted = jnp.moveaxis(predicted, 0, 2)  # [members, b, k, latent]
        targets = jax.lax.stop_gradient(encoded[:, 1:])
        latent_error = jnp.mean(jnp.square(predicted - targets))
        readout, success_logit, termination_logit = net.read(predicted)
        readout_predicted = jnp.mean(jnp.square(readout - states[:, 1:]))
        success_bce = jnp.mean(optax.sigmoid_binary_cross_entropy(success_logit, success))
        total = (
            config.frame_weight * frame_error
            + config.latent_weight * latent_error
            + config.readout_weight * (readout_encoded + readout_predicted)
            + success_bce
        )
        if learn_termination:
            total = total + jnp.mean(
                optax.sigmoid_binary_cross_entropy(termination_logit, terminated)
            )
        return total, {
            "frame_mse": frame_error, "latent_mse": latent_error,
            "readout_mse": readout_predicted, "success_bce": success_bce,
        }  # fmt: skip

    return loss


def config_from_dict(values: dict) -> LatentConfig:
    tuples = ("image_size", "channels", "hidden")
    return LatentConfig(**{k: tuple(v) if k in tuples else v for k, v in values.items()})


class LatentFamily:
    """The latent family behind the ModelFamily door; it trains on frames."""

    name = NAME
    Config = LatentConfig
    train_defaults = {"batch_size": 32, "rollout_steps": 4, "learning_rate": 1e-3,
                      "warmup_steps": 200, "epochs": 15}  # fmt: skip
    """TrainConfig values `worldgym train --family latent` starts from: frames cost far
    more per window than states, and latents need multi-step training (15 epochs of
    1,000 Reach episodes took 11.5 minutes on 2 cores)."""

    def frames(self, config: LatentConfig) -> tuple[int, int, int]:
        """(height, width, stack) of the frames it learns from (the trainer gathers them)."""
        return (*config.image_size, config.frame_stack)

    def prepare_config(self, config: LatentConfig, task) -> LatentConfig:
        return config

    def config_from_dict(self, values: dict) -> LatentConfig:
        return config_from_dict(values)

    def member_count(self, config: LatentConfig) -> int:
        return 1  # the dynamics members share every minibatch (see the module docstring)

    def normalizer(self, config, task, observations, actions, next_observations) -> dict:
        return normalizer_from_data(observations)

    def init_params(self, config: LatentConfig, task, seed: int):
        return init_network_params(task.obs_dim, task.action_dim, config, seed)

    def loss(self, config, task, normalizer: dict, learn_termination: bool):
        return make_loss(task, config, normalizer, learn_termination)

    def build(self, config, task, params, normalizer: dict, metadata: dict) -> WorldModel:
        return make_world_model({"network": params, "normalizer": normalizer}, task.obs_dim,
                                task.action_dim, config, initial_frames(task, config),
                                metadata)  # fmt: skip

    def members(self, model: WorldModel) -> list[WorldModel]:
        return member_models(model)

    def like_params(self, config: LatentConfig, task) -> dict:
        return like_params(task.obs_dim, task.action_dim, config)


FAMILY = LatentFamily()
