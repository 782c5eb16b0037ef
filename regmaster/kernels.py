"""The exact RBF kernel and its random-Fourier-feature estimates.

Kernel k(x, x') = v exp(-(x - x')^2 / (2 l^2)). Two unbiased estimators of k (v = 1) from D random
features (Rahimi & Recht 2007; Sutherland & Schneider 2015):

- "cos_phase" (:class:`regmaster.nn.RFFFeatureMap`, the models' feature map):
  phi_j(x) = sqrt(2/D) cos(w_j x + b_j), w_j ~ N(0, l^-2), b_j ~ U(0, 2 pi);
- "sin_cos" (:class:`SinCosFeatureMap`, for comparison): D/2 frequencies,
  phi(x) = sqrt(2/D) [cos(w x), sin(w x)], whose diagonal phi(x).phi(x) is exactly 1.

Their variances and error bounds are in :mod:`regmaster.references.rff_bounds`, the GP posteriors
in :mod:`regmaster.references.posteriors`.

References
----------
Rahimi, Recht (2007). Random features for large-scale kernel machines. NeurIPS 20.
Sutherland, Schneider (2015). On the error of random Fourier features. UAI.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from einops import einsum
from jaxtyping import Array, Float

from .checks import _check_finite, check_positive_float, check_positive_int


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
