"""NUTS convergence on the notebook data: R-hat, ESS, divergences, E-BFMI and tree depth.

Each registry entry checked by ``convergence`` runs its ``convergence`` run lengths (4 vectorised
chains, 500 warmup + 1000 draws unless the entry says) with its sampler settings on
``make_sinc()``.
Quantities: f at five fixed inputs and the log-likelihood, plus every latent site of identified
models, sigma only of the others (:mod:`regmaster.convergence`). One run per entry serves its five
checks; its seed is ``seed_from_name`` of the entry and backend.

Thresholds: Vehtari et al. 2021 (R-hat, ESS), Betancourt 2016 (E-BFMI), Hoffman & Gelman 2014
(tree depth). False-alarm rates, measured on 20 healthy 4-chain runs, are beside each threshold;
the runs and the power figures are in docs/calibration.md#convergence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regmaster import diagnostics
from regmaster.convergence import MultiChainRun
from regmaster.seeds import seed_from_name
from validation.cases import cases
from validation.claims import convergence as claims
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)
from validation.fitcache import convergence_run

pytestmark = pytest.mark.convergence


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


def _judge(claim, run: MultiChainRun, record, check) -> None:
    figures, verdict = claim(run)
    record(**figures)
    check(verdict)


def _run(case: str, backend: str, cache: Path) -> MultiChainRun:
    seed = seed_from_name(f"validation/test_convergence.py::{case}-{backend}")
    return convergence_run(case, seed, backend, cache)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_rhat_below_1_01"]))
def test_rhat_below_1_01(case, backend, fit_cache, record, check, save_figure):
    """max over checked quantities of the rank-normalised split R-hat below ``RHAT``."""
    run = _run(case, backend, fit_cache)
    save_figure(diagnostics.rank_trace_figure(run.draws), f"trace_{case}_{backend}")
    record(summary_table=diagnostics.summary_table(run.draws))
    _judge(claims.rhat, run, record, check)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_ess_at_least_100_per_chain"]))
def test_ess_at_least_100_per_chain(case, backend, fit_cache, record, check):
    """min over checked quantities of bulk and tail ESS per chain at least ``ESS_PER_CHAIN``."""
    _judge(claims.ess, _run(case, backend, fit_cache), record, check)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_no_divergences"]))
def test_no_divergences(case, backend, fit_cache, record, check):
    """No divergent post-warmup transition in any chain."""
    _judge(claims.divergences, _run(case, backend, fit_cache), record, check)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_ebfmi_at_least_0_2"]))
def test_ebfmi_at_least_0_2(case, backend, fit_cache, record, check):
    """E-BFMI at least ``BFMI`` in every chain."""
    _judge(claims.bfmi, _run(case, backend, fit_cache), record, check)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_tree_depth_not_saturated"]))
def test_tree_depth_not_saturated(case, backend, fit_cache, record, check):
    """At most ``SATURATED_SHARE`` of transitions use 2^max_tree_depth - 1 leapfrog steps."""
    _judge(claims.tree_depth, _run(case, backend, fit_cache), record, check)


@pytest.mark.parametrize("case", cases("convergence", XFAIL["test_chains_are_not_copies"]))
def test_chains_are_not_copies(case, backend, fit_cache, record, check):
    """No two chains move together: |corr| of their draws within ``CHAIN_CORRELATION``."""
    _judge(claims.chain_correlation, _run(case, backend, fit_cache), record, check)
