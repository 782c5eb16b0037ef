"""The random-Fourier-feature estimates of the RBF kernel in theory: their variance, Hoeffding
bounds on their error, and the slope of an error against D.

For the estimators of :mod:`regmaster.kernels`, with d = x - x' and k = k(d), k(2d) = k^4
(Gaussian kernel):

- Var k_hat: cos_phase (1/D) (1 + k(2d)/2 - k(d)^2); sin_cos (1/D) (1 + k(2d) - 2 k(d)^2);
- Hoeffding: P(|k_hat - k| >= e) <= 2 exp(-D e^2 / 8) (cos_phase), 2 exp(-D e^2 / 4) (sin_cos).

References
----------
Rahimi, Recht (2007). Random features for large-scale kernel machines. NeurIPS 20.
Sutherland, Schneider (2015). On the error of random Fourier features. UAI.
Hoeffding (1963). Probability inequalities for sums of bounded random variables. JASA 58(301).
"""

from __future__ import annotations

import math
from typing import Literal

import jax.numpy as jnp
import numpy as np

from ..checks import check_positive_int, check_probability
from ..kernels import _positive

Variant = Literal["cos_phase", "sin_cos"]
VARIANTS: tuple[str, ...] = ("cos_phase", "sin_cos")
# Hoeffding constant c in 2 exp(-D e^2 / c): k_hat is a mean of N summands of range R, giving
# c = R^2 D / (2 N); cos_phase: N = D, R = 4; sin_cos: N = D/2, R = 2.
_HOEFFDING_CONSTANT = {"cos_phase": 8.0, "sin_cos": 4.0}


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    return variant


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
    delta = check_probability("delta", delta)
    return math.sqrt(_HOEFFDING_CONSTANT[variant] * math.log(2.0 * n_pairs / delta) / n_features)


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
