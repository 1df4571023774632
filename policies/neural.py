"""Small neural policies: MLPs whose parameters ship in policies/weights/.

They are trained by `scripts/train_bc.py` (behaviour cloning of the oracle from
few or noisy demonstrations), so anyone can re-make them. The index also lists
policies that look at pixels (an entry with a "frame_size"; policies/pixels.py,
made by `scripts/train_pixel_bc.py`) and agents trained inside a world model (kind
"agent"; made by `scripts/train_rl_agents.py`). All of them are in their task's zoo;
the agents are also the task's "imagined" set.
"""

from __future__ import annotations

import json
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
import optax

from worldgym.policies.pixels import arrays_to_cnn, pixel_policy
from worldgym.policies.protocol import Policy

WEIGHTS_PACKAGE = "worldgym.policies.weights"


def tanh_mlp(layers, x):
    """Dense layers [{"w", "b"}, ...] with tanh between them (none after the last)."""
    for layer in layers[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def mlp_act(params, obs, key):
    """tanh MLP on the normalised observation; deterministic (key unused)."""
    del key
    return jnp.tanh(tanh_mlp(params["layers"], (obs - params["obs_mean"]) / params["obs_std"]))


# --- agents trained inside a world model (worldgym rl trains them) ----------------------
def normalised_observation(agent, obs):
    """The agent's fixed observation normalisation, clipped at 10 scales."""
    return jnp.clip((obs - agent["obs_center"]) / agent["obs_scale"], -10.0, 10.0)


def agent_mean(agent, obs):
    """The actor's mean action in [-1, 1]."""
    return jnp.tanh(tanh_mlp(agent["actor"], normalised_observation(agent, obs)))


def agent_act(agent, obs, key):
    """The deployed agent: the mean action (deterministic; key unused)."""
    del key
    return agent_mean(agent, obs)


def agent_policy(name: str, agent, description: str = "") -> Policy:
    """A trained agent as a worldgym Policy (only what acting needs is kept)."""
    params = {key: agent[key] for key in ("actor", "obs_center", "obs_scale")}
    return Policy(name, agent_act, params, description)


def arrays_agent(arrays) -> dict:
    """An agent's acting parameters from the arrays of its .npz file."""
    layers, others = arrays_to_layers(arrays)
    return {**others, "actor": layers}


def layers_to_arrays(layers, **others) -> dict[str, np.ndarray]:
    """Dense layers [{"w", "b"}, ...] and other named arrays as float32 arrays for an
    .npz file (w0, b0, w1, ...): the format of every network in policies/weights/."""
    arrays = dict(others)
    for index, layer in enumerate(layers):
        arrays[f"w{index}"], arrays[f"b{index}"] = layer["w"], layer["b"]
    return {name: np.asarray(value, np.float32) for name, value in arrays.items()}


def arrays_to_layers(arrays) -> tuple[list[dict], dict]:
    """(dense layers, the other named arrays) of an .npz written by layers_to_arrays."""
    depth = sum(1 for name in arrays if name.startswith("w"))
    layers = [{"w": arrays[f"w{i}"], "b": arrays[f"b{i}"]} for i in range(depth)]
    others = {name: value for name, value in arrays.items() if name[0] not in "wb"}
    return layers, others


def params_to_arrays(params) -> dict[str, np.ndarray]:
    """Flatten MLP params into named arrays for an .npz file."""
    return layers_to_arrays(params["layers"], obs_mean=params["obs_mean"],
                            obs_std=params["obs_std"])  # fmt: skip


def arrays_to_params(arrays) -> dict:
    layers, others = arrays_to_layers(arrays)
    return {**others, "layers": layers}


def shipped_kinds(task_name: str) -> set[str]:
    """The kinds of a task's shipped networks (read from the index alone; an entry
    without a "kind" is a behaviour-cloned "policy")."""
    index_file = resources.files(WEIGHTS_PACKAGE).joinpath("index.json")
    if not index_file.is_file():
        return set()
    entries = json.loads(index_file.read_text()).get(task_name, [])
    return {entry.get("kind", "policy") for entry in entries}


def neural_policies(task_name: str, kind: str | None = None) -> list[Policy]:
    """The shipped neural policies of a task (only those of one kind, if given); none
    if no weights were trained."""
    folder = resources.files(WEIGHTS_PACKAGE)
    index_file = folder.joinpath("index.json")
    if not index_file.is_file():
        return []
    policies = []
    for entry in json.loads(index_file.read_text()).get(task_name, []):
        if kind is not None and entry.get("kind", "policy") != kind:
            continue
        with folder.joinpath(entry["file"]).open("rb") as handle:
            arrays = dict(np.load(handle))
        if entry.get("kind") == "agent":  # trained inside a world model (worldgym rl)
            policies.append(agent_policy(entry["name"], arrays_agent(arrays), entry["description"]))
            continue
        if "frame_size" in entry:  # a policy that looks at pixels (policies/pixels.py)
            policies.append(pixel_policy(entry["name"], arrays_to_cnn(arrays),
                                         entry["frame_size"], entry["description"]))  # fmt: skip
            continue
        policies.append(
            Policy(entry["name"], mlp_act, arrays_to_params(arrays), entry["description"])
        )
    return policies


def init_mlp(key, obs_dim: int, action_dim: int, hidden: tuple[int, ...]) -> list[dict]:
    """LeCun-normal weights, zero biases."""

    sizes = (obs_dim, *hidden, action_dim)
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jax.random.normal(k, (n_in, n_out)) / jnp.sqrt(n_in),
            "b": jnp.zeros(n_out),
        }
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def train_bc(
    observations: np.ndarray,
    actions: np.ndarray,
    hidden: tuple[int, ...] = (64, 64),
    steps: int = 3000,
    batch_size: int = 256,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> dict:
    """Behaviour cloning: fit an MLP policy to (observation, action) pairs by MSE.

    The whole optimisation is one jitted lax.scan over minibatch steps.
    """

    observations = jnp.asarray(observations, jnp.float32)
    actions = jnp.clip(jnp.asarray(actions, jnp.float32), -0.999, 0.999)
    init_key, data_key = jax.random.split(jax.random.key(seed))
    params = {
        "obs_mean": observations.mean(0),
        "obs_std": observations.std(0) + 1e-3,
        "layers": init_mlp(init_key, observations.shape[1], actions.shape[1], hidden),
    }
    optimiser = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))

    def loss(layers, obs, target):
        predicted = jax.vmap(mlp_act, in_axes=(None, 0, None))(
            {**params, "layers": layers}, obs, None
        )
        return jnp.mean(jnp.square(predicted - target))

    def step(carry, key):
        layers, opt_state = carry
        batch = jax.random.randint(key, (batch_size,), 0, observations.shape[0])
        grads = jax.grad(loss)(layers, observations[batch], actions[batch])
        updates, opt_state = optimiser.update(grads, opt_state, layers)
        return (optax.apply_updates(layers, updates), opt_state), None

    layers = params["layers"]
    (layers, _), _ = jax.jit(lambda c, k: jax.lax.scan(step, c, k))(
        (layers, optimiser.init(layers)), jax.random.split(data_key, steps)
    )
    return {**params, "layers": layers}
