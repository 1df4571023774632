"""Throughput figures, measured in one run on this machine.

Two tables: the ground-truth tasks (environment steps/s, the physics alone,
rendering at 64x64 as worldgym does it and at MuJoCo's full quality), and the
imagination of the default task (the batched engine, its FLOPs against the
machine's measured matmul rate, the Gymnasium env loops, and the ground truth
single and vectorised over all cores). Numbers, not assumptions: every ratio
printed is between figures measured in the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import optax

from worldgym.envs import get_task
from worldgym.envs.registry import NATIVE_TASKS
from worldgym.envs.rendering import close_renderer, make_renderer, render_frame
from worldgym.imagination.engine import _compiled, initial_observations, rollout_policy, world_of
from worldgym.imagination.env import ImaginedEnv, ImaginedVectorEnv
from worldgym.models import DEFAULT_FAMILY, get_family
from worldgym.paths import RunPaths
from worldgym.policies import load_policy
from worldgym.training.checkpoint import load_world_model
from worldgym.training.train import TrainConfig, make_optimiser


@dataclass(frozen=True)
class BenchConfig:
    tasks: tuple[str, ...] = tuple(NATIVE_TASKS)
    """Tasks to measure."""
    steps: int = 2000
    """Environment steps timed per measurement."""
    frames: int = 300
    """Frames rendered per rendering measurement."""
    seed: int = 0
    """Seed of the reset and of the random actions."""
    imagination_task: str = "Push"
    """Task of the imagination table ("" to skip it)."""
    checkpoint: str | None = None
    """World model to time (default: runs/models/<task> if it exists, else a freshly
    initialised model of the default config: speed does not depend on the weights)."""
    batch: int = 1024
    """Episodes per batched engine call."""
    vector_envs: int = 64
    """num_envs of ImaginedVectorEnv."""
    scaling_batches: tuple[int, ...] = (1, 16, 256, 4096, 65536)
    """Batches of the engine's scaling table (transitions/s and memory per episode);
    empty to skip it. The largest takes about a minute on 2 cores."""
    latent_task: str = "Reach"
    """Task of the latent family's figures ("" to skip them)."""
    latent_batch: int = 256
    """Episodes per engine call for the latent family."""
    runner_tasks: tuple[str, ...] = tuple(NATIVE_TASKS)
    """Tasks whose real rollouts and collection are timed against a bare loop of the
    same episodes (outside suites too, where installed: e.g. MetaWorld-reach-v3)."""
    runner_episodes: int = 200
    """Episodes per runner and collection measurement; 0 to skip the table."""


def _rate(count: int, seconds: float) -> float:
    return count / max(seconds, 1e-12)


def env_steps_per_second(task_name: str, steps: int, seed: int) -> float:
    """Single-env Gymnasium steps/s with random actions (resets included)."""
    task = get_task(task_name)
    env = task.make_env()
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, task.action_dim))
    actions = actions.astype(np.float32)
    env.reset(seed=seed)
    env.step(actions[0])  # compile the scoring function outside the timing
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return _rate(steps, time.perf_counter() - start)


def physics_steps_per_second(task_name: str, steps: int, seed: int) -> float:
    """The same number of environment steps as bare mj_step calls: the upper bound."""
    env = get_task(task_name).make_env().unwrapped
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(env.model, env.data, nstep=env.FRAME_SKIP)
    return _rate(steps, time.perf_counter() - start)


def render_frames_per_second(task_name: str, frames: int, full_quality: bool, size=64) -> float:
    """Frames/s at size x size: as worldgym renders them, or with MuJoCo's full quality
    (4x antialiasing, a 4096 shadow map, shadows and reflections on)."""
    env = get_task(task_name).make_env().unwrapped
    env.reset(seed=0)
    if full_quality:
        env.model.vis.quality.shadowsize = 4096
        env.model.vis.quality.offsamples = 4
        renderer = mujoco.Renderer(env.model, size, size)
    else:
        renderer = make_renderer(env.model, size, size)
    render_frame(renderer, env.data, "overview")
    start = time.perf_counter()
    for _ in range(frames):
        render_frame(renderer, env.data, "overview")
    close_renderer(renderer)
    return _rate(frames, time.perf_counter() - start)


def run_bench(config: BenchConfig) -> list[dict]:
    rows = []
    for name in config.tasks:
        env_rate = env_steps_per_second(name, config.steps, config.seed)
        physics_rate = physics_steps_per_second(name, config.steps, config.seed)
        plain = render_frames_per_second(name, config.frames, full_quality=False)
        fancy = render_frames_per_second(name, config.frames, full_quality=True)
        rows.append(
            {
                "task": name,
                "env_steps_per_s": env_rate,
                "physics_steps_per_s": physics_rate,
                "env_over_physics": env_rate / physics_rate,
                "render_64_fps": plain,
                "render_64_fps_full_quality": fancy,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    header = (
        "| task | env steps/s (1 env) | physics-only steps/s | env / physics "
        "| render 64x64 fps | full quality (MSAA, shadows) |\n|---|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['task']} | {r['env_steps_per_s']:,.0f} | {r['physics_steps_per_s']:,.0f} "
        f"| {r['env_over_physics']:.2f} | {r['render_64_fps']:,.0f} "
        f"| {r['render_64_fps_full_quality']:,.0f} |"
        for r in rows
    ]
    return "\n".join([header, *lines])


# --- imagination ---------------------------------------------------------------------
def _timed(function, repeats: int = 3) -> float:
    """Best wall time of `function()` over repeats (after one warm-up call)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops_per_second(size: int = 2048) -> float:
    """The machine's dense float32 matmul rate through JAX (FLOP/s)."""

    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    matmul = jax.jit(lambda x, y: x @ y)
    seconds = _timed(lambda: matmul(a, b).block_until_ready())
    return 2 * size**3 / seconds


def model_flops_per_transition(model) -> float:
    """FLOPs of one imagined transition of one episode, as XLA's cost analysis
    counts them for the compiled model step (any family: nothing here reads the
    model's parameters)."""

    obs = jnp.asarray(model.observation_center, jnp.float32)
    key = jax.random.key(0)
    start = jax.tree_util.tree_map(lambda x: x[0], model.initial_inputs(obs[None]))
    carry = model.init_fn(model.params, start, key)
    action = jnp.zeros(model.action_dim, jnp.float32)
    compiled = jax.jit(model.step_fn).lower(model.params, carry, action, key).compile()
    return compiled_flops(compiled)


def compiled_flops(compiled) -> float:
    """FLOPs of one call of a compiled function, by XLA's cost analysis (NaN if it
    gives none)."""
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list | tuple) else analysis
    return float((analysis or {}).get("flops", float("nan")))


def bench_model(task, checkpoint: str | None, family_name: str | None = None):
    """The model to time: the checkpoint (default runs/models/<task>) if it exists,
    else a freshly initialised model of the family's default config (speed does
    not depend on the weights)."""

    path = checkpoint or RunPaths().model(task.name)
    if checkpoint or path.exists():
        return load_world_model(path, task), str(path)
    return fresh_model(task, family_name)


def fresh_model(task, family_name: str | None = None):
    """(a freshly initialised model of the family's default config, its description)."""

    family = get_family(family_name or DEFAULT_FAMILY)
    config = family.prepare_config(family.Config(), task)
    env = task.make_env()
    obs = np.stack([env.reset(seed=s)[0] for s in range(64)])
    env.close()
    actions = np.zeros((len(obs), task.action_dim), np.float32)
    normalizer = family.normalizer(config, task, obs, actions, obs + 0.01)
    params = family.init_params(config, task, 0)
    model = family.build(config, task, params, normalizer, {})
    return model, f"freshly initialised default {family.name} model"


def run_imagination_bench(config: BenchConfig) -> dict:

    task = get_task(config.imagination_task)
    model, source = bench_model(task, config.checkpoint)
    policy = load_policy(task.name, "oracle")
    init_obs = initial_observations(task, range(config.batch))
    key = jax.random.key(config.seed)
    engine_seconds = _timed(
        lambda: rollout_policy(model, policy, init_obs, key, task).observations.block_until_ready()
    )
    engine_rate = config.batch * task.horizon / engine_seconds
    flops = model_flops_per_transition(model)
    matmul_rate = matmul_flops_per_second()

    rng = np.random.default_rng(config.seed)
    single = ImaginedEnv(task.name, model=model)
    single.reset(seed=0)
    actions = rng.uniform(-1, 1, (config.steps // 4, task.action_dim)).astype(np.float32)
    single.step(actions[0])
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, _, _ = single.step(action)
        if terminated:
            single.reset()
    single_rate = len(actions) / (time.perf_counter() - start)

    vector = ImaginedVectorEnv(task.name, num_envs=config.vector_envs, model=model)
    vector.reset(seed=0)
    batch_actions = rng.uniform(-1, 1, (50, config.vector_envs, task.action_dim)).astype(np.float32)
    vector.step(batch_actions[0])
    start = time.perf_counter()
    for action in batch_actions:
        vector.step(action)
    vector_rate = len(batch_actions) * config.vector_envs / (time.perf_counter() - start)

    real_single = env_steps_per_second(task.name, config.steps, config.seed)
    return {
        "task": task.name, "model": source, "batch": config.batch,
        "engine_transitions_per_s": engine_rate, "flops_per_transition": flops,
        "matmul_flops_per_s": matmul_rate,
        "fraction_of_matmul_rate": engine_rate * flops / matmul_rate,
        "imagined_env_steps_per_s": single_rate, "vector_envs": config.vector_envs,
        "imagined_vector_env_steps_per_s": vector_rate, "real_env_steps_per_s": real_single,
        "scaling": engine_scaling(model, task, policy, config.scaling_batches, config.seed),
        "training": training_step_rate(task, model.family, config.seed),
    }  # fmt: skip


def training_step_rate(task, family_name: str | None = None, seed: int = 0) -> dict:
    """The training step's speed at the default model and training config: member-
    samples/s and the step's FLOPs (XLA's cost analysis of the compiled update:
    forward, backward and AdamW), on random windows (the epoch's gather from the
    dataset is left out: this is the step's arithmetic). Its parts are timed too, as
    compiled alone: the loss (forward), its gradient (forward and backward) and the
    share of the step's time the optimiser adds, so a profile says where the step
    falls short of the matmul rate."""

    family = get_family(family_name or DEFAULT_FAMILY)
    config = family.prepare_config(family.Config(), task)
    train_config = TrainConfig(**getattr(family, "train_defaults", {}))
    members, batch = family.member_count(config), train_config.batch_size
    steps, obs_dim, action_dim = train_config.rollout_steps, task.obs_dim, task.action_dim
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(256, obs_dim)).astype(np.float32)
    actions = rng.uniform(-1, 1, (256, action_dim)).astype(np.float32)
    normalizer = family.normalizer(config, task, obs, actions, obs + 0.01)
    loss_fn = family.loss(config, task, normalizer, False)
    params = family.init_params(config, task, seed)
    optimiser = make_optimiser(train_config, 10_000)
    window = {
        "obs": rng.normal(size=(members, batch, obs_dim)).astype(np.float32),
        "actions": rng.uniform(-1, 1, (members, batch, steps, action_dim)).astype(np.float32),
        "next_obs": rng.normal(size=(members, batch, steps, obs_dim)).astype(np.float32),
        "next_success": np.zeros((members, batch, steps), bool),
        "terminations": np.zeros((members, batch, steps), bool),
    }
    frames = family.frames(config) if hasattr(family, "frames") else None
    if frames is not None:  # a family that learns from frames: random frame stacks
        height, width, stack = frames
        window["frames"] = rng.integers(0, 256, (members, batch, steps + 1, height, width,
                                                 3 * stack), dtype=np.uint8)  # fmt: skip

    def update(params, opt_state, window):
        grads = jax.grad(lambda p: loss_fn(p, window)[0])(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    opt_state = optimiser.init(params)
    compiled = jax.jit(update).lower(params, opt_state, window).compile()
    flops = compiled_flops(compiled)

    def ten_steps():
        state = (params, opt_state)
        for _ in range(10):
            state = compiled(*state, window)
        jax.block_until_ready(state)

    seconds = _timed(ten_steps) / 10
    parts = {}
    for part, function in (("forward", lambda p, w: loss_fn(p, w)[0]),
                           ("gradient", jax.grad(lambda p, w: loss_fn(p, w)[0]))):  # fmt: skip
        alone = jax.jit(function).lower(params, window).compile()
        taken = _timed(lambda alone=alone: jax.block_until_ready(alone(params, window)), 5)
        parts[part] = {"flops": compiled_flops(alone), "seconds": taken}
    return {"member_samples_per_s": members * batch / seconds, "flops_per_step": flops,
            "flops_per_s": flops / seconds, "members": members, "batch": batch,
            "frames_per_s": members * batch * (steps + 1) / seconds if frames else None,
            "rollout_steps": steps, "parts": parts,
            "optimiser_share": max(0.0, 1 - parts["gradient"]["seconds"] / seconds)}  # fmt: skip


def run_latent_bench(config: BenchConfig) -> dict:
    """The latent family on its task at its default size: the training step (frames/s
    and the fraction of the matmul rate) and the engine at a large batch (latent
    transitions/s; frames are drawn only for the start of each episode)."""

    task = get_task(config.latent_task)
    model, source = fresh_model(task, "latent")
    policy = load_policy(task.name, "oracle")
    init_obs = initial_observations(task, range(config.latent_batch))
    key = jax.random.key(config.seed)
    seconds = _timed(
        lambda: rollout_policy(model, policy, init_obs, key, task).observations.block_until_ready()
    )
    return {
        "task": task.name, "model": source, "batch": config.latent_batch,
        "engine_transitions_per_s": config.latent_batch * task.horizon / seconds,
        "training": training_step_rate(task, "latent", config.seed),
        "matmul_flops_per_s": matmul_flops_per_second(),
    }  # fmt: skip


def format_latent(row: dict) -> str:
    training = row["training"]
    return "\n".join([
        f"Latent family on {row['task']} ({row['model']}):",
        f"engine: {row['engine_transitions_per_s']:,.0f} latent transitions/s at batch "
        f"{row['batch']} (the frames of each episode's start drawn by the task, included)",
        f"training step (batch {training['batch']} windows of {training['rollout_steps']} "
        f"steps): {training['frames_per_s']:,.0f} frames/s, "
        f"{training['flops_per_s'] / 1e9:.1f} GFLOP/s = "
        f"{training['flops_per_s'] / row['matmul_flops_per_s']:.0%} of the machine's matmul rate",
    ])  # fmt: skip


def engine_scaling(model, task, policy, batches, seed: int = 0) -> list[dict]:
    """Engine transitions/s and memory per imagined episode at each batch size.

    Memory is what XLA's memory analysis of the compiled rollout reports (outputs
    and temporaries, divided by the batch), so it says how many episodes fit.
    """

    rows = []
    key = jax.random.key(seed)
    function = _compiled("single", model, policy.act, task, task.horizon)
    for batch in batches:
        init_obs = np.tile(np.asarray(initial_observations(task, range(min(batch, 64)))),
                           (batch // min(batch, 64) + 1, 1))[:batch]  # fmt: skip
        arguments = (world_of(model), policy.params, jax.numpy.asarray(init_obs), key, None)
        memory = function.lower(*arguments).compile().memory_analysis()
        used = getattr(memory, "output_size_in_bytes", 0) + getattr(memory, "temp_size_in_bytes", 0)
        seconds = _timed(lambda a=arguments: function(*a).observations.block_until_ready(),
                         repeats=3 if batch <= 4096 else 1)  # fmt: skip
        rows.append({"batch": batch, "transitions_per_s": batch * task.horizon / seconds,
                     "bytes_per_episode": used / batch})  # fmt: skip
    return rows


def format_scaling(rows: list[dict], task: str) -> str:
    lines = [
        f"Engine scaling with batch ({task}, oracle policy, {len(rows)} sizes):",
        "| episodes per call | transitions/s | memory per episode |",
        "|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['batch']:,} | {row['transitions_per_s']:,.0f} "
                     f"| {row['bytes_per_episode'] / 1024:,.1f} KiB |")  # fmt: skip
    return "\n".join(lines)


def format_imagination(row: dict) -> str:
    engine = row["engine_transitions_per_s"]
    lines = [
        f"Imagination of {row['task']} ({row['model']}):",
        "| measurement | batch | transitions/s | vs single ImaginedEnv |",
        "|---|---:|---:|---:|",
        f"| batched engine (oracle policy, one jitted scan) | {row['batch']} | {engine:,.0f} "
        f"| {engine / row['imagined_env_steps_per_s']:.0f}x |",
        f"| ImaginedVectorEnv.step loop | {row['vector_envs']} "
        f"| {row['imagined_vector_env_steps_per_s']:,.0f} "
        f"| {row['imagined_vector_env_steps_per_s'] / row['imagined_env_steps_per_s']:.0f}x |",
        f"| ImaginedEnv.step loop | 1 | {row['imagined_env_steps_per_s']:,.0f} | 1x |",
        f"| ground truth, single env | 1 | {row['real_env_steps_per_s']:,.0f} | |",
        "",
        f"model FLOPs per transition: {row['flops_per_transition'] / 1e6:.2f} MFLOP; "
        f"engine {engine * row['flops_per_transition'] / 1e9:.1f} GFLOP/s vs measured dense "
        f"matmul {row['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s = "
        f"{row['fraction_of_matmul_rate']:.0%} of the machine's rate",
    ]
    training = row.get("training")
    if training:
        lines += [
            f"training step ({training['members']} members × batch {training['batch']}): "
            f"{training['member_samples_per_s']:,.0f} member-samples/s, "
            f"{training['flops_per_s'] / 1e9:.1f} GFLOP/s = "
            f"{training['flops_per_s'] / row['matmul_flops_per_s']:.0%} of the machine's rate "
            f"(engine: {row['fraction_of_matmul_rate']:.0%})",
            "  alone: " + ", ".join(
                f"{part} {values['flops'] / values['seconds'] / row['matmul_flops_per_s']:.0%}"
                for part, values in training["parts"].items()
            ) + f" of the rate; the optimiser adds {training['optimiser_share']:.0%} of the "
            "step's time",
        ]  # fmt: skip
    if row.get("scaling"):
        lines += ["", format_scaling(row["scaling"], row["task"])]
    return "\n".join(lines)
