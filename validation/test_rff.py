"""Random Fourier features against the exact RBF kernel.

Every statistic is computed from the feature map's public call, ``RFFFeatureMap(D, l, key=k)(x)``,
batched over independent feature draws with ``jax.vmap``. Each threshold carries its false-alarm
rate: derived (normal/binomial/Hoeffding tails) or measured over many seeds outside the suite
(docs/calibration.md#rff).

The slip "phase on [0, pi) instead of [0, 2 pi)" leaves the law of the random feature function
x -> cos(w x + b) unchanged (w is symmetric: (w, b) -> (-w, 2 pi - b) maps [0, pi) onto (pi, 2 pi]
and gives the same function), so no statistic of phi(x) can see it. Only the documented law of the
module's parameters (``test_rff_parameters_follow_documented_law``) catches it.
"""

from __future__ import annotations

import inspect
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import regmaster
from regmaster import kernels, models, nn, zoo
from regmaster.data import make_sinc
from regmaster.kernels import SinCosFeatureMap, rbf_kernel, rff_kernel
from regmaster.nn import DeepRFFRegressor, RFFFeatureMap
from regmaster.references import (
    blr_posterior,
    empirical_slope,
    gp_posterior,
    kernel_posterior,
    rff_variance,
    uniform_error_bound,
)
from validation.claims import rff as rff_claims
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)
from validation.claims.rff import (
    D_MOMENTS,
    FEATURE_MAPS,
    LENGTHSCALES,
    N_DRAWS,
    kernel_draws,
    max_error_draws,
    pair_points,
    variance_ratio_se,
)

pytestmark = pytest.mark.rff


# --------------------------------------------------------------------------- unbiasedness, variance


@pytest.mark.parametrize("lengthscale", LENGTHSCALES)
def test_rff_kernel_unbiased_with_theoretical_variance(lengthscale, backend, seed, record):
    """k_hat is unbiased and its variance is the theoretical one, for both feature maps."""
    rff_claims.kernel_unbiased_with_theoretical_variance(lengthscale, seed, record)


@pytest.mark.parametrize("lengthscale", [0.5, 2.5])
def test_sincos_variance_never_above_cos_phase(lengthscale, backend, seed, record):
    # Theory on a grid: the gap (k^2 - k^4/2)/D is >= 0 for every d and D.
    d_grid = np.linspace(0.0, 6.0 * lengthscale, 601)
    for D in (2, 16, 64, 1024, 4096):
        gap = rff_variance(d_grid, lengthscale, D, "cos_phase") - rff_variance(
            d_grid, lengthscale, D, "sin_cos"
        )
        assert np.all(np.asarray(gap) >= 0.0), D
    # Empirical: the two variances at equal D, same pairs (d/l = 0.5, 0.8, 1.6), match the
    # theoretical ratio (0.09, 0.37, 0.92) within 5 combined standard errors of the log ratio
    # (false alarm ~3e-6 per pair, as for the variance ratio above).
    x1, x2, dist = pair_points(lengthscale)
    k_cp, k_sc = jr.split(jr.PRNGKey(seed))
    cp = kernel_draws("cos_phase", D_MOMENTS, lengthscale, x1, x2, jr.split(k_cp, N_DRAWS))[:, 1:]
    sc = kernel_draws("sin_cos", D_MOMENTS, lengthscale, x1, x2, jr.split(k_sc, N_DRAWS))[:, 1:]
    dist = dist[1:]
    observed = sc.var(axis=0, ddof=1) / cp.var(axis=0, ddof=1)
    expected = np.asarray(
        rff_variance(dist, lengthscale, D_MOMENTS, "sin_cos")
        / rff_variance(dist, lengthscale, D_MOMENTS, "cos_phase")
    )
    se_log = np.hypot(variance_ratio_se(sc), variance_ratio_se(cp))
    record(variance_ratio_sincos_over_cosphase=observed, theoretical_ratio=expected, se_log=se_log)
    # Where theory says at most half (>= 25 se below 1), the sin/cos variance is the smaller.
    assert np.all(observed[expected < 0.5] < 1.0), observed
    assert np.all(np.abs(np.log(observed / expected)) <= 5.0 * se_log), (observed, expected)


# --------------------------------------------------------------------------- Hoeffding bounds


@pytest.mark.parametrize("lengthscale", [0.5, 2.5])
def test_hoeffding_pointwise_bound(lengthscale, backend, seed, record):
    """P(|k_hat - k| >= eps) stays below the Hoeffding bound 2 exp(-D eps^2 / c)."""
    rff_claims.hoeffding_pointwise_bound(lengthscale, seed, record)


GRID_POINTS = 50
D_UNIFORM = 1024
UNIFORM_DRAWS = 40


def grid_points(lengthscale: float):
    """n points spanning 12 lengthscales, symmetric about 0 (pairs (x, -x) have x + x' = 0, where a
    phase shared by all features cannot average out). Errors on l * u under lengthscale l have the
    law of errors on u under lengthscale 1, so every statistic below has one law for every l."""
    return lengthscale * jnp.linspace(-6.0, 6.0, GRID_POINTS)


UNIFORM_DELTA = 1e-6


@pytest.mark.parametrize("lengthscale", [0.5, 2.5])
def test_uniform_error_on_finite_set_below_union_bound(lengthscale, backend, seed, record):
    x = grid_points(lengthscale)
    n_pairs = GRID_POINTS * (GRID_POINTS + 1) // 2
    keys = jr.split(jr.PRNGKey(seed), 2)
    for variant, key in zip(FEATURE_MAPS, keys, strict=True):
        eps = uniform_error_bound(n_pairs, D_UNIFORM, UNIFORM_DELTA, variant)
        errors = max_error_draws(variant, D_UNIFORM, lengthscale, x, jr.split(key, UNIFORM_DRAWS))
        record(**{f"{variant}_max_error": errors.max(), f"{variant}_eps_delta": eps})
        # Union bound over M pairs and Hoeffding: each draw exceeds eps with probability <= 1e-6,
        # so the false alarm over 40 draws is <= 4e-5 (measured margins: docs/calibration.md#rff).
        assert errors.max() < eps, (variant, errors.max(), eps)


# --------------------------------------------------------------------------- rate

RATE_SIZES = (64, 128, 256, 512, 1024, 2048)
# Same draw count as the uniform test, so D = 1024 reuses its compiled program.
RATE_DRAWS = UNIFORM_DRAWS


@pytest.mark.parametrize(
    ("variant", "lengthscale"), [("cos_phase", 0.5), ("cos_phase", 2.5), ("sin_cos", 2.5)]
)
def test_max_error_decays_as_inverse_sqrt_features(variant, lengthscale, backend, seed, record):
    x = grid_points(lengthscale)
    keys = jr.split(jr.PRNGKey(seed), len(RATE_SIZES))
    mean_max = [
        max_error_draws(variant, D, lengthscale, x, jr.split(k, RATE_DRAWS)).mean()
        for D, k in zip(RATE_SIZES, keys, strict=True)
    ]
    slope = empirical_slope(RATE_SIZES, mean_max)
    record(slope=slope, sizes=RATE_SIZES, mean_max_error=mean_max)
    # [-0.6, -0.4] is >= 6.4 measured sd from the mean slope on each side: false alarm < 1e-9
    # (normal tail; docs/calibration.md#rff).
    assert -0.6 <= slope <= -0.4, (slope, mean_max)


# --------------------------------------------------------------------------- GP limit

GP_NOISE = 0.3
GP_SIZES = (256, 1024, 4096)
GP_DRAWS = 64
BLR_IDENTITY_SIZES = (16, 256)


GP_DATA = {"n_train": 20, "noise": GP_NOISE, "low": -5.0, "high": 5.0, "n_test": 50}


@partial(jax.jit, static_argnames=("lengthscale",))
def exact_posterior(x_train, y_train, x_test, *, lengthscale):
    return gp_posterior(x_train, y_train, x_test, lengthscale, GP_NOISE)


@partial(jax.jit, static_argnames=("n_features", "lengthscale"))
def rff_gram_posterior(keys, x_train, y_train, x_test, *, n_features, lengthscale):
    """Posterior mean and variance of f under K_hat = phi phi^T, one feature map per key.

    The Gram form (:func:`kernel_posterior`) equals the weight-space Bayesian linear regression on
    the features (checked in the test) at O(n^3) cost instead of O(D^3).
    """

    def one(key):
        phi_map = RFFFeatureMap(n_features, lengthscale, key=key)
        phi_train, phi_test = phi_map(x_train), phi_map(x_test)
        K = phi_train @ phi_train.T
        K_cross = phi_test @ phi_train.T
        k_diag = jnp.sum(phi_test**2, axis=-1)
        return kernel_posterior(K, K_cross, k_diag, y_train, GP_NOISE)

    return jax.vmap(one)(keys)


@partial(jax.jit, static_argnames=("n_features", "lengthscale"))
def rff_blr_and_gram(key, x_train, y_train, x_test, *, n_features, lengthscale):
    """One feature map: weight-space BLR posterior and Gram-form posterior under K_hat."""
    phi_map = RFFFeatureMap(n_features, lengthscale, key=key)
    blr = blr_posterior(phi_map(x_train), y_train, phi_map(x_test), GP_NOISE)
    gram = kernel_posterior(
        rff_kernel(phi_map, x_train, x_train),
        rff_kernel(phi_map, x_test, x_train),
        jnp.diagonal(rff_kernel(phi_map, x_test, x_test)),
        y_train,
        GP_NOISE,
    )
    return blr, gram


def gp_limit_errors(data, lengthscale, key, sizes, n_draws):
    """Mean over feature draws of the RMS (over test inputs) errors of the RFF posterior mean and
    variance against the exact GP posterior, one entry per D."""
    exact_mean, exact_var = exact_posterior(
        data.x_train, data.y_train, data.x_test, lengthscale=lengthscale
    )
    err_mean, err_var = [], []
    for n_features, k in zip(sizes, jr.split(key, len(sizes)), strict=True):
        mean, var = rff_gram_posterior(
            jr.split(k, n_draws),
            data.x_train,
            data.y_train,
            data.x_test,
            n_features=n_features,
            lengthscale=lengthscale,
        )
        err_mean.append(float(jnp.sqrt(jnp.mean((mean - exact_mean) ** 2, axis=-1)).mean()))
        err_var.append(float(jnp.sqrt(jnp.mean((var - exact_var) ** 2, axis=-1)).mean()))
    return err_mean, err_var


@pytest.mark.parametrize("lengthscale", [0.5, 2.5])
def test_rff_bayesian_regression_converges_to_exact_gp(lengthscale, backend, seed, record):
    data = make_sinc(seed, **GP_DATA)
    exact_mean, exact_var = exact_posterior(
        data.x_train, data.y_train, data.x_test, lengthscale=lengthscale
    )
    # The closed forms: GP posterior against a direct dense solve, and weight-space Bayesian linear
    # regression on features against the Gram form with K_hat = phi phi^T (Woodbury identity), at
    # D below and above n.
    K = np.asarray(rbf_kernel(data.x_train, data.x_train, lengthscale))
    Ks = np.asarray(rbf_kernel(data.x_test, data.x_train, lengthscale))
    A = K + GP_NOISE**2 * np.eye(K.shape[0])
    np.testing.assert_allclose(exact_mean, Ks @ np.linalg.solve(A, data.y_train), atol=1e-9)
    direct_var = 1.0 - np.einsum("mn,nm->m", Ks, np.linalg.solve(A, Ks.T))
    np.testing.assert_allclose(exact_var, direct_var, atol=1e-9)
    key_identity, key_sweep = jr.split(jr.PRNGKey(seed))
    for n_features, key in zip(BLR_IDENTITY_SIZES, jr.split(key_identity), strict=True):
        blr, gram = rff_blr_and_gram(
            key,
            data.x_train,
            data.y_train,
            data.x_test,
            n_features=n_features,
            lengthscale=lengthscale,
        )
        np.testing.assert_allclose(blr[0], gram[0], atol=1e-9)
        np.testing.assert_allclose(blr[1], gram[1], atol=1e-9)

    err_mean, err_var = gp_limit_errors(data, lengthscale, key_sweep, GP_SIZES, GP_DRAWS)
    slope_mean = empirical_slope(GP_SIZES, err_mean)
    slope_var = empirical_slope(GP_SIZES, err_var)
    record(
        sizes=GP_SIZES,
        rms_error_mean=err_mean,
        rms_error_var=err_var,
        slope_mean=slope_mean,
        slope_var=slope_var,
    )
    # Rate D^-1/2 (slope -1/2), told apart from a plateau (slope 0: a wrong kernel) and from D^-1.
    # The nearest edge of [-0.7, -0.3] is 4.3 measured sd away: false alarm <= 2e-5 per slope
    # (normal tail, extrapolated; docs/calibration.md#rff).
    assert -0.7 <= slope_mean <= -0.3, (slope_mean, err_mean)
    assert -0.7 <= slope_var <= -0.3, (slope_var, err_var)


# --------------------------------------------------------------------------- same feature map


def test_models_use_the_validated_feature_map(backend, seed, record):
    from numpyro import handlers

    data = make_sinc()
    # One implementation: every module that names RFFFeatureMap holds the class checked here.
    for module in (regmaster, models, zoo):
        assert module.RFFFeatureMap is nn.RFFFeatureMap
    assert kernels.SinCosFeatureMap is not nn.RFFFeatureMap
    # No second cos-feature implementation among the model code (kernels.SinCosFeatureMap is the
    # comparison estimator only, and is used by no model).
    assert "cos(" not in inspect.getsource(models)
    assert "SinCos" not in inspect.getsource(models) + inspect.getsource(zoo)

    x = data.x_train[:25]
    checked = []
    rff_entries = [n for n, spec in zoo.REGISTRY.items() if "rff" in spec.kwargs(data.model_keys)]
    assert rff_entries, "no registry entry takes an RFF feature map"
    for name in rff_entries:
        spec = zoo.get_spec(name)
        kwargs = spec.kwargs(data.model_keys)
        rff = kwargs["rff"]
        assert type(rff) is RFFFeatureMap, (name, type(rff))
        tr = handlers.trace(handlers.seed(spec.model, jr.PRNGKey(seed))).get_trace(x, **kwargs)
        # The model's f is phi(x) w with this very feature map.
        np.testing.assert_allclose(tr["f"]["value"], rff(x) @ tr["w"]["value"], atol=1e-12)
        checked.append(name)
    for name, spec in zoo.REGISTRY.items():
        deep = spec.kwargs(data.model_keys).get("deep_rff")
        if deep is not None:
            assert type(deep) is DeepRFFRegressor
            assert type(deep.rff1) is RFFFeatureMap and type(deep.rff2) is RFFFeatureMap
            checked.append(name)
    record(models_checked=checked)


def test_rff_parameters_follow_documented_law(backend, seed, record):
    """omega ~ N(0, l^-2) and b ~ U(0, 2 pi), independent across features (KS tests)."""
    rff_claims.parameters_follow_documented_law(seed, record)


def test_kernel_functions_reject_bad_arguments(seed, record):
    x = jnp.linspace(0.0, 1.0, 3)
    bad_calls = {
        "lengthscale": lambda: rbf_kernel(x, x, -1.0),
        "x1": lambda: rbf_kernel(jnp.ones((2, 2)), x, 1.0),
        "variant": lambda: rff_variance(0.5, 1.0, 64, "cosine"),
        "n_features": lambda: SinCosFeatureMap(7, 1.0, key=jr.PRNGKey(seed)),
        "delta": lambda: uniform_error_bound(10, 64, 1.5),
        "noise_scale": lambda: gp_posterior(x, x, x, 1.0, 0.0),
        "y_train": lambda: blr_posterior(jnp.ones((3, 4)), jnp.ones(2), jnp.ones((5, 4)), 0.1),
    }
    for name, call in bad_calls.items():
        with pytest.raises(ValueError, match=name):
            call()
    record(arguments_checked=list(bad_calls))


# --------------------------------------------------------------------------- report plot


def test_rff_report_plot(backend, seed, record, save_figure):
    """The report's RFF figure; the RFF posterior mean at D = 4096 is nearer the exact GP's than
    at D = 16 (expected error ratio ~16; a reversal needs a >10-sd draw)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengthscale = 2.5
    x = grid_points(lengthscale)
    n_pairs = GRID_POINTS * (GRID_POINTS + 1) // 2
    k_rate, k_gp = jr.split(jr.PRNGKey(seed))
    mean_max = [
        max_error_draws("cos_phase", D, lengthscale, x, jr.split(k, RATE_DRAWS)).mean()
        for D, k in zip(RATE_SIZES, jr.split(k_rate, len(RATE_SIZES)), strict=True)
    ]
    bound = [uniform_error_bound(n_pairs, D, UNIFORM_DELTA) for D in RATE_SIZES]

    # The posterior for a few D, with the programs the GP test compiled (same shapes and D).
    data = make_sinc(seed, **GP_DATA)
    args = (data.x_train, data.y_train, data.x_test)
    gp_mean, gp_var = exact_posterior(*args, lengthscale=lengthscale)
    k16, k256, k4096 = jr.split(k_gp, 3)
    rff_fits = {
        16: rff_blr_and_gram(k16, *args, n_features=16, lengthscale=lengthscale)[0],
        256: rff_blr_and_gram(k256, *args, n_features=256, lengthscale=lengthscale)[0],
    }
    mean, var = rff_gram_posterior(
        jr.split(k4096, GP_DRAWS), *args, n_features=4096, lengthscale=lengthscale
    )
    rff_fits[4096] = (mean[0], var[0])

    fig, (ax_rate, ax_mean, ax_sd) = plt.subplots(1, 3, figsize=(15, 4.2))
    sizes = np.asarray(RATE_SIZES, dtype=float)
    ax_rate.loglog(sizes, mean_max, "o-", label="mean max |k_hat - k| (n = 50)")
    ax_rate.loglog(sizes, mean_max[0] * (sizes / sizes[0]) ** -0.5, "k--", label="D^-1/2")
    ax_rate.loglog(sizes, bound, "r:", label="union bound, delta = 1e-6")
    ax_rate.set(
        xlabel="D", ylabel="error", title=f"RFF kernel error, cos + phase (l = {lengthscale})"
    )
    ax_rate.legend(fontsize=8)
    gp_sd = jnp.sqrt(gp_var)
    ax_mean.fill_between(data.x_test, gp_mean - 2 * gp_sd, gp_mean + 2 * gp_sd, color="0.85")
    ax_mean.plot(data.x_test, gp_mean, "k", lw=2, label="exact GP")
    ax_sd.plot(data.x_test, gp_sd, "k", lw=2, label="exact GP")
    for n_features, (mean, var) in rff_fits.items():
        ax_mean.plot(data.x_test, mean, label=f"RFF regression, D = {n_features}")
        ax_sd.plot(data.x_test, jnp.sqrt(jnp.maximum(var, 0.0)), label=f"D = {n_features}")
    ax_mean.plot(data.x_train, data.y_train, "k.", ms=4)
    ax_mean.set(xlabel="x", ylabel="f", title="posterior mean (band: exact GP +- 2 sd)")
    ax_sd.set(xlabel="x", ylabel="sd of f", title=f"posterior sd (noise {GP_NOISE})")
    ax_mean.legend(fontsize=8)
    ax_sd.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, f"rff_vs_exact_{backend}")
    rms = {d: float(jnp.sqrt(jnp.mean((m - gp_mean) ** 2))) for d, (m, _) in rff_fits.items()}
    record(mean_max_error=mean_max, union_bound=bound, rms_mean_error_vs_exact=rms)
    assert rms[4096] < rms[16], rms
