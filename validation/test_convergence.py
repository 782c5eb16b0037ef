"""NUTS convergence on the notebook data: R-hat, ESS, divergences, E-BFMI and tree depth.

Each registry entry checked by ``convergence`` runs its ``NutsSettings`` (4 vectorised chains,
500 warmup + 1000 draws unless the entry says) with its sampler settings on ``make_sinc()``.
Quantities: f at five fixed inputs and the log-likelihood, plus every latent site of identified
models, sigma only of the others (:mod:`regmaster.convergence`). One run per entry serves its five
checks; its seed is ``seed_from_name`` of the entry and backend.

Thresholds: Vehtari et al. 2021 (R-hat, ESS), Betancourt 2016 (E-BFMI), Hoffman & Gelman 2014
(tree depth). False-alarm rates, measured on 20 healthy 4-chain runs, are beside each threshold;
the runs and the power figures are in docs/calibration.md#convergence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regmaster import diagnostics
from regmaster.convergence import NutsRun
from regmaster.seeds import seed_from_name
from regmaster.verdicts import MAX_RHAT, MIN_ESS_PER_CHAIN
from validation.cases import cases
from validation.fitcache import convergence_run

pytestmark = pytest.mark.convergence

# Nominal false-alarm rate of each check on correct code (docs/calibration.md#convergence).
FALSE_ALARM = {
    "test_rhat_below_1_01": "< 15% per run (0 alarms in 20 healthy runs, rule of three); "
    "0 of 200 linear runs (<= 1.8%)",
    "test_ess_at_least_100_per_chain": "< 15% per run (0 in 20); 0 of 200 linear runs",
    "test_no_divergences": "~5% per run (1 of 20 healthy runs); 0 of 200 linear runs",
    "test_ebfmi_at_least_0_2": "< 15% per run (0 in 20); 0 of 200 linear runs",
    "test_tree_depth_not_saturated": "< 15% per run (0 in 20); 0 of 200 linear runs",
    "test_chains_are_not_copies": "<= 1.8% per run (0 of 200 linear runs, 95%)",
}

MIN_BFMI = 0.2  # 0 in 20 (smallest 0.60): < 15%
MAX_SATURATED = 0.01  # share of transitions at the depth limit; 0 in 20 (largest 0.05%): < 15%
MAX_CHAIN_CORRELATION = 0.9  # |corr| of two chains' draws; chains that share randomness give 1
# No divergences: 1 of 20 healthy runs had 2 (rff_gp_noncentred): ~5% per run, threshold kept at 0.

# Findings (docs/findings.md#bnn-convergence, #deep-rff-tree-depth), measured at these checks'
# seeds; the passing variants are bnn_depth16 (release) and deep_rff_depth12.
_BNN = (
    "bnn at target 0.8, depth 10: trajectories hit the depth limit on 98.7% of transitions "
    "(mean 1017 of at most 1023 leapfrog steps) and 26 of 2000 transitions diverge, so sigma "
    "mixes slowly: R-hat 1.021, bulk ESS 48 per chain"
)
XFAIL: dict[str, dict[str, str]] = {
    "test_rhat_below_1_01": {"bnn": f"{_BNN}. Finding: R-hat 1.021 on sigma"},
    "test_ess_at_least_100_per_chain": {"bnn": f"{_BNN}. Finding: bulk ESS 48 per chain"},
    "test_no_divergences": {"bnn": f"{_BNN}. Finding: 26 divergent transitions"},
    "test_ebfmi_at_least_0_2": {},
    "test_chains_are_not_copies": {},
    "test_tree_depth_not_saturated": {
        "bnn": f"{_BNN}. Finding: 98.7% saturated",
        "deep_rff": (
            "deep_rff at depth 10 (NumPyro's default): 19.9% of transitions hit 1023 leapfrog "
            "steps; validated at depth 12 as deep_rff_depth12"
        ),
    },
}


def _run(case: str, backend: str, cache: Path) -> NutsRun:
    seed = seed_from_name(f"validation/test_convergence.py::{case}-{backend}")
    return convergence_run(case, seed, backend, cache)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_rhat_below_1_01"]))
def test_rhat_below_1_01(case, backend, fit_cache, record, save_figure):
    """max over checked quantities of the rank-normalised split R-hat < 1.01."""
    run = _run(case, backend, fit_cache)
    save_figure(diagnostics.rank_trace_figure(run.draws), f"trace_{case}_{backend}")
    record(summary_table=diagnostics.summary_table(run.draws))
    per_quantity = {k: float(np.max(diagnostics.rhat(v))) for k, v in run.draws.items()}
    worst = max(per_quantity.values())
    record(
        statistic="max rank-normalised split R-hat",
        value=worst,
        threshold=MAX_RHAT,
        margin=MAX_RHAT - worst,
        per_quantity=per_quantity,
        chains=run.settings.num_chains,
        draws_per_chain=run.settings.num_samples,
        seconds=run.seconds,
    )
    assert worst < MAX_RHAT, per_quantity


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_ess_at_least_100_per_chain"]))
def test_ess_at_least_100_per_chain(case, backend, fit_cache, record):
    """min over checked quantities of bulk and tail ESS >= 100 per chain."""
    run = _run(case, backend, fit_cache)
    summary = diagnostics.convergence_summary(run.draws)
    worst = min(summary["min_ess_bulk_per_chain"], summary["min_ess_tail_per_chain"])
    record(
        statistic="min bulk / tail ESS per chain",
        value=worst,
        threshold=MIN_ESS_PER_CHAIN,
        margin=worst - MIN_ESS_PER_CHAIN,
        summary=summary,
    )
    assert worst >= MIN_ESS_PER_CHAIN, summary


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_no_divergences"]))
def test_no_divergences(case, backend, fit_cache, record):
    """No divergent post-warmup transition in any chain."""
    run = _run(case, backend, fit_cache)
    per_chain = run.diverging.sum(axis=1)
    record(
        statistic="divergent transitions",
        value=int(per_chain.sum()),
        threshold=0,
        per_chain=per_chain,
        transitions=int(run.diverging.size),
    )
    assert int(per_chain.sum()) == 0, f"divergences per chain: {per_chain.tolist()}"


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_ebfmi_at_least_0_2"]))
def test_ebfmi_at_least_0_2(case, backend, fit_cache, record):
    """E-BFMI >= 0.2 in every chain."""
    run = _run(case, backend, fit_cache)
    bfmi = diagnostics.bfmi(run.energy)
    record(
        statistic="min E-BFMI over chains",
        value=float(bfmi.min()),
        threshold=MIN_BFMI,
        margin=float(bfmi.min()) - MIN_BFMI,
        per_chain=bfmi,
    )
    assert float(bfmi.min()) >= MIN_BFMI, bfmi


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_tree_depth_not_saturated"]))
def test_tree_depth_not_saturated(case, backend, fit_cache, record):
    """At most 1% of post-warmup transitions use 2^max_tree_depth - 1 leapfrog steps."""
    run = _run(case, backend, fit_cache)
    fraction = float(np.mean(run.num_steps >= run.saturated_steps))
    record(
        statistic="fraction of transitions at the tree-depth limit",
        value=fraction,
        threshold=MAX_SATURATED,
        margin=MAX_SATURATED - fraction,
        max_tree_depth=run.max_tree_depth,
        mean_num_steps=float(run.num_steps.mean()),
        max_num_steps=int(run.num_steps.max()),
    )
    assert fraction <= MAX_SATURATED, f"{fraction:.1%} of transitions saturated"


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_chains_are_not_copies"]))
def test_chains_are_not_copies(case, backend, fit_cache, record):
    """No two chains move together: |corr| of their draws <= 0.9 for every checked quantity.

    R-hat compares chains, so chains that share their start and randomness agree and pass it while
    the ESS counts each draw once per chain; this is the check that sees it.
    """
    run = _run(case, backend, fit_cache)
    worst = max(max_chain_correlation(v) for v in run.draws.values())
    record(
        statistic="max |corr| between two chains' draws",
        value=worst,
        threshold=MAX_CHAIN_CORRELATION,
        margin=MAX_CHAIN_CORRELATION - worst,
    )
    assert worst <= MAX_CHAIN_CORRELATION, f"two chains correlate at {worst:.3f}"


def max_chain_correlation(draws: np.ndarray) -> float:
    """max over chain pairs and elements of |corr(chain i, chain j)|; draws (chain, draw, ...)."""
    flat = np.asarray(draws, dtype=float).reshape(draws.shape[0], draws.shape[1], -1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    scale = np.sqrt(np.sum(centred**2, axis=1))  # (chain, element)
    scale = np.where(scale > 0, scale, np.inf)
    corr = np.einsum("idk,jdk->ijk", centred, centred) / (scale[:, None] * scale[None])
    pairs = np.triu_indices(flat.shape[0], k=1)
    return float(np.max(np.abs(corr[pairs]))) if pairs[0].size else 0.0
