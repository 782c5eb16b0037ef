"""NUTS convergence on the notebook data: R-hat, ESS, divergences, E-BFMI and tree depth.

Each case runs 4 vectorised chains of 500 warmup + 1000 draws (500 draws for the costly bnn and
deep_rff cases) on ``make_sinc()``, NumPyro's defaults otherwise (target acceptance 0.8, maximum
tree depth 10) unless the case name says. Checked quantities: f at five fixed inputs and the
log-likelihood for every model, plus every latent sample site of the identified models; for
``bnn`` and ``deep_rff`` (hidden-unit permutations and sign flips, exchangeable inner units) only
the invariant ones: sigma, f, the log-likelihood (CRITERIA section 4). One run per case serves its
five checks; its seed is ``seed_from_name`` of the case name and backend.

Thresholds (Vehtari et al. 2021, Bayesian Analysis 16(2); Betancourt 2016, arXiv:1604.00695 for
E-BFMI; Hoffman & Gelman 2014 for the tree depth) and false-alarm rates. Measured on 20
independent 4-chain replicates of the well-behaved models (5 each of linear, rff_svr, rff_gp,
rff_gp_noncentred; 1000 draws):

- rank-normalised split R-hat < 1.01: largest 1.0058. Power (CRITERIA section 4): one chain
  offset by 0.3 sd trips it with probability 0.42, 0.4 sd with 0.99.
- bulk and tail ESS >= 100 per chain: smallest 266 (bulk, rff_gp).
- no divergent transition: 2 divergences in 1 replicate of 20 (rff_gp_noncentred), none in the
  other 19. A divergence marks a region the integrator cannot follow, so the threshold stays 0;
  the measured rate of such a (mild) alarm on a healthy model is ~1 in 20 runs.
- E-BFMI >= 0.2 in every chain (Betancourt's threshold): smallest 0.60 (rff_gp).
- tree depth: at most 1% of post-warmup transitions with num_steps = 2^depth - 1. A few saturated
  transitions cost efficiency, not validity; many mean trajectories are cut short. Largest: 0.05%
  (2 of 4000, rff_svr), which a zero threshold would have flagged.

With no failure in 20 replicates for R-hat, ESS, E-BFMI and tree depth, the per-run false-alarm
rate of each is below 15% at 95% confidence (rule of three): a bound as loose as 20 replicates on
2 cores allow, not a small number; the observed margins (R-hat 1.006 vs 1.01, ESS 266 vs 100,
E-BFMI 0.6 vs 0.2) are wide.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regmaster import diagnostics
from regmaster.fits import (
    ConvergenceCase,
    NutsRun,
    convergence_case,
    convergence_run,
)
from regmaster.seeds import seed_from_name

pytestmark = pytest.mark.convergence

MAX_RHAT = 1.01
MIN_ESS_PER_CHAIN = 100
MIN_BFMI = 0.2
MAX_SATURATED = 0.01  # fraction of post-warmup transitions at the tree-depth limit

CASES: dict[str, ConvergenceCase] = {
    case.name: case
    for case in (
        convergence_case("linear"),
        convergence_case("bnn", num_samples=500),
        convergence_case("rff_svr"),
        convergence_case("rff_gp"),
        convergence_case("rff_gp_noncentred"),
        convergence_case("deep_rff", num_samples=500),
        convergence_case("deep_rff_depth12", "deep_rff", num_samples=500, max_tree_depth=12),
        convergence_case(
            "bnn_depth16", "bnn", num_samples=1000, target_accept_prob=0.99, max_tree_depth=16
        ),
    )
}
SLOW = {"deep_rff"}  # a documented failure (see XFAIL); its passing variant runs by default
# bnn's variant needs ~12 000 leapfrog steps per transition, ~25 minutes on one core: too heavy
# for the CI budget, so it runs at release (--release).
RELEASE = {"bnn_depth16"}

# Findings, measured at the seeds these checks use; other seeds in the comments.
_BNN = (
    "bnn at target 0.8, depth 10: trajectories hit the depth limit on 98.7% of transitions "
    "(mean 1017 of at most 1023 leapfrog steps) and 26 of 2000 transitions diverge, so sigma "
    "mixes slowly: R-hat 1.021, bulk ESS 48 per chain"
)
# Settings tried on bnn (4 x 1000 draws unless stated, seed 0): target 0.95 -> 2 divergences,
# 99.95% saturated, R-hat 1.018; depth 12 -> R-hat 1.002 and ESS 418 per chain, but 39
# divergences and 97.5% saturated at 4095 steps (4x the cost); dense mass, target 0.9 -> 105
# divergences, 97% saturated, R-hat 1.020. With 4 x 500 draws and other seeds: longer warmup
# (2000), dense mass with 2000 warmup, 5 or 8 hidden units, and a location-scale parametrisation
# (tanh(W1 (x - c))) all still saturate at depth 10. Trajectories need ~6 000-12 000 leapfrog
# steps (as Izmailov et al. 2021 found for HMC on neural networks): depth 14, target 0.9 -> R-hat
# 1.006, 5 divergences, 2.1% saturated (mean 5 905 steps); depth 15, target 0.95 -> 1
# divergence, 0.1% saturated; depth 15, target 0.99 -> 0 divergences, 1.8% saturated (mean
# 12 142); depth 16, target 0.99, 4 x 500 draws -> 0 divergences, 0 saturated, R-hat 1.0102.
# The variant bnn_depth16 (depth 16, target 0.99, 4 x 1000 draws) runs at release.
XFAIL: dict[tuple[str, str], str] = {
    ("test_rhat_below_1_01", "bnn"): f"{_BNN}. Finding: R-hat 1.021 on sigma",
    ("test_ess_at_least_100_per_chain", "bnn"): f"{_BNN}. Finding: bulk ESS 48 per chain",
    ("test_no_divergences", "bnn"): f"{_BNN}. Finding: 26 divergent transitions",
    ("test_tree_depth_not_saturated", "bnn"): f"{_BNN}. Finding: 98.7% saturated",
    # deep_rff at depth 10: 19.9% saturated here (8.2% before NUTS's initialisation was compiled
    # as one program, which moved the chains' last bits; 5.1% at another seed with 1000 draws); at
    # seed 1 one chain stuck in a separate mode (R-hat 1.39 on f, ESS 2 per chain). At depth 12
    # (deep_rff_depth12) no transition saturates (max 1535 steps) and all five checks pass, for
    # about 10% more time; at seed 1 too (R-hat 1.003, ESS 155 per chain).
    ("test_tree_depth_not_saturated", "deep_rff"): (
        "deep_rff at depth 10 (NumPyro's default): 19.9% of transitions hit 1023 leapfrog "
        "steps; validated at depth 12 as deep_rff_depth12"
    ),
}


def _params(test: str) -> list:
    """One parameter per case; the five checks of a case share its run (fit_cache)."""
    params = []
    for name in CASES:
        marks = [pytest.mark.xdist_group(f"convergence-{name}")]
        if name in SLOW:
            marks.append(pytest.mark.slow)
        if name in RELEASE:
            marks.append(pytest.mark.release)
        if (test, name) in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[(test, name)]))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _run(case: str, backend: str, cache: Path) -> NutsRun:
    seed = seed_from_name(f"validation/test_convergence.py::{case}-{backend}")
    return convergence_run(CASES[case], seed, backend, cache)


@pytest.mark.parametrize("case", _params("test_rhat_below_1_01"))
def test_rhat_below_1_01(case, backend, fit_cache, record):
    """max over checked quantities of the rank-normalised split R-hat < 1.01."""
    run = _run(case, backend, fit_cache)
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


@pytest.mark.parametrize("case", _params("test_ess_at_least_100_per_chain"))
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


@pytest.mark.parametrize("case", _params("test_no_divergences"))
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


@pytest.mark.parametrize("case", _params("test_ebfmi_at_least_0_2"))
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


@pytest.mark.parametrize("case", _params("test_tree_depth_not_saturated"))
def test_tree_depth_not_saturated(case, backend, fit_cache, record):
    """At most 1% of post-warmup transitions use 2^max_tree_depth - 1 leapfrog steps."""
    run = _run(case, backend, fit_cache)
    fraction = float(np.mean(run.num_steps >= run.settings.saturated_steps))
    record(
        statistic="fraction of transitions at the tree-depth limit",
        value=fraction,
        threshold=MAX_SATURATED,
        margin=MAX_SATURATED - fraction,
        max_tree_depth=run.settings.max_tree_depth,
        mean_num_steps=float(run.num_steps.mean()),
        max_num_steps=int(run.num_steps.max()),
    )
    assert fraction <= MAX_SATURATED, f"{fraction:.1%} of transitions saturated"
