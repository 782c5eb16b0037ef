"""Known-answer checks of R-hat, ESS and MCSE: chains whose answer is known, and the verdict.

Each function takes a seed and returns the figures the suite records and one verdict. The R-hat
checks flag at the convergence family's threshold (:data:`regmaster.verdicts.RHAT`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from regmaster import diagnostics
from regmaster.verdicts import RHAT, Verdict

CHAINS, DRAWS = 4, 1000
AR_RHO = 0.9
AR_DRAWS = 4000  # per chain: ESS ~ 840, so the estimate's sd is ~9% of it
ESS_RATIO = (0.5, 2.0)  # estimated / theoretical ESS; the bugs it is for are off 4x-19x
MCSE_RATIO = (0.7, 1.4)  # estimated / theoretical MCSE of the mean


def ar1_chains(rng: np.random.Generator, rho: float = AR_RHO) -> np.ndarray:
    """Stationary AR(1) chains x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t, shaped (chain, draw)."""
    from scipy.signal import lfilter

    noise = np.sqrt(1.0 - rho**2) * rng.standard_normal((CHAINS, AR_DRAWS))
    start = rng.standard_normal(CHAINS)  # x_0 from the stationary law N(0, 1)
    return lfilter([1.0], [1.0, -rho], noise, axis=1, zi=(rho * start)[:, None])[0]


def ar1_ess(rho: float = AR_RHO) -> float:
    """ESS of CHAINS x DRAWS AR(1) draws: N (1 - rho) / (1 + rho)."""
    return CHAINS * AR_DRAWS * (1.0 - rho) / (1.0 + rho)


def _flagged(name: str, draws: np.ndarray):
    value = float(diagnostics.rhat(draws))
    figures = {"statistic": "R-hat", "value": value, "threshold": f"> {RHAT.value}"}
    return figures, Verdict(
        name, not RHAT.holds(value), value, RHAT.value, f"R-hat {value:.4f} does not flag {name}"
    )


def rhat_offset_chain(seed: int):
    """Three chains N(0, 1), one N(0.5, 1): R-hat flags them."""
    draws = np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))
    draws[0] += 0.5
    return _flagged("rhat_offset_chain", draws)


def rhat_drifting_chains(seed: int):
    """Every chain drifts from -1 to +1 (plus N(0, 1) noise): alike across chains, not stationary
    within; split R-hat flags them (the classic R-hat stays near 1)."""
    trend = np.linspace(-1.0, 1.0, DRAWS)
    draws = trend + np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))
    return _flagged("rhat_drifting_chains", draws)


def rhat_scaled_chains(seed: int):
    """Two chains N(0, 1), two N(0, 3^2): equal means, so only the folded rank R-hat sees it."""
    draws = np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))
    draws[2:] *= 3.0
    return _flagged("rhat_scaled_chains", draws)


def _ratio(name: str, statistic: str, ratio: float, bounds: tuple[float, float], **extra):
    figures = {"statistic": statistic, "value": ratio, "threshold": bounds, **extra}
    return figures, Verdict(
        name,
        bounds[0] <= ratio <= bounds[1],
        ratio,
        bounds,
        f"{statistic} = {ratio:.3f}, outside {bounds}",
    )


def ess_of_ar1(seed: int):
    """Bulk ESS of AR(1) chains (rho ``AR_RHO``) within ``ESS_RATIO`` x N (1 - rho) / (1 + rho)."""
    draws = ar1_chains(np.random.default_rng(seed))
    ratio = float(diagnostics.ess_bulk(draws)) / ar1_ess()
    return _ratio("ess_of_ar1", "ESS / theory", ratio, ESS_RATIO, theory=ar1_ess())


def mcse_of_ar1_mean(seed: int):
    """MCSE of the mean of AR(1) chains within ``MCSE_RATIO`` x sqrt(1 / ESS_theory) (sd 1)."""
    draws = ar1_chains(np.random.default_rng(seed))
    ratio = float(diagnostics.mcse_mean(draws)) / np.sqrt(1.0 / ar1_ess())
    return _ratio("mcse_of_ar1_mean", "MCSE / theory", ratio, MCSE_RATIO)


CLAIMS: dict[str, Callable[[int], tuple]] = {
    "test_rhat_flags_a_chain_offset_by_half_an_sd": rhat_offset_chain,
    "test_rhat_flags_chains_that_drift": rhat_drifting_chains,
    "test_rhat_flags_chains_that_differ_in_scale": rhat_scaled_chains,
    "test_ess_of_ar1_chains_matches_theory": ess_of_ar1,
    "test_mcse_of_ar1_mean_matches_theory": mcse_of_ar1_mean,
}
"""Each known-answer check by its test's name (the calibration tables' rows)."""
