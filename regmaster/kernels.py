"""The exact RBF kernel, its random-Fourier-feature estimates, and GP posteriors in closed form.

Kernel k(x, x') = v exp(-(x - x')^2 / (2 l^2)). Two unbiased estimators of k (v = 1) from D random
features (Rahimi & Recht 2007; Sutherland & Schneider 2015):

- "cos_phase" (:class:`regmaster.nn.RFFFeatureMap`, the models' feature map):
  phi_j(x) = sqrt(2/D) cos(w_j x + b_j), w_j ~ N(0, l^-2), b_j ~ U(0, 2 pi);
- "sin_cos" (:class:`SinCosFeatureMap`, for comparison): D/2 frequencies,
  phi(x) = sqrt(2/D) [cos(w x), sin(w x)], whose diagonal phi(x).phi(x) is exactly 1.

With d = x - x' and k = k(d), k(2d) = k^4 (Gaussian kernel):

- Var k_hat: cos_phase (1/D) (1 + k(2d)/2 - k(d)^2); sin_cos (1/D) (1 + k(2d) - 2 k(d)^2);
- Hoeffding: P(|k_hat - k| >= e) <= 2 exp(-D e^2 / 8) (cos_phase), 2 exp(-D e^2 / 4) (sin_cos).

The posterior of Bayesian linear regression on D features with w ~ N(0, I) is the GP posterior
under the kernel phi(x).phi(x'); as D grows it tends to the exact GP posterior under k.

References
----------
Rahimi, Recht (2007). Random features for large-scale kernel machines. NeurIPS 20.
Sutherland, Schneider (2015). On the error of random Fourier features. UAI.
Hoeffding (1963). Probability inequalities for sums of bounded random variables. JASA 58(301).
Rasmussen, Williams (2006). Gaussian Processes for Machine Learning. MIT Press.
"""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.linalg as jsl
import numpy as np
from einops import einsum
from jaxtyping import Array, Float

from .checks import _check_finite, check_positive_float, check_positive_int

Variant = Literal["cos_phase", "sin_cos"]
VARIANTS: tuple[str, ...] = ("cos_phase", "sin_cos")
# Hoeffding constant c in 2 exp(-D e^2 / c): k_hat is a mean of N summands of range R, giving
# c = R^2 D / (2 N); cos_phase: N = D, R = 4; sin_cos: N = D/2, R = 2.
_HOEFFDING_CONSTANT = {"cos_phase": 8.0, "sin_cos": 4.0}


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    return variant


def _positive(name: str, value):
    """A positive float, or a traced value passed through unchecked (inside ``jit``/``vmap``)."""
    if isinstance(value, jax.core.Tracer):
        return value
    return check_positive_float(name, value)


def _vector(name: str, x) -> Float[Array, " n"]:
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (n,), got shape {tuple(x.shape)}")
    _check_finite(name, x)
    return x


def _matrix(name: str, a, shape: tuple[int | None, int | None]) -> Float[Array, "a b"]:
    a = jnp.asarray(a)
    if a.ndim != 2 or any(s is not None and s != t for s, t in zip(shape, a.shape, strict=True)):
        want = tuple("*" if s is None else s for s in shape)
        raise ValueError(f"{name} must have shape {want}, got shape {tuple(a.shape)}")
    _check_finite(name, a)
    return a


# --------------------------------------------------------------------------- kernels


def rbf_kernel(
    x1: Float[Array, " n1"],
    x2: Float[Array, " n2"],
    lengthscale: float,
    variance: float = 1.0,
) -> Float[Array, "n1 n2"]:
    """The exact RBF kernel matrix K_ij = variance * exp(-(x1_i - x2_j)^2 / (2 lengthscale^2)).

    Parameters
    ----------
    x1 : array, shape (n1,)
        First inputs.
    x2 : array, shape (n2,)
        Second inputs.
    lengthscale : float
        l > 0.
    variance : float
        v > 0, the kernel's value at x1_i = x2_j.

    Returns
    -------
    array, shape (n1, n2)
        K.
    """
    x1 = _vector("x1", x1)
    x2 = _vector("x2", x2)
    lengthscale = _positive("lengthscale", lengthscale)
    variance = _positive("variance", variance)
    diff = x1[:, None] - x2[None, :]
    return variance * jnp.exp(-0.5 * (diff / lengthscale) ** 2)


def rff_kernel(
    feature_map, x1: Float[Array, " n1"], x2: Float[Array, " n2"]
) -> Float[Array, "n1 n2"]:
    """The random-feature estimate K_hat = phi(x1) phi(x2)^T of the RBF kernel (Rahimi & Recht).

    ``feature_map`` is any map x (n,) -> phi (n, D): an :class:`~regmaster.nn.RFFFeatureMap`
    (cos + phase) or a :class:`SinCosFeatureMap`.

    Parameters
    ----------
    feature_map : callable
        x (n,) -> phi(x) (n, D).
    x1 : array, shape (n1,)
        First inputs.
    x2 : array, shape (n2,)
        Second inputs.

    Returns
    -------
    array, shape (n1, n2)
        K_hat_ij = sum_d phi_d(x1_i) phi_d(x2_j).
    """
    if not callable(feature_map):
        raise ValueError(f"feature_map must be a callable feature map, got {feature_map!r}")
    phi1 = feature_map(_vector("x1", x1))
    phi2 = feature_map(_vector("x2", x2))
    return einsum(phi1, phi2, "n1 d, n2 d -> n1 n2")


class SinCosFeatureMap(eqx.Module):
    """The sin/cos random Fourier features: D/2 frequencies w_j ~ N(0, l^-2), no phase.

    phi(x) = sqrt(2/D) [cos(w_1 x), ..., cos(w_{D/2} x), sin(w_1 x), ..., sin(w_{D/2} x)], so
    phi(x).phi(x') = (2/D) sum_j cos(w_j (x - x')): unbiased for the RBF kernel, depends on x - x'
    only, and equals 1 on the diagonal (Sutherland & Schneider 2015).

    Parameters
    ----------
    n_features : int
        D, even and >= 2.
    lengthscale : float
        l > 0.
    key : jax.Array
        PRNG key of the frequencies.

    Attributes
    ----------
    omega : array, shape (D/2,)
        The frequencies w_j.
    n_features : int
        D.
    """

    omega: Float[Array, " half"]
    n_features: int = eqx.field(static=True)

    def __init__(self, n_features: int, lengthscale: float, *, key: jax.Array):
        n_features = check_positive_int("n_features", n_features, minimum=2)
        if n_features % 2:
            raise ValueError(f"n_features must be even (D/2 frequencies), got {n_features!r}")
        self.n_features = n_features
        lengthscale = check_positive_float("lengthscale", lengthscale)
        self.omega = jr.normal(key, (n_features // 2,)) / lengthscale

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, "n d"]:
        """phi(x) for each input.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n, D)
            The cosines, then the sines.
        """
        projection = einsum(x, self.omega, "n, half -> n half")
        scale = jnp.sqrt(2.0 / self.n_features)
        return scale * jnp.concatenate([jnp.cos(projection), jnp.sin(projection)], axis=-1)


# --------------------------------------------------------------------------- theory


def rff_variance(
    distance,
    lengthscale: float,
    n_features: int,
    variant: Variant = "cos_phase",
):
    """Var k_hat(x, x') over feature draws at |x - x'| = ``distance`` (Sutherland & Schneider).

    cos_phase: (1/D) (1 + k(2d)/2 - k(d)^2); at d = 0 this is 1/(2D) (the diagonal is random).
    sin_cos:   (1/D) (1 + k(2d) - 2 k(d)^2) = (1/D) (1 - k(d)^2)^2; 0 at d = 0.
    Here k(2d) = k(d)^4. The sin/cos variance is never larger: the gap is (k^2 - k^4/2)/D >= 0.

    Parameters
    ----------
    distance : float or array
        d = |x - x'|.
    lengthscale : float
        l > 0.
    n_features : int
        D.
    variant : {"cos_phase", "sin_cos"}
        The estimator.

    Returns
    -------
    array
        The variance at each distance, shaped like ``distance``.
    """
    variant = _check_variant(variant)
    lengthscale = _positive("lengthscale", lengthscale)
    n_features = check_positive_int("n_features", n_features)
    k = jnp.exp(-0.5 * (jnp.asarray(distance) / lengthscale) ** 2)
    k2d = k**4
    if variant == "cos_phase":
        return (1.0 + 0.5 * k2d - k**2) / n_features
    return (1.0 + k2d - 2.0 * k**2) / n_features


def hoeffding_bound(eps, n_features: int, variant: Variant = "cos_phase"):
    """Pointwise Hoeffding bound P(|k_hat - k| >= eps) <= 2 exp(-D eps^2 / c).

    k_hat is a mean of independent bounded summands: D summands in [-2, 2] (cos_phase, c = 8) or
    D/2 summands in [-1, 1] (sin_cos, c = 4) (Rahimi & Recht 2007, sec. 3; Hoeffding 1963).
    The value may exceed 1 (then the bound is vacuous).

    Parameters
    ----------
    eps : float or array
        The deviation, > 0.
    n_features : int
        D.
    variant : {"cos_phase", "sin_cos"}
        The estimator.

    Returns
    -------
    array
        2 exp(-D eps^2 / c), shaped like ``eps``.
    """
    variant = _check_variant(variant)
    n_features = check_positive_int("n_features", n_features)
    eps = jnp.asarray(eps)
    return 2.0 * jnp.exp(-n_features * eps**2 / _HOEFFDING_CONSTANT[variant])


def uniform_error_bound(
    n_pairs: int,
    n_features: int,
    delta: float = 1e-6,
    variant: Variant = "cos_phase",
) -> float:
    """eps_delta with P(max over M pairs |k_hat - k| >= eps_delta) <= delta (union + Hoeffding).

    eps_delta = sqrt(c log(2 M / delta) / D), c = 8 (cos_phase) or 4 (sin_cos). For n points,
    M = n (n + 1) / 2 pairs including the diagonal. The published uniform bounds over a compact
    set (Rahimi & Recht 2007; Sutherland & Schneider 2015) are of the same order but vacuous at
    small D; this finite-set version is what can be checked.

    Parameters
    ----------
    n_pairs : int
        M, the pairs (x, x') the maximum runs over.
    n_features : int
        D.
    delta : float
        The probability, in (0, 1).
    variant : {"cos_phase", "sin_cos"}
        The estimator.

    Returns
    -------
    float
        eps_delta.
    """
    variant = _check_variant(variant)
    n_pairs = check_positive_int("n_pairs", n_pairs)
    n_features = check_positive_int("n_features", n_features)
    delta = check_positive_float("delta", delta)
    if delta >= 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    return math.sqrt(_HOEFFDING_CONSTANT[variant] * math.log(2.0 * n_pairs / delta) / n_features)


# --------------------------------------------------------------------------- posteriors


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


def empirical_slope(sizes, errors) -> float:
    """Least-squares slope of log(errors) against log(sizes): -1/2 for an O(D^-1/2) error.

    Parameters
    ----------
    sizes : array-like, shape (k,)
        Positive sizes (D), k >= 2.
    errors : array-like, shape (k,)
        Positive, finite errors at those sizes.

    Returns
    -------
    float
        The fitted exponent of errors ~ sizes^slope.
    """
    sizes = np.asarray(sizes, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if sizes.ndim != 1 or sizes.shape != errors.shape or sizes.size < 2:
        raise ValueError(
            f"sizes and errors must be 1-D of equal length >= 2, got shapes "
            f"{sizes.shape} and {errors.shape}"
        )
    if np.any(sizes <= 0) or np.any(errors <= 0) or not np.all(np.isfinite(errors)):
        raise ValueError(f"sizes and errors must be finite and > 0, got {sizes!r}, {errors!r}")
    return float(np.polyfit(np.log(sizes), np.log(errors), 1)[0])
