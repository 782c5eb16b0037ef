"""The gamma statistic of the ranks' ECDF (Säilynoja et al. 2022): its exact null distribution
against a full enumeration, and its critical value; the one-sided test of a rising share."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom

from regmaster import stats
from regmaster.seeds import seed_from_name
from regmaster.verdicts import DIVERGENCE_RISE


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


@pytest.mark.parametrize(("n_a", "n_b", "k"), [(1000, 1000, 1), (1000, 1000, 10), (100, 200, 3)])
def test_rise_pvalue_is_the_chance_every_event_falls_in_the_current_run_when_none_did_before(
    n_a, n_b, k
):
    # k_a = 0: of the k events among n_a + n_b units, all k among the current run's n_b.
    expected = math.comb(n_b, k) / math.comb(n_a + n_b, k)
    assert stats.rise_pvalue((0, n_a), (k, n_b)) == pytest.approx(expected, rel=1e-9)


def test_rise_pvalue_rejects_at_most_alpha_of_runs_with_a_common_rate():
    # Exact, not simulated: every (k_a, k_b) of 30 replications each, weighted by its probability.
    n, ks = 30, np.arange(31)
    p = np.array([[stats.rise_pvalue((a, n), (b, n)) for b in ks] for a in ks])
    for rate in (0.02, 0.2, 0.5, 0.9):
        joint = np.outer(binom.pmf(ks, n, rate), binom.pmf(ks, n, rate))
        for alpha in (0.001, 0.01, 0.05):
            assert joint[p <= alpha].sum() <= alpha


def test_rise_pvalue_flags_twice_the_diverging_replications_at_release_size():
    # rff_gp_noncentred's release rate, 0.165, doubled: rejected in 100% of 20,000 simulated pairs
    # (docs/calibration.md#release-divergences); 1,000 pairs here.
    rng = np.random.default_rng(seed_from_name("rise_pvalue_flags_twice"))
    before, after = rng.binomial(1000, 0.165, 1000), rng.binomial(1000, 0.33, 1000)
    p = [stats.rise_pvalue((a, 1000), (b, 1000)) for a, b in zip(before, after, strict=True)]
    assert np.mean([not DIVERGENCE_RISE.holds(x) for x in p]) > 0.99


def test_rise_pvalue_refuses_more_events_than_units_naming_the_argument():
    with pytest.raises(ValueError, match=r"before must be .* got \(5, 3\)"):
        stats.rise_pvalue((5, 3), (1, 10))
