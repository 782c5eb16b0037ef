"""A multi-chain NUTS run on the notebook data and the quantities whose convergence is checked.

Identified models are checked on every latent sample site; models whose weights are not
identified (``ModelSpec.identified``) on invariant quantities only: sigma, f at fixed inputs and
the log-likelihood (Vehtari et al. 2021; docs/calibration.md#convergence).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.infer import log_likelihood

from .data import Dataset, make_sinc
from .inference import run_nuts
from .settings import RunLengths
from .zoo import ModelSpec, get_spec

# Fixed inputs at which f is compared across chains (the invariant quantities of the neural models).
INVARIANT_POINTS = (-7.5, -2.5, 0.0, 2.5, 7.5)


class MultiChainRun(NamedTuple):
    """Quantities to diagnose, shaped (chain, draw, ...), and the sampler's per-transition stats."""

    draws: dict[str, np.ndarray]
    diverging: np.ndarray
    num_steps: np.ndarray
    energy: np.ndarray
    settings: RunLengths
    max_tree_depth: int
    seconds: float

    @property
    def saturated_steps(self) -> int:
        """Leapfrog steps of a transition that hit the tree-depth limit: 2^depth - 1."""
        return 2**self.max_tree_depth - 1


def f_at(spec: ModelSpec, samples: dict[str, jax.Array], x, data: Dataset) -> jax.Array:
    """The deterministic site f at inputs ``x`` for each posterior draw, shaped (draws, len(x)).

    Substitutes each draw of the latent sites into the model and reads f from its trace, under one
    jitted ``vmap`` (NumPyro's ``Predictive`` loops over the draws: ~20x slower on deep_rff).
    """
    kwargs = spec.kwargs(data.model_keys)
    model = handlers.seed(spec.model, rng_seed=0)

    def one(draw):
        tr = handlers.trace(handlers.substitute(model, data=draw)).get_trace(x, None, **kwargs)
        return tr["f"]["value"]

    return jax.jit(jax.vmap(one))(samples)


def checked_quantities(
    spec: ModelSpec, samples: dict[str, jax.Array], data: Dataset, num_chains: int
) -> dict[str, np.ndarray]:
    """The quantities whose convergence is checked, each shaped (chain, draw, ...).

    Every model: f at :data:`INVARIANT_POINTS` and the log-likelihood sum_i log p(y_i | theta).
    Identified models add every latent sample site; the others add sigma only.
    """
    latent = latent_sites(spec, data)
    samples = {k: samples[k] for k in latent}
    points = jnp.asarray(INVARIANT_POINTS, dtype=data.x_train.dtype)
    f = f_at(spec, samples, points, data)
    kwargs = spec.kwargs(data.model_keys)
    loglik = log_likelihood(spec.model, samples, data.x_train, data.y_train, **kwargs)["obs"]
    out = {"f": f, "loglik": loglik.sum(-1)}
    sites = latent if spec.identified else ["sigma"]
    out.update({k: samples[k] for k in sites})
    return {k: np.asarray(v).reshape(num_chains, -1, *np.shape(v)[1:]) for k, v in out.items()}


def latent_sites(spec: ModelSpec, data: Dataset) -> list[str]:
    """Names of the model's unobserved sample sites (deterministic sites excluded)."""
    model = handlers.seed(spec.model, rng_seed=0)
    tr = handlers.trace(model).get_trace(data.x_train, data.y_train, **spec.kwargs(data.model_keys))
    return [k for k, site in tr.items() if site["type"] == "sample" and not site["is_observed"]]


def multi_chain_run(
    name: str, seed: int, data: Dataset | None = None, settings: RunLengths | None = None
) -> MultiChainRun:
    """NUTS on ``data`` (default: the notebook's) with the entry's convergence settings (or
    ``settings``) and sampler settings; chains vectorised."""
    spec = get_spec(name)
    settings = spec.convergence if settings is None else settings
    data = make_sinc() if data is None else data
    start = time.perf_counter()
    mcmc = run_nuts(
        spec.model,
        jax.random.PRNGKey(seed),
        data.x_train,
        data.y_train,
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
        target_accept_prob=spec.target_accept_prob,
        max_tree_depth=spec.max_tree_depth,
        **spec.kwargs(data.model_keys),
    )
    extra = mcmc.get_extra_fields(group_by_chain=True)
    draws = checked_quantities(spec, mcmc.get_samples(), data, settings.num_chains)
    return MultiChainRun(
        draws,
        np.asarray(extra["diverging"]),
        np.asarray(extra["num_steps"]),
        np.asarray(extra["energy"]),
        settings,
        spec.max_tree_depth,
        time.perf_counter() - start,
    )
