"""The convergence diagnostics flag chains known not to have converged, and measure what they claim.

Every check of the convergence and exact-posterior families reads R-hat, ESS or MCSE
(:mod:`regmaster.diagnostics`, through ArviZ). These checks feed them chains whose answer is known:

- R-hat (rank-normalised split R-hat, Vehtari et al. 2021) must exceed 1.01 on chains that differ
  in location, on chains that drift within themselves (what splitting catches) and on chains that
  differ only in scale (what the folded, rank-normalised form catches; the classic R-hat of
  Gelman & Rubin 1992 misses both of the last two);
- ESS of AR(1) chains must match N (1 - rho) / (1 + rho) (Geyer 1992), and MCSE of their mean
  sqrt(1 / ESS) times their sd.

False-alarm rates are measured on replicate chains by ``tox -e calibrate``
(docs/calibration.md#diagnostics).
"""

from __future__ import annotations

import numpy as np
import pytest

from regmaster import diagnostics
from regmaster.verdicts import MAX_RHAT

pytestmark = pytest.mark.diagnostics

CHAINS, DRAWS = 4, 1000
FLAG = MAX_RHAT  # the convergence family's R-hat threshold
AR_RHO = 0.9
AR_DRAWS = 4000  # per chain: ESS ~ 840, so the estimate's sd is ~9% of it
ESS_RATIO = (0.5, 2.0)  # estimated / theoretical ESS; the bugs it is for are off 4x-19x
MCSE_RATIO = (0.7, 1.4)  # estimated / theoretical MCSE of the mean
FALSE_ALARM = {
    "test_rhat_flags_a_chain_offset_by_half_an_sd": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_rhat_flags_chains_that_drift": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_rhat_flags_chains_that_differ_in_scale": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_ess_of_ar1_chains_matches_theory": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_mcse_of_ar1_mean_matches_theory": "0 of 200 seeds (<= 1.8%, 95%)",
}


def ar1_chains(rng: np.random.Generator, rho: float = AR_RHO) -> np.ndarray:
    """Stationary AR(1) chains x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t, shaped (chain, draw)."""
    from scipy.signal import lfilter

    noise = np.sqrt(1.0 - rho**2) * rng.standard_normal((CHAINS, AR_DRAWS))
    start = rng.standard_normal(CHAINS)  # x_0 from the stationary law N(0, 1)
    return lfilter([1.0], [1.0, -rho], noise, axis=1, zi=(rho * start)[:, None])[0]


def ar1_ess(rho: float = AR_RHO) -> float:
    """ESS of CHAINS x DRAWS AR(1) draws: N (1 - rho) / (1 + rho)."""
    return CHAINS * AR_DRAWS * (1.0 - rho) / (1.0 + rho)


def test_rhat_flags_a_chain_offset_by_half_an_sd(seed, record):
    """Three chains N(0, 1), one N(0.5, 1): R-hat > 1.01."""
    draws = np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))
    draws[0] += 0.5
    value = float(diagnostics.rhat(draws))
    record(statistic="R-hat", value=value, threshold=f"> {FLAG}")
    assert value > FLAG


def test_rhat_flags_chains_that_drift(seed, record):
    """Every chain drifts from -1 to +1 (plus N(0, 1) noise): alike across chains, not stationary
    within; split R-hat > 1.01 (the classic R-hat stays near 1)."""
    trend = np.linspace(-1.0, 1.0, DRAWS)
    draws = trend + np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))
    value = float(diagnostics.rhat(draws))
    record(statistic="R-hat", value=value, threshold=f"> {FLAG}")
    assert value > FLAG


def test_rhat_flags_chains_that_differ_in_scale(seed, record):
    """Two chains N(0, 1), two N(0, 3^2): equal means, so only the folded rank R-hat sees it."""
    draws = np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))
    draws[2:] *= 3.0
    value = float(diagnostics.rhat(draws))
    record(statistic="R-hat", value=value, threshold=f"> {FLAG}")
    assert value > FLAG


def test_ess_of_ar1_chains_matches_theory(seed, record):
    """Bulk ESS of AR(1) chains (rho 0.9) within [0.5, 2] x N (1 - rho) / (1 + rho)."""
    draws = ar1_chains(np.random.default_rng(seed))
    ratio = float(diagnostics.ess_bulk(draws)) / ar1_ess()
    record(statistic="ESS / theory", value=ratio, threshold=ESS_RATIO, theory=ar1_ess())
    assert ESS_RATIO[0] <= ratio <= ESS_RATIO[1]


def test_mcse_of_ar1_mean_matches_theory(seed, record):
    """MCSE of the mean of AR(1) chains within [0.7, 1.4] x sqrt(1 / ESS_theory) (sd 1)."""
    draws = ar1_chains(np.random.default_rng(seed))
    ratio = float(diagnostics.mcse_mean(draws)) / np.sqrt(1.0 / ar1_ess())
    record(statistic="MCSE / theory", value=ratio, threshold=MCSE_RATIO)
    assert MCSE_RATIO[0] <= ratio <= MCSE_RATIO[1]
