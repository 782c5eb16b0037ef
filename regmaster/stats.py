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

import functools

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


def _pointwise_tail(counts: np.ndarray, replications: int, z: np.ndarray) -> np.ndarray:
    """2 min(P(K <= k), P(K >= k)), capped at 1, for K ~ Binomial(N, z): how far the ECDF's
    count k at z stands in either tail."""
    from scipy import stats as sps

    below = sps.binom.cdf(counts, replications, z)
    above = sps.binom.sf(counts - 1, replications, z)
    return np.minimum(1.0, 2.0 * np.minimum(below, above))


def gamma_statistic(ranks: np.ndarray, num_draws: int) -> np.ndarray:
    """Säilynoja et al. (2022)'s gamma, per column: the smallest pointwise two-sided binomial
    tail probability of the ranks' ECDF at z_j = j / (L + 1), j = 1..L.

    With K_j = #{r < j}, K_j ~ Binomial(N, z_j) under uniformity and
    gamma = min_j 2 min(P(K <= K_j), P(K >= K_j)).

    Parameters
    ----------
    ranks : ndarray, shape (N,) or (N, Q)
        Integer ranks in {0, ..., L}.
    num_draws : int
        L.

    Returns
    -------
    ndarray, shape (Q,)
        gamma of each column, in (0, 1].
    """
    ranks = np.atleast_2d(np.asarray(ranks).T).T.astype(int)
    _, tails = _tail_table(ranks.shape[0], num_draws)  # the values the p-value's band compares
    counts = np.stack([np.cumsum(np.bincount(c, minlength=num_draws + 1))[:-1] for c in ranks.T])
    return tails[np.arange(num_draws), counts].min(axis=1)


def _probability_inside(lower, upper, replications: int, z: np.ndarray) -> float:
    """P(lower_j <= K_j <= upper_j for every j) for the cumulative counts K_j of N uniform
    ranks at the grid z: K_j given K_{j-1} = a adds Binomial(N - a, (z_j - z_{j-1}) /
    (1 - z_{j-1})), a Markov chain; the recursion carries its law inside the band."""
    from scipy import stats as sps

    law = np.zeros(replications + 1)
    law[0] = 1.0
    previous = 0.0
    for lo, hi, zj in zip(lower, upper, z, strict=True):
        alive = np.nonzero(law)[0]
        if alive.size == 0 or hi < lo:
            return 0.0
        step = (zj - previous) / (1.0 - previous)
        targets = np.arange(lo, hi + 1)
        moves = sps.binom.pmf(
            targets[None, :] - alive[:, None], replications - alive[:, None], step
        )  # (alive, targets); a negative increment has probability 0
        inside = law[alive] @ moves
        law = np.zeros(replications + 1)
        law[lo : hi + 1] = inside
        previous = zj
    return float(law.sum())


def gamma_pvalue(ranks: np.ndarray, num_draws: int) -> np.ndarray:
    """The exact p-value of :func:`gamma_statistic` for discrete uniform ranks, per column.

    p = P(gamma_0 <= gamma) = 1 - P(every K_j inside the band where the pointwise tail
    exceeds gamma), computed by the recursion over the grid (Säilynoja et al. 2022, section
    2.2): exact for the ranks' discreteness, no simulation, no jitter.

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
    ranks = np.atleast_2d(np.asarray(ranks).T).T
    gammas = gamma_statistic(ranks, num_draws)
    return np.array([gamma_null_cdf(g, ranks.shape[0], num_draws) for g in gammas])


@functools.lru_cache(maxsize=16)
def _tail_table(replications: int, num_draws: int) -> tuple[np.ndarray, np.ndarray]:
    """The grid z_j = j / (L + 1) and the pointwise tail of every count 0..N there, (L, N + 1):
    the same for every gamma of (N, L), so computed once (a bisection asks ~40 times)."""
    z = np.arange(1, num_draws + 1) / (num_draws + 1)
    tails = _pointwise_tail(np.arange(replications + 1)[None, :], replications, z[:, None])
    z.flags.writeable = tails.flags.writeable = False  # shared by every caller
    return z, tails


def gamma_null_cdf(gamma: float, replications: int, num_draws: int) -> float:
    """P(gamma_0 <= gamma) for N ranks uniform on {0, ..., L}: the p-value of an observed gamma.

    Parameters
    ----------
    gamma : float
        The observed statistic (:func:`gamma_statistic`).
    replications : int
        N.
    num_draws : int
        L.

    Returns
    -------
    float
        The probability, in [0, 1].
    """
    band = _counts_inside(gamma, replications, num_draws)
    if band is None:
        return 1.0  # no count beats gamma somewhere: every ECDF does as badly
    z, lower, upper = band
    return float(np.clip(1.0 - _probability_inside(lower, upper, replications, z), 0.0, 1.0))


def _counts_inside(gamma: float, replications: int, num_draws: int):
    """At each z_j, the interval [lower_j, upper_j] of counts whose pointwise tail exceeds
    ``gamma`` (an interval: the tail is unimodal); None where no count does somewhere."""
    z, tails = _tail_table(replications, num_draws)
    inside = tails > gamma
    if not inside.any(axis=1).all():
        return None
    return z, inside.argmax(axis=1), replications - inside[:, ::-1].argmax(axis=1)


def gamma_band(replications: int, num_draws: int, alpha: float):
    """The gamma test's simultaneous ECDF band: the ranks' ECDF stays inside it at every grid
    point exactly when :func:`gamma_pvalue` exceeds ``alpha``.

    At z_j = j / (L + 1) the band holds the counts K_j whose pointwise two-sided binomial tail
    exceeds the critical gamma (:func:`gamma_critical_value`), as fractions of N (Säilynoja et
    al. 2022): exact for discrete ranks, the picture and the test one rule.

    Parameters
    ----------
    replications : int
        N.
    num_draws : int
        L.
    alpha : float
        The test's level; the band's simultaneous coverage is at least 1 - alpha.

    Returns
    -------
    z, lower, upper : ndarray, shape (L,)
        The grid and the band of the ECDF there.
    """
    z, lower, upper = _counts_inside(
        gamma_critical_value(replications, num_draws, alpha), replications, num_draws
    )
    return z, lower / replications, upper / replications


@functools.lru_cache(maxsize=64)
def gamma_critical_value(replications: int, num_draws: int, alpha: float) -> float:
    """The largest gamma with P(gamma_0 <= gamma) <= alpha: gamma <= it rejects at level alpha.

    Found by bisection on log gamma over :func:`gamma_null_cdf` (about 40 recursions), cached
    per (N, L, alpha); the ECDF band of level 1 - alpha has this pointwise tail probability.

    Parameters
    ----------
    replications : int
        N.
    num_draws : int
        L.
    alpha : float
        The test's level, in (0, 1).

    Returns
    -------
    float
        The critical gamma.
    """
    low, high = -60.0, 0.0  # log gamma: cdf(e^low) <= alpha < cdf(e^high) = 1
    for _ in range(40):
        middle = 0.5 * (low + high)
        if gamma_null_cdf(float(np.exp(middle)), replications, num_draws) <= alpha:
            low = middle
        else:
            high = middle
    # The cdf steps only at the table's tail values: the answer is the largest one at which it
    # stays <= alpha, exactly (tails equal in exact arithmetic can differ by 1e-13 in floats).
    values = np.unique(_tail_table(replications, num_draws)[1])
    near = values[values <= np.exp(high)][::-1]
    for value in near[: 1 + np.searchsorted(-near, -np.exp(low), side="right")]:
        if gamma_null_cdf(float(value), replications, num_draws) <= alpha:
            return float(value)
    return float(np.exp(low))  # no tail value below alpha's quantile (a tiny N)


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


def rise_pvalue(before: tuple[int, int], after: tuple[int, int]) -> float:
    """One-sided p-value that a share rose: Fisher's exact test on two counts of events.

    With ``before = (k_a, n_a)`` (k_a of n_a units had the event) and ``after = (k_b, n_b)``, and
    the same rate in both under the null, k_b given k_a + k_b is hypergeometric: drawing n_b of
    the n_a + n_b units, k_a + k_b of which are marked. The p-value is
    P(K >= k_b) for K ~ Hypergeom(n_a + n_b, k_a + k_b, n_b). Conditioning on the total makes
    the test exact whatever the common rate (size <= alpha; below it where counts are small).

    Parameters
    ----------
    before, after : (int, int)
        (units with the event, units) of the baseline and of the current run.

    Returns
    -------
    float
        The p-value; 1 where ``after`` has no event.

    References
    ----------
    Fisher (1935). The logic of inductive inference. Journal of the Royal Statistical Society
    98(1).
    """
    from scipy import stats as sps

    (k_a, n_a), (k_b, n_b) = before, after
    for name, (k, n) in {"before": before, "after": after}.items():
        if not (0 <= k <= n and n > 0):
            raise ValueError(
                f"{name} must be (events, units) with 0 <= events <= units, got {(k, n)}"
            )
    return float(sps.hypergeom.sf(k_b - 1, n_a + n_b, k_a + k_b, n_b))


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
