"""A MAP optimiser independent of NumPyro's SVI, and SVI's own objective to compare against it.

:func:`constrained_map` maximises ``numpyro.infer.util.log_density`` with scipy over the
constrained values (the objective AutoDelta + Trace_ELBO maximises: no Jacobian term);
:func:`newton_polish` refines an optimum to the float64 floor.

References
----------
Nocedal, Wright (2006). Numerical Optimization, 2nd ed. Springer (L-BFGS-B, trust region,
Newton's method).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.flatten_util import ravel_pytree
from numpyro.handlers import substitute, trace
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.initialization import init_to_value
from numpyro.infer.util import log_density
from numpyro.optim import Adam
from scipy import optimize

# Lower bound for positive sites in L-BFGS-B: strictly inside the support, far below any optimum.
POSITIVE_LOWER_BOUND = 1e-10


class ConstrainedMap(NamedTuple):
    """The result of :func:`constrained_map`: the optimum, its log joint and scipy's report.

    Attributes
    ----------
    params : dict
        Site name -> value at the optimum (constrained space).
    log_joint : float
        log p(params, y).
    grad_norm : float
        Euclidean norm of the gradient of log p at ``params``.
    result : scipy.optimize.OptimizeResult
        The optimiser's report.
    """

    params: dict[str, jax.Array]
    log_joint: float
    grad_norm: float
    result: optimize.OptimizeResult


def log_joint_fn(
    model: Callable[..., None], *args, **kwargs
) -> Callable[[dict[str, jax.Array]], jax.Array]:
    """params -> log p(params, y): ``log_density`` at constrained values (AutoDelta's objective).

    Parameters
    ----------
    model : callable
        A NumPyro model.
    *args, **kwargs
        The model's arguments (its data among them).

    Returns
    -------
    callable
        dict of constrained site values -> scalar log joint density.
    """

    def fn(params: dict[str, jax.Array]) -> jax.Array:
        return log_density(model, args, kwargs, params)[0]

    return fn


def _positive_sites(model, params, args, kwargs) -> set[str]:
    tr = trace(substitute(model, data=params)).get_trace(*args, **kwargs)
    positive = set()
    for name in params:
        support = tr[name]["fn"].support
        if support is dist.constraints.positive:
            positive.add(name)
        elif support is not dist.constraints.real and not isinstance(
            support, dist.constraints.independent
        ):
            raise ValueError(f"site {name!r} has support {support}: only real or positive handled")
    return positive


def _flat_objective(model, init, args, kwargs):
    init = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in init.items()}
    flat0, unravel = ravel_pytree(init)
    target = log_joint_fn(model, *args, **kwargs)

    def negative(flat):
        return -target(unravel(flat))

    return init, flat0, unravel, negative


def constrained_map(
    model: Callable[..., None],
    init: dict[str, Any],
    *args,
    method: str = "L-BFGS-B",
    gtol: float = 1e-12,
    maxiter: int = 20000,
    **kwargs,
) -> ConstrainedMap:
    """argmax over constrained values of log p(theta, y) with scipy, gradient by ``jax.grad``.

    ``method="L-BFGS-B"``: positive sites get the bound ``POSITIVE_LOWER_BOUND``, real sites are
    unbounded. ``method="trust-exact"``: Newton trust region with the exact Hessian
    (``jax.hessian``), unbounded; for small ill-conditioned problems (the MLP) where L-BFGS crawls.
    Independent of SVI: no guide, no ``biject_to``, another optimiser. ``init``: site -> value.

    Parameters
    ----------
    model : callable
        A NumPyro model whose latent sites have real or positive support.
    init : dict
        Site name -> starting value.
    *args, **kwargs
        The model's arguments.
    method : {"L-BFGS-B", "trust-exact"}
        The scipy optimiser.
    gtol : float
        Gradient tolerance passed to scipy.
    maxiter : int
        Iteration limit passed to scipy.

    Returns
    -------
    ConstrainedMap
        The optimum, its log joint, the gradient norm there and scipy's result.
    """
    init, flat0, unravel, negative = _flat_objective(model, init, args, kwargs)
    value_and_grad = jax.jit(jax.value_and_grad(negative))

    def fun(flat):
        value, grad = value_and_grad(jnp.asarray(flat))
        return float(value), np.asarray(grad, dtype=np.float64)

    if method == "L-BFGS-B":
        positive = _positive_sites(model, init, args, kwargs)
        lower = {
            k: jnp.full_like(v, POSITIVE_LOWER_BOUND if k in positive else -jnp.inf)
            for k, v in init.items()
        }
        lower_flat = np.asarray(ravel_pytree(lower)[0])
        bounds = [(None if np.isinf(b) else float(b), None) for b in lower_flat]
        options = {"gtol": gtol, "ftol": 0.0, "maxiter": maxiter, "maxcor": 50}
        result = optimize.minimize(
            fun, np.asarray(flat0), jac=True, method=method, bounds=bounds, options=options
        )
    elif method == "trust-exact":
        hessian = jax.jit(jax.hessian(negative))
        result = optimize.minimize(
            fun,
            np.asarray(flat0),
            jac=True,
            hess=lambda flat: np.asarray(hessian(jnp.asarray(flat))),
            method=method,
            options={"gtol": gtol, "maxiter": maxiter},
        )
    else:
        raise ValueError(f"method must be 'L-BFGS-B' or 'trust-exact', got {method!r}")
    params = unravel(jnp.asarray(result.x))
    return ConstrainedMap(params, -float(result.fun), float(np.linalg.norm(result.jac)), result)


def newton_polish(
    model: Callable[..., None], params: dict[str, Any], *args, max_steps: int = 10, **kwargs
) -> ConstrainedMap:
    """Full Newton steps theta <- theta - H^-1 g on -log p(theta, y) near a strict local maximum.

    Quadratic convergence: from a point inside the basin the gradient norm falls to the float64
    floor in a few steps. Stops when a step no longer lowers the gradient norm; returns the best.

    Parameters
    ----------
    model : callable
        A NumPyro model.
    params : dict
        Site name -> starting value (constrained space), inside the maximum's basin.
    *args, **kwargs
        The model's arguments.
    max_steps : int
        The most Newton steps taken.

    Returns
    -------
    ConstrainedMap
        The point with the smallest gradient norm seen.
    """
    _, flat, unravel, negative = _flat_objective(model, params, args, kwargs)
    gradient = jax.jit(jax.grad(negative))
    hessian = jax.jit(jax.hessian(negative))
    best, best_norm = flat, float(jnp.linalg.norm(gradient(flat)))
    for _ in range(max_steps):
        flat = flat - jnp.linalg.solve(hessian(flat), gradient(flat))
        norm = float(jnp.linalg.norm(gradient(flat)))
        if not norm < best_norm:
            break
        best, best_norm = flat, norm
    result = optimize.OptimizeResult(x=np.asarray(best), fun=float(negative(best)))
    return ConstrainedMap(unravel(best), -result.fun, best_norm, result)


def delta_guide_objective(
    model: Callable[..., None], point: dict[str, Any], *args, **kwargs
) -> tuple[float, float]:
    """(loss, gradient norm) of AutoDelta + Trace_ELBO at ``point``, as SVI sees them.

    The gradient is taken with respect to the guide's unconstrained parameters (SVI's coordinates:
    log sigma for a positive site). At a constrained-space stationary point of log p(theta, y) it
    vanishes; with a log-Jacobian term (the unconstrained-space mode) the log-sigma component would
    be 1 there instead.

    Parameters
    ----------
    model : callable
        A NumPyro model.
    point : dict
        Site name -> constrained value at which the guide is placed.
    *args, **kwargs
        The model's arguments.

    Returns
    -------
    loss : float
        The ``Trace_ELBO`` loss at ``point``.
    grad_norm : float
        Euclidean norm of its gradient in the guide's unconstrained parameters.
    """
    guide = AutoDelta(model, init_loc_fn=init_to_value(values=dict(point)))
    svi = SVI(model, guide, Adam(0.0), Trace_ELBO())
    key = jax.random.PRNGKey(0)
    state = svi.init(key, *args, **kwargs)
    unconstrained = svi.optim.get_params(state.optim_state)

    def loss(u):
        return Trace_ELBO().loss(key, svi.constrain_fn(u), model, guide, *args, **kwargs)

    value, grads = jax.value_and_grad(loss)(unconstrained)
    return float(value), float(jnp.linalg.norm(ravel_pytree(grads)[0]))


def grad_norm(model: Callable[..., None], params: dict[str, Any], *args, **kwargs) -> float:
    """Euclidean norm of the gradient of log p(theta, y) at constrained ``params``.

    Parameters
    ----------
    model : callable
        A NumPyro model.
    params : dict
        Site name -> constrained value.
    *args, **kwargs
        The model's arguments.

    Returns
    -------
    float
        |grad log p(params, y)|.
    """
    params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    grads = jax.grad(log_joint_fn(model, *args, **kwargs))(params)
    flat, _ = ravel_pytree(grads)
    return float(jnp.linalg.norm(flat))
