"""Checks of one notebook fit (``fit_one`` at the notebook's settings): its R² gates and the
coverage of its 95% predictive intervals on fresh observations; and the interval's own level.

Thresholds: :mod:`regmaster.verdicts` (``R2_PRINTED``, ``COVERAGE_GAP``, ``COVERAGE_FLOOR``;
each model's R² threshold is the registry's ``Notebook``). Why the coverage tolerance is what
it is: ``validation/test_coverage.py``.
"""

from __future__ import annotations

import jax
import numpy as np
from scipy.stats import norm

from regmaster import inference, verdicts
from regmaster.data import make_sinc
from regmaster.experiment import FitOutcome
from regmaster.verdicts import COVERAGE_FLOOR, COVERAGE_GAP, COVERAGE_LEVEL, COVERAGE_POINTS
from regmaster.zoo import get_spec


def margin(name: str, r2: float) -> float:
    """Distance from the notebook's R² threshold, positive when the model passes."""
    nb = get_spec(name).notebook
    return r2 - nb.r2_threshold if nb.r2_direction == ">" else nb.r2_threshold - r2


def r2_threshold(name: str, fit: FitOutcome):
    """R² at the notebook's seed passes the notebook's threshold: figures and verdict."""
    nb = get_spec(name).notebook
    figures = {
        "statistic": "R^2 of the predictive mean",
        "value": fit.r2,
        "threshold": nb.threshold_label,
        "margin": margin(name, fit.r2),
        "seconds": fit.seconds,
    }
    return figures, verdicts.r2_gate(nb, fit.r2, name)


def r2_printed(name: str, fit: FitOutcome):
    """R² within ``R2_PRINTED`` of the value the notebook printed: figures and verdict."""
    nb = get_spec(name).notebook
    gap = abs(fit.r2 - nb.printed_r2)
    figures = {
        "statistic": "|R^2 - notebook R^2|",
        "value": gap,
        "r2": fit.r2,
        "notebook_r2": nb.printed_r2,
        "threshold": verdicts.R2_PRINTED.value,
        "margin": verdicts.R2_PRINTED.value - gap,
    }
    return figures, verdicts.r2_printed(nb, fit.r2, name)


def fresh_coverage(name: str, fit: FitOutcome, seed: int):
    """Share C of fresh observations y = sinc(x) + s eps (eps drawn with ``seed``) inside the
    fit's 95% predictive intervals on the test grid: figures and verdict."""
    data = make_sinc()
    f = np.asarray(data.y_test)
    eps = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), f.shape))
    y = f + data.noise * eps
    share = float(np.mean((fit.lower <= y) & (y <= fit.upper)))
    p = norm.cdf((fit.upper - f) / data.noise) - norm.cdf((fit.lower - f) / data.noise)
    exempt = get_spec(name).coverage_exempt
    floor, gap = COVERAGE_FLOOR.value, COVERAGE_GAP.value
    figures = {
        "statistic": "share of fresh observations inside the 95% predictive interval",
        "value": share,
        "expected_given_fit": float(np.mean(p)),
        "binomial_sd_given_fit": float(np.sqrt(np.sum(p * (1 - p))) / COVERAGE_POINTS),
        "threshold": f"C >= {floor}" if exempt else f"|C - {COVERAGE_LEVEL}| <= {gap:.3f}",
        "margin": share - floor if exempt else gap - abs(share - COVERAGE_LEVEL),
        "exempt": exempt,
        "inference": get_spec(name).inference,
    }
    return figures, verdicts.coverage(share, exempt, name)


INTERVAL_DRAWS, INTERVAL_COLUMNS = 4000, 50
# sd of one estimated 2.5% quantile of N(0, 1) from 4000 draws, sqrt(p (1 - p) / n) / phi(z):
# 0.042; of the mean over 50 independent columns 0.0060: 5 sd, a false alarm of 5.7e-7 per bound.
INTERVAL_TOL = (
    5
    * float(np.sqrt(0.025 * 0.975 / INTERVAL_DRAWS) / norm.pdf(norm.ppf(0.975)))
    / (np.sqrt(INTERVAL_COLUMNS))
)


def interval_level(seed: int):
    """The 95% interval of N(0, 1) draws against (-1.960, 1.960), averaged over 50 columns:
    figures and verdict (``INTERVAL_TOL``, 5 sd)."""
    draws = jax.random.normal(jax.random.PRNGKey(seed), (INTERVAL_DRAWS, INTERVAL_COLUMNS))
    lower, upper = inference.predictive_interval(draws, level=COVERAGE_LEVEL)
    z = float(norm.ppf(0.5 + COVERAGE_LEVEL / 2))
    gaps = {"lower": float(np.mean(lower)) + z, "upper": float(np.mean(upper)) - z}
    worst = max(abs(g) for g in gaps.values())
    figures = {"statistic": "mean bound - exact quantile", "gaps": gaps, "threshold": INTERVAL_TOL}
    return figures, verdicts.Verdict(
        "interval_level",
        worst <= INTERVAL_TOL,
        worst,
        INTERVAL_TOL,
        f"the 95% interval of N(0, 1) draws is off by {worst:.3g} (bound {INTERVAL_TOL:.3g}): "
        f"{gaps}",
    )
