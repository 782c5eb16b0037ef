"""Thresholds and verdicts: one rule for the command, the pytest plugin and the validation suite.

The convergence and posterior-against-reference thresholds are defined here once and imported by
the plugin and the suite; their measured false-alarm rates are in docs/calibration.md.

An SBC run passes when its ranks are uniform (Holm over every test of every quantity at the
run's ``alpha``) and its fits are healthy: the thinned draws ranked per replication are
near-independent. Divergences, saturated trees and the 2-chain R-hat are reported, not judged:
they occur on correctly calibrated runs (docs/findings.md#sbc-health).
"""

from __future__ import annotations

from typing import Any, NamedTuple

MAX_RHAT = 1.01
"""Rank-normalised split R-hat of 4 chains must stay below this (Vehtari et al. 2021); 0 alarms
in 20 healthy convergence runs (largest 1.0058): rate < 15% (95%, rule of three)."""

MIN_ESS_PER_CHAIN = 100
"""Bulk and tail ESS per chain must reach this (Vehtari et al. 2021); 0 in 20 (smallest 266)."""

MIN_ESS_REFERENCE = 4 * MIN_ESS_PER_CHAIN
"""Bulk and tail ESS of 4 chains before a posterior is compared with a reference."""

Z_MEAN = 4.0
"""|z| = |estimate - reference| / MCSE bound of a posterior mean: 6.3e-5 per z-score under
N(0, 1) (docs/calibration.md#exact-posterior)."""

Z_SD = 4.5
"""|z| bound of a posterior sd (and covariance): 6.8e-6 per z-score under N(0, 1)."""

MAX_SHARE_LOW_ESS = 0.05
"""Largest share of (replication, quantity) pairs whose bulk ESS is below the number of thinned
draws ranked; above it the draws are dependent and the ranks over-disperse. 0 of 200 CI-size
runs of ``linear`` exceed it (docs/calibration.md#false-alarms); the centred eight schools
does (``tests/test_gallery.py``)."""


class Verdict(NamedTuple):
    """A named claim about a run: whether it holds, the figure, its bound and a sentence."""

    name: str
    passed: bool
    value: Any
    bound: Any
    message: str


def sbc_calibration(result) -> Verdict:
    """The ranks are uniform: every Holm-adjusted p-value above ``result.alpha``."""
    worst = min(result.rows(), key=lambda r: r["pvalue"])
    return Verdict(
        "ranks",
        bool(result.passed),
        worst["pvalue"],
        result.alpha,
        f"SBC rejects {result.model}: {worst['name']} Holm-adjusted p = {worst['pvalue']:.3g} "
        f"(alpha {result.alpha})",
    )


def sbc_health(result) -> list[Verdict]:
    """The fits' health: at most :data:`MAX_SHARE_LOW_ESS` of (replication, quantity) bulk ESS
    below the number of thinned draws."""
    share = float(result.fit_diagnostics["share_ess_below_num_draws"])
    return [
        Verdict(
            "share_ess_below_num_draws",
            share <= MAX_SHARE_LOW_ESS,
            share,
            MAX_SHARE_LOW_ESS,
            f"{result.model}: {share:.1%} of (replication, quantity) pairs have bulk ESS below "
            f"the {result.num_draws} draws ranked (bound {MAX_SHARE_LOW_ESS:.0%}): the ranked "
            "draws are dependent; run longer chains",
        )
    ]


def sbc_verdicts(result) -> list[Verdict]:
    """Every verdict of an SBC run: calibration, then health."""
    return [sbc_calibration(result), *sbc_health(result)]


def sbc_passed(result) -> bool:
    """Whether every verdict of :func:`sbc_verdicts` holds."""
    return all(v.passed for v in sbc_verdicts(result))
