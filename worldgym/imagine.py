"""The pure-JAX imagination engine: batched rollouts inside a world model.

Every function here is one jitted `lax.scan` over time of a `vmap`ped batch;
there is no Python loop per step.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from worldgym.models.base import Prediction, WorldModel


@partial(jax.jit, static_argnums=(0, 1))
def _open_loop(init_fn, step_fn, params, init_obs, actions, key):
    batch = init_obs.shape[0]
    init_keys, step_keys = jax.random.split(key)
    carry = jax.vmap(init_fn, in_axes=(None, 0, 0))(
        params, init_obs, jax.random.split(init_keys, batch)
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


def open_loop(model: WorldModel, init_obs, actions, key) -> Prediction:
    """Predict H steps from each start with given actions (no feedback from reality).

    init_obs [B, obs_dim], actions [B, H, action_dim] -> Prediction with fields
    [B, H, ...] (carry is None).
    """
    return _open_loop(
        model.init_fn, model.step_fn, model.params, jnp.asarray(init_obs, jnp.float32),
        jnp.asarray(actions, jnp.float32), key,
    )  # fmt: skip
