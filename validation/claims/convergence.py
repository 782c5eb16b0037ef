"""Convergence of a multi-chain NUTS run: one figure set and one verdict per claim.

Thresholds: :mod:`regmaster.verdicts` (Vehtari et al. 2021 for R-hat and ESS, Betancourt 2016
for E-BFMI, Hoffman & Gelman 2014 for the tree depth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from regmaster import diagnostics, verdicts
from regmaster.convergence import MultiChainRun
from regmaster.verdicts import BFMI, CHAIN_CORRELATION, ESS_PER_CHAIN, RHAT, SATURATED_SHARE

Claim = tuple[dict[str, Any], verdicts.Verdict]


def _verdict(name: str, figure: float) -> verdicts.Verdict:
    (verdict,) = verdicts.convergence({name: figure})
    return verdict


def rhat(run: MultiChainRun) -> Claim:
    """max over checked quantities of the rank-normalised split R-hat."""
    per_quantity = {k: float(np.max(diagnostics.rhat(v))) for k, v in run.draws.items()}
    worst = max(per_quantity.values())
    figures = {
        "statistic": "max rank-normalised split R-hat",
        "value": worst,
        "threshold": RHAT.value,
        "margin": RHAT.value - worst,
        "per_quantity": per_quantity,
        "chains": run.settings.num_chains,
        "draws_per_chain": run.settings.num_samples,
        "seconds": run.seconds,
    }
    return figures, _verdict("max_rhat", worst)


def ess(run: MultiChainRun) -> Claim:
    """min over checked quantities of bulk and tail ESS per chain."""
    summary = diagnostics.convergence_summary(run.draws)
    worst = min(summary["min_ess_bulk_per_chain"], summary["min_ess_tail_per_chain"])
    figures = {
        "statistic": "min bulk / tail ESS per chain",
        "value": worst,
        "threshold": ESS_PER_CHAIN.value,
        "margin": worst - ESS_PER_CHAIN.value,
        "summary": summary,
    }
    return figures, _verdict("min_ess_per_chain", worst)


def divergences(run: MultiChainRun) -> Claim:
    """Divergent post-warmup transitions over every chain."""
    per_chain = run.diverging.sum(axis=1)
    figures = {
        "statistic": "divergent transitions",
        "value": int(per_chain.sum()),
        "threshold": 0,
        "per_chain": per_chain,
        "transitions": int(run.diverging.size),
    }
    return figures, _verdict("divergences", int(per_chain.sum()))


def bfmi(run: MultiChainRun) -> Claim:
    """The smallest E-BFMI over chains."""
    per_chain = diagnostics.bfmi(run.energy)
    figures = {
        "statistic": "min E-BFMI over chains",
        "value": float(per_chain.min()),
        "threshold": BFMI.value,
        "margin": float(per_chain.min()) - BFMI.value,
        "per_chain": per_chain,
    }
    return figures, _verdict("min_bfmi", float(per_chain.min()))


def tree_depth(run: MultiChainRun) -> Claim:
    """Share of post-warmup transitions that use 2^max_tree_depth - 1 leapfrog steps."""
    fraction = float(np.mean(run.num_steps >= run.saturated_steps))
    figures = {
        "statistic": "fraction of transitions at the tree-depth limit",
        "value": fraction,
        "threshold": SATURATED_SHARE.value,
        "margin": SATURATED_SHARE.value - fraction,
        "max_tree_depth": run.max_tree_depth,
        "mean_num_steps": float(run.num_steps.mean()),
        "max_num_steps": int(run.num_steps.max()),
    }
    return figures, _verdict("saturated_share", fraction)


def chain_correlation(run: MultiChainRun) -> Claim:
    """The largest |corr| between two chains' draws of any checked quantity.

    R-hat compares chains, so chains that share their start and randomness agree and pass it while
    the ESS counts each draw once per chain; this is the check that sees it.
    """
    worst = max(max_chain_correlation(v) for v in run.draws.values())
    figures = {
        "statistic": "max |corr| between two chains' draws",
        "value": worst,
        "threshold": CHAIN_CORRELATION.value,
        "margin": CHAIN_CORRELATION.value - worst,
    }
    return figures, _verdict("max_chain_correlation", worst)


def max_chain_correlation(draws: np.ndarray) -> float:
    """max over chain pairs and elements of |corr(chain i, chain j)|; draws (chain, draw, ...)."""
    flat = np.asarray(draws, dtype=float).reshape(draws.shape[0], draws.shape[1], -1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    scale = np.sqrt(np.sum(centred**2, axis=1))  # (chain, element)
    scale = np.where(scale > 0, scale, np.inf)
    corr = np.einsum("idk,jdk->ijk", centred, centred) / (scale[:, None] * scale[None])
    pairs = np.triu_indices(flat.shape[0], k=1)
    return float(np.max(np.abs(corr[pairs]))) if pairs[0].size else 0.0


CLAIMS: dict[str, Callable[[MultiChainRun], Claim]] = {
    "test_rhat_below_1_01": rhat,
    "test_ess_at_least_100_per_chain": ess,
    "test_no_divergences": divergences,
    "test_ebfmi_at_least_0_2": bfmi,
    "test_tree_depth_not_saturated": tree_depth,
    "test_chains_are_not_copies": chain_correlation,
}
"""The suite's convergence check of each claim, by test name (the calibration tables' rows)."""
