"""Random Fourier features against the exact RBF kernel: the checks the calibration harness runs.

Every statistic is computed from the feature map's public call, ``RFFFeatureMap(D, l, key=k)(x)``,
batched over independent feature draws with ``jax.vmap``. Each check raises ``AssertionError``
when it fails and hands its figures to ``record``; each threshold carries its false-alarm rate
(docs/calibration.md#rff).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy import stats

from regmaster.kernels import SinCosFeatureMap, rbf_kernel, rff_kernel
from regmaster.nn import RFFFeatureMap
from regmaster.references import hoeffding_bound, rff_variance


def _discard(**figures) -> None:
    """A ``record`` that keeps nothing."""


# At l = 1, omega * l and omega / l coincide: the lengthscales must include others.
LENGTHSCALES = [0.5, 1.0, 2.5]
# Pairs (x, x') in units of l: d/l = 0, 0.5, 0.8, 1.6. The first two have x + x' = 0, where a phase
# shared by all features adds cos(2 b) to every feature product and cannot average out.
PAIRS = np.array([[0.0, 0.0], [-0.25, 0.25], [0.1, 0.9], [-0.6, 1.0]])
FEATURE_MAPS = {"cos_phase": RFFFeatureMap, "sin_cos": SinCosFeatureMap}


@partial(jax.jit, static_argnames=("variant", "n_features", "lengthscale"))
def _kernel_draws(keys, x1, x2, *, variant: str, n_features: int, lengthscale: float):
    """k_hat(x1_i, x2_i) for each key: one independent feature map per key, built under vmap."""
    feature_map = FEATURE_MAPS[variant]

    def one(key):
        phi_map = feature_map(n_features, lengthscale, key=key)
        return jnp.diagonal(rff_kernel(phi_map, x1, x2))

    return jax.vmap(one)(keys)


@partial(jax.jit, static_argnames=("variant", "n_features", "lengthscale"))
def _max_error_draws(keys, x, *, variant: str, n_features: int, lengthscale: float):
    """max_{i,j} |k_hat(x_i, x_j) - k(x_i, x_j)| for each key (one feature map per key)."""
    exact = rbf_kernel(x, x, lengthscale)
    feature_map = FEATURE_MAPS[variant]

    def one(key):
        K_hat = rff_kernel(feature_map(n_features, lengthscale, key=key), x, x)
        return jnp.max(jnp.abs(K_hat - exact))

    return jax.vmap(one)(keys)


def kernel_draws(variant: str, n_features: int, lengthscale: float, x1, x2, keys) -> np.ndarray:
    return np.asarray(
        _kernel_draws(keys, x1, x2, variant=variant, n_features=n_features, lengthscale=lengthscale)
    )


def max_error_draws(variant: str, n_features: int, lengthscale: float, x, keys) -> np.ndarray:
    return np.asarray(
        _max_error_draws(keys, x, variant=variant, n_features=n_features, lengthscale=lengthscale)
    )


def pair_points(lengthscale: float):
    x1, x2 = (jnp.asarray(PAIRS[:, i] * lengthscale) for i in (0, 1))
    return x1, x2, np.abs(PAIRS[:, 1] - PAIRS[:, 0]) * lengthscale


def variance_ratio_se(draws: np.ndarray) -> np.ndarray:
    """Standard error of (sample variance / true variance) per column: sqrt(2/(S-1) + kurt/S).

    The excess kurtosis of k_hat enters the sampling variance of s^2 (Var s^2 = sigma^4 (2/(S-1) +
    kappa/S)); it is estimated from the draws. For normal draws this is the chi-square
    (S-1) s^2 / sigma^2 ~ chi2_{S-1} at large S.
    """
    S = draws.shape[0]
    kurt = stats.kurtosis(draws, axis=0, fisher=True, bias=False)
    return np.sqrt(2.0 / (S - 1) + np.maximum(kurt, -2.0) / S)


N_DRAWS = 20_000
D_MOMENTS = 64


def kernel_unbiased_with_theoretical_variance(
    lengthscale: float, seed: int, record=_discard
) -> None:
    """k_hat is unbiased and its variance is the theoretical one, for both feature maps."""
    x1, x2, dist = pair_points(lengthscale)
    exact = np.exp(-0.5 * (dist / lengthscale) ** 2)
    np.testing.assert_allclose(jnp.diagonal(rbf_kernel(x1, x2, lengthscale)), exact, rtol=1e-14)
    # The variance constant is 1, not 1/2: at d = 0, cos + phase has Var k_hat(x, x) = 1/(2D).
    assert float(rff_variance(0.0, lengthscale, D_MOMENTS)) == pytest.approx(0.5 / D_MOMENTS)
    assert float(rff_variance(0.0, lengthscale, D_MOMENTS, "sin_cos")) == 0.0
    keys = jr.split(jr.PRNGKey(seed), 2)
    for variant, key in zip(FEATURE_MAPS, keys, strict=True):
        draws = kernel_draws(variant, D_MOMENTS, lengthscale, x1, x2, jr.split(key, N_DRAWS))
        theory = np.asarray(rff_variance(dist, lengthscale, D_MOMENTS, variant))
        mean = draws.mean(axis=0)
        # Unbiasedness: |mean - k| <= 5 sqrt(Var/S); false alarm 5.7e-7 per pair (CLT, S = 2e4;
        # measured: docs/calibration.md#rff).
        bias_tol = 5.0 * np.sqrt(theory / N_DRAWS)
        random = theory > 0
        if variant == "sin_cos":
            # d = 0: the sin/cos diagonal is exactly 1 (zero variance), to rounding.
            assert np.allclose(draws[:, ~random], 1.0, rtol=0.0, atol=1e-12)
        ratio = draws[:, random].var(axis=0, ddof=1) / theory[random]
        se = variance_ratio_se(draws[:, random])
        record(
            **{
                f"{variant}_bias": mean - exact,
                f"{variant}_bias_tolerance": bias_tol,
                f"{variant}_variance_ratio": ratio,
                f"{variant}_variance_ratio_interval_halfwidth": 5.0 * se,
            }
        )
        assert np.all(np.abs(mean - exact)[random] <= bias_tol[random]), (variant, mean, exact)
        # Variance ratio s^2/sigma^2 in 1 +- 5 se (normal approximation of the chi-square, with the
        # kurtosis term); 5 se is ~4.7 measured sd: false alarm ~3e-6 per pair
        # (docs/calibration.md#rff). Never looser than [0.85, 1.15]:
        assert np.all(5.0 * se <= 0.15)
        assert np.all(np.abs(ratio - 1.0) <= 5.0 * se), (variant, ratio, se)


D_HOEFFDING = 256
HOEFFDING_DRAWS = 4000
# Target bounds beta; eps is chosen so that 2 exp(-D eps^2 / c) = beta.
HOEFFDING_BETAS = (0.5, 0.05, 0.005)
HOEFFDING_ALPHA = 1e-6


def hoeffding_pointwise_bound(lengthscale: float, seed: int, record=_discard) -> None:
    """P(|k_hat - k| >= eps) stays below the Hoeffding bound 2 exp(-D eps^2 / c)."""
    x1, x2, dist = pair_points(lengthscale)
    exact = np.exp(-0.5 * (dist / lengthscale) ** 2)
    c = {"cos_phase": 8.0, "sin_cos": 4.0}
    keys = jr.split(jr.PRNGKey(seed), 2)
    for variant, key in zip(FEATURE_MAPS, keys, strict=True):
        draws = kernel_draws(
            variant, D_HOEFFDING, lengthscale, x1, x2, jr.split(key, HOEFFDING_DRAWS)
        )
        errors = np.abs(draws - exact)
        for beta in HOEFFDING_BETAS:
            eps = math.sqrt(c[variant] * math.log(2.0 / beta) / D_HOEFFDING)
            bound = float(hoeffding_bound(eps, D_HOEFFDING, variant))
            assert bound == pytest.approx(beta, rel=1e-12)
            counts = (errors >= eps).sum(axis=0)
            # Binomial slack: if P(|err| >= eps) <= beta, then count ~ Bin(S, p <= beta) exceeds its
            # 1 - 1e-6 quantile under Bin(S, beta) with probability <= 1e-6 (false alarm <= 1e-6
            # per pair and beta; in practice ~0, the observed frequencies are far below beta).
            limit = stats.binom.ppf(1.0 - HOEFFDING_ALPHA, HOEFFDING_DRAWS, beta)
            record(
                **{
                    f"{variant}_eps_{beta}": eps,
                    f"{variant}_exceedance_{beta}": counts / HOEFFDING_DRAWS,
                    f"{variant}_bound_{beta}": bound,
                    f"{variant}_count_limit_{beta}": limit,
                }
            )
            assert np.all(counts <= limit), (variant, beta, counts, limit)


LAW_ALPHA = 1e-6  # KS p-value below which the law is rejected: a false alarm of 1e-6 per test


def parameters_follow_documented_law(seed: int, record=_discard) -> None:
    """omega ~ N(0, l^-2) and b ~ U(0, 2 pi), independent across features: KS tests on one map
    of 8192 features per lengthscale, each rejecting at ``LAW_ALPHA``."""
    keys = jr.split(jr.PRNGKey(seed), len(LENGTHSCALES))
    for lengthscale, key in zip(LENGTHSCALES, keys, strict=True):
        phi_map = RFFFeatureMap(8192, lengthscale, key=key)
        p_omega = stats.kstest(np.asarray(phi_map.omega) * lengthscale, "norm").pvalue
        p_bias = stats.kstest(np.asarray(phi_map.bias) / (2 * np.pi), "uniform").pvalue
        record(**{f"ks_p_omega_l{lengthscale}": p_omega, f"ks_p_bias_l{lengthscale}": p_bias})
        assert p_omega > LAW_ALPHA, (lengthscale, p_omega)
        assert p_bias > LAW_ALPHA, (lengthscale, p_bias)
