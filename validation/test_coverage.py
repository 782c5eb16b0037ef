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

    |C - 0.95| <= 4 sqrt(0.0109^2 + 0.020^2) = 0.091  (regmaster.verdicts.COVERAGE_GAP)

a false-alarm rate of ~6e-5 per model under a normal approximation (measured coverage over
dataset seeds: docs/calibration.md#coverage). It catches gross miscalibration only, e.g. an
interval without the noise term or with the prior's sigma (C near 0 or 1), not a 2-point shift of
coverage.

Entries whose interval makes no 95% claim (``ModelSpec.coverage_exempt``: ``linear`` is
misspecified on purpose, the MLP's plug-in interval ignores parameter uncertainty, MC dropout's
is wide) are held to a floor only, C >= 0.5: their interval must not be degenerate.
"""

from __future__ import annotations

import pytest

from regmaster.data import NOTEBOOK_SEED
from validation.cases import cases
from validation.claims.notebook import fresh_coverage, interval_level
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)
from validation.fitcache import notebook_fit

pytestmark = pytest.mark.coverage


@pytest.mark.parametrize("model", cases("coverage"))
def test_predictive_interval_covers_fresh_observations(
    model, backend, seed, fit_cache, record, check
):
    """Share C of fresh observations inside the 95% predictive interval within ``COVERAGE_GAP``
    of 0.95 (module docstring), or at least ``COVERAGE_FLOOR`` for an entry whose interval makes
    no 95% claim."""
    fit = notebook_fit(model, NOTEBOOK_SEED, backend, fit_cache)
    figures, verdict = fresh_coverage(model, fit, seed)
    record(**figures)
    check(verdict)


def test_interval_of_normal_draws_has_its_level(seed, record, check):
    """The 95% interval of N(0, 1) draws is (-1.960, 1.960) to within 5 sd (0.030) of its mean
    over 50 columns: the interval of the quantity it claims, at the level it claims."""
    figures, verdict = interval_level(seed)
    record(**figures)
    check(verdict)
