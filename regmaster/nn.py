"""Equinox modules: the deterministic architecture of the seven models.

Each module holds placeholder weights; the model functions in :mod:`regmaster.models` replace them
with sampled values through ``eqx.tree_at``. Every contraction is an einops ``einsum``.

References
----------
Rahimi, Recht (2007). Random features for large-scale kernel machines. NeurIPS 20.
Gal, Ghahramani (2016). Dropout as a Bayesian approximation: representing model uncertainty in
deep learning. ICML.
Cutajar, Bonilla, Michiardi, Filippone (2017). Random feature expansions for deep Gaussian
processes. ICML.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from einops import einsum, reduce
from jaxtyping import Array, Float

from . import fastmath
from .checks import check_positive_float, check_positive_int, check_rate


class LinearRegressor(eqx.Module):
    """f(x) = Phi(x) w with polynomial features Phi(x) = [1, x, ..., x^degree].

    Parameters
    ----------
    degree : int
        The polynomial degree (>= 0).

    Attributes
    ----------
    weight : array, shape (degree + 1,)
        w, zeros until a model replaces it.
    degree : int
        The degree.
    """

    weight: Float[Array, " feat"]
    degree: int = eqx.field(static=True)

    def __init__(self, degree: int):
        self.degree = check_positive_int("degree", degree, minimum=0)
        self.weight = jnp.zeros(self.degree + 1)

    def features(self, x: Float[Array, " n"]) -> Float[Array, "n feat"]:
        """Phi(x) = [1, x, ..., x^degree] for each input.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n, degree + 1)
            The features.
        """
        return jnp.stack([x**p for p in range(self.degree + 1)], axis=-1)

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        """f(x) = Phi(x) w.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n,)
            f at each input.
        """
        return einsum(self.features(x), self.weight, "n feat, feat -> n")


class MLP(eqx.Module):
    """One tanh hidden layer: f(x) = tanh(x W1 + b1) W2 + b2.

    Parameters
    ----------
    hidden_dim : int
        h, the hidden units.
    key : jax.Array
        PRNG key of the placeholder weights (W1, W2 ~ 0.1 N(0, 1); biases 0).

    Attributes
    ----------
    W1 : array, shape (1, h)
    b1 : array, shape (h,)
    W2 : array, shape (h, 1)
    b2 : array, shape ()
    hidden_dim : int
    """

    W1: Float[Array, "1 h"]
    b1: Float[Array, " h"]
    W2: Float[Array, "h 1"]
    b2: Float[Array, ""]
    hidden_dim: int = eqx.field(static=True)

    def __init__(self, hidden_dim: int, *, key: jax.Array):
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        k1, k2 = jr.split(key)
        self.W1 = 0.1 * jr.normal(k1, (1, self.hidden_dim))
        self.b1 = jnp.zeros(self.hidden_dim)
        self.W2 = 0.1 * jr.normal(k2, (self.hidden_dim, 1))
        self.b2 = jnp.array(0.0)

    def hidden(self, x: Float[Array, " n"]) -> Float[Array, "n h"]:
        """The hidden layer tanh(x W1 + b1).

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n, h)
            The hidden activations.
        """
        return jnp.tanh(einsum(x, self.W1, "n, one h -> n h") + self.b1)

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        """f(x) = tanh(x W1 + b1) W2 + b2.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n,)
            f at each input.
        """
        return einsum(self.hidden(x), self.W2, "n h, h one -> n") + self.b2


class MLPDropout(MLP):
    """The MLP with inverted dropout on the hidden layer (Gal & Ghahramani 2016).

    h~ = h * z / (1 - p) with z ~ Bernoulli(1 - p), so E[h~] = h.

    Parameters
    ----------
    hidden_dim : int
        h, the hidden units.
    dropout_rate : float
        p, in [0, 1).
    key : jax.Array
        PRNG key of the placeholder weights.
    """

    dropout_rate: float = eqx.field(static=True)

    def __init__(self, hidden_dim: int, dropout_rate: float, *, key: jax.Array):
        super().__init__(hidden_dim, key=key)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)

    def __call__(self, x: Float[Array, " n"], mask: Float[Array, "n h"]) -> Float[Array, " n"]:
        """f(x) = (tanh(x W1 + b1) * mask / (1 - p)) W2 + b2.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.
        mask : array, shape (n, h)
            z, the 0/1 dropout mask.

        Returns
        -------
        array, shape (n,)
            f at each input.
        """
        h = self.hidden(x) * mask / (1.0 - self.dropout_rate)
        return einsum(h, self.W2, "n h, h one -> n") + self.b2


class RFFFeatureMap(eqx.Module):
    """Random Fourier features for the RBF kernel (Rahimi & Recht 2007).

    phi_j(x) = sqrt(2/D) cos(omega_j x + b_j), omega_j ~ N(0, l^-2), b_j ~ U(0, 2 pi), so that
    E[phi(x) . phi(x')] = exp(-(x - x')^2 / (2 l^2)).

    Parameters
    ----------
    n_features : int
        D.
    lengthscale : float
        l > 0.
    key : jax.Array
        PRNG key of omega and b.

    Attributes
    ----------
    omega : array, shape (D,)
        The frequencies.
    bias : array, shape (D,)
        The phases b.
    n_features : int
        D.
    """

    omega: Float[Array, " d"]
    bias: Float[Array, " d"]
    n_features: int = eqx.field(static=True)

    def __init__(self, n_features: int, lengthscale: float, *, key: jax.Array):
        self.n_features = check_positive_int("n_features", n_features)
        lengthscale = check_positive_float("lengthscale", lengthscale)
        k1, k2 = jr.split(key)
        self.omega = jr.normal(k1, (self.n_features,)) / lengthscale
        self.bias = jr.uniform(k2, (self.n_features,), minval=0.0, maxval=2.0 * jnp.pi)

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, "n d"]:
        # Features of concrete inputs (the training x) are evaluated once while tracing and enter
        # the compiled program as constants, instead of n * D cosines at every leapfrog step.
        # fastmath.cos is libm's cosine to within 1 ulp, vectorised: float64 jnp.cos is a scalar
        # libm call per element, and it dominated the deep model's gradient (benchmarks/).
        """phi(x) for each input.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n, D)
            sqrt(2/D) cos(x omega + b).
        """
        with jax.ensure_compile_time_eval():
            return _rff_features(x, self.omega, self.bias)


@jax.jit
def _rff_features(x: Float[Array, " n"], omega: Float[Array, " d"], bias: Float[Array, " d"]):
    """sqrt(2/D) cos(x omega + b); jitted so that eager use is one program, not one per op."""
    projection = einsum(x, omega, "n, d -> n d")
    return jnp.sqrt(2.0 / omega.shape[0]) * fastmath.cos(projection + bias)


class DeepRFFRegressor(eqx.Module):
    """Two RFF layers with a linear map between them (Cutajar et al. 2017).

    h = Phi1(x) W1; Phi2 = mean_j rff2(h[:, j]) over the inner units; f = Phi2 w2. The notebook's
    Python loop over inner units is a ``jax.vmap`` here (numerically the same, see the unit tests).

    Parameters
    ----------
    n_features_1, n_features_2 : int
        D1 and D2, the features of the two layers.
    inner_dim : int
        The inner units between them.
    lengthscale_1, lengthscale_2 : float
        The two feature maps' lengthscales.
    key : jax.Array
        PRNG key of the feature maps and the placeholder W1 (0.1 N(0, 1); w2 is 0).

    Attributes
    ----------
    rff1 : RFFFeatureMap
    rff2 : RFFFeatureMap
    W1 : array, shape (D1, inner_dim)
    w2 : array, shape (D2,)
    inner_dim : int
    """

    rff1: RFFFeatureMap
    W1: Float[Array, "d1 inner"]
    rff2: RFFFeatureMap
    w2: Float[Array, " d2"]
    inner_dim: int = eqx.field(static=True)

    def __init__(
        self,
        n_features_1: int,
        n_features_2: int,
        inner_dim: int,
        lengthscale_1: float = 1.0,
        lengthscale_2: float = 1.0,
        *,
        key: jax.Array,
    ):
        k1, k2, k3 = jr.split(key, 3)
        self.inner_dim = check_positive_int("inner_dim", inner_dim)
        self.rff1 = RFFFeatureMap(n_features_1, lengthscale_1, key=k1)
        self.W1 = 0.1 * jr.normal(k2, (self.rff1.n_features, self.inner_dim))
        self.rff2 = RFFFeatureMap(n_features_2, lengthscale_2, key=k3)
        self.w2 = jnp.zeros(self.rff2.n_features)

    def inner(self, x: Float[Array, " n"]) -> Float[Array, "n inner"]:
        """h = Phi1(x) W1.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n, inner_dim)
            The inner units.
        """
        return einsum(self.rff1(x), self.W1, "n d1, d1 inner -> n inner")

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        """f = Phi2 w2, Phi2 the mean over inner units of rff2 of each unit.

        Parameters
        ----------
        x : array, shape (n,)
            Inputs.

        Returns
        -------
        array, shape (n,)
            f at each input.
        """
        per_unit = jax.vmap(self.rff2, in_axes=1)(self.inner(x))  # (inner, n, d2)
        Phi2 = reduce(per_unit, "inner n d2 -> n d2", "mean")
        return einsum(Phi2, self.w2, "n d2, d2 -> n")
