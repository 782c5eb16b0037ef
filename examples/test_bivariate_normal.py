"""Marginal ranks miss a sampler that ignores the data and one that drops a correlation; the
log-likelihood and mu[0] +- mu[1] catch them (Modrak et al. 2023), 200 replications each."""

from examples.bivariate_normal import EXACT, NO_CORRELATION, PRIOR_ONLY
from regmaster import run_sbc
from regmaster.verdicts import SBC_ALPHA

ALPHA = SBC_ALPHA.value


def _holm(spec, seed):
    return {row["name"]: row["pvalue"] for row in run_sbc(spec, seed=seed).rows()}


def test_exact_posterior_draws_pass_every_quantity():
    # False alarm <= 0.01 (Holm over every test of every quantity).
    result = run_sbc(EXACT, seed=0)
    assert result.passed, result.rows()


def test_a_prior_only_sampler_passes_the_marginals_and_fails_the_log_likelihood():
    # Its marginal ranks are exactly uniform (the truths come from the prior): they reject with
    # probability <= 0.01; at seed 0 the log-likelihood's Holm p is 1.4e-246.
    p = _holm(PRIOR_ONLY, seed=0)
    assert p["mu[0]"] > ALPHA and p["mu[1]"] > ALPHA, p
    assert p["loglik"] <= ALPHA, p


def test_a_posterior_without_its_correlation_passes_the_marginals_fails_sum_and_difference():
    # The marginals are exactly right (false alarm <= 0.01); at seed 0 mu[0] - mu[1] has Holm p
    # 9.6e-18 and mu[0] + mu[1] 4.5e-4: the first too wide, the second too narrow.
    p = _holm(NO_CORRELATION, seed=0)
    assert p["mu[0]"] > ALPHA and p["mu[1]"] > ALPHA, p
    assert p["mu[0]-mu[1]"] <= ALPHA and p["mu[0]+mu[1]"] <= ALPHA, p
