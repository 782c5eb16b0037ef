"""The notebook's noisy sinc data set, and seeded variants of it.

f(x) = sin(x) / x, n training points uniform on [low, high] with Gaussian noise, and a noise-free
test grid. ``make_sinc()`` with its defaults is the notebook's data set, key for key:
``k_data, *k_models = split(PRNGKey(666), 16)``, then ``k1, k2 = split(k_data)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .checks import check_positive_float, check_positive_int

NOTEBOOK_SEED = 666
NUM_MODEL_KEYS = 15


class Dataset(NamedTuple):
    """Training points, a noise-free test grid, and the per-model keys of the notebook's scheme.

    Attributes
    ----------
    x_train : array, shape (n,)
        Training inputs, uniform on [low, high].
    y_train : array, shape (n,)
        sin(x)/x at ``x_train`` plus N(0, noise^2) noise.
    x_test : array, shape (m,)
        An evenly spaced grid on [low, high].
    y_test : array, shape (m,)
        sin(x)/x on the grid, without noise.
    model_keys : tuple of jax.Array
        The 15 per-model keys; a registry entry names the ones it uses.
    seed : int
        The seed of the root key.
    noise : float
        The observation noise sd.
    """

    x_train: Float[Array, " n"]
    y_train: Float[Array, " n"]
    x_test: Float[Array, " m"]
    y_test: Float[Array, " m"]
    model_keys: tuple[jax.Array, ...]
    seed: int
    noise: float


def latent(x: Float[Array, " n"]) -> Float[Array, " n"]:
    """The noise-free target sin(x)/x (``jnp.sinc`` is sin(pi x)/(pi x)).

    Parameters
    ----------
    x : array, shape (n,)
        Inputs.

    Returns
    -------
    array, shape (n,)
        sin(x)/x, with the limit 1 at x = 0.
    """
    return jnp.sinc(x / jnp.pi)


NOISE_SD = 0.05
"""The notebook's observation noise sd: the sinc data's default ``noise``."""


def make_sinc(
    seed: int = NOTEBOOK_SEED,
    *,
    n_train: int = 100,
    noise: float = NOISE_SD,
    low: float = -10.0,
    high: float = 10.0,
    n_test: int = 400,
) -> Dataset:
    """The sinc data set under the notebook's key scheme; the defaults give the notebook's data.

    ``k_data, *model_keys = split(PRNGKey(seed), 16)``, ``k1, k2 = split(k_data)``;
    x_train ~ U(low, high) from k1, y_train = sin(x)/x + noise * N(0, 1) from k2.

    Parameters
    ----------
    seed : int
        Non-negative seed of the root key (the notebook's: 666).
    n_train : int
        Training points.
    noise : float
        Observation noise sd.
    low, high : float
        The input interval, low < high.
    n_test : int
        Points of the noise-free test grid.

    Returns
    -------
    Dataset
        The training points, the test grid and the model keys.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n_train = check_positive_int("n_train", n_train)
    n_test = check_positive_int("n_test", n_test)
    noise = check_positive_float("noise", noise)
    if not (float(low) < float(high)):
        raise ValueError(f"low must be < high, got low={low!r}, high={high!r}")
    k_data, *k_models = jr.split(jr.PRNGKey(seed), 1 + NUM_MODEL_KEYS)
    k1, k2 = jr.split(k_data)
    x_train = jr.uniform(k1, (n_train,), minval=low, maxval=high)
    y_train = latent(x_train) + noise * jr.normal(k2, (n_train,))
    x_test = jnp.linspace(low, high, n_test)
    return Dataset(x_train, y_train, x_test, latent(x_test), tuple(k_models), seed, noise)
