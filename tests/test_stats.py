"""The gamma statistic of the ranks' ECDF (Säilynoja et al. 2022): its exact null distribution
against a full enumeration, and its critical value."""

import itertools

import numpy as np
import pytest

from regmaster import stats


@pytest.mark.parametrize(("replications", "num_draws"), [(3, 2), (4, 3), (6, 4)])
def test_gamma_null_cdf_is_exact_against_every_rank_vector(replications, num_draws):
    # All (L + 1)^N equally likely rank vectors: the recursion gives their gamma's CDF exactly.
    ranks = np.array(list(itertools.product(range(num_draws + 1), repeat=replications))).T
    gamma = stats.gamma_statistic(ranks, num_draws)
    for value in np.unique(gamma):
        enumerated = np.mean(gamma <= value)
        assert stats.gamma_null_cdf(value, replications, num_draws) == pytest.approx(enumerated)


def test_gamma_of_ranks_piled_at_one_end_is_tiny_and_of_spread_ranks_near_one():
    piled = np.zeros((50, 1), dtype=int)
    spread = np.arange(100).reshape(100, 1)  # each rank once: the ECDF on the diagonal
    assert stats.gamma_pvalue(piled, 99)[0] < 1e-12
    assert stats.gamma_pvalue(spread, 99)[0] > 0.99


def test_gamma_critical_value_is_the_level_alpha_quantile():
    critical = stats.gamma_critical_value(100, 99, 0.01)
    assert stats.gamma_null_cdf(critical, 100, 99) <= 0.01
    assert stats.gamma_null_cdf(critical * 1.01, 100, 99) > 0.0095


def test_the_ecdf_leaves_the_gamma_band_exactly_when_the_gamma_test_rejects():
    rng = np.random.default_rng(11)
    n, num_draws, alpha = 100, 19, 0.05
    z, lower, upper = stats.gamma_band(n, num_draws, alpha)
    outcomes = set()
    for scale in (1.0, 0.8, 0.7) * 30:  # calibrated, 20% and 30% too narrow posteriors
        truth = rng.standard_normal(n)
        draws = scale * rng.standard_normal((n, num_draws))
        ranks = np.sum(draws < truth[:, None], axis=1)
        ecdf = np.cumsum(np.bincount(ranks, minlength=num_draws + 1))[:-1] / n
        inside = bool(np.all((lower <= ecdf) & (ecdf <= upper)))
        rejects = bool(stats.gamma_pvalue(ranks, num_draws)[0] <= alpha)
        assert inside != rejects, (scale, ranks)
        outcomes.add(rejects)
    assert outcomes == {True, False}  # both sides of the rule were seen
