"""Batched NUTS: every (replication, chain) lane of a calibration run in one compiled program.

NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) runs warmup and sampling of one chain
in one ``lax.scan``; that chain is ``vmap``-ed over lanes, a few dozen at a time under one
``lax.map`` on a CPU and all at once on an accelerator, and optionally split over several devices
with ``shard_map``. Every lane has its own initial point, key and warmup adaptation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from numpyro import handlers
from numpyro.distributions.transforms import biject_to
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model, potential_energy

from .checks import check_inputs, check_positive_int

Draws = dict[str, jax.Array]


class BatchedFit(NamedTuple):
    """NUTS output for a batch of replications: arrays shaped (replication, chain, draw, ...)."""

    samples: Draws
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    energy: np.ndarray
    initial_z: Draws
    max_tree_depth: int


def latent_transforms(model, x, y, model_kwargs):
    trace = handlers.trace(handlers.seed(model, 0)).get_trace(x, y, **model_kwargs)
    return {
        name: biject_to(site["fn"].support)
        for name, site in trace.items()
        if site["type"] == "sample" and not site["is_observed"]
    }


def chain_runner(
    model,
    x,
    y_template,
    *,
    num_warmup: int,
    num_samples: int,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    **model_kwargs,
):
    """``one_chain(z0, y, key)``: warmup and sampling of one NUTS chain as a pure function.

    It runs NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) in one ``lax.scan`` over
    warmup and sampling, so it can be ``vmap``-ed over replications and chains and compiled once.
    Returns it with the unconstrained parameter template (shapes and dtypes) and the per-site
    bijections to the constrained space.
    """
    # Shapes only: initialize_model run eagerly would compile ~90 tiny programs, one per op.
    template = jax.eval_shape(
        lambda: (
            initialize_model(
                jr.PRNGKey(0), model, model_args=(x, y_template), model_kwargs=model_kwargs
            ).param_info.z
        )
    )

    def potential_fn_gen(*args, **kwargs):  # initialize_model's, with dynamic_args=True
        return partial(potential_energy, model, args, kwargs)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
    transforms = latent_transforms(model, x, y_template, model_kwargs)

    def one_chain(z0, y, rng_key):
        args = (x, y)
        state = init_kernel(
            z0,
            num_warmup,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
            model_args=args,
            model_kwargs=model_kwargs,
            rng_key=rng_key,
        )

        def step(carry, _):
            new = sample_kernel(carry, model_args=args, model_kwargs=model_kwargs)
            return new, (new.z, new.diverging, new.num_steps, new.accept_prob, new.energy)

        # One scan over warmup and sampling: the NUTS kernel is compiled once, not twice.
        _, collected = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
        return jax.tree.map(lambda a: a[num_warmup:], collected)

    return one_chain, template, transforms


def host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key's bits (no XLA program is compiled for it)."""
    return np.random.default_rng(np.asarray(jr.key_data(key)).astype(np.uint32).ravel().tolist())


def uniform_initial_points(key: jax.Array, template: Draws, batch: int, radius: float = 2.0):
    """``batch`` independent points uniform in [-radius, radius] per unconstrained coordinate."""
    return _uniform_points(host_rng(key), template, batch, radius)


def _uniform_points(rng: np.random.Generator, template: Draws, batch: int, radius: float):
    # Drawn on the host: no XLA program is compiled for them (benchmarks/README.md#fixed-cost).
    return jax.tree.map(
        lambda leaf: jnp.asarray(rng.uniform(-radius, radius, (batch, *leaf.shape)), leaf.dtype),
        template,
    )


# A vmapped NUTS transition waits for its longest trajectory: 40 lanes per step was fastest on a
# CPU, all lanes in one step on a GPU (benchmarks/README.md#lanes-per-step).
LANES_PER_STEP = 40


def default_lanes_per_step(platform: str, lanes: int) -> int:
    """Lanes vmapped per step when none is asked for: :data:`LANES_PER_STEP` on ``"cpu"``, all
    ``lanes`` on an accelerator (measured in benchmarks/README.md)."""
    return min(LANES_PER_STEP, lanes) if platform == "cpu" else lanes


def _current_platform(devices: list) -> str:
    # The platform the program will run on: the first given device, else the default device
    # (``jax.default_device`` included), read off a host value put there (nothing compiles).
    if devices:
        return devices[0].platform
    return next(iter(jax.device_put(np.zeros(())).devices())).platform


def batched_chains(one_chain, lanes_per_step: int | None = None, devices=None):
    """``run(z0, y_rows, keys)``, compiled: ``one_chain`` (see :func:`chain_runner`) on every lane
    (leading axis), ``lanes_per_step`` lanes vmapped at a time under one ``lax.map`` (``None``:
    :func:`default_lanes_per_step` for the platform).

    A batch that ``lanes_per_step`` does not divide is padded with copies of its last lane (and
    the copies dropped), so the program holds one NUTS kernel, not a second for the remainder.
    With several ``devices`` the lanes are split evenly over them (``shard_map``), each device
    stepping through its share. A lane computes the same thing under any split, but the
    multi-device program is compiled apart and may round differently, and a long chain amplifies
    a last-bit difference into different (equally valid) draws: a seed gives the same numbers for
    the same device count.
    """
    if lanes_per_step is not None:
        lanes_per_step = check_positive_int("lanes_per_step", lanes_per_step)
    devices = list(devices) if devices is not None else []
    platform = _current_platform(devices)
    num_devices = max(len(devices), 1)

    def run(z0, y_rows, keys):
        batch = y_rows.shape[0]
        per_step = lanes_per_step or default_lanes_per_step(platform, -(-batch // num_devices))

        def run_share(lanes):
            return jax.lax.map(lambda lane: one_chain(*lane), lanes, batch_size=per_step)

        if num_devices > 1:
            mesh = jax.sharding.Mesh(np.array(devices), ("lanes",))
            spec = jax.sharding.PartitionSpec("lanes")
            run_share = jax.shard_map(
                run_share, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False
            )
        group = per_step * num_devices
        pad = -(-batch // group) * group - batch

        def padded(a):
            return jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]) if pad else a

        out = run_share(jax.tree.map(padded, (z0, y_rows, keys)))
        return jax.tree.map(lambda a: a[:batch], out)

    return jax.jit(run)


def fit_batched(
    model,
    key: jax.Array,
    x,
    y_batch,
    *,
    num_warmup: int,
    num_samples: int,
    num_chains: int = 2,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    init_radius: float = 2.0,
    init_fn: Callable[[jax.Array, Draws], Draws] | None = None,
    lanes_per_step: int | None = None,
    devices=None,
    **model_kwargs,
) -> BatchedFit:
    """NUTS on every row of ``y_batch``, all replications and chains in one compiled program.

    Each (replication, chain) starts from its own point drawn uniformly in [-r, r] in the
    unconstrained space (NumPyro's ``init_to_uniform``) and adapts its own step size and diagonal
    mass matrix. ``init_fn(key, template)`` overrides the initial points (for tests of the harness).

    The (replication, chain) lanes run ``lanes_per_step`` at a time, vmapped, under one
    ``lax.map`` (default: :func:`default_lanes_per_step`, 40 on a CPU, all on a GPU; the draws do
    not depend on it); with several ``devices`` (for example CPU devices made by
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, one per core) each runs its share.
    """
    x, _ = check_inputs(x)
    y_batch = jnp.asarray(y_batch)
    if y_batch.ndim != 2 or y_batch.shape[1] != x.shape[0]:
        raise ValueError(
            f"y_batch must be shaped (replications, {x.shape[0]}), got {tuple(y_batch.shape)}"
        )
    num_chains = check_positive_int("num_chains", num_chains)
    num_samples = check_positive_int("num_samples", num_samples)
    num_warmup = check_positive_int("num_warmup", num_warmup, minimum=0)
    num_reps = y_batch.shape[0]
    batch = num_reps * num_chains

    one_chain, template, transforms = chain_runner(
        model,
        x,
        y_batch[0],
        num_warmup=num_warmup,
        num_samples=num_samples,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
        **model_kwargs,
    )

    run_lanes = batched_chains(one_chain, lanes_per_step, devices)

    # Initial points and the lanes' keys (raw threefry keys) come from a host generator seeded
    # by ``key``, so no XLA program is compiled for them.
    rng = host_rng(key)
    if init_fn is None:
        initial_z = _uniform_points(rng, template, batch, init_radius)
    else:
        initial_z = init_fn(key, jax.tree.map(lambda v: jnp.zeros((batch, *v.shape)), template))
    _check_distinct(initial_z)
    keys = jnp.asarray(rng.integers(0, 2**32, (batch, 2), dtype=np.uint32))

    def program(initial_z, y_batch, keys):
        # Every lane's chain and the constraining bijections: one program.
        y_rows = jnp.repeat(y_batch, num_chains, axis=0)
        z, *stats = run_lanes(initial_z, y_rows, keys)
        return {name: transforms[name](z[name]) for name in z}, stats

    constrained, stats = jax.jit(program)(initial_z, y_batch, keys)
    diverging, num_steps, accept, energy = stats

    def unbatch(a):
        return np.asarray(a).reshape(num_reps, num_chains, num_samples, *a.shape[2:])

    constrained = {name: unbatch(v) for name, v in constrained.items()}
    return BatchedFit(
        constrained,
        unbatch(diverging),
        unbatch(num_steps),
        unbatch(accept),
        unbatch(energy),
        {
            name: np.asarray(v).reshape(num_reps, num_chains, *v.shape[1:])
            for name, v in initial_z.items()
        },
        max_tree_depth,
    )


def _check_distinct(initial_z: Draws) -> None:
    """Refuse initial points shared between (replication, chain) pairs: a harness bug."""
    flat = np.concatenate(
        [np.asarray(v).reshape(v.shape[0], -1) for v in initial_z.values()], axis=1
    )
    if flat.shape[0] > 1 and np.unique(flat, axis=0).shape[0] < flat.shape[0]:
        raise RuntimeError(
            f"initial points are shared: {np.unique(flat, axis=0).shape[0]} distinct of "
            f"{flat.shape[0]} (replication, chain) pairs; each needs its own initialisation"
        )
