"""The seven NumPyro model functions, written the raw Pattern-1 way.

Each model draws its parameters with ``numpyro.sample``, injects them into a frozen Equinox module
with ``eqx.tree_at``, records ``f`` with ``numpyro.deterministic`` and observes ``y`` under
N(f, sigma^2). Priors, shapes and site names are the notebook's.

References
----------
Rahimi, Recht (2007). Random features for large-scale kernel machines. NeurIPS 20.
Gal, Ghahramani (2016). Dropout as a Bayesian approximation: representing model uncertainty in
deep learning. ICML.
Cutajar, Bonilla, Michiardi, Filippone (2017). Random feature expansions for deep Gaussian
processes. ICML.
Papaspiliopoulos, Roberts, Sköld (2007). A general framework for the parametrization of
hierarchical models. Statistical Science 22(1).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpyro
import numpyro.distributions as dist
from einops import einsum

from .checks import check_inputs, check_positive_float, check_positive_int, check_rate
from .nn import MLP, DeepRFFRegressor, LinearRegressor, MLPDropout, RFFFeatureMap


def _placeholder_key():
    """The MLPs' placeholder weights are overwritten by tree_at; their key only fixes a shape.
    Built when called, not at import: ``jax.distributed`` starts before any JAX computation."""
    return jr.PRNGKey(0)


def linear_leaves(m: LinearRegressor):
    """The leaf ``model_linear`` samples: the weight vector.

    Parameters
    ----------
    m : LinearRegressor
        The module.

    Returns
    -------
    array
        ``m.weight``, the ``where`` of ``eqx.tree_at``.
    """
    return m.weight


def mlp_leaves(m: MLP):
    """The leaves the MLP models sample: (W1, b1, W2, b2).

    Parameters
    ----------
    m : MLP
        The module (or an :class:`~regmaster.nn.MLPDropout`).

    Returns
    -------
    tuple of array
        ``(m.W1, m.b1, m.W2, m.b2)``, the ``where`` of ``eqx.tree_at``.
    """
    return (m.W1, m.b1, m.W2, m.b2)


def deep_rff_leaves(m: DeepRFFRegressor):
    """The leaves ``model_deep_rff`` samples: (W1, w2); the feature maps stay fixed.

    Parameters
    ----------
    m : DeepRFFRegressor
        The module.

    Returns
    -------
    tuple of array
        ``(m.W1, m.w2)``, the ``where`` of ``eqx.tree_at``.
    """
    return (m.W1, m.w2)


def model_linear(x, y=None, *, degree: int):
    """w ~ N(0, I_{d+1}), sigma ~ HalfNormal(1), y ~ N(Phi(x) w, sigma^2).

    Phi(x) = [1, x, ..., x^d] (:class:`~regmaster.nn.LinearRegressor`).
    Sample sites ``w``, ``sigma``;
    deterministic ``f``, shape (n,); observed ``obs``.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    degree : int
        d, the polynomial degree (>= 0).
    """
    x, y = check_inputs(x, y)
    net = LinearRegressor(degree=degree)
    w = numpyro.sample("w", dist.Normal(jnp.zeros(degree + 1), 1.0))
    net = eqx.tree_at(linear_leaves, net, w)
    f = numpyro.deterministic("f", net(x))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def _sample_mlp_weights(hidden_dim: int, prior_scale: float):
    W1 = numpyro.sample("W1", dist.Normal(jnp.zeros((1, hidden_dim)), prior_scale))
    b1 = numpyro.sample("b1", dist.Normal(jnp.zeros(hidden_dim), prior_scale))
    W2 = numpyro.sample("W2", dist.Normal(jnp.zeros((hidden_dim, 1)), prior_scale))
    b2 = numpyro.sample("b2", dist.Normal(0.0, prior_scale))
    return W1, b1, W2, b2


def model_bnn(x, y=None, *, hidden_dim: int, prior_scale: float = 1.0):
    """All weights ~ N(0, prior_scale^2), sigma ~ HalfNormal(1), f = tanh(x W1 + b1) W2 + b2.

    Sample sites ``W1`` (1, h), ``b1`` (h,), ``W2`` (h, 1), ``b2`` (), ``sigma``;
    deterministic ``f``, shape (n,); observed ``obs``.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    hidden_dim : int
        h, the hidden units.
    prior_scale : float
        Prior sd of every weight and bias.
    """
    x, y = check_inputs(x, y)
    prior_scale = check_positive_float("prior_scale", prior_scale)
    net = MLP(hidden_dim=hidden_dim, key=_placeholder_key())
    net = eqx.tree_at(mlp_leaves, net, _sample_mlp_weights(hidden_dim, prior_scale))
    f = numpyro.deterministic("f", net(x))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def model_mlp(x, y=None, *, hidden_dim: int):
    """The notebook's MAP MLP: :func:`model_bnn` with unit prior scale.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    hidden_dim : int
        h, the hidden units.
    """
    model_bnn(x, y, hidden_dim=hidden_dim, prior_scale=1.0)


def model_mlp_dropout(x, y=None, *, hidden_dim: int, dropout_rate: float):
    """The MLP with an inverted-dropout mask z ~ Bernoulli(1 - p) on the hidden layer.

    The mask is not a sample site: it is drawn from ``numpyro.prng_key()``, so each SVI step and
    each predictive draw sees a fresh mask (Gal & Ghahramani 2016). At p = 0 this is
    :func:`model_mlp`.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    hidden_dim : int
        h, the hidden units.
    dropout_rate : float
        p, in [0, 1).
    """
    x, y = check_inputs(x, y)
    hidden_dim = check_positive_int("hidden_dim", hidden_dim)
    dropout_rate = check_rate("dropout_rate", dropout_rate)
    mask = jr.bernoulli(
        numpyro.prng_key(), p=1.0 - dropout_rate, shape=(x.shape[0], hidden_dim)
    ).astype(x.dtype)
    net = MLPDropout(hidden_dim=hidden_dim, dropout_rate=dropout_rate, key=_placeholder_key())
    net = eqx.tree_at(mlp_leaves, net, _sample_mlp_weights(hidden_dim, 1.0))
    f = numpyro.deterministic("f", net(x, mask))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def model_rff_svr(x, y=None, *, rff: RFFFeatureMap):
    """w ~ N(0, I_D), sigma ~ HalfNormal(1), f = phi(x) w: Bayesian linear regression on RFF.

    Sample sites ``w`` (D,), ``sigma``;
    deterministic ``f``, shape (n,); observed ``obs``.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    rff : RFFFeatureMap
        The fixed feature map phi (Rahimi & Recht 2007).
    """
    x, y = check_inputs(x, y)
    Phi = rff(x)
    w = numpyro.sample("w", dist.Normal(jnp.zeros(rff.n_features), 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    f = numpyro.deterministic("f", einsum(Phi, w, "n d, d -> n"))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def model_rff_gp(x, y=None, *, rff: RFFFeatureMap):
    """Hierarchical RFF approximate GP, centred as in the notebook.

    amplitude ~ HalfNormal(1), w ~ N(0, amplitude^2 I_D), sigma ~ HalfNormal(0.1), f = phi(x) w.
    Sample sites ``amplitude``, ``w`` (D,), ``sigma``;
    deterministic ``f``, shape (n,); observed ``obs``.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    rff : RFFFeatureMap
        The fixed feature map phi.
    """
    x, y = check_inputs(x, y)
    Phi = rff(x)
    amplitude = numpyro.sample("amplitude", dist.HalfNormal(1.0))
    w = numpyro.sample("w", dist.Normal(jnp.zeros(rff.n_features), amplitude))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
    f = numpyro.deterministic("f", einsum(Phi, w, "n d, d -> n"))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def model_rff_gp_noncentred(x, y=None, *, rff: RFFFeatureMap):
    """The same joint law as :func:`model_rff_gp`, non-centred: w = amplitude * w_raw.

    w_raw ~ N(0, I_D) removes the funnel between amplitude and w that the centred form gives NUTS
    (Papaspiliopoulos et al. 2007). Sample sites ``amplitude``, ``w_raw`` (D,), ``sigma``;
    deterministic ``w`` and ``f``; observed ``obs``.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    rff : RFFFeatureMap
        The fixed feature map phi.
    """
    x, y = check_inputs(x, y)
    Phi = rff(x)
    amplitude = numpyro.sample("amplitude", dist.HalfNormal(1.0))
    w_raw = numpyro.sample("w_raw", dist.Normal(jnp.zeros(rff.n_features), 1.0))
    w = numpyro.deterministic("w", amplitude * w_raw)
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
    f = numpyro.deterministic("f", einsum(Phi, w, "n d, d -> n"))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def model_deep_rff(x, y=None, *, deep_rff: DeepRFFRegressor, sigma_scale: float = 0.1):
    """Two-layer RFF deep GP: W1 ~ N(0, 1), w2 ~ N(0, 1), sigma ~ HalfNormal(sigma_scale).

    The notebook's noise prior is HalfNormal(0.1); the registry's variant ``deep_rff_smooth``
    widens it. f is :class:`~regmaster.nn.DeepRFFRegressor` with the sampled weights
    (Cutajar et al. 2017).
    Sample sites ``W1`` (D1, inner), ``w2`` (D2,), ``sigma``;
    deterministic ``f``, shape (n,); observed ``obs``.

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.
    y : array, shape (n,), optional
        Observations of the ``obs`` site; None samples them (prior predictive).
    deep_rff : DeepRFFRegressor
        The module whose feature maps stay fixed.
    sigma_scale : float
        Scale of sigma's HalfNormal prior.
    """
    x, y = check_inputs(x, y)
    sigma_scale = check_positive_float("sigma_scale", sigma_scale)
    D1 = deep_rff.rff1.n_features
    D2 = deep_rff.rff2.n_features
    W1 = numpyro.sample("W1", dist.Normal(jnp.zeros((D1, deep_rff.inner_dim)), 1.0))
    w2 = numpyro.sample("w2", dist.Normal(jnp.zeros(D2), 1.0))
    mod = eqx.tree_at(deep_rff_leaves, deep_rff, (W1, w2))
    f = numpyro.deterministic("f", mod(x))
    sigma = numpyro.sample("sigma", dist.HalfNormal(sigma_scale))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)
