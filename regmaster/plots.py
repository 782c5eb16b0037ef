"""The notebook's figures: one fit plot per model and the 1x3 comparison panel (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .data import Dataset  # noqa: E402
from .experiment import FitOutcome  # noqa: E402
from .zoo import COMPARISON_PANEL  # noqa: E402


def plot_fit(ax, data: Dataset, outcome: FitOutcome, title: str | None = None) -> None:
    """Truth, posterior-predictive mean, 95% band and training points on one axis.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    data : Dataset
        The training points and the test grid.
    outcome : FitOutcome
        The fit.
    title : str, optional
        Default: the model's title and R^2.
    """
    ax.plot(data.x_test, data.y_test, "k--", lw=1.5, label="True $f(x) = \\sin(x)/x$", zorder=4)
    ax.plot(data.x_test, outcome.mean, "C0-", lw=2, label="Posterior mean", zorder=3)
    ax.fill_between(
        data.x_test, outcome.lower, outcome.upper, color="C0", alpha=0.2, label="95% interval"
    )
    ax.scatter(
        data.x_train,
        data.y_train,
        s=20,
        c="C1",
        edgecolors="k",
        linewidths=0.5,
        label="Training data",
        zorder=5,
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title or f"{outcome.title}, R²={outcome.r2:.3f}")
    ax.legend(loc="lower center", fontsize=8, ncol=2)


def save_fit_figures(outcomes: Sequence[FitOutcome], data: Dataset, out_dir) -> list[Path]:
    """Write ``fit_<name>.png`` for each outcome and ``comparison.png``; return the paths.

    ``comparison.png`` shows the notebook's panel (:data:`~regmaster.zoo.COMPARISON_PANEL`) side by
    side, or the first three outcomes when none of those was fitted.

    Parameters
    ----------
    outcomes : sequence of FitOutcome
        The fits.
    data : Dataset
        The data they were fitted on.
    out_dir : path
        Created if missing.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for outcome in outcomes:
        fig, ax = plt.subplots(figsize=(12, 5))
        plot_fit(ax, data, outcome)
        path = out_dir / f"fit_{outcome.name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    by_name = {o.name: o for o in outcomes}
    panel = [by_name[n] for n in COMPARISON_PANEL if n in by_name] or list(outcomes)[:3]
    fig, axes = plt.subplots(1, len(panel), figsize=(6 * len(panel), 5), sharey=True, squeeze=False)
    for ax, outcome in zip(axes[0], panel, strict=True):
        plot_fit(ax, data, outcome, title=f"{outcome.name}, R²={outcome.r2:.3f}")
    fig.tight_layout()
    path = out_dir / "comparison.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
    return paths


def _sbc_grid(result, max_quantities: int):
    """Indices of the quantities shown, an empty grid of axes for them and a note on those left
    out: every quantity when they fit, else the ``max_quantities`` with the smallest
    Holm-adjusted p-values, worst first (a failing quantity is never the one left out)."""
    import numpy as np

    total = len(result.quantities)
    shown = list(range(total))
    note = None
    if total > max_quantities:
        shown = [int(j) for j in np.argsort(result.adjusted, kind="stable")[:max_quantities]]
        note = (
            f"{max_quantities} of {total} quantities shown, smallest p first; the other "
            f"{total - max_quantities} have p >= {result.adjusted[shown[-1]]:.3g} (all "
            "quantities: the command's table and --json)"
        )
    cols = min(4, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows + 1.2), squeeze=False)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    return shown, fig, list(axes.flat), note


def _finish(fig, axes, title: str, note: str | None) -> None:
    """Title on top, the legend (and the note on quantities left out) below every panel."""
    fig.suptitle(title, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if note:
        fig.text(0.5, 0.4 / fig.get_figheight(), note, ha="center", fontsize=8, style="italic")
    height = fig.get_figheight()
    fig.tight_layout(rect=(0, 0.9 / height, 1, 1 - 0.35 / height))


def sbc_rank_figure(result, max_quantities: int = 12):
    """Rank histograms, one panel per quantity, with the 99% per-bin band of uniform ranks.

    The band is the 0.5% and 99.5% quantiles of Binomial(N, 1/bins), N the replications (Talts et
    al. 2018). More than ``max_quantities`` quantities: those with the smallest Holm-adjusted
    p-values are shown, worst first.

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    max_quantities : int
        The most panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import numpy as np
    from scipy import stats as sps

    shown, fig, axes, note = _sbc_grid(result, max_quantities)
    n, draws = result.replications, result.num_draws
    bins = min(20, draws + 1)
    edges = np.linspace(0, draws + 1, bins + 1)
    lo, hi = sps.binom.ppf([0.005, 0.995], n, 1 / bins)
    for ax, j in zip(axes, shown, strict=False):
        ax.axhspan(lo, hi, color="0.85", label="99% range of a bin's count if ranks are uniform")
        ax.axhline(n / bins, color="0.4", lw=1, label="expected count")
        ax.hist(result.ranks[:, j], bins=edges, color="C0", alpha=0.8, label="replications")
        ax.set_title(
            f"{result.quantities[j]}: Holm-adjusted p = {result.adjusted[j]:.3g}", fontsize=9
        )
        ax.set_xlabel(f"rank of the true value among {draws} posterior draws", fontsize=8)
        ax.set_ylabel("replications", fontsize=8)
    _finish(
        fig,
        axes,
        f"SBC rank histograms: {result.model}, {n} replications, {draws} draws each "
        "(p: the smallest of four rank tests, Holm-adjusted over all quantities)",
        note,
    )
    return fig


def _jittered(result):
    """u = (r + U) / (L + 1) of every rank (:func:`regmaster.stats.jitter`), with a fixed
    generator: the same picture each time."""
    import numpy as np

    from .stats import jitter

    return jitter(result.ranks, result.num_draws, np.random.default_rng(0))


def sbc_ecdf_figure(result, max_quantities: int = 12):
    """ECDF of the ranks minus the uniform CDF at z_j = j / (L + 1), with the gamma test's band
    (:func:`regmaster.stats.gamma_band` at the run's alpha; Säilynoja et al. 2022): the curve
    leaves the band exactly where the gamma test rejects.

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    max_quantities : int
        The most panels (the smallest Holm-adjusted p-values first).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import numpy as np

    from .stats import gamma_band

    shown, fig, axes, note = _sbc_grid(result, max_quantities)
    n, draws = result.replications, result.num_draws
    points, lower, upper = gamma_band(n, draws, result.alpha)
    below = np.stack(
        [np.cumsum(np.bincount(result.ranks[:, j], minlength=draws + 1))[:-1] for j in shown]
    )  # K_j = #{rank < j}: the ECDF at z_j = j / (L + 1)
    for ax, j, counts in zip(axes, shown, below, strict=False):
        ax.fill_between(
            points,
            lower - points,
            upper - points,
            step="mid",
            color="0.85",
            label=f"gamma test's band at {result.alpha:g} (simultaneous)",
        )
        ax.step(
            points,
            counts / n - points,
            where="mid",
            color="C0",
            label="ECDF of the ranks - uniform CDF",
        )
        ax.axhline(0, color="0.4", lw=1)
        ax.set_title(
            f"{result.quantities[j]}: Holm-adjusted p = {result.adjusted[j]:.3g}", fontsize=9
        )
        ax.set_xlabel(f"rank / ({draws} + 1)", fontsize=8)
        ax.set_ylabel("ECDF - uniform CDF", fontsize=8)
    _finish(
        fig,
        axes,
        f"SBC ECDF difference: {result.model}, {n} replications, ranks among {draws} draws; "
        f"outside the band at any point is the gamma test rejecting at {result.alpha:g} "
        "(Säilynoja et al. 2022)",
        note,
    )
    return fig


def sbc_coverage_figure(result, max_quantities: int = 12):
    """Empirical coverage of central posterior intervals against their level, minus the level,
    with the simultaneous 99% band of calibrated inference.

    The truth lies in the central interval of level c exactly when |2u - 1| <= c, u the
    truth's fractional rank; under calibration |2u - 1| ~ U(0, 1), so coverage - c is an ECDF
    difference and takes the ECDF band (Säilynoja et al. 2022). Below zero: intervals too
    narrow (the posterior undercovers); above: too wide.

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    max_quantities : int
        The most panels (the smallest Holm-adjusted p-values first).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import numpy as np

    from .stats import ecdf_band

    shown, fig, axes, note = _sbc_grid(result, max_quantities)
    n = result.replications
    levels, lower, upper = ecdf_band(n)
    width = np.abs(2.0 * _jittered(result) - 1.0)
    for ax, j in zip(axes, shown, strict=False):
        coverage = np.searchsorted(np.sort(width[:, j]), levels, side="right") / n
        ax.fill_between(
            levels, lower - levels, upper - levels, color="0.85", label="simultaneous 99% band"
        )
        ax.plot(levels, coverage - levels, color="C0", label="empirical coverage - level")
        ax.axhline(0, color="0.4", lw=1)
        at = {c: float(np.mean(width[:, j] <= c)) for c in (0.5, 0.9)}
        ax.set_title(
            f"{result.quantities[j]}: 50% covers {at[0.5]:.0%}, 90% covers {at[0.9]:.0%}",
            fontsize=9,
        )
        ax.set_xlabel("level of the central interval", fontsize=8)
        ax.set_ylabel("coverage - level", fontsize=8)
    _finish(
        fig,
        axes,
        f"SBC coverage: {result.model}, {n} replications; below 0: intervals too narrow, "
        "above: too wide",
        note,
    )
    return fig


def _draw_moments(result):
    """Per replication and quantity: the draws' mean and sd, and the truth."""
    thinned = result.thinned
    return thinned.mean(axis=1), thinned.std(axis=1, ddof=1), result.truth


def sbc_contraction_figure(result, max_quantities: int = 12):
    """Posterior z-score against posterior contraction, one point per replication.

    z = (mean of the draws - truth) / sd of the draws; contraction = 1 - var(draws) / var(truths
    over the replications), the prior variance (Schad, Betancourt, Vasishth 2021; bayesflow's
    ``z_score_contraction``). Calibrated inference keeps |z| mostly below 2 at any
    contraction; a posterior too narrow spreads z out, a biased one shifts it.

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    max_quantities : int
        The most panels (the smallest Holm-adjusted p-values first).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import numpy as np

    shown, fig, axes, note = _sbc_grid(result, max_quantities)
    mean, sd, truth = _draw_moments(result)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - truth) / sd
        contraction = 1.0 - sd**2 / truth.var(axis=0, ddof=1)
    for ax, j in zip(axes, shown, strict=False):
        ax.axhspan(-2, 2, color="0.9", label="|z| <= 2")
        ax.scatter(contraction[:, j], z[:, j], s=6, color="C0", alpha=0.6, label="replication")
        # contraction is at most 1: a common right edge, no offset notation near 1
        ax.set_xlim(min(0.0, float(np.nanmin(contraction[:, j]))) - 0.05, 1.05)
        outside = float(np.mean(np.abs(z[:, j]) > 2))
        ax.set_title(f"{result.quantities[j]}: {outside:.0%} with |z| > 2", fontsize=9)
        ax.set_xlabel("contraction 1 - var(post) / var(prior)", fontsize=8)
        ax.set_ylabel("z = (mean - truth) / sd", fontsize=8)
    _finish(
        fig,
        axes,
        f"SBC z-score and contraction: {result.model}, {result.replications} replications "
        "(about 5% of |z| > 2 when calibrated and near Gaussian)",
        note,
    )
    return fig


def sbc_recovery_figure(result, max_quantities: int = 12):
    """Simulated truth against the posterior mean, with the central 90% interval of the draws.

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    max_quantities : int
        The most panels (the smallest Holm-adjusted p-values first).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import numpy as np

    shown, fig, axes, note = _sbc_grid(result, max_quantities)
    mean, _, truth = _draw_moments(result)
    low, high = np.quantile(result.thinned, [0.05, 0.95], axis=1)
    for ax, j in zip(axes, shown, strict=False):
        ax.errorbar(
            truth[:, j],
            mean[:, j],
            # clipped at 0: a point's mean and quantiles differ by rounding only
            yerr=np.clip([mean[:, j] - low[:, j], high[:, j] - mean[:, j]], 0.0, None),
            fmt="o",
            ms=2,
            lw=0.5,
            color="C0",
            alpha=0.6,
            label="posterior mean, 90% interval",
        )
        span = [np.nanmin(truth[:, j]), np.nanmax(truth[:, j])]
        ax.plot(span, span, color="0.4", lw=1, label="truth = mean")
        inside = float(np.mean((low[:, j] <= truth[:, j]) & (truth[:, j] <= high[:, j])))
        ax.set_title(f"{result.quantities[j]}: 90% intervals hold {inside:.0%}", fontsize=9)
        ax.set_xlabel("simulated truth", fontsize=8)
        ax.set_ylabel("posterior", fontsize=8)
    _finish(fig, axes, f"SBC recovery: {result.model}, {result.replications} replications", note)
    return fig


def _history_sizes(replications: int) -> list[int]:
    """Prefix sizes at which the history is evaluated: 10, 20, 50, 100, ... and N."""
    sizes = [n for n in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if n < replications]
    return [*sizes, replications]


def sbc_history_figure(result, max_quantities: int = 12):
    """The verdict as replications accumulate: the smallest Holm-adjusted p-value over the
    quantities, and the smallest log gamma (Säilynoja et al. 2022) against its critical value,
    for the first n replications, n = 10, 20, 50, ..., N (Modrak et al. 2023 plot the same
    history to show where a verdict settles).

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    max_quantities : int
        Unused (one panel pair per run); kept for the common signature.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import numpy as np

    from .sbc import verdict
    from .stats import gamma_critical_value, gamma_statistic

    sizes = _history_sizes(result.replications)
    quantities = len(result.quantities)
    holm, log_gamma, critical = [], [], []
    for n in sizes:
        ranks = result.ranks[:n]
        holm.append(
            verdict(ranks, result.num_draws, result.alpha, np.random.default_rng(0))[1].min()
        )
        log_gamma.append(np.log(gamma_statistic(ranks, result.num_draws).min()))
        # the smallest of Q gammas: Bonferroni over the quantities
        critical.append(
            np.log(gamma_critical_value(n, result.num_draws, result.alpha / quantities))
        )
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(sizes, holm, "o-", color="C0", label="smallest Holm-adjusted p")
    left.axhline(result.alpha, color="C3", lw=1, label=f"alpha {result.alpha:g}")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("replications", fontsize=8)
    left.set_ylabel("smallest Holm-adjusted p", fontsize=8)
    right.plot(sizes, log_gamma, "o-", color="C1", label="smallest log gamma over quantities")
    right.plot(sizes, critical, "--", color="C3", label=f"critical (alpha {result.alpha:g} / Q)")
    right.set_xscale("log")
    right.set_xlabel("replications", fontsize=8)
    right.set_ylabel("log gamma", fontsize=8)
    fig.suptitle(
        f"SBC history: {result.model}, first n of {result.replications} replications, "
        f"{quantities} quantities; below the red line rejects",
        fontsize=10,
    )
    handles = [*left.get_legend_handles_labels()[0], *right.get_legend_handles_labels()[0]]
    labels = [*left.get_legend_handles_labels()[1], *right.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    return fig


SBC_FIGURES = {
    "ranks": sbc_rank_figure,
    "ecdf": sbc_ecdf_figure,
    "coverage": sbc_coverage_figure,
    "contraction": sbc_contraction_figure,
    "recovery": sbc_recovery_figure,
    "history": sbc_history_figure,
}
"""Every SBC picture, by the name its file carries (``sbc_<name>_<model>.png``)."""


def save_sbc_figures(result, out_dir, max_quantities: int = 12) -> list[Path]:
    """``sbc_<kind>_<model>.png`` in ``out_dir`` for every kind of :data:`SBC_FIGURES`; return
    the paths.

    Parameters
    ----------
    result : SBCResult
        An SBC run.
    out_dir : path
        Created if missing.
    max_quantities : int
        The most panels per figure.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, build in SBC_FIGURES.items():
        fig = build(result, max_quantities)
        path = out_dir / f"sbc_{kind}_{result.model}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
