"""Posterior draws against reference draws: z-scores with both Monte Carlo errors, Holm over all.

For every element of every site the reference names, four statistics s (the mean, the sd, the 5%
and 95% quantiles) are estimated from our pooled draws and from the reference's, each with its
Monte Carlo standard error from ArviZ (Vehtari et al. 2021), and

    z = (s_ours - s_reference) / sqrt(MCSE_ours^2 + MCSE_reference^2),

approximately N(0, 1) when both sets of draws come from the same posterior and both runs have
converged. The m z-scores of one posterior give two-sided p-values 2 Phi(-|z|), adjusted by Holm
(1979): rejecting when the smallest adjusted p is at most alpha keeps the family-wise false-alarm
rate at most alpha, whatever the z-scores' dependence, as far as each z is N(0, 1). The verdicts
on these figures are :func:`regmaster.verdicts.against_reference_draws`; the measured rate is in
docs/calibration.md#posteriordb.

References
----------
Vehtari, Gelman, Simpson, Carpenter, Bürkner (2021). Rank-normalization, folding, and
localization: an improved R-hat. Bayesian Analysis 16(2).
Magnusson et al. (2024). posteriordb: testing, benchmarking and developing Bayesian inference
algorithms. arXiv:2407.04967.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from . import diagnostics
from .stats import holm

QUANTILES: tuple[float, ...] = (0.05, 0.95)
STATISTICS: tuple[str, ...] = ("mean", "sd", *(f"q{round(100 * p):02d}" for p in QUANTILES))
"""The statistics compared per element: ``mean``, ``sd``, ``q05``, ``q95``."""


_INDEX = re.compile(r"^(?P<site>[A-Za-z_][A-Za-z0-9_]*)(\[(?P<index>[0-9,]+)\])?$")


def read_zipped_json(path: Path) -> Any:
    """The one JSON document in a zip file (posteriordb's ``*.json.zip``)."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(archive.namelist()[0]))


def draws_from_chains(chains: list[Mapping[str, list[float]]]) -> dict[str, np.ndarray]:
    """posteriordb's reference draws (a list of chains, each ``{"beta[1]": [...], ...}``) as
    ``{site: array (chain, draw, ...)}``, Stan's 1-based indices made 0-based.

    Parameters
    ----------
    chains : list of mapping
        One mapping per chain from a Stan parameter name to its draws; every chain has the same
        names and lengths.

    Returns
    -------
    dict
        Site name -> float array shaped ``(chain, draw)`` plus the site's shape.
    """
    if not chains:
        raise ValueError("reference draws: no chains")
    names = list(chains[0])
    for number, chain in enumerate(chains):
        if list(chain) != names:
            raise ValueError(f"reference draws: chain {number} names {list(chain)}, not {names}")
    elements: dict[str, dict[tuple[int, ...], np.ndarray]] = {}
    for name in names:
        match = _INDEX.match(name)
        if match is None:
            raise ValueError(f"reference draws: cannot read the parameter name {name!r}")
        index = match["index"]
        at = tuple(int(i) - 1 for i in index.split(",")) if index else ()
        values = np.array([chain[name] for chain in chains], dtype=float)
        elements.setdefault(match["site"], {})[at] = values
    draws = {}
    for site, parts in elements.items():
        if list(parts) == [()]:
            draws[site] = parts[()]
            continue
        shape = tuple(max(i[d] for i in parts) + 1 for d in range(len(next(iter(parts)))))
        first = next(iter(parts.values()))
        array = np.full(first.shape + shape, np.nan)
        for at, values in parts.items():
            array[(..., *at)] = values
        if np.isnan(array).any():
            raise ValueError(f"reference draws: {site} lacks some of its {shape} elements")
        draws[site] = array
    return draws


def read_reference(reference) -> dict[str, np.ndarray]:
    """Reference draws as ``{site: float array (chain, draw, ...)}``.

    Parameters
    ----------
    reference : str, Path, list or mapping
        posteriordb's format: the path of a ``reference_draws.json`` (or ``.json.zip``), or its
        content, a list of chains each ``{"beta[1]": [...], ...}`` (Stan's 1-based names); or
        a mapping from site name to an array shaped ``(chain, draw, ...)``.
    """
    if isinstance(reference, str | Path):
        path = Path(reference)
        if not path.is_file():
            raise ValueError(f"reference: no file {str(path)!r}")
        if path.suffix == ".zip":
            reference = read_zipped_json(path)
        else:
            reference = json.loads(path.read_text())
    if isinstance(reference, list):
        return draws_from_chains(reference)
    if not isinstance(reference, Mapping) or not reference:
        raise ValueError(
            "reference must be posteriordb's draws (a path or a list of chains) or a non-empty "
            f"mapping site -> (chain, draw, ...) array; got {type(reference).__name__}"
        )
    out = {}
    for site, value in reference.items():
        array = np.asarray(value, dtype=float)
        if array.ndim < 2 or array.shape[0] < 2:
            raise ValueError(
                f"reference[{site!r}] must be shaped (chain, draw, ...) with at least 2 chains "
                f"(ESS and MCSE need them); got shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"reference[{site!r}] has non-finite values")
        out[site] = array
    return out


def _pooled(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, *x.shape[2:])


def estimates(draws: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each statistic of :data:`STATISTICS` and its MCSE, per element of one site.

    Parameters
    ----------
    draws : ndarray, shape (chain, draw, ...)
        Draws of one site.

    Returns
    -------
    dict
        Statistic -> (estimate, MCSE), each shaped like one draw.
    """
    draws = np.asarray(draws, dtype=float)
    pooled = _pooled(draws)
    out = {
        "mean": (pooled.mean(0), diagnostics.mcse_mean(draws)),
        "sd": (pooled.std(0, ddof=1), diagnostics.mcse_sd(draws)),
    }
    for name, prob in zip(STATISTICS[2:], QUANTILES, strict=True):
        out[name] = (np.quantile(pooled, prob, axis=0), diagnostics.mcse_quantile(draws, prob))
    return out


def z_scores(
    draws: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """``<site>_<statistic>`` -> z-scores (at least 1-D) of every site of ``reference``.

    Parameters
    ----------
    draws, reference : mapping
        Site name -> draws shaped ``(chain, draw, ...)``; ``draws`` has every site of
        ``reference``, with the same element shape.

    Returns
    -------
    dict
        One entry per site and statistic.
    """
    z: dict[str, np.ndarray] = {}
    for site, ref in reference.items():
        if site not in draws:
            raise ValueError(f"reference names {site!r}, which has no draws; sites: {list(draws)}")
        ours = np.asarray(draws[site], dtype=float)
        ref = np.asarray(ref, dtype=float)
        if ours.ndim < 2 or ours.shape[2:] != ref.shape[2:]:
            raise ValueError(
                f"{site}: draws shaped {ours.shape}, reference {ref.shape}; both must be "
                "(chain, draw, ...) with the same element shape"
            )
        mine, theirs = estimates(ours), estimates(ref)
        for stat in STATISTICS:
            (a, se_a), (b, se_b) = mine[stat], theirs[stat]
            z[f"{site}_{stat}"] = np.atleast_1d((a - b) / np.sqrt(se_a**2 + se_b**2))
    return z


def holm_min_pvalue(z: Mapping[str, np.ndarray]) -> float:
    """The smallest Holm-adjusted two-sided p-value, 2 Phi(-|z|), over every z-score."""
    flat = np.concatenate([np.ravel(v) for v in z.values()])
    return float(holm(2.0 * scipy_stats.norm.sf(np.abs(flat))).min())


def compare(
    draws: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    divergences: int = 0,
) -> dict:
    """The figures of a posterior against reference draws.

    Returns
    -------
    dict
        ``z`` (every z-score, as lists per ``<site>_<statistic>``), ``max_abs_z`` (per
        ``<site>_<statistic>``), ``n_z_scores``, ``min_holm_pvalue``, the
        convergence ``gate`` of our draws over the sites compared
        (:func:`regmaster.diagnostics.convergence_summary`) with ``divergences``, and
        ``worst`` (the name and element of the largest |z|).
    """
    z = z_scores(draws, reference)
    worst_key = max(z, key=lambda k: float(np.max(np.abs(z[k]))))
    gate = diagnostics.convergence_summary({k: np.asarray(draws[k]) for k in reference})
    return {
        "z": {k: [float(e) for e in np.ravel(v)] for k, v in z.items()},
        "max_abs_z": {k: float(np.max(np.abs(v))) for k, v in z.items()},
        "n_z_scores": int(sum(np.size(v) for v in z.values())),
        "min_holm_pvalue": holm_min_pvalue(z),
        "worst": f"{worst_key}[{int(np.argmax(np.abs(z[worst_key])))}]",
        "gate": {**gate, "divergences": int(divergences)},
    }
