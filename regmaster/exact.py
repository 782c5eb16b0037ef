"""Exact references for the validation suite: closed-form and quadrature posteriors, and a MAP
optimiser independent of NumPyro's SVI.

- Gaussian linear regression with known noise (conjugate): w ~ N(0, tau^2 I), y ~ N(Phi w, s^2 I)
  gives w | y ~ N(m, C), C = (Phi'Phi / s^2 + I / tau^2)^-1, m = C Phi'y / s^2 (the ridge solution;
  Bishop 2006, PRML eq. 3.53-3.54).
- Unknown noise, sigma ~ HalfNormal(sigma_scale): w integrates out, p(sigma | y) is proportional to
  HalfNormal(sigma) N(y; 0, sigma^2 I + tau^2 Phi Phi'), a 1-D density evaluated on a grid; the
  moments of w follow from the conditional Gaussians by the laws of total expectation and
  covariance.
- :func:`constrained_map` maximises ``numpyro.infer.util.log_density`` with scipy over the
  constrained values (the objective AutoDelta + Trace_ELBO maximises: no Jacobian term).

References
----------
Bishop (2006). Pattern Recognition and Machine Learning. Springer, section 3.3.
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


class GaussianPosterior(NamedTuple):
    """w | y ~ N(mean, cov).

    Attributes
    ----------
    mean : ndarray, shape (p,)
        Posterior mean of w.
    cov : ndarray, shape (p, p)
        Posterior covariance of w.
    """

    mean: np.ndarray
    cov: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        """Posterior sd of each weight, sqrt(diag(cov))."""
        return np.sqrt(np.diag(self.cov))


class LinearPosterior(NamedTuple):
    """Exact posterior moments of (w, sigma) for Gaussian linear regression with unknown noise.

    Attributes
    ----------
    w_mean : ndarray, shape (p,)
        E[w | y].
    w_cov : ndarray, shape (p, p)
        Cov[w | y].
    sigma_mean : float
        E[sigma | y].
    sigma_sd : float
        sd[sigma | y].
    grid : ndarray, shape (num_grid,)
        The sigma grid of the quadrature.
    weights : ndarray, shape (num_grid,)
        Normalised trapezoid weights of p(sigma | y) on ``grid``.
    """

    w_mean: np.ndarray
    w_cov: np.ndarray
    sigma_mean: float
    sigma_sd: float
    grid: np.ndarray
    weights: np.ndarray

    @property
    def w_sd(self) -> np.ndarray:
        """Posterior sd of each weight, sqrt(diag(w_cov))."""
        return np.sqrt(np.diag(self.w_cov))


def _svd(features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] > features.shape[0]:
        raise ValueError(f"features must be (n, p) with p <= n, got shape {features.shape}")
    u, s, vt = np.linalg.svd(features, full_matrices=False)
    return u, s, vt


def conjugate_posterior(features, y, *, noise_sd: float, prior_scale: float = 1.0):
    """Closed-form posterior of w for y ~ N(Phi w, s^2 I), w ~ N(0, tau^2 I), s known.

    With Phi = U S V': C = V diag(1 / (S^2 / s^2 + 1 / tau^2)) V' and
    m = V diag(S / (S^2 + s^2 / tau^2)) U'y. The mean is also the MAP (ridge regression with
    penalty s^2 / tau^2). Bishop (2006), PRML eq. 3.53-3.54.

    Parameters
    ----------
    features : array-like, shape (n, p)
        Phi, with p <= n.
    y : array-like, shape (n,)
        Observations.
    noise_sd : float
        s, the known noise sd.
    prior_scale : float
        tau, the prior sd of each weight.

    Returns
    -------
    GaussianPosterior
        m and C.
    """
    u, s, vt = _svd(features)
    y = np.asarray(y, dtype=np.float64)
    precision = s**2 / noise_sd**2 + 1.0 / prior_scale**2
    cov = (vt.T / precision) @ vt
    mean = vt.T @ (s / (s**2 + noise_sd**2 / prior_scale**2) * (u.T @ y))
    return GaussianPosterior(mean, cov)


def ridge_map(features, y, *, noise_sd: float, prior_scale: float = 1.0) -> np.ndarray:
    """argmax_w log p(w, y) = (Phi'Phi / s^2 + I / tau^2)^-1 Phi'y / s^2, by a linear solve.

    Parameters
    ----------
    features : array-like, shape (n, p)
        Phi.
    y : array-like, shape (n,)
        Observations.
    noise_sd : float
        s, the known noise sd.
    prior_scale : float
        tau, the prior sd of each weight.

    Returns
    -------
    ndarray, shape (p,)
        The MAP weights (the ridge solution with penalty s^2 / tau^2).
    """
    features = np.asarray(features, dtype=np.float64)
    p = features.shape[1]
    lhs = features.T @ features / noise_sd**2 + np.eye(p) / prior_scale**2
    return np.linalg.solve(lhs, features.T @ np.asarray(y, dtype=np.float64) / noise_sd**2)


def _log_marginal(u, s, y, sigma, prior_scale):
    """log N(y; 0, sigma^2 I + tau^2 Phi Phi') for each sigma in a 1-D array, via the SVD of Phi."""
    n = y.shape[0]
    proj = u.T @ y
    rest = float(y @ y - proj @ proj)
    var_signal = sigma[:, None] ** 2 + prior_scale**2 * s[None, :] ** 2
    var_noise = sigma**2
    logdet = np.log(var_signal).sum(1) + (n - s.shape[0]) * np.log(var_noise)
    quad = (proj[None, :] ** 2 / var_signal).sum(1) + rest / var_noise
    return -0.5 * (n * np.log(2.0 * np.pi) + logdet + quad)


def _log_sigma_posterior(u, s, y, sigma, prior_scale, sigma_scale):
    log_prior = np.asarray(dist.HalfNormal(sigma_scale).log_prob(jnp.asarray(sigma)))
    return log_prior + _log_marginal(u, s, y, sigma, prior_scale)


def linear_posterior(
    features,
    y,
    *,
    prior_scale: float = 1.0,
    sigma_scale: float = 1.0,
    num_grid: int = 4000,
    log_tail: float = 60.0,
) -> LinearPosterior:
    """Posterior moments: w ~ N(0, tau^2 I), sigma ~ HalfNormal(sigma_scale), y ~ N(Phi w, sigma^2).

    p(sigma | y) is evaluated on a uniform grid over the region where its log density is within
    ``log_tail`` of the maximum (located on a coarse grid first), and normalised by the trapezoid
    rule, which converges geometrically for a smooth integrand that vanishes at both ends. Then
    E[w] = E[m(sigma)], Cov[w] = E[C(sigma)] + Cov[m(sigma)] (law of total covariance).

    Parameters
    ----------
    features : array-like, shape (n, p)
        Phi, with p <= n.
    y : array-like, shape (n,)
        Observations.
    prior_scale : float
        tau, the prior sd of each weight.
    sigma_scale : float
        Scale of sigma's HalfNormal prior.
    num_grid : int
        Points of the quadrature grid over sigma.
    log_tail : float
        The grid covers log p(sigma | y) >= its maximum - ``log_tail``.

    Returns
    -------
    LinearPosterior
        Moments of w and sigma, and the quadrature grid and weights.
    """
    u, s, vt = _svd(features)
    y = np.asarray(y, dtype=np.float64)
    upper = 10.0 * (float(np.sqrt(np.mean(y**2))) + sigma_scale)
    coarse = np.linspace(upper / 1e5, upper, 20001)
    log_coarse = _log_sigma_posterior(u, s, y, coarse, prior_scale, sigma_scale)
    inside = coarse[log_coarse > log_coarse.max() - log_tail]
    step = coarse[1] - coarse[0]
    lo, hi = max(inside.min() - step, coarse[0] / 2), inside.max() + step
    grid = np.linspace(lo, hi, num_grid)
    log_post = _log_sigma_posterior(u, s, y, grid, prior_scale, sigma_scale)
    weights = np.exp(log_post - log_post.max())
    weights[[0, -1]] *= 0.5  # trapezoid rule
    weights /= weights.sum()

    shrink = s[None, :] / (s[None, :] ** 2 + grid[:, None] ** 2 / prior_scale**2)  # (grid, p)
    means = (shrink * (u.T @ y)[None, :]) @ vt  # (grid, p): m(sigma) = V diag(.) U'y
    cond_var = 1.0 / (s[None, :] ** 2 / grid[:, None] ** 2 + 1.0 / prior_scale**2)  # (grid, p)
    w_mean = weights @ means
    mean_cond_cov = (vt.T * (weights @ cond_var)) @ vt
    centred = means - w_mean
    w_cov = mean_cond_cov + (centred * weights[:, None]).T @ centred
    sigma_mean = float(weights @ grid)
    sigma_sd = float(np.sqrt(weights @ (grid - sigma_mean) ** 2))
    return LinearPosterior(w_mean, w_cov, sigma_mean, sigma_sd, grid, weights)


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
