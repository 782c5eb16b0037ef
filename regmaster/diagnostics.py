"""The one ArviZ adapter: every R-hat, ESS, MCSE and BFMI in regmaster goes through here.

Array functions take draws shaped ``(chain, draw, *shape)`` and return one value per element of
``shape``. R-hat is the rank-normalised split R-hat and ESS the bulk / tail ESS of Vehtari et al.
(2021), "Rank-normalization, folding, and localization: an improved R-hat".

References
----------
Vehtari, Gelman, Simpson, Carpenter, Bürkner (2021). Rank-normalization, folding, and
localization: an improved R-hat. Bayesian Analysis 16(2).
Betancourt (2016). Diagnosing suboptimal cotangent disintegrations in Hamiltonian Monte Carlo.
arXiv:1604.00695.
Säilynoja, Bürkner, Vehtari (2022). Graphical test for discrete uniformity and its applications
in goodness-of-fit evaluation and multiple sample comparison. Statistics and Computing 32.
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
    """Rank-normalised split R-hat per element (Vehtari et al. 2021).

    The classic R-hat sqrt(var_hat+ / W) of the chains split in halves, computed on the normal
    scores of the pooled ranks and on their folded version |x - median|; the larger of the two.

    Parameters
    ----------
    draws : array-like, shape (chain, draw, ...)
        Draws of one quantity.

    Returns
    -------
    ndarray, shape (...)
        One value per element.
    """
    return _per_element(_arviz().rhat, draws, method="rank")


def ess_bulk(draws) -> np.ndarray:
    """Bulk effective sample size per element (all chains together).

    ESS = N / tau, tau the integrated autocorrelation time of the rank-normalised split chains
    (Vehtari et al. 2021).

    Parameters
    ----------
    draws : array-like, shape (chain, draw, ...)
        Draws of one quantity.

    Returns
    -------
    ndarray, shape (...)
        One value per element.
    """
    return _per_element(_arviz().ess, draws, method="bulk")


def ess_tail(draws) -> np.ndarray:
    """Tail ESS per element: the smaller ESS of the 5% and 95% quantile indicators.

    Vehtari et al. (2021); the quantiles are :data:`TAIL_PROB`, passed explicitly.

    Parameters
    ----------
    draws : array-like, shape (chain, draw, ...)
        Draws of one quantity.

    Returns
    -------
    ndarray, shape (...)
        One value per element.
    """
    return _per_element(_arviz().ess, draws, method="tail", prob=TAIL_PROB)


def mcse_mean(draws) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean per element.

    MCSE = sd / sqrt(ESS), the ESS of the mean (not rank-normalised), as ArviZ computes it.

    Parameters
    ----------
    draws : array-like, shape (chain, draw, ...)
        Draws of one quantity.

    Returns
    -------
    ndarray, shape (...)
        One value per element.
    """
    return _per_element(_arviz().mcse, draws, method="mean")


def mcse_sd(draws) -> np.ndarray:
    """Monte Carlo standard error of the posterior standard deviation per element.

    The delta method, as ArviZ computes it: MCSE = sqrt(Var_hat(e) / ESS(e) / (4 var_hat)),
    e = (x - x_bar)^2 the squared deviations and var_hat their mean.

    Parameters
    ----------
    draws : array-like, shape (chain, draw, ...)
        Draws of one quantity.

    Returns
    -------
    ndarray, shape (...)
        One value per element.
    """
    return _per_element(_arviz().mcse, draws, method="sd")


def mcse_quantile(draws, prob: float) -> np.ndarray:
    """Monte Carlo standard error of the ``prob`` quantile per element.

    From the ESS of the indicator I(x <= q_prob) and the interval of the binomial count it
    implies, as ArviZ computes it (Vehtari et al. 2021, section 4.3).

    Parameters
    ----------
    draws : array-like, shape (chain, draw, ...)
        Draws of one quantity.
    prob : float
        The quantile's level, in (0, 1).

    Returns
    -------
    ndarray, shape (...)
        One value per element.
    """
    return _per_element(_arviz().mcse, draws, method="quantile", prob=prob)


def bfmi(energy) -> np.ndarray:
    """Energy Bayesian fraction of missing information (E-BFMI), one value per chain.

    E-BFMI = mean_n (E_n - E_{n-1})^2 / var(E) (Betancourt 2016); small values mean the momentum
    resampling moves the energy too little to explore the posterior.

    Parameters
    ----------
    energy : array-like, shape (chain, draw)
        The Hamiltonian energy of each transition.

    Returns
    -------
    ndarray, shape (chain,)
        E-BFMI of each chain.
    """
    energy = np.asarray(energy, dtype=float)
    if energy.ndim != 2:
        raise ValueError(f"energy must be shaped (chain, draw), got shape {energy.shape}")
    return np.asarray(_arviz().bfmi(energy))


def to_inference_data(mcmc) -> az.InferenceData:
    """A NumPyro ``MCMC`` run as ArviZ ``InferenceData`` (posterior, sample_stats, observed).

    Parameters
    ----------
    mcmc : numpyro.infer.MCMC
        A finished run.

    Returns
    -------
    arviz.InferenceData
        Its groups, as ``arviz.from_numpyro`` builds them.
    """
    return _arviz().from_numpyro(mcmc)


def convergence_summary(draws: dict[str, np.ndarray]) -> dict[str, float]:
    """Worst-case figures over every element of every quantity in ``draws``.

    ``draws`` maps a name to an array shaped ``(chain, draw, ...)``. Returns the maximum R-hat and
    the minimum bulk and tail ESS, each also per chain.

    Parameters
    ----------
    draws : dict
        Name -> draws shaped ``(chain, draw, ...)``; every entry has the same chain count.

    Returns
    -------
    dict
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``min_ess_bulk_per_chain``,
        ``min_ess_tail_per_chain``.
    """
    max_rhat, min_bulk, min_tail = 0.0, np.inf, np.inf
    for values in draws.values():
        if np.size(values) == 0:  # a site with no elements has nothing to diagnose
            continue
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
    """ArviZ's simultaneous ECDF band (optimised method) at ``points``.

    Säilynoja et al. (2022): a band that holds the whole ECDF of ``num_samples`` draws from the
    reference distribution with probability ``prob``.

    Parameters
    ----------
    num_samples : int
        Draws behind the ECDF.
    points : array-like
        Where the band is evaluated.
    cdf_at_points : array-like
        The reference CDF at ``points``.
    prob : float
        The simultaneous coverage.

    Returns
    -------
    lower, upper : ndarray
        The band at ``points``.
    """
    from arviz.stats.ecdf_utils import ecdf_confidence_band as _band

    return _band(
        num_samples, np.asarray(points), np.asarray(cdf_at_points), prob=prob, method="optimized"
    )


def _as_inference_data(draws: dict[str, np.ndarray]):
    """``{name: (chain, draw, ...)}`` as an ArviZ posterior group."""
    return _arviz().from_dict(posterior={k: np.asarray(v) for k, v in draws.items()})


def summary_table(draws: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """ArviZ's summary (mean, sd, 94% HDI, MCSE, bulk and tail ESS, R-hat) per scalar quantity.

    Parameters
    ----------
    draws : dict
        Name -> draws shaped ``(chain, draw, ...)``.

    Returns
    -------
    dict
        ArviZ's row label (``w[0]``, ``sigma``, ...) -> column name -> value.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        frame = _arviz().summary(_as_inference_data(draws), round_to="none")
    return {
        str(row): {str(k): float(v) for k, v in values.items()} for row, values in frame.iterrows()
    }


def rank_trace_figure(draws: dict[str, np.ndarray], max_quantities: int = 6):
    """ArviZ's trace plot with rank bars (Vehtari et al. 2021) of up to ``max_quantities``
    quantities: chains that mix give bars of even height in every chain.

    Parameters
    ----------
    draws : dict
        Name -> draws shaped ``(chain, draw, ...)``.
    max_quantities : int
        The first this many quantities are shown.

    Returns
    -------
    matplotlib.figure.Figure
        Density per chain on the left, rank bars per chain on the right.
    """
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
