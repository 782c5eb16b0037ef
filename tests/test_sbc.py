"""Tests of the SBC harness itself: it passes exact inference and catches known faults.

The exact sampler is conjugate Bayesian linear regression with known noise:
w ~ N(0, tau^2 I_p), y ~ N(X w, s^2 I), posterior N(m, S) with S = (X'X/s^2 + I/tau^2)^-1 and
m = S X'y / s^2. Faults are injected into its posterior draws. Measured false-alarm rates and
power: docs/calibration.md#sbc-harness.
"""

from functools import partial

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from regmaster import sbc, stats

TAU, NOISE, L = 1.0, 0.5, 99
X = np.linspace(-1.0, 1.0, 8)
DESIGN = np.stack([X**0, X, X**2], axis=1)  # (n, p)
POST_COV = np.linalg.inv(DESIGN.T @ DESIGN / NOISE**2 + np.eye(3) / TAU**2)
POST_CHOL = np.linalg.cholesky(POST_COV)


def exact_sbc_verdict(rng, replications, *, scale=1.0, shift_sd=0.0, from_prior=False, alpha=0.01):
    """SBC of the conjugate model with draws N(m + shift_sd sd, scale^2 S) (exact: 1 and 0)."""
    w_true = TAU * rng.standard_normal((replications, 3))
    y = w_true @ DESIGN.T + NOISE * rng.standard_normal((replications, len(X)))
    mean = (y @ DESIGN / NOISE**2) @ POST_COV
    z = rng.standard_normal((replications, L, 3))
    if from_prior:
        w = TAU * z
    else:
        w = mean[:, None, :] + scale * z @ POST_CHOL.T + shift_sd * np.sqrt(np.diag(POST_COV))

    def loglik(weights):  # (..., 3) -> (...,): sum_i log N(y_i; x_i w, s^2)
        resid = y[:, None, :] - weights @ DESIGN.T if weights.ndim == 3 else y - weights @ DESIGN.T
        return -0.5 * np.sum(resid**2, axis=-1) / NOISE**2

    truth = np.concatenate([w_true, loglik(w_true)[:, None]], axis=1)
    draws = np.concatenate([w, loglik(w)[..., None]], axis=2)
    ranks = sbc.ranks_of(truth, draws, rng)
    return sbc.verdict(ranks, L, alpha, rng)


def test_exact_posterior_draws_pass():
    _, adjusted, passed = exact_sbc_verdict(np.random.default_rng(11), 500)
    assert passed, adjusted


def test_posterior_20_percent_too_narrow_fails():
    # Power at 500 replications: test_power_of_the_verdict, docs/calibration.md#sbc-harness.
    _, adjusted, passed = exact_sbc_verdict(np.random.default_rng(12), 500, scale=0.8)
    assert not passed, adjusted


def test_posterior_biased_by_a_quarter_sd_fails():
    _, adjusted, passed = exact_sbc_verdict(np.random.default_rng(13), 500, shift_sd=0.25)
    assert not passed, adjusted


def test_prior_sampler_passes_every_parameter_but_fails_on_loglik():
    pvalues, adjusted, passed = exact_sbc_verdict(np.random.default_rng(14), 500, from_prior=True)
    assert not passed
    assert np.all(adjusted[:3] > 0.01), adjusted  # w[0], w[1], w[2]: prior ranks are uniform
    assert adjusted[3] <= 0.01, adjusted  # the log-likelihood catches it


FALSE_ALARM_SEEDS = 400


def test_false_alarm_rate_of_the_verdict_on_exact_draws_is_at_most_alpha():
    # 400 independent SBC runs (200 replications each) of exact inference at alpha = 0.01.
    # Holm bounds the family-wise rate by 0.01; alarms ~ Binomial(400, <= 0.01), and
    # P(Binomial(400, 0.01) >= 10) = 0.0081, the false-alarm rate of this assertion.
    rng = np.random.default_rng(2026)
    alarms = sum(not exact_sbc_verdict(rng, 200)[2] for _ in range(FALSE_ALARM_SEEDS))
    assert alarms <= 9, f"{alarms} false alarms in {FALSE_ALARM_SEEDS} exact SBC runs"


@pytest.mark.parametrize(
    ("fault", "kwargs", "minimum_power"),
    [
        ("20% too narrow", {"scale": 0.8}, 0.8),
        ("bias 0.25 sd", {"shift_sd": 0.25}, 0.8),
    ],
)
def test_power_of_the_verdict_at_500_replications(fault, kwargs, minimum_power):
    # Detections out of 100 runs. If the power were only 0.9, P(Binomial(100, 0.9) < 80) = 8e-4 is
    # this assertion's false-alarm rate (measured power: docs/calibration.md#sbc-harness).
    rng = np.random.default_rng(7)
    detected = sum(not exact_sbc_verdict(rng, 500, **kwargs)[2] for _ in range(100))
    assert detected >= 100 * minimum_power, f"{fault}: power {detected / 100:.2f}"


def test_ranks_break_ties_at_random():
    rng = np.random.default_rng(0)
    truth = np.zeros((4000, 1))
    draws = np.zeros((4000, 9, 1))  # every draw ties with the truth
    ranks = sbc.ranks_of(truth, draws, rng)
    counts = np.bincount(ranks[:, 0], minlength=10)
    # Uniform on 0..9 (400 expected each); chi-square p > 1e-4 fails with probability 1e-4.
    assert stats.chi2_pvalue(ranks, 9)[0] > 1e-4, counts


def test_ranks_count_draws_below_the_truth():
    truth = np.array([[0.5, 10.0]])
    draws = np.array([[[0.1, 1.0], [0.7, 2.0], [0.2, 3.0]]])
    np.testing.assert_array_equal(sbc.ranks_of(truth, draws, np.random.default_rng(0)), [[2, 3]])


def test_holm_adjusted_pvalues():
    # Hand-computed: sorted 0.01, 0.03, 0.04, 0.5 -> 4*.01, max(.04, 3*.03), max(.09, 2*.04), .5
    np.testing.assert_allclose(
        stats.holm(np.array([0.01, 0.04, 0.03, 0.5])), [0.04, 0.09, 0.09, 0.5]
    )


def test_thin_takes_evenly_spaced_pooled_draws():
    draws = np.arange(2 * 2 * 10).reshape(2, 2, 10)  # (replications, chains, draws)
    np.testing.assert_array_equal(sbc.thin(draws, 3)[0], [0, 10, 19])


def _normal_mean(x, y=None, *, prior_scale=1.0):
    mu = numpyro.sample("mu", dist.Normal(0.0, prior_scale))
    numpyro.sample("obs", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)


def test_nuts_engine_passes_the_correct_model():
    # False-alarm rate <= alpha = 0.01 (Holm over all tests of mu and loglik); fixed key.
    x = jnp.zeros(3)
    result = sbc.run_sbc(
        _normal_mean,
        x,
        num_replications=200,
        key=jr.PRNGKey(1),
        observed="obs",
        num_warmup=200,
        num_samples=200,
        num_draws=99,
    )
    assert result.passed, result.rows()
    assert result.fit_diagnostics["divergent_transitions"] == 0


def test_grouped_runs_are_the_batch_split_in_order():
    # One batch of 2 x 40 replications: each group's ranks are its slice of the batch's ranks,
    # its verdict and health figures its own (the calibration's seeds as an array axis).
    x = jnp.zeros(3)
    kwargs = dict(key=jr.PRNGKey(3), observed="obs", num_warmup=100, num_samples=100, num_draws=49)
    groups = sbc.run_sbc_groups(_normal_mean, x, num_replications=40, groups=2, **kwargs)
    whole = sbc.run_sbc(_normal_mean, x, num_replications=80, **kwargs)
    assert [g.ranks.shape for g in groups] == [(40, 2), (40, 2)]
    np.testing.assert_array_equal(np.concatenate([g.ranks for g in groups]), whole.ranks)
    for g in groups:  # the chi-square p-value needs no jitter: it is a function of the ranks
        np.testing.assert_array_equal(g.pvalues["chi2"], stats.chi2_pvalue(g.ranks, 49))
    divergent = sum(g.fit_diagnostics["divergent_transitions"] for g in groups)
    assert divergent == whole.fit_diagnostics["divergent_transitions"]


def test_nuts_engine_catches_a_mismatched_inference_model():
    # Data from mu ~ N(0, 1); inference with the prior N(0, 0.3^2): the posterior is too narrow
    # and shrunk towards 0, so mu's ranks pile up at both ends. Fixed key; the power of this
    # detection over keys was not measured (the exact-draw power tests above bound the harness).
    x = jnp.zeros(3)
    result = sbc.run_sbc(
        _normal_mean,
        x,
        num_replications=200,
        key=jr.PRNGKey(2),
        observed="obs",
        inference_model=partial(_normal_mean, prior_scale=0.3),
        num_warmup=200,
        num_samples=200,
        num_draws=99,
    )
    assert not result.passed, result.rows()


def test_run_sbc_hands_the_tree_depth_to_every_lane():
    # At depth 1 a trajectory is one leapfrog step, so (nearly) every transition saturates; at
    # the default depth 10 none of this one-parameter model's transitions do.
    def saturated(depth):
        result = sbc.run_sbc(
            _normal_mean,
            jnp.zeros(3),
            num_replications=4,
            key=jr.PRNGKey(3),
            observed="obs",
            num_warmup=20,
            num_samples=20,
            num_draws=9,
            max_tree_depth=depth,
        )
        return result.fit_diagnostics["saturated_transitions"]

    assert saturated(1) >= 150  # of 4 x 2 x 20 = 160; measured 160 (deterministic: fixed key)
    assert saturated(10) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"observed": "y"}, "observed must name a sample site of model _normal_mean; got 'y'"),
        (
            {"observed": "obs", "parameters": ["nosuch"]},
            "parameters names no latent sample site: 'nosuch'",
        ),
        ({"observed": None}, "observed must name the model's observed sample site"),
        (
            {"observed": "obs", "probe_x": jnp.zeros(2)},
            "probe_site must name a site of model _normal_mean to rank at probe_x; got 'f'",
        ),
    ],
)
def test_bad_model_description_is_refused_before_fitting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sbc.run_sbc(_normal_mean, jnp.zeros(3), num_replications=4, key=jr.PRNGKey(0), **kwargs)


def test_a_model_that_fails_on_its_inputs_is_refused_naming_their_shape():
    def two_inputs(x, y=None):
        numpyro.sample("obs", dist.Normal(x @ jnp.ones(2), 1.0), obs=y)

    with pytest.raises(ValueError, match=r"fails on x of shape \(3,\)"):
        sbc.run_sbc(two_inputs, jnp.zeros(3), num_replications=4, key=jr.PRNGKey(0), observed="obs")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nosuchpackage.models:SPEC", "cannot import 'nosuchpackage.models'"),
        ("examples.eight_schools:nothing", "module 'examples.eight_schools' has no 'nothing'"),
        ("tests.data.raises_on_import:SPEC", r"cannot import .*\(ZeroDivisionError: "),
        ("examples.eight_schools:SIGMA", "found tuple"),
    ],
)
def test_an_import_path_that_does_not_name_a_model_spec_is_refused(path, message):
    from regmaster import zoo

    with pytest.raises(ValueError, match=message):
        zoo.resolve(path)
