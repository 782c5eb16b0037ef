"""Uniformity tests for SBC ranks, and Holm's step-down correction. Plain functions on arrays.

Ranks r are integers in {0, ..., L}; under exact inference each is uniform on that set
(Talts et al. 2018). Jittered ranks u = (r + U) / (L + 1), U ~ U(0, 1), are then exactly U(0, 1),
so continuous tests apply to them without a discreteness correction.

References
----------
Talts, Betancourt, Simpson, Vehtari, Gelman (2018). Validating Bayesian inference algorithms with
simulation-based calibration. arXiv:1804.06788.
Holm (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal of
Statistics 6(2).
Säilynoja, Bürkner, Vehtari (2022). Graphical test for discrete uniformity and its applications
in goodness-of-fit evaluation and multiple sample comparison. Statistics and Computing 32.
"""

from __future__ import annotations

import numpy as np

# scipy.stats is imported inside the functions that use it: it takes ~0.4 s to load, and fitting a
# model (regmaster fit, its worker processes) never needs it.

TESTS = ("chi2", "ks", "mean", "spread")


def jitter(ranks: np.ndarray, num_draws: int, rng: np.random.Generator) -> np.ndarray:
    """u = (r + U) / (L + 1): exactly U(0, 1) when r is uniform on {0, ..., L}.

    Parameters
    ----------
    ranks : ndarray
        Integer ranks in {0, ..., L}.
    num_draws : int
        L, the posterior draws each rank was taken among.
    rng : numpy.random.Generator
        Source of U ~ U(0, 1), one per rank.

    Returns
    -------
    ndarray
        u, shaped like ``ranks``.
    """
    return (np.asarray(ranks) + rng.uniform(size=np.shape(ranks))) / (num_draws + 1)


def num_bins(replications: int, num_draws: int) -> int:
    """Equal-probability chi-square bins: a divisor of L + 1, with >= 5 expected counts each.

    The largest divisor b <= 50 of L + 1 with N / b >= 5; the smallest divisor when none fits.

    Parameters
    ----------
    replications : int
        N, the ranks per quantity.
    num_draws : int
        L.

    Returns
    -------
    int
        The number of bins b.
    """
    divisors = [b for b in range(2, num_draws + 2) if (num_draws + 1) % b == 0]
    fitting = [b for b in divisors if replications / b >= 5 and b <= 50]
    return max(fitting) if fitting else min(divisors)


def chi2_pvalue(ranks: np.ndarray, num_draws: int) -> np.ndarray:
    """Pearson chi-square on equal-probability bins of the ranks, per column.

    X^2 = sum_b (O_b - N/b)^2 / (N/b) over the :func:`num_bins` bins, on b - 1 degrees of freedom
    (Talts et al. 2018).

    Parameters
    ----------
    ranks : ndarray, shape (N,) or (N, Q)
        Integer ranks in {0, ..., L}.
    num_draws : int
        L.

    Returns
    -------
    ndarray, shape (Q,)
        One p-value per column.
    """
    from scipy import stats as sps

    ranks = np.atleast_2d(np.asarray(ranks).T).T
    bins = num_bins(ranks.shape[0], num_draws)
    width = (num_draws + 1) // bins
    counts = np.stack([np.bincount(col // width, minlength=bins) for col in ranks.T.astype(int)])
    return sps.chisquare(counts, axis=1).pvalue


def ks_pvalue(u: np.ndarray) -> np.ndarray:
    """Kolmogorov-Smirnov against U(0, 1) on jittered ranks, per column (exact p-values).

    Parameters
    ----------
    u : ndarray, shape (N,) or (N, Q)
        Jittered ranks (:func:`jitter`).

    Returns
    -------
    ndarray, shape (Q,)
        One p-value per column.
    """
    from scipy import stats as sps

    u = np.atleast_2d(np.asarray(u).T).T
    return np.array([sps.kstest(col, "uniform").pvalue for col in u.T])


def mean_pvalue(u: np.ndarray) -> np.ndarray:
    """Two-sided z-test of E[u] = 1/2 (var 1/12): a biased posterior shifts the ranks.

    z = (u_bar - 1/2) / sqrt(1 / (12 N)), p = 2 (1 - Phi(|z|)).

    Parameters
    ----------
    u : ndarray, shape (N,) or (N, Q)
        Jittered ranks (:func:`jitter`).

    Returns
    -------
    ndarray, shape (Q,)
        One p-value per column.
    """
    from scipy import stats as sps

    u = np.atleast_2d(np.asarray(u).T).T
    z = (u.mean(axis=0) - 0.5) / np.sqrt(1.0 / (12.0 * u.shape[0]))
    return 2.0 * sps.norm.sf(np.abs(z))


def spread_pvalue(u: np.ndarray) -> np.ndarray:
    """Two-sided z-test of E[(u - 1/2)^2] = 1/12 (var 1/180).

    Too narrow a posterior puts ranks at both ends (larger spread), too wide a posterior in the
    middle (smaller spread). z = (mean of (u - 1/2)^2 - 1/12) / sqrt(1 / (180 N)).

    Parameters
    ----------
    u : ndarray, shape (N,) or (N, Q)
        Jittered ranks (:func:`jitter`).

    Returns
    -------
    ndarray, shape (Q,)
        One p-value per column.
    """
    from scipy import stats as sps

    u = np.atleast_2d(np.asarray(u).T).T
    z = (((u - 0.5) ** 2).mean(axis=0) - 1.0 / 12.0) / np.sqrt(1.0 / (180.0 * u.shape[0]))
    return 2.0 * sps.norm.sf(np.abs(z))


def uniformity_pvalues(
    ranks: np.ndarray, num_draws: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """All four tests for each column of ``ranks`` (shape (replications, quantities)).

    Parameters
    ----------
    ranks : ndarray, shape (N, Q)
        Integer ranks in {0, ..., L}.
    num_draws : int
        L.
    rng : numpy.random.Generator
        Source of the jitter.

    Returns
    -------
    dict
        ``chi2``, ``ks``, ``mean``, ``spread`` -> p-values, shape (Q,).
    """
    u = jitter(ranks, num_draws, rng)
    return {
        "chi2": chi2_pvalue(ranks, num_draws),
        "ks": ks_pvalue(u),
        "mean": mean_pvalue(u),
        "spread": spread_pvalue(u),
    }


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; rejecting adjusted p <= alpha keeps FWER <= alpha.

    Valid under any dependence between the tests. With p_(1) <= ... <= p_(m),
    p_adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j)).

    Parameters
    ----------
    pvalues : array-like
        The m p-values, of any shape.

    Returns
    -------
    ndarray
        The adjusted p-values, shaped like ``pvalues``.
    """
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    order = np.argsort(flat)
    m = flat.size
    stepped = np.minimum(1.0, (m - np.arange(m)) * flat[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted.reshape(p.shape)


def ecdf_band(replications: int, num_points: int = 100, prob: float = 0.99):
    """Simultaneous ECDF band for U(0, 1) samples (Saeilynoja et al. 2022), through ArviZ.

    Returns the evaluation points and the lower and upper band of the ECDF.

    Parameters
    ----------
    replications : int
        Samples behind the ECDF.
    num_points : int
        The band is evaluated at the ``num_points - 1`` interior points of a uniform grid on [0, 1].
    prob : float
        The simultaneous coverage.

    Returns
    -------
    points, lower, upper : ndarray
        Evaluation points and the band there.
    """
    from .diagnostics import ecdf_confidence_band

    points = np.linspace(0.0, 1.0, num_points + 1)[1:-1]
    lower, upper = ecdf_confidence_band(replications, points, points, prob=prob)
    return points, lower, upper
