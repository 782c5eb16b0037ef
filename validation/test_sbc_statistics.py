"""The SBC statistics on exact posterior draws (:mod:`validation.claims.sbc_statistics`): the
verdict's false-alarm rate and power, ranks, Holm and thinning on known answers."""

from __future__ import annotations

import pytest

from validation.claims import sbc_statistics as claims
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)

pytestmark = pytest.mark.sbc


def test_exact_posterior_draws_pass():
    claims.exact_posterior_draws_pass()


def test_posterior_20_percent_too_narrow_fails():
    claims.posterior_20_percent_too_narrow_fails()


def test_posterior_biased_by_a_quarter_sd_fails():
    claims.posterior_biased_by_a_quarter_sd_fails()


def test_prior_sampler_passes_every_parameter_but_fails_on_loglik():
    claims.prior_sampler_passes_every_parameter_but_fails_on_loglik()


def test_false_alarm_rate_of_the_verdict_on_exact_draws_is_at_most_alpha():
    claims.false_alarm_rate_of_the_verdict_is_at_most_alpha()


@pytest.mark.parametrize("fault", list(claims.POWER_FAULTS))
def test_power_of_the_verdict_at_500_replications(fault):
    claims.power_of_the_verdict_at_500_replications(fault)


def test_ranks_break_ties_at_random():
    claims.ranks_break_ties_at_random()


def test_ranks_count_draws_below_the_truth():
    claims.ranks_count_draws_below_the_truth()


def test_holm_adjusted_pvalues():
    claims.holm_adjusted_pvalues()


def test_thin_takes_evenly_spaced_pooled_draws():
    claims.thin_takes_evenly_spaced_pooled_draws()


@pytest.mark.parametrize(
    ("test", "fault"),
    [(t, f) for t, faults in claims.TEST_FAILURES.items() for f in faults],
)
def test_each_uniformity_test_alone_rejects_the_failure_it_is_there_for(test, fault, seed):
    claims.each_test_rejects_its_failure(test, fault, seed)


@pytest.mark.parametrize("test", list(claims.TEST_FAILURES))
def test_each_uniformity_test_holds_its_size_on_exact_draws(test, seed):
    claims.each_test_is_uniform_on_exact_draws(test, seed)


@pytest.mark.parametrize("replications", claims.GAMMA_SIZES)
def test_gamma_test_false_alarm_rate_within_twice_nominal(replications, seed):
    claims.gamma_false_alarm_within_twice_nominal(replications, seed)


def test_sequential_sbc_false_alarm_rate_is_at_most_alpha_over_its_looks(seed):
    claims.sequential_false_alarm_at_most_alpha(seed)


def test_sequential_sbc_stops_a_clear_failure_at_an_early_look(seed):
    claims.sequential_stops_early_on_a_clear_failure(seed)
