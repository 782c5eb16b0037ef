"""Posterior-predictive coverage of fresh observations.

For each model fitted as in the notebook (seed 666, ``fit_one``): fresh observations
y_i = sinc(x_i) + 0.05 eps_i at the 400 grid inputs, eps ~ N(0, I) drawn with the test's seed; the
statistic is the share C of the y_i inside the equal-tailed 95% posterior-predictive interval.

What the tolerance means. Given the fit, the 400 indicators are independent Bernoulli(p_i) (the
eps_i are independent), with p_i = Phi((u_i - f_i) / s) - Phi((l_i - f_i) / s) known exactly
(f = sinc, s = 0.05). So C has mean p_bar = mean_i p_i and sd <= sqrt(0.95 * 0.05 / 400) = 0.0109
near p_bar = 0.95. That binomial error covers the fresh noise only: all 400 intervals come from
one posterior (one sigma, one set of weights), their errors are shared, and the grid points are
not 400 independent draws of an interval. p_bar itself moves with the data set (``FIT_SD``, its
sd over dataset seeds). The tolerance adds both parts:

    |C - 0.95| <= 4 sqrt(0.0109^2 + 0.020^2) = 0.091

a false-alarm rate of ~6e-5 per model under a normal approximation (measured coverage over
dataset seeds: docs/calibration.md#coverage). It catches gross miscalibration only, e.g. an
interval without the noise term or with the prior's sigma (C near 0 or 1), not a 2-point shift of
coverage.

Entries whose interval makes no 95% claim (``ModelSpec.coverage_exempt``: ``linear`` is
misspecified on purpose, the MLP's plug-in interval ignores parameter uncertainty, MC dropout's
is wide) are held to a floor only, C >= 0.5: their interval must not be degenerate.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.stats import norm

from regmaster import inference
from regmaster.data import NOTEBOOK_SEED, make_sinc
from regmaster.zoo import get_spec
from validation.cases import cases
from validation.fitcache import notebook_fit

pytestmark = pytest.mark.coverage

FALSE_ALARM = {
    "test_predictive_interval_covers_fresh_observations": "~6e-5 per model (normal "
    "approximation); 0 of 33 fits below the exempt floor; 0 of 200 fresh-noise seeds (rff_svr, "
    "mlp_map)",
    "test_interval_of_normal_draws_has_its_level": "5.7e-7 per bound (normal tail, 5 sd); "
    "0 of 200 seeds",
}

LEVEL = 0.95
COVERAGE_POINTS = 400
BINOMIAL_SD = float(
    np.sqrt(LEVEL * (1 - LEVEL) / COVERAGE_POINTS)
)  # 0.0109: fresh noise, given a fit
FIT_SD = 0.020  # sd of p_bar over 11 dataset seeds, the largest among the NUTS models
TOLERANCE = 4 * float(np.hypot(BINOMIAL_SD, FIT_SD))  # 0.091; false alarm ~6e-5 per model
# Entries whose interval makes no 95% claim (``ModelSpec.coverage_exempt``) must still not be
# degenerate: an interval that drops the noise term covers almost nothing.
EXEMPT_FLOOR = 0.5  # no alarm in 33 fits over 11 dataset seeds: docs/calibration.md#coverage


@pytest.mark.parametrize("model", cases("coverage"))
def test_predictive_interval_covers_fresh_observations(model, backend, seed, fit_cache, record):
    """Share C of fresh observations inside the 95% predictive interval: |C - 0.95| <= 0.091
    (module docstring), or C >= 0.5 for an entry whose interval makes no 95% claim."""
    data = make_sinc()
    fit = notebook_fit(model, NOTEBOOK_SEED, backend, fit_cache)
    f = np.asarray(data.y_test)
    eps = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), f.shape))
    y = f + data.noise * eps
    coverage = float(np.mean((fit.lower <= y) & (y <= fit.upper)))
    p = norm.cdf((fit.upper - f) / data.noise) - norm.cdf((fit.lower - f) / data.noise)
    gap = abs(coverage - LEVEL)
    exempt = get_spec(model).coverage_exempt
    record(
        statistic="share of fresh observations inside the 95% predictive interval",
        value=coverage,
        expected_given_fit=float(np.mean(p)),
        binomial_sd_given_fit=float(np.sqrt(np.sum(p * (1 - p))) / COVERAGE_POINTS),
        threshold=f"C >= {EXEMPT_FLOOR}" if exempt else f"|C - {LEVEL}| <= {TOLERANCE:.3f}",
        margin=coverage - EXEMPT_FLOOR if exempt else TOLERANCE - gap,
        exempt=exempt,
        inference=get_spec(model).inference,
    )
    if exempt:
        assert coverage >= EXEMPT_FLOOR, f"coverage {coverage:.3f}: a degenerate interval"
        return
    assert gap <= TOLERANCE, f"coverage {coverage:.3f}, expected {LEVEL} +- {TOLERANCE:.3f}"


INTERVAL_DRAWS, INTERVAL_COLUMNS = 4000, 50
# sd of one estimated 2.5% quantile of N(0, 1) from 4000 draws, sqrt(p (1 - p) / n) / phi(z):
# 0.042; of the mean over 50 independent columns 0.0060: 5 sd, a false alarm of 5.7e-7 per bound.
INTERVAL_TOL = (
    5
    * float(np.sqrt(0.025 * 0.975 / INTERVAL_DRAWS) / norm.pdf(norm.ppf(0.975)))
    / (np.sqrt(INTERVAL_COLUMNS))
)


def test_interval_of_normal_draws_has_its_level(seed, record):
    """The 95% interval of N(0, 1) draws is (-1.960, 1.960) to within 5 sd (0.030) of its mean
    over 50 columns: the interval of the quantity it claims, at the level it claims."""
    draws = jax.random.normal(jax.random.PRNGKey(seed), (INTERVAL_DRAWS, INTERVAL_COLUMNS))
    lower, upper = inference.predictive_interval(draws, level=LEVEL)
    z = float(norm.ppf(0.5 + LEVEL / 2))
    gaps = {"lower": float(np.mean(lower)) + z, "upper": float(np.mean(upper)) - z}
    record(statistic="mean bound - exact quantile", gaps=gaps, threshold=INTERVAL_TOL)
    assert max(abs(g) for g in gaps.values()) <= INTERVAL_TOL, gaps
