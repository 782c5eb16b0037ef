"""NUTS against exact posteriors: quadrature over sigma, and conjugate cases with sigma fixed.

Statistic (:mod:`regmaster.moments`): z = (estimate - exact) / MCSE, MCSE from ArviZ
(``mcse_mean`` / ``mcse_sd``); for a covariance entry, the average of (w_i - mu_i)(w_j - mu_j)
with the *exact* means, and the MCSE of that average. Evaluated only once the run has converged:
rank-normalised split R-hat and bulk and tail ESS on every quantity tested (Vehtari et al. 2021;
the gate and the |z| bounds are :func:`regmaster.verdicts.reference`'s, the case bodies
:mod:`validation.claims.exact`).

Thresholds: ``Z_MEAN`` for means and covariances, ``Z_SD`` for sds and for the 780 covariances of
rff_svr; a family of m z-scores false-alarms at about m times the per-z-score rate (union bound):
family-wise 2.7e-4, 2.0e-4, 2.0e-4 and 0.8% for the four cases, plus the gate's own rate,
measured over 200 correct runs of each linear case (docs/calibration.md#exact-posterior).

References: Vehtari et al. (2021), Bayesian Analysis 16(2); Bishop (2006), PRML section 3.3.
"""

from __future__ import annotations

import numpy as np
import pytest

from regmaster.data import NOISE_SD, make_sinc
from regmaster.references import posteriors
from validation.claims.exact import CASES, features, measured
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)

pytestmark = pytest.mark.exact


@pytest.mark.parametrize("case", list(CASES))
def test_nuts_matches_exact_posterior(case, backend, seed, record, check):
    """NUTS means, sds and covariances within MCSE-scaled z of the exact posterior."""
    figures, judged = measured(case, seed)
    record(**figures)
    check(*judged)


QUADRATURE_TOL = 1e-12  # the quadrature's own accuracy: 4000 and 16000 grid points agree
SVD_TOL = 1e-10  # the SVD form of the conjugate posterior against a direct inverse (float64)


def test_quadrature_reference_is_converged(record):
    """The quadrature moments on 4000 and 16000 grid points agree to ``QUADRATURE_TOL``."""
    data = make_sinc()
    phi = features("linear", data)
    coarse = posteriors.linear_posterior(phi, data.y_train, num_grid=4000)
    fine = posteriors.linear_posterior(phi, data.y_train, num_grid=16000)
    gaps = {
        "w_mean": float(np.max(np.abs(coarse.w_mean - fine.w_mean))),
        "w_cov": float(np.max(np.abs(coarse.w_cov - fine.w_cov))),
        "sigma_mean": abs(coarse.sigma_mean - fine.sigma_mean),
        "sigma_sd": abs(coarse.sigma_sd - fine.sigma_sd),
    }
    record(statistic="max |4000-point - 16000-point| moment", gaps=gaps, threshold=QUADRATURE_TOL)
    assert max(gaps.values()) <= QUADRATURE_TOL, gaps


def test_conjugate_closed_form_matches_direct_solve(record):
    """The SVD form of the conjugate posterior: C = (Phi'Phi / s^2 + I)^-1, m = C Phi'y / s^2."""
    data = make_sinc()
    phi = features("rff_svr", data)
    post = posteriors.conjugate_posterior(phi, data.y_train, noise_sd=NOISE_SD)
    precision = phi.T @ phi / NOISE_SD**2 + np.eye(phi.shape[1])
    cov = np.linalg.inv(precision)
    mean = cov @ phi.T @ np.asarray(data.y_train) / NOISE_SD**2
    gaps = {
        "mean": float(np.max(np.abs(post.mean - mean))),
        "cov": float(np.max(np.abs(post.cov - cov))),
    }
    record(statistic="max |SVD form - direct inverse|", gaps=gaps, threshold=SVD_TOL)
    assert max(gaps.values()) <= SVD_TOL, gaps
