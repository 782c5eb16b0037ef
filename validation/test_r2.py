"""The notebook's R^2 gates: each model's R^2 of the posterior-predictive mean on the noise-free
test grid, with the notebook's own settings (``fit_one``), against the notebook's threshold.

- at the notebook's seed 666: the threshold holds, and R^2 is within 0.01 of the value the
  notebook printed (a regression gate: the printed values have 3 decimals and the fits are
  deterministic given the keys, so only a change of model, keys, numerics or library moves them);
- on 5 other dataset seeds (``make_sinc(seed)``: new training inputs, noise and model keys): the
  threshold still holds (robustness), and the range of R^2 is recorded.

False-alarm rate. R^2 is a deterministic function of the seed; the thresholds are the notebook's.
Over 11 dataset seeds the nearest case, mlp_dropout, lies 8 sd inside its threshold: at most 1.5%
per seed by Cantelli's inequality (<= 7.5% for its 5 seeds); per model: docs/calibration.md#r2.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from regmaster.data import NOTEBOOK_SEED, make_sinc
from regmaster.plots import plot_fit
from regmaster.zoo import get_spec
from validation.cases import cases
from validation.fitcache import notebook_fit

pytestmark = pytest.mark.r2

FALSE_ALARM = {
    "test_r2_passes_notebook_threshold": "deterministic given the seed (>= 8 sd margin over seeds)",
    "test_r2_matches_notebook_value": "deterministic given the seed (a regression gate)",
    "test_r2_threshold_holds_over_seeds": "<= 7.5% for mlp_dropout's 5 seeds (Cantelli); far "
    "less for the others",
}

NOTEBOOK_TOLERANCE = 0.01  # |R^2 - printed R^2|; printed to 3 decimals
OTHER_SEEDS = (1, 2, 3, 4, 5)


def _margin(name: str, r2: float) -> float:
    """Distance from the threshold, positive when the model passes."""
    nb = get_spec(name).notebook
    return r2 - nb.r2_threshold if nb.r2_direction == ">" else nb.r2_threshold - r2


def _threshold(name: str) -> str:
    return get_spec(name).notebook.threshold_label


@pytest.mark.parametrize("model", cases("r2"))
def test_r2_passes_notebook_threshold(model, backend, fit_cache, record, save_figure):
    """R^2 at seed 666 with the notebook's settings passes the notebook's threshold."""
    fit = notebook_fit(model, NOTEBOOK_SEED, backend, fit_cache)
    fig, ax = plt.subplots(figsize=(9, 4))
    plot_fit(ax, make_sinc(), fit)
    save_figure(fig, f"fit_{model}_{backend}")
    record(
        statistic="R^2 of the predictive mean",
        value=fit.r2,
        threshold=_threshold(model),
        margin=_margin(model, fit.r2),
        seconds=fit.seconds,
    )
    assert get_spec(model).notebook.passes(fit.r2), f"R^2 {fit.r2:.4f} fails {_threshold(model)}"


@pytest.mark.parametrize("model", cases("r2"))
def test_r2_matches_notebook_value(model, backend, fit_cache, record):
    """R^2 at seed 666 within 0.01 of the value the notebook printed."""
    printed = get_spec(model).notebook.printed_r2
    fit = notebook_fit(model, NOTEBOOK_SEED, backend, fit_cache)
    gap = abs(fit.r2 - printed)
    record(
        statistic="|R^2 - notebook R^2|",
        value=gap,
        r2=fit.r2,
        notebook_r2=printed,
        threshold=NOTEBOOK_TOLERANCE,
        margin=NOTEBOOK_TOLERANCE - gap,
    )
    assert gap <= NOTEBOOK_TOLERANCE


@pytest.mark.parametrize("model", cases("r2_seeds"))
def test_r2_threshold_holds_over_seeds(model, backend, fit_cache, record):
    """The notebook's threshold holds on 5 other dataset seeds."""
    scores = {s: notebook_fit(model, s, backend, fit_cache).r2 for s in OTHER_SEEDS}
    values = np.array(list(scores.values()))
    record(
        statistic="R^2 on other dataset seeds",
        per_seed=scores,
        range=[float(values.min()), float(values.max())],
        threshold=_threshold(model),
        min_margin=min(_margin(model, r) for r in values),
    )
    failing = {s: r for s, r in scores.items() if not get_spec(model).notebook.passes(r)}
    assert not failing, f"threshold {_threshold(model)} fails at {failing}"
