"""Every claim's threshold, once, and the pure functions that turn figures into named verdicts.

The validation suite, the pytest plugin's ``assert_*`` methods, the command's exit codes, the
report's regression policy and the calibration harness all call these functions; a threshold is
written here and nowhere else. Each :class:`Threshold` carries its direction, its false-alarm
rate (nominal, and measured where it was) and the section of ``docs/calibration.md`` that
measured it.

An SBC run passes when its ranks are uniform (Holm over every test of every quantity at the
run's ``alpha``) and its fits are healthy: the thinned draws ranked per replication are
near-independent. Divergences, saturated trees and the 2-chain R-hat are reported, not judged:
they occur on correctly calibrated runs (docs/findings.md#sbc-health).

References
----------
Vehtari, Gelman, Simpson, Carpenter, Bürkner (2021). Rank-normalization, folding, and
localization: an improved R-hat. Bayesian Analysis 16(2).
Talts, Betancourt, Simpson, Vehtari, Gelman (2018). Validating Bayesian inference algorithms with
simulation-based calibration. arXiv:1804.06788.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

_DIRECTIONS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


@dataclasses.dataclass(frozen=True)
class Threshold:
    """A bound on one statistic: ``statistic DIRECTION value`` holds for a pass.

    Attributes
    ----------
    value : float
        The bound.
    direction : {"<", "<=", ">=", ">"}
        How the statistic must stand to the bound for the claim to hold.
    statistic : str
        What is compared with the bound.
    false_alarm : str
        The rate at which the claim fails on correct inference: nominal, and measured where it
        was.
    docs : str
        Where the rate was measured (a section of ``docs/calibration.md``).
    """

    value: float
    direction: str
    statistic: str
    false_alarm: str
    docs: str

    def holds(self, figure: float) -> bool:
        """Whether ``figure`` stands on the passing side of the bound (NaN never does)."""
        figure = float(figure)
        return not math.isnan(figure) and _DIRECTIONS[self.direction](figure, self.value)

    def text(self) -> str:
        """``statistic DIRECTION value``, for messages."""
        return f"{self.statistic} {self.direction} {self.value:g}"


# ---------------------------------------------------------------- convergence of several chains

RHAT = Threshold(
    1.01,
    "<",
    "rank-normalised split R-hat",
    "< 15% per run (0 alarms in 20 healthy runs, rule of three); 0 of 200 linear runs (<= 1.8%)",
    "docs/calibration.md#convergence",
)
ESS_PER_CHAIN = Threshold(
    100,
    ">=",
    "bulk and tail ESS per chain",
    "< 15% per run (0 in 20); 0 of 200 linear runs",
    "docs/calibration.md#convergence",
)
DIVERGENCES = Threshold(
    0,
    "<=",
    "divergent post-warmup transitions",
    "~5% per run (1 of 20 healthy runs); 0 of 200 linear runs",
    "docs/calibration.md#convergence",
)
BFMI = Threshold(
    0.2,
    ">=",
    "E-BFMI of every chain",
    "< 15% per run (0 in 20); 0 of 200 linear runs",
    "docs/calibration.md#convergence",
)
SATURATED_SHARE = Threshold(
    0.01,
    "<=",
    "share of transitions at the tree-depth limit",
    "< 15% per run (0 in 20); 0 of 200 linear runs",
    "docs/calibration.md#convergence",
)
CHAIN_CORRELATION = Threshold(
    0.9,
    "<=",
    "largest |corr| between two chains' draws",
    "<= 1.8% per run (0 of 200 linear runs, 95%)",
    "docs/calibration.md#convergence",
)

# ------------------------------------------------------------- a posterior against a reference

ESS_REFERENCE = Threshold(
    4 * ESS_PER_CHAIN.value,
    ">=",
    "bulk and tail ESS over all chains before a posterior is compared with a reference",
    "part of the reference gate: 0 of 200 runs of each linear case (with 2000 draws per chain)",
    "docs/calibration.md#exact-posterior",
)
Z_MEAN = Threshold(
    4.0,
    "<=",
    "|z| = |estimate - reference| / MCSE of a mean (or a covariance)",
    "6.3e-5 per z-score under N(0, 1); a family of m z-scores about m times that",
    "docs/calibration.md#exact-posterior",
)
Z_SD = Threshold(
    4.5,
    "<=",
    "|z| of a posterior sd (and of the 780 covariances of rff_svr)",
    "6.8e-6 per z-score under N(0, 1)",
    "docs/calibration.md#exact-posterior",
)

REFERENCE_ALPHA = Threshold(
    0.0001,
    ">",
    "smallest Holm-adjusted two-sided p of the z-scores (mean, sd, 5% and 95% quantiles of "
    "every parameter) of a posterior against reference draws",
    "<= 0.01% family-wise by Holm if each z is N(0, 1); measured: no z-score alarm in 500 runs "
    "of 5 posteriordb posteriors (<= 0.74%, 95%); gate failures 3 of 500",
    "docs/calibration.md#posteriordb",
)

# ------------------------------------------------------------------ simulation-based calibration

SBC_ALPHA = Threshold(
    0.01,
    ">",
    "smallest Holm-adjusted rank p-value",
    "<= 0.01 by Holm on exact draws; measured 2.0% [0.5%, 5.0%] (4 of 200 linear NUTS runs)",
    "docs/calibration.md#sbc",
)
SBC_REPLICATIONS_ADVISED = Threshold(
    100,
    ">=",
    "replications of an SBC run; fewer draw a warning from the command",
    "a posterior 20% too narrow is missed in 13% of runs even at 100",
    "docs/calibration.md#calibrate",
)
LOW_ESS_SHARE = Threshold(
    0.05,
    "<=",
    "share of (replication, quantity) pairs whose bulk ESS is below the draws ranked",
    "a health check; 0 of 200 linear runs",
    "docs/calibration.md#false-alarms",
)
POINT_DRAWS = Threshold(
    0,
    "<=",
    "replications in which a ranked quantity's draws have no spread",
    "none: a property of the draws, not a statistic (a sampler's draws never all coincide)",
    "docs/findings.md#mlp-map-laplace",
)

# --------------------------------------------------------------------- MAP against a reference

MAP_THETA = Threshold(
    1e-6,
    "<=",
    "|theta_AutoDelta - theta_reference|_inf (float64); achieved 3e-10",
    "deterministic given the seed",
    "docs/calibration.md#map",
)
MAP_GRAD = Threshold(
    1e-6,
    "<=",
    "|grad log p| at the point (float64); achieved 7e-13",
    "deterministic given the seed",
    "docs/calibration.md#map",
)
MAP_OBJECTIVE = Threshold(
    1e-10,
    "<=",
    "(log p(theta_reference) - log p(theta)) / |log p(theta)|",
    "deterministic given the seed",
    "docs/calibration.md#map",
)
MAP_RIDGE = Threshold(
    1e-8,
    "<=",
    "|w_AutoDelta - w_ridge|_inf against the closed form (float64)",
    "deterministic given the seed; 0 of 200 seeds",
    "docs/calibration.md#map",
)

# ---------------------------------------------------------------------- predictive coverage

COVERAGE_LEVEL = 0.95
"""The nominal level of the predictive intervals whose coverage is checked."""
COVERAGE_POINTS = 400
"""Fresh observations per coverage check: the notebook's test grid."""
COVERAGE_FIT_SD = 0.020
"""sd of the expected coverage over 11 dataset seeds, the largest among the NUTS models."""
COVERAGE_BINOMIAL_SD = float(np.sqrt(COVERAGE_LEVEL * (1 - COVERAGE_LEVEL) / COVERAGE_POINTS))
"""sd of C given the fit, from the fresh noise alone: 0.0109."""
COVERAGE_GAP = Threshold(
    4 * float(np.hypot(COVERAGE_BINOMIAL_SD, COVERAGE_FIT_SD)),  # 0.091
    "<=",
    "|C - 0.95|, C the share of fresh observations inside the 95% interval",
    "~6e-5 per model (normal approximation); 0 of 200 fresh-noise seeds (rff_svr, mlp_map)",
    "docs/calibration.md#coverage",
)
COVERAGE_FLOOR = Threshold(
    0.5,
    ">=",
    "C of an interval that makes no 95% claim (not degenerate)",
    "no alarm in 33 fits over 11 dataset seeds",
    "docs/calibration.md#coverage",
)

# --------------------------------------------------------------------------- the notebook's R²

R2_PRINTED = Threshold(
    0.01,
    "<=",
    "|R^2 - the notebook's printed R^2| (printed to 3 decimals)",
    "deterministic given the seed (a regression gate)",
    "docs/calibration.md#r2",
)

R2_MARGIN_LOSS = Threshold(
    0.01,
    "<=",
    "distance from the notebook's R^2 threshold lost since the baseline (a release comparison)",
    "deterministic given the seed",
    "docs/calibration.md#r2",
)


DIVERGENCE_RISE = Threshold(
    0.001,
    ">",
    "one-sided Fisher exact p-value that more SBC replications diverge than in the baseline "
    "(a release comparison)",
    "<= 0.1% per SBC compared (an exact test); simulated 0-0.094% at 100 and 1,000 replications "
    "and the release records' rates; 0 of 14 on two release records of correct code",
    "docs/calibration.md#release-divergences",
)


class Verdict(NamedTuple):
    """A named claim about a run: whether it holds, the figure, its bound and a sentence."""

    name: str
    passed: bool
    value: Any
    bound: Any
    message: str

    def as_record(self) -> dict[str, Any]:
        """The verdict as plain JSON values (the run record's ``verdicts``)."""
        return {
            "name": self.name,
            "passed": bool(self.passed),
            "value": _plain(self.value),
            "bound": _plain(self.bound),
        }


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def judge(name: str, threshold: Threshold, figure: float, what: str = "") -> Verdict:
    """The verdict ``name``: whether ``figure`` holds against ``threshold``.

    ``what`` names the run or quantity in the message.
    """
    passed = threshold.holds(figure)
    subject = f"{what}: " if what else ""
    return Verdict(
        name,
        passed,
        figure,
        threshold.value,
        f"{subject}{threshold.statistic} = {float(figure):.4g}, bound {threshold.direction} "
        f"{threshold.value:g}",
    )


def failed(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The verdicts that do not hold."""
    return [v for v in verdicts if not v.passed]


def assert_verdicts(verdicts: Iterable[Verdict]) -> None:
    """Raise ``AssertionError`` naming every verdict that does not hold."""
    bad = failed(verdicts)
    assert not bad, "; ".join(f"{v.name}: {v.message}" for v in bad)


# ----------------------------------------------------------------------------- the verdicts


def convergence(figures: Mapping[str, float], what: str = "") -> list[Verdict]:
    """Verdicts of a multi-chain run from whichever of its figures are given.

    Parameters
    ----------
    figures : mapping
        Any of ``max_rhat`` (largest rank-normalised split R-hat over the quantities checked),
        ``min_ess_per_chain`` (smallest bulk or tail ESS divided by the chain count),
        ``divergences``, ``min_bfmi``, ``saturated_share``, ``max_chain_correlation``.
    what : str
        The run, for the messages.

    Returns
    -------
    list of Verdict
        Named ``rhat``, ``ess``, ``divergences``, ``bfmi``, ``tree_depth``,
        ``chain_correlation``, in that order, for the figures given.
    """
    rules = (
        ("rhat", "max_rhat", RHAT),
        ("ess", "min_ess_per_chain", ESS_PER_CHAIN),
        ("divergences", "divergences", DIVERGENCES),
        ("bfmi", "min_bfmi", BFMI),
        ("tree_depth", "saturated_share", SATURATED_SHARE),
        ("chain_correlation", "max_chain_correlation", CHAIN_CORRELATION),
    )
    return [judge(name, rule, figures[key], what) for name, key, rule in rules if key in figures]


def z_bound(name: str) -> Threshold:
    """The |z| bound of a moment named ``<site>_mean``, ``<site>_sd`` or ``<site>_cov``."""
    return Z_SD if name.endswith("_sd") else Z_MEAN


def reference(
    gate: Mapping[str, float],
    max_abs_z: Mapping[str, float],
    bounds: Mapping[str, float] | None = None,
    what: str = "",
) -> list[Verdict]:
    """A posterior against a reference (exact moments or reference draws).

    The comparison means something only once the run has converged, so the gate comes first:
    rank-normalised split R-hat below :data:`RHAT` and bulk and tail ESS at least
    :data:`ESS_REFERENCE` on every quantity compared (Vehtari et al. 2021). Then every moment's
    largest ``|z| = |estimate - reference| / MCSE`` must stay within its bound.

    Parameters
    ----------
    gate : mapping
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail`` over the quantities compared.
    max_abs_z : mapping
        The largest |z| of each moment (``w_mean``, ``sigma_sd``, ...).
    bounds : mapping, optional
        A bound per moment; default :func:`z_bound` of its name.
    what : str
        The run, for the messages.

    Returns
    -------
    list of Verdict
        ``reference_rhat``, ``reference_ess``, then ``z``: the moments beyond their bounds.
    """
    bounds = {k: z_bound(k).value for k in max_abs_z} | dict(bounds or {})
    ess = min(gate["min_ess_bulk"], gate["min_ess_tail"])
    beyond = {k: v for k, v in max_abs_z.items() if not v <= bounds[k]}
    worst = max(max_abs_z.values(), default=0.0)
    return [
        judge("reference_rhat", RHAT, gate["max_rhat"], what or "not converged"),
        judge("reference_ess", ESS_REFERENCE, ess, what or "ESS too low"),
        Verdict(
            "z",
            not beyond,
            worst,
            bounds,
            f"{what + ': ' if what else ''}|z| beyond threshold: {beyond} (thresholds {bounds})",
        ),
    ]


def against_reference_draws(figures: Mapping[str, Any], what: str = "") -> list[Verdict]:
    """A posterior against reference draws (:func:`regmaster.reference_draws.compare`).

    The gate first: R-hat below :data:`RHAT`, bulk and tail ESS at least
    :data:`ESS_REFERENCE` and no divergence (:data:`DIVERGENCES`), since a z-score of a run that
    has not converged means nothing; then the smallest Holm-adjusted p-value of every z-score of
    the posterior above :data:`REFERENCE_ALPHA`.
    """
    gate = figures["gate"]
    ess = min(gate["min_ess_bulk"], gate["min_ess_tail"])
    worst = max(figures["max_abs_z"].values(), default=0.0)
    prefix = f"{what}: " if what else ""
    return [
        judge("reference_rhat", RHAT, gate["max_rhat"], what or "not converged"),
        judge("reference_ess", ESS_REFERENCE, ess, what or "ESS too low"),
        judge("reference_divergences", DIVERGENCES, gate["divergences"], what or "divergences"),
        Verdict(
            "reference_z",
            REFERENCE_ALPHA.holds(figures["min_holm_pvalue"]),
            figures["min_holm_pvalue"],
            REFERENCE_ALPHA.value,
            f"{prefix}the draws differ from the reference: largest |z| {worst:.2f} "
            f"({figures['worst']}), Holm-adjusted p {figures['min_holm_pvalue']:.3g} over "
            f"{figures['n_z_scores']} z-scores (it must exceed {REFERENCE_ALPHA.value:g})",
        ),
    ]


def map_point(
    theta_gap: float | None = None,
    grad_norm: float | None = None,
    objective_gap: float | None = None,
    reference_grad_norm: float | None = None,
    what: str = "",
) -> list[Verdict]:
    """A MAP point against an independent optimum, from the figures given.

    ``reference_grad_norm`` first (an unconverged reference proves nothing), then the point's
    gradient norm, the relative objective gap and the distance between the points.
    """
    rules = (
        ("map_reference_converged", reference_grad_norm, MAP_GRAD),
        ("map_stationary", grad_norm, MAP_GRAD),
        ("map_objective", objective_gap, MAP_OBJECTIVE),
        ("map_theta", theta_gap, MAP_THETA),
    )
    return [judge(name, rule, value, what) for name, value, rule in rules if value is not None]


def coverage(share: float, exempt: bool = False, what: str = "") -> Verdict:
    """Share ``C`` of fresh observations inside the 95% predictive intervals.

    ``|C - 0.95| <= COVERAGE_GAP`` for an interval that claims 95%; ``C >= COVERAGE_FLOOR`` for
    one that makes no such claim (``exempt``): it must at least not be degenerate.
    """
    if exempt:
        return judge("coverage_floor", COVERAGE_FLOOR, share, what)
    return judge("coverage", COVERAGE_GAP, abs(share - COVERAGE_LEVEL), what)


def r2_gate(notebook, r2: float, what: str = "") -> Verdict:
    """The notebook's R² threshold (``notebook``: a :class:`regmaster.zoo.Notebook`)."""
    return Verdict(
        "r2_threshold",
        bool(notebook.passes(r2)),
        float(r2),
        notebook.threshold_label,
        f"{what + ': ' if what else ''}R^2 {r2:.4f} fails {notebook.threshold_label}",
    )


def r2_printed(notebook, r2: float, what: str = "") -> Verdict:
    """R² within :data:`R2_PRINTED` of the value the notebook printed."""
    return judge("r2_printed", R2_PRINTED, abs(r2 - notebook.printed_r2), what)


def divergence_rise(before: tuple[int, int], after: tuple[int, int], what: str = "") -> Verdict:
    """More SBC replications diverge than in the baseline, beyond chance (a release comparison).

    A replication diverges when any of its transitions does. Divergences cluster in data sets
    whose posterior has a region the step size cannot follow, and a rounding change moves a
    chain into or out of it, so the count of transitions is no measure; the count of
    replications is. With ``k_a`` of ``n_a`` replications diverging in the baseline and ``k_b`` of
    ``n_b`` now, :func:`regmaster.stats.rise_pvalue` (Fisher's exact test, one-sided) must exceed
    :data:`DIVERGENCE_RISE`. Both runs fit the same data sets (the seed is the check's name), which
    makes the unpaired test conservative.

    Parameters
    ----------
    before, after : (int, int)
        (replications with divergences, replications) of the baseline's and the current run.
    what : str
        The run, for the message.
    """
    from . import stats

    p = stats.rise_pvalue(before, after)
    return Verdict(
        "divergence_rise",
        DIVERGENCE_RISE.holds(p),
        p,
        DIVERGENCE_RISE.value,
        f"{what + ': ' if what else ''}{after[0]} of {after[1]} replications diverge against "
        f"{before[0]} of {before[1]} in the baseline: one-sided Fisher p {p:.2g} (it must exceed "
        f"{DIVERGENCE_RISE.value:g})",
    )


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
    """The fits' health: at most :data:`LOW_ESS_SHARE` of (replication, quantity) bulk ESS below
    the number of thinned draws; for an inference whose draws are independent (a guide's), no
    replication whose draws of a quantity coincide (:data:`POINT_DRAWS`: a point estimate, or a
    Laplace approximation whose Hessian was not positive definite)."""
    if "replications_with_point_draws" in result.fit_diagnostics:
        points = int(result.fit_diagnostics["replications_with_point_draws"])
        return [
            Verdict(
                "replications_with_point_draws",
                POINT_DRAWS.holds(points),
                points,
                POINT_DRAWS.value,
                f"{result.model}: in {points} of {result.replications} replications the draws "
                "of a ranked quantity have no spread: a point estimate, not a posterior (a "
                "MAP; MC dropout of a model without dropout; a Laplace approximation where the "
                "Hessian is not positive definite draws its mode)",
            )
        ]
    if "share_ess_below_num_draws" not in result.fit_diagnostics:
        return []  # a fit that reports neither (a run record from before points were counted)
    share = float(result.fit_diagnostics["share_ess_below_num_draws"])
    bound = LOW_ESS_SHARE.value
    return [
        Verdict(
            "share_ess_below_num_draws",
            LOW_ESS_SHARE.holds(share),
            share,
            bound,
            f"{result.model}: {share:.1%} of (replication, quantity) pairs have bulk ESS below "
            f"the {result.num_draws} draws ranked (bound {bound:.0%}): the ranked "
            "draws are dependent; run longer chains",
        )
    ]


def sbc_verdicts(result) -> list[Verdict]:
    """Every verdict of an SBC run: calibration, then health."""
    return [sbc_calibration(result), *sbc_health(result)]


def sbc_passed(result) -> bool:
    """Whether every verdict of :func:`sbc_verdicts` holds."""
    return all(v.passed for v in sbc_verdicts(result))
