"""Simulation-based calibration of every NUTS model (Talts et al. 2018).

One SBC run per (model, backend), shared by the claims below and by the xdist workers. Its
verdict rejects when any Holm-adjusted p-value of the four rank tests (chi-square, KS, mean,
spread) of any quantity is <= ALPHA, so its family-wise false-alarm rate under exact inference
is at most ALPHA: measured 0.005 (2 alarms in 400 runs of 200 replications; 0 in 200 runs of
1000) on exact conjugate draws (tests/test_sbc.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regmaster.fits import shared
from regmaster.sbc import SBCResult, run_model_sbc
from regmaster.seeds import seed_from_name

ALPHA = 0.01

# Share of (replication, quantity) pairs whose bulk ESS is below the L = 99 thinned draws; above
# it the thinned draws are not near-independent and the ranks over-disperse. 5% is a design bound
# (a health check, not a statistical test).
MAX_SHARE_LOW_ESS = 0.05

MODELS = [
    "linear",
    "rff_svr",
    "rff_gp",
    "rff_gp_noncentred",
    "bnn",
    "deep_rff",
    "deep_rff_smooth",
]


def _sbc(name: str, backend: str, replications: int | None, cache: Path) -> SBCResult:
    seed = seed_from_name(f"validation/test_sbc.py::{name}-{backend}")

    def compute() -> SBCResult:
        return run_model_sbc(name, num_replications=replications, seed=seed, alpha=ALPHA)

    return shared(f"sbc-{name}-{backend}-{replications}-{seed}", compute, cache)


def _params(marks_for: dict[str, list]) -> list:
    return [pytest.param(name, marks=marks_for.get(name, []), id=name) for name in MODELS]


SLOW = {name: [pytest.mark.slow] for name in ("bnn", "deep_rff", "deep_rff_smooth")}

# Finding: NUTS does not mix on some prior-simulated data sets of deep_rff, so its thinned draws
# are not near-independent there. Measured with the test's seed (20 replications): 50% of
# (replication, quantity) pairs with bulk ESS below the 99 thinned draws, divergences in 20 of 20
# replications (739 transitions), max R-hat 2.25 (52%, 1068, 2.35 with the engine's earlier
# random stream). Its rank test passes at this size (min Holm p 0.047), which says little when
# the draws are this dependent; the threshold stays. Tried (20 replications, another seed): 500
# draws per chain -> 32% below, max R-hat 2.24: chains in different modes, which more draws do
# not fix. Also tried (20 replications, seed 1, share below / max R-hat): 500 warmup and target
# 0.95 -> 47% / 1.39; one inner unit -> 55% / 1.85; D1 = 8 with two inner units -> 63% / 2.13;
# 5 data points -> 32% / 2.05; and, changing the law, sigma ~ HalfNormal(1) instead of
# HalfNormal(0.1) -> 12% / 1.59 (one inner unit: 22% / 1.07; 500 warmup and target 0.95: 11% /
# 1.08, with 500 draws: 11% / 1.61; one inner unit, 500 warmup, 400 draws, target 0.95: 9% /
# 1.71); HalfNormal(0.5), 500 warmup, 500 draws, target 0.95 -> 6% / 1.53; 4 chains x (500 +
# 500), target 0.95: 38% / 1.73 (2979 divergences, 4290 saturated transitions) at the notebook's
# prior, 1% / 1.055 with HalfNormal(0.5) but 12% / 1.92 at this test's seed; 100 data points
# (the notebook's size): 12% / 1.20; feature lengthscales 4 and 2 (instead of 1 and 1): 6% /
# 1.056 and 4% / 1.054 on two seeds (12% / 1.36 and 5% / 1.04 with lengthscale 4 inside only;
# 4 chains x 400 draws 8% / 1.28). Cause: the prior's functions wiggle on the design's point
# spacing and its noise is small, so a data set leaves f unidentified and the posterior
# multimodal. The passing variant, deep_rff_smooth, removes both: lengthscales 4 and 2 and
# sigma ~ HalfNormal(0.5) (exploratory seeds 1, 2, 3: 0% / 1.022, 0% / 1.037, 2% / 1.031).
# bnn needed 400 draws per chain (regmaster.zoo.SBC_SETTINGS).
DEEP_RFF_MIXING = pytest.mark.xfail(
    strict=True,
    reason="deep_rff NUTS fits mix poorly: 50% of (replication, quantity) bulk ESS < 99, "
    "divergences in 20/20 replications, max R-hat 2.25",
)


@pytest.mark.sbc
@pytest.mark.parametrize("name", _params(SLOW))
def test_sbc_ranks_uniform(name, backend, record, request, fit_cache):
    result = _sbc(name, backend, request.config.getoption("--sbc-replications"), fit_cache)
    record(
        replications=result.replications,
        alpha=ALPHA,
        passed=result.passed,
        min_holm_pvalue=float(result.adjusted.min()),
        quantities={r["name"]: r["pvalue"] for r in result.rows()},
        seconds=result.seconds,
        replications_per_second=result.replications_per_second,
        **result.fit_diagnostics,
    )
    worst = min(result.rows(), key=lambda r: r["pvalue"])
    assert result.passed, f"SBC rejects {name}: {worst}"


@pytest.mark.sbc
@pytest.mark.parametrize(
    "name",
    _params({**SLOW, "deep_rff": [pytest.mark.slow, DEEP_RFF_MIXING]}),
)
def test_sbc_thinned_draws_are_near_independent(name, backend, record, request, fit_cache):
    result = _sbc(name, backend, request.config.getoption("--sbc-replications"), fit_cache)
    share = result.fit_diagnostics["share_ess_below_num_draws"]
    record(
        share_ess_below_num_draws=share,
        threshold=MAX_SHARE_LOW_ESS,
        min_ess_bulk=result.fit_diagnostics["min_ess_bulk"],
        num_draws=result.num_draws,
    )
    assert share <= MAX_SHARE_LOW_ESS
