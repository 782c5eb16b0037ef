"""SBC verdicts: one rule for the command, the pytest plugin and the validation suite.

An SBC run passes when its ranks are uniform (Holm over every test of every quantity at the
run's ``alpha``) and its fits are healthy: the thinned draws ranked per replication are
near-independent. Divergences, saturated trees and the 2-chain R-hat are reported, not judged:
they occur on correctly calibrated runs (docs/findings.md#sbc-health).
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
