"""NumPyro's NUTS kernel adapted to lanes: one chain as pure functions of a lane's arrays.

:func:`chain_runner` wraps NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) so that
the data are an argument (to be vmapped over lanes) and a chain advances in segments of any
length with the same numbers; :func:`host_rng` and :func:`_uniform_points` draw the lanes' initial
points on the host.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from numpyro.distributions.transforms import biject_to
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model, potential_energy

from .. import calling
from ..calling import conditioned

Draws = dict[str, jax.Array]


def latent_transforms(model, x, y, model_kwargs):
    """Bijections to the support of every latent sample site of ``model`` on inputs ``x`` with
    data ``y`` observed (:mod:`regmaster.calling`); a discrete latent site is refused, naming it."""
    trace = calling.trace(model, x, y, **model_kwargs)
    latent = {k: s for k, s in trace.items() if s["type"] == "sample" and not s["is_observed"]}
    for name, site in latent.items():
        if site["fn"].support.is_discrete:
            raise ValueError(
                f"model {getattr(model, '__name__', model)!r} has a discrete latent site {name!r} "
                f"({type(site['fn']).__name__}): the fits here move in a continuous space; "
                "marginalise it out (numpyro's enumeration) or observe it"
            )
    return {name: biject_to(site["fn"].support) for name, site in latent.items()}


class Transitions(NamedTuple):
    """What one NUTS transition records, per lane: position and sampler statistics."""

    z: Draws
    diverging: jax.Array
    num_steps: jax.Array
    accept_prob: jax.Array
    energy: jax.Array


class ChainRunner(NamedTuple):
    """One NUTS chain as pure functions of a lane's arrays, to be vmapped and compiled.

    ``init(z0, y, key)`` is the kernel's state after NumPyro's initialisation (step-size search,
    adaptation set up for ``num_warmup`` steps); ``advance(state, y, length)`` runs ``length``
    transitions in one ``lax.scan`` and returns the new state and their :class:`Transitions`.
    Warmup is the state's first ``num_warmup`` transitions, so a chain advanced in segments of
    any length draws the same numbers. ``template``: unconstrained shapes and dtypes;
    ``transforms``: per-site bijections to the constrained space.
    """

    init: Callable
    advance: Callable
    template: Draws
    transforms: dict
    num_warmup: int
    num_samples: int


def chain_runner(
    model,
    x,
    y_template,
    *,
    num_warmup: int,
    num_samples: int,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    hmc_steps: int | None = None,
    **model_kwargs,
) -> ChainRunner:
    """NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) for ``model`` on inputs ``x``,
    as a :class:`ChainRunner` whose functions take the data ``y`` (a site dict or an array,
    :mod:`regmaster.calling`) as an argument; with ``hmc_steps``, its HMC kernel with that many
    leapfrog steps per trajectory instead (``max_tree_depth`` unused)."""
    transforms = latent_transforms(model, x, y_template, model_kwargs)
    model = conditioned(model)
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

    algo = "NUTS" if hmc_steps is None else "HMC"
    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo=algo)
    trajectory = (
        {"max_tree_depth": max_tree_depth} if hmc_steps is None else {"num_steps": hmc_steps}
    )

    def init(z0, y, rng_key):
        return init_kernel(
            z0,
            num_warmup,
            target_accept_prob=target_accept_prob,
            model_args=(x, y),
            model_kwargs=model_kwargs,
            rng_key=rng_key,
            **trajectory,
        )

    def advance(state, y, length: int):
        def step(carry, _):
            new = sample_kernel(carry, model_args=(x, y), model_kwargs=model_kwargs)
            return new, Transitions(
                new.z, new.diverging, new.num_steps, new.accept_prob, new.energy
            )

        return jax.lax.scan(step, state, None, length=length)

    return ChainRunner(init, advance, template, transforms, num_warmup, num_samples)


def host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key's bits (no XLA program is compiled for it)."""
    return np.random.default_rng(np.asarray(jr.key_data(key)).astype(np.uint32).ravel().tolist())


def _uniform_points(rng: np.random.Generator, template: Draws, batch: int, radius: float):
    """``batch`` independent points uniform in [-radius, radius] per unconstrained coordinate of
    ``template``, drawn from ``rng``."""
    # Drawn on the host: no XLA program is compiled for them (benchmarks/README.md#fixed-cost).
    return jax.tree.map(
        lambda leaf: jnp.asarray(rng.uniform(-radius, radius, (batch, *leaf.shape)), leaf.dtype),
        template,
    )
