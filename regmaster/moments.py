"""Posterior draws against reference moments: z-scores scaled by Monte Carlo error, and the gate.

One computation for the exact-posterior family of the suite, the pytest plugin's
``posterior`` check and the calibration harness; the verdicts on its figures are
:func:`regmaster.verdicts.reference`.

For a moment m of a site with draws x (chains x draws per chain), the estimate m_hat from the
pooled draws and its Monte Carlo standard error from ArviZ give

    z = (m_hat - m_reference) / MCSE(m_hat),

approximately N(0, 1) for a correct sampler once the chains have converged (Vehtari et al. 2021,
section 4). A covariance entry (i < j) is the mean of (x_i - mu_i)(x_j - mu_j) with the
*reference* means mu, so its MCSE is that of a mean.

References
----------
Vehtari, Gelman, Simpson, Carpenter, Bürkner (2021). Rank-normalization, folding, and
localization: an improved R-hat. Bayesian Analysis 16(2).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import diagnostics

MOMENTS = ("mean", "sd", "cov")
"""The moments a reference may give for a site, keyed ``<site>_<moment>``."""


def _split(key: str) -> tuple[str, str]:
    site, _, moment = key.rpartition("_")
    if not site or moment not in MOMENTS:
        raise ValueError(
            f"reference moments are named <site>_mean, <site>_sd or <site>_cov, got {key!r}"
        )
    return site, moment


def covariance_products(draws: np.ndarray, mean) -> tuple[np.ndarray, tuple]:
    """(x_i - mu_i)(x_j - mu_j) for i < j of a vector site, shaped (chain, draw, pairs), and the
    pair indices."""
    upper = np.triu_indices(draws.shape[-1], k=1)
    centred = draws - mean
    return centred[..., upper[0]] * centred[..., upper[1]], upper


def z_scores(
    draws: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """z-scores of every reference moment, and the quantities whose convergence gates them.

    Parameters
    ----------
    draws : mapping
        Site name -> draws shaped ``(chain, draw, ...)``.
    reference : mapping
        ``<site>_mean``, ``<site>_sd`` (element-wise) and ``<site>_cov`` (the full covariance of
        a vector site; its entries above the diagonal are compared, and ``<site>_mean`` must be
        given too).

    Returns
    -------
    z : dict
        ``<site>_<moment>`` -> z-scores, at least 1-D.
    gated : dict
        Every site compared, and the covariance products: the quantities whose R-hat and ESS
        must pass before the z-scores mean anything.
    """
    z: dict[str, np.ndarray] = {}
    gated: dict[str, np.ndarray] = {}
    for key, value in reference.items():
        site, moment = _split(key)
        if site not in draws:
            raise ValueError(f"reference names {site!r}, which has no draws; sites: {list(draws)}")
        x = np.asarray(draws[site])
        gated[site] = x
        value = np.asarray(value)
        if moment == "cov":
            if f"{site}_mean" not in reference:
                raise ValueError(f"reference {key!r} needs {site}_mean (the centring)")
            products, upper = covariance_products(x, np.asarray(reference[f"{site}_mean"]))
            gated[f"{site}_products"] = products
            estimate = products.reshape(-1, products.shape[-1]).mean(0)
            z[key] = (estimate - value[upper]) / diagnostics.mcse_mean(products)
            continue
        pooled = x.reshape(-1, *x.shape[2:])
        if moment == "mean":
            z[key] = np.atleast_1d((pooled.mean(0) - value) / diagnostics.mcse_mean(x))
        else:
            z[key] = np.atleast_1d((pooled.std(0, ddof=1) - value) / diagnostics.mcse_sd(x))
    return z, gated


def compare(
    draws: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """The figures of a posterior against a reference: the largest |z| per moment, the number of
    z-scores per moment and the convergence gate (:func:`regmaster.diagnostics.convergence_summary`
    over every quantity compared)."""
    z, gated = z_scores(draws, reference)
    return {
        "max_abs_z": {k: float(np.max(np.abs(v))) for k, v in z.items()},
        "n_z_scores": {k: int(np.size(v)) for k, v in z.items()},
        "gate": diagnostics.convergence_summary(gated),
    }
