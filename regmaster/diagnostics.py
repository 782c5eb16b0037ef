"""The one ArviZ adapter: every R-hat, ESS, MCSE and BFMI in regmaster goes through here.

Array functions take draws shaped ``(chain, draw, *shape)`` and return one value per element of
``shape``. R-hat is the rank-normalised split R-hat and ESS the bulk / tail ESS of Vehtari et al.
(2021), "Rank-normalization, folding, and localization: an improved R-hat".
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import arviz as az

TAIL_PROB = (0.05, 0.95)  # pass explicitly: arviz-stats defaults differ from arviz 0.23


@functools.cache
def _arviz():
    """ArviZ, imported on first use: it takes over a second, and fitting does not need it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


def _per_element(fn, draws, **kwargs) -> np.ndarray:
    draws = np.asarray(draws, dtype=float)
    if draws.ndim < 2:
        raise ValueError(f"draws must be shaped (chain, draw, ...), got shape {draws.shape}")
    shape = draws.shape[2:]
    flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
    dataset = _arviz().convert_to_dataset({"q": flat})
    return np.asarray(fn(dataset, **kwargs)["q"].values).reshape(shape)


def rhat(draws) -> np.ndarray:
    """Rank-normalised split R-hat per element."""
    return _per_element(_arviz().rhat, draws, method="rank")


def ess_bulk(draws) -> np.ndarray:
    """Bulk effective sample size per element (all chains together)."""
    return _per_element(_arviz().ess, draws, method="bulk")


def ess_tail(draws) -> np.ndarray:
    """Tail ESS per element: the smaller ESS of the 5% and 95% quantile indicators."""
    return _per_element(_arviz().ess, draws, method="tail", prob=TAIL_PROB)


def mcse_mean(draws) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean per element."""
    return _per_element(_arviz().mcse, draws, method="mean")


def mcse_sd(draws) -> np.ndarray:
    """Monte Carlo standard error of the posterior standard deviation per element."""
    return _per_element(_arviz().mcse, draws, method="sd")


def bfmi(energy) -> np.ndarray:
    """Energy Bayesian fraction of missing information (E-BFMI), one value per chain."""
    energy = np.asarray(energy, dtype=float)
    if energy.ndim != 2:
        raise ValueError(f"energy must be shaped (chain, draw), got shape {energy.shape}")
    return np.asarray(_arviz().bfmi(energy))


def to_inference_data(mcmc) -> az.InferenceData:
    """A NumPyro ``MCMC`` run as ArviZ ``InferenceData`` (posterior, sample_stats, observed)."""
    return _arviz().from_numpyro(mcmc)


def convergence_summary(draws: dict[str, np.ndarray]) -> dict[str, float]:
    """Worst-case figures over every element of every quantity in ``draws``.

    ``draws`` maps a name to an array shaped ``(chain, draw, ...)``. Returns the maximum R-hat and
    the minimum bulk and tail ESS, each also per chain.
    """
    max_rhat, min_bulk, min_tail = 0.0, np.inf, np.inf
    for values in draws.values():
        max_rhat = max(max_rhat, float(np.max(rhat(values))))
        min_bulk = min(min_bulk, float(np.min(ess_bulk(values))))
        min_tail = min(min_tail, float(np.min(ess_tail(values))))
    chains = next(iter(draws.values())).shape[0]
    return {
        "max_rhat": max_rhat,
        "min_ess_bulk": min_bulk,
        "min_ess_tail": min_tail,
        "min_ess_bulk_per_chain": min_bulk / chains,
        "min_ess_tail_per_chain": min_tail / chains,
    }


def ecdf_confidence_band(num_samples: int, points, cdf_at_points, prob: float = 0.99):
    """ArviZ's simultaneous ECDF band (optimised method) at ``points``."""
    from arviz.stats.ecdf_utils import ecdf_confidence_band as _band

    return _band(
        num_samples, np.asarray(points), np.asarray(cdf_at_points), prob=prob, method="optimized"
    )


def _as_inference_data(draws: dict[str, np.ndarray]):
    """``{name: (chain, draw, ...)}`` as an ArviZ posterior group."""
    return _arviz().from_dict(posterior={k: np.asarray(v) for k, v in draws.items()})


def summary_table(draws: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """ArviZ's summary (mean, sd, 94% HDI, MCSE, bulk and tail ESS, R-hat) per scalar quantity."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        frame = _arviz().summary(_as_inference_data(draws), round_to="none")
    return {
        str(row): {str(k): float(v) for k, v in values.items()} for row, values in frame.iterrows()
    }


def rank_trace_figure(draws: dict[str, np.ndarray], max_quantities: int = 6):
    """ArviZ's trace plot with rank bars (Vehtari et al. 2021) of up to ``max_quantities``
    quantities: chains that mix give bars of even height in every chain."""
    names = list(draws)[:max_quantities]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        axes = _arviz().plot_trace(
            _as_inference_data({k: draws[k] for k in names}),
            kind="rank_bars",
            compact=True,
            figsize=(11, 1.8 * len(names)),
        )
    fig = np.asarray(axes).flat[0].figure
    fig.suptitle("left: posterior density per chain; right: rank bars per chain", fontsize=9)
    fig.tight_layout()
    return fig
