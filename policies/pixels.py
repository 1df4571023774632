"""Policies that look at pixels: a small convolutional network from one camera frame
to an action.

The network is made of patch layers (a strided, non-overlapping convolution written
as space-to-depth and a dense layer, as in the latent world model), so it is cheap
on CPUs: 64x64x3 -> 8x8 patches x 32 -> 4x4 x 64 -> dense 64 -> action. Its act
takes one uint8 frame [h, w, 3] and is vmapped like every policy. Weights ship in
policies/weights/ and are made by `scripts/train_pixel_bc.py` (behaviour cloning
of the oracle on the frames it saw).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from worldgym.policies.protocol import Policy

FIRST_PATCH = 8
"""Side of the first layer's patches (pixels)."""
SECOND_PATCH = 2
"""Side of the second layer's patches (first-layer cells)."""


def _patches(x, block: int):
    """[H, W, C] -> [H / block, W / block, block * block * C] (space to depth)."""
    height, width, channels = x.shape
    x = x.reshape(height // block, block, width // block, block, channels)
    return x.transpose(0, 2, 1, 3, 4).reshape(height // block, width // block, -1)


def cnn_act(params, frame, key):
    """uint8 frame [h, w, 3] -> action in [-1, 1]; deterministic (key unused)."""
    del key
    x = frame.astype(jnp.float32) / 255.0 - 0.5
    for layer, block in zip(params["patch"], (FIRST_PATCH, SECOND_PATCH), strict=True):
        x = jax.nn.relu(_patches(x, block) @ layer["w"] + layer["b"])
    x = x.reshape(-1)
    for layer in params["dense"][:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    last = params["dense"][-1]
    return jnp.tanh(x @ last["w"] + last["b"])


def _layer(key, n_in: int, n_out: int) -> dict:
    """He-normal weights (ReLU layers), zero biases."""
    return {"w": jax.random.normal(key, (n_in, n_out)) * jnp.sqrt(2.0 / n_in),
            "b": jnp.zeros(n_out)}  # fmt: skip


def init_cnn(key, frame_size: tuple[int, int], action_dim: int,
             channels: tuple[int, int] = (32, 64), hidden: int = 64) -> dict:  # fmt: skip
    """Parameters of cnn_act for frames of `frame_size` (height, width)."""
    height, width = frame_size
    cells = FIRST_PATCH * SECOND_PATCH
    if height % cells or width % cells:
        raise ValueError(f"A pixel policy needs frames whose sides are multiples of {cells}, "
                         f"got {height}x{width}.")  # fmt: skip
    keys = jax.random.split(key, 4)
    flat = (height // cells) * (width // cells) * channels[1]
    return {
        "patch": [_layer(keys[0], FIRST_PATCH**2 * 3, channels[0]),
                  _layer(keys[1], SECOND_PATCH**2 * channels[0], channels[1])],
        "dense": [_layer(keys[2], flat, hidden),
                  {"w": jax.random.normal(keys[3], (hidden, action_dim)) * 0.01,
                   "b": jnp.zeros(action_dim)}],
    }  # fmt: skip


def cnn_to_arrays(params) -> dict[str, np.ndarray]:
    """Named arrays for an .npz file."""
    arrays = {}
    for group in ("patch", "dense"):
        for index, layer in enumerate(params[group]):
            arrays[f"{group}_w{index}"] = layer["w"]
            arrays[f"{group}_b{index}"] = layer["b"]
    return {name: np.asarray(value, np.float32) for name, value in arrays.items()}


def arrays_to_cnn(arrays) -> dict:
    def layers(group):
        count = sum(1 for name in arrays if name.startswith(f"{group}_w"))
        return [{"w": arrays[f"{group}_w{i}"], "b": arrays[f"{group}_b{i}"]} for i in range(count)]

    return {"patch": layers("patch"), "dense": layers("dense")}


def pixel_policy(name: str, params: dict, frame_size, description: str = "") -> Policy:
    """A Policy acting on uint8 frames of `frame_size` (height, width) with cnn_act."""
    return Policy(name, cnn_act, params, description, frame_size=tuple(int(s) for s in frame_size))


def train_pixel_bc(frames: np.ndarray, actions: np.ndarray, steps: int = 6000,
                   batch_size: int = 128, learning_rate: float = 1e-3,
                   seed: int = 0) -> dict:  # fmt: skip
    """Behaviour cloning on pixels: fit cnn_act to (frame, action) pairs by MSE.

    frames [N, h, w, 3] uint8, actions [N, action_dim]. One jitted lax.scan over
    minibatch steps (the frames stay uint8 until a batch is drawn).
    """

    frames = jnp.asarray(frames, jnp.uint8)
    actions = jnp.clip(jnp.asarray(actions, jnp.float32), -0.999, 0.999)
    init_key, data_key = jax.random.split(jax.random.key(seed))
    params = init_cnn(init_key, frames.shape[1:3], actions.shape[1])
    optimiser = optax.adam(optax.warmup_cosine_decay_schedule(0.0, learning_rate, 200, steps))

    def loss(params, batch_frames, target):
        predicted = jax.vmap(cnn_act, in_axes=(None, 0, None))(params, batch_frames, None)
        return jnp.mean(jnp.square(predicted - target))

    def step(carry, key):
        params, opt_state = carry
        batch = jax.random.randint(key, (batch_size,), 0, frames.shape[0])
        value, grads = jax.value_and_grad(loss)(params, frames[batch], actions[batch])
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, _), losses = jax.jit(lambda c, k: jax.lax.scan(step, c, k))(
        (params, optimiser.init(params)), jax.random.split(data_key, steps)
    )
    return params, np.asarray(losses)
