"""Closed-form and quadrature posteriors: Gaussian linear regression, GP regression and Bayesian
linear regression on fixed features.

- Gaussian linear regression with known noise (conjugate): w ~ N(0, tau^2 I), y ~ N(Phi w, s^2 I)
  gives w | y ~ N(m, C), C = (Phi'Phi / s^2 + I / tau^2)^-1, m = C Phi'y / s^2 (the ridge solution;
  Bishop 2006, PRML eq. 3.53-3.54).
- Unknown noise, sigma ~ HalfNormal(sigma_scale): w integrates out, p(sigma | y) is proportional to
  HalfNormal(sigma) N(y; 0, sigma^2 I + tau^2 Phi Phi'), a 1-D density evaluated on a grid; the
  moments of w follow from the conditional Gaussians by the laws of total expectation and
  covariance.
- The GP posterior under a kernel, from its Gram matrices or for the exact RBF kernel
  (:func:`regmaster.kernels.rbf_kernel`). The posterior of Bayesian linear regression on D features
  with w ~ N(0, I) is the GP posterior under the kernel phi(x).phi(x'); as D grows it tends to the
  exact GP posterior under k.

References
----------
Bishop (2006). Pattern Recognition and Machine Learning. Springer, section 3.3.
Rasmussen, Williams (2006). Gaussian Processes for Machine Learning. MIT Press.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import numpyro.distributions as dist
from einops import einsum
from jaxtyping import Array, Float

from ..kernels import _matrix, _positive, _vector, rbf_kernel


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


# --------------------------------------------------------------------------- GP posteriors


def kernel_posterior(
    K: Float[Array, "n n"],
    K_cross: Float[Array, "m n"],
    k_test_diag: Float[Array, " m"],
    y: Float[Array, " n"],
    noise_scale: float,
) -> tuple[Float[Array, " m"], Float[Array, " m"]]:
    """GP posterior of f at test inputs from Gram matrices (Rasmussen & Williams, eq. 2.25-2.26).

    mean = K_* (K + s^2 I)^-1 y,  var = k_** - diag(K_* (K + s^2 I)^-1 K_*^T), by Cholesky.
    ``K_cross`` is K(x_test, x_train); ``k_test_diag`` is k(x_test_i, x_test_i).

    Parameters
    ----------
    K : array, shape (n, n)
        Kernel matrix of the training inputs.
    K_cross : array, shape (m, n)
        K_* = K(x_test, x_train).
    k_test_diag : array, shape (m,)
        k_** = k(x_test_i, x_test_i).
    y : array, shape (n,)
        Observations.
    noise_scale : float
        s > 0, the noise sd.

    Returns
    -------
    mean : array, shape (m,)
        Posterior mean of f at the test inputs.
    var : array, shape (m,)
        Posterior variance of f (without the noise).
    """
    y = _vector("y", y)
    n = y.shape[0]
    K = _matrix("K", K, (n, n))
    K_cross = _matrix("K_cross", K_cross, (None, n))
    k_test_diag = _vector("k_test_diag", k_test_diag)
    if k_test_diag.shape[0] != K_cross.shape[0]:
        raise ValueError(
            f"k_test_diag must have shape ({K_cross.shape[0]},), got {tuple(k_test_diag.shape)}"
        )
    noise_scale = _positive("noise_scale", noise_scale)
    chol = jnp.linalg.cholesky(K + noise_scale**2 * jnp.eye(n))
    alpha = jsl.cho_solve((chol, True), y)
    mean = einsum(K_cross, alpha, "m n, n -> m")
    v = jsl.solve_triangular(chol, K_cross.T, lower=True)  # (n, m)
    var = k_test_diag - einsum(v, v, "n m, n m -> m")
    return mean, var


def gp_posterior(
    x_train: Float[Array, " n"],
    y_train: Float[Array, " n"],
    x_test: Float[Array, " m"],
    lengthscale: float,
    noise_scale: float,
    variance: float = 1.0,
) -> tuple[Float[Array, " m"], Float[Array, " m"]]:
    """Exact GP regression with an RBF kernel and Gaussian noise: posterior mean and variance of f.

    f ~ GP(0, k), y = f(x_train) + N(0, noise_scale^2); Rasmussen & Williams (2006) eq. 2.25-2.26.

    Parameters
    ----------
    x_train : array, shape (n,)
        Training inputs.
    y_train : array, shape (n,)
        Observations.
    x_test : array, shape (m,)
        Test inputs.
    lengthscale : float
        l > 0 of :func:`rbf_kernel`.
    noise_scale : float
        s > 0, the noise sd.
    variance : float
        v > 0 of :func:`rbf_kernel`.

    Returns
    -------
    mean : array, shape (m,)
        Posterior mean of f.
    var : array, shape (m,)
        Posterior variance of f.
    """
    x_train = _vector("x_train", x_train)
    x_test = _vector("x_test", x_test)
    y_train = _vector("y_train", y_train)
    if y_train.shape != x_train.shape:
        raise ValueError(
            f"y_train must have the shape of x_train, {tuple(x_train.shape)}, "
            f"got shape {tuple(y_train.shape)}"
        )
    variance = _positive("variance", variance)
    K = rbf_kernel(x_train, x_train, lengthscale, variance)
    K_cross = rbf_kernel(x_test, x_train, lengthscale, variance)
    k_test_diag = jnp.full(x_test.shape, variance, dtype=K.dtype)
    return kernel_posterior(K, K_cross, k_test_diag, y_train, noise_scale)


def blr_posterior(
    Phi_train: Float[Array, "n d"],
    y_train: Float[Array, " n"],
    Phi_test: Float[Array, "m d"],
    noise_scale: float,
) -> tuple[Float[Array, " m"], Float[Array, " m"]]:
    """Bayesian linear regression on fixed features, in weight space: predictive mean/var of f.

    w ~ N(0, I_D), y ~ N(Phi w, s^2 I). Posterior w | y ~ N(A^-1 Phi^T y / s^2, A^-1) with
    A = I + Phi^T Phi / s^2 (Rasmussen & Williams 2006, sec. 2.1); f_* = Phi_* w has
    mean Phi_* A^-1 Phi^T y / s^2 and variance diag(Phi_* A^-1 Phi_*^T). With random Fourier
    features this is the GP posterior under the kernel phi(x).phi(x'), and tends to
    :func:`gp_posterior` as D grows.

    Parameters
    ----------
    Phi_train : array, shape (n, D)
        Features of the training inputs.
    y_train : array, shape (n,)
        Observations.
    Phi_test : array, shape (m, D)
        Features of the test inputs, Phi_*.
    noise_scale : float
        s > 0, the noise sd.

    Returns
    -------
    mean : array, shape (m,)
        Posterior mean of f_*.
    var : array, shape (m,)
        Posterior variance of f_*.
    """
    Phi_train = _matrix("Phi_train", Phi_train, (None, None))
    n, d = Phi_train.shape
    y_train = _vector("y_train", y_train)
    if y_train.shape[0] != n:
        raise ValueError(f"y_train must have shape ({n},), got shape {tuple(y_train.shape)}")
    Phi_test = _matrix("Phi_test", Phi_test, (None, d))
    noise_scale = _positive("noise_scale", noise_scale)
    precision = jnp.eye(d) + einsum(Phi_train, Phi_train, "n d, n e -> d e") / noise_scale**2
    chol = jnp.linalg.cholesky(precision)
    w_mean = jsl.cho_solve((chol, True), einsum(Phi_train, y_train, "n d, n -> d")) / noise_scale**2
    mean = einsum(Phi_test, w_mean, "m d, d -> m")
    v = jsl.solve_triangular(chol, Phi_test.T, lower=True)  # (d, m)
    var = einsum(v, v, "d m, d m -> m")
    return mean, var
