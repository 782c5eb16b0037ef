"""The convergence diagnostics flag chains known not to have converged, and measure what they claim.

Every check of the convergence and exact-posterior families reads R-hat, ESS or MCSE
(:mod:`regmaster.diagnostics`, through ArviZ). These checks feed them chains whose answer is known:

- R-hat (rank-normalised split R-hat, Vehtari et al. 2021) must exceed the convergence
  threshold (``regmaster.verdicts.RHAT``) on chains that differ in location, on chains that drift
  within themselves (what splitting catches) and on chains that differ only in scale (what the
  folded, rank-normalised form catches; the classic R-hat of Gelman & Rubin 1992 misses both of
  the last two);
- ESS of AR(1) chains must match N (1 - rho) / (1 + rho) (Geyer 1992), and MCSE of their mean
  sqrt(1 / ESS) times their sd.

False-alarm rates are measured on replicate chains by ``tox -e calibrate``
(docs/calibration.md#diagnostics).
"""

from __future__ import annotations

import pytest

from validation.claims import diagnostics as claims
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)

pytestmark = pytest.mark.diagnostics


def _judge(claim, seed: int, record, check) -> None:
    figures, verdict = claim(seed)
    record(**figures)
    check(verdict)


def test_rhat_flags_a_chain_offset_by_half_an_sd(seed, record, check):
    """Three chains N(0, 1), one N(0.5, 1): R-hat flags them."""
    _judge(claims.rhat_offset_chain, seed, record, check)


def test_rhat_flags_chains_that_drift(seed, record, check):
    """Every chain drifts from -1 to +1 (plus N(0, 1) noise): split R-hat flags them."""
    _judge(claims.rhat_drifting_chains, seed, record, check)


def test_rhat_flags_chains_that_differ_in_scale(seed, record, check):
    """Two chains N(0, 1), two N(0, 3^2): the folded rank R-hat flags them."""
    _judge(claims.rhat_scaled_chains, seed, record, check)


def test_ess_of_ar1_chains_matches_theory(seed, record, check):
    """Bulk ESS of AR(1) chains within ``ESS_RATIO`` x N (1 - rho) / (1 + rho)."""
    _judge(claims.ess_of_ar1, seed, record, check)


def test_mcse_of_ar1_mean_matches_theory(seed, record, check):
    """MCSE of the mean of AR(1) chains within ``MCSE_RATIO`` x sqrt(1 / ESS_theory)."""
    _judge(claims.mcse_of_ar1_mean, seed, record, check)
