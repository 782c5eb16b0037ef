"""The three inference paths: NUTS (any number of chains), MAP by SVI + AutoDelta, prediction."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float
from numpyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.optim import Adam, _NumPyroOptim

from .checks import check_inputs, check_positive_int


def run_nuts(
    model: Callable[..., None],
    key: jax.Array,
    x,
    y,
    *,
    num_warmup: int,
    num_samples: int,
    num_chains: int = 1,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    progress_bar: bool = False,
    **model_kwargs,
) -> MCMC:
    """Run NUTS (Hoffman & Gelman 2014); all chains are one vectorised, compiled program.

    With one chain and default settings this is exactly the notebook's
    ``MCMC(NUTS(model), num_warmup, num_samples).run(key, x, y, **kwargs)``.
    """
    x, y = check_inputs(x, y)
    num_warmup = check_positive_int("num_warmup", num_warmup, minimum=0)
    num_samples = check_positive_int("num_samples", num_samples)
    num_chains = check_positive_int("num_chains", num_chains)
    kernel = NUTS(model, target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth)
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=progress_bar,
    )
    mcmc.run(
        key, x, y, extra_fields=("diverging", "num_steps", "accept_prob", "energy"), **model_kwargs
    )
    return mcmc


class MapFit(NamedTuple):
    """A fitted AutoDelta guide: its parameters (``<site>_auto_loc``) and the loss trace."""

    guide: AutoDelta
    params: dict[str, Array]
    losses: Float[Array, " steps"]

    def point(self) -> dict[str, Array]:
        """The MAP point in the constrained space, keyed by site name."""
        return self.guide.median(self.params)


def decaying_adam(learning_rate: float = 0.1, halving_steps: int = 1000) -> _NumPyroOptim:
    """Adam whose rate halves every ``halving_steps``; constant-rate Adam drifts off the optimum."""

    def schedule(step):
        return learning_rate * 0.5 ** (step / halving_steps)

    return Adam(schedule)


def run_map(
    model: Callable[..., None],
    key: jax.Array,
    x,
    y,
    *,
    num_steps: int,
    learning_rate: float = 5e-3,
    optimizer: _NumPyroOptim | None = None,
    progress_bar: bool = False,
    **model_kwargs,
) -> MapFit:
    """MAP by SVI with an ``AutoDelta`` guide and ``Trace_ELBO``.

    A delta guide has log q = 0, so the ELBO is log p(y, theta) at the guide's point, maximised in
    the constrained space with no Jacobian term. The default optimiser is the notebook's Adam(5e-3).
    """
    x, y = check_inputs(x, y)
    num_steps = check_positive_int("num_steps", num_steps)
    guide = AutoDelta(model)
    svi = SVI(model, guide, optimizer or Adam(learning_rate), Trace_ELBO())
    result = svi.run(key, num_steps, x, y, progress_bar=progress_bar, **model_kwargs)
    return MapFit(guide, result.params, result.losses)


def predict(
    model: Callable[..., None],
    key: jax.Array,
    x,
    *,
    samples: dict[str, Array] | None = None,
    map_fit: MapFit | None = None,
    num_samples: int | None = None,
    site: str = "obs",
    **model_kwargs,
) -> Float[Array, "draws n"]:
    """Posterior-predictive draws of ``site`` at ``x``, from NUTS samples or a MAP fit."""
    x, _ = check_inputs(x)
    if (samples is None) == (map_fit is None):
        raise ValueError("predict needs exactly one of samples= or map_fit=")
    if samples is not None:
        predictive = Predictive(model, posterior_samples=samples)
    else:
        num_samples = check_positive_int("num_samples", num_samples)
        predictive = Predictive(
            model, params=map_fit.params, num_samples=num_samples, guide=map_fit.guide
        )
    return predictive(key, x, **model_kwargs)[site]


def r2(y_true: Float[Array, " n"], y_pred: Float[Array, " n"]) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot."""
    ss_res = jnp.sum((y_true - y_pred) ** 2)
    ss_tot = jnp.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - ss_res / ss_tot)


def predictive_interval(
    draws: Float[Array, "draws n"], level: float = 0.95
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Equal-tailed interval of the predictive draws at each input."""
    if not (0.0 < level < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    tail = (1.0 - level) / 2.0
    lo, hi = jnp.quantile(draws, jnp.array([tail, 1.0 - tail]), axis=0)
    return lo, hi
