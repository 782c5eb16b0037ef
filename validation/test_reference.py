"""NUTS against reference posteriors nobody here wrote: ten posteriordb posteriors (Magnusson et
al. 2024), drawn by Stan's NUTS (10 x 1,000 near-independent draws), their Stan models translated
to NumPyro (:mod:`regmaster.posteriordb`; each translation's density matches Stan's up to a
constant, ``tests/test_posteriordb.py``).

Statistic (:mod:`regmaster.reference_draws`): for the mean, sd, 5% and 95% quantiles of every
parameter, z = (NUTS - reference) / sqrt(MCSE^2 + MCSE_ref^2), both MCSEs from ArviZ; after the
gate (R-hat, bulk and tail ESS, no divergence), Holm over every z of the posterior at
``REFERENCE_ALPHA`` (:func:`regmaster.verdicts.against_reference_draws`). False-alarm rate and
power measured over 100 runs per posterior: docs/calibration.md#posteriordb.
"""

from __future__ import annotations

import jax
import pytest

from regmaster import posteriordb, verdicts, zoo
from regmaster.plugin import INFERENCE
from regmaster.reference import GUIDE_DRAWS, check, distances, fit_draws, nuts_draws
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)
from validation.claims.reference import PASSING, measured

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("name", PASSING)
def test_nuts_matches_posteriordb_reference(name, backend, seed, record, check):
    """NUTS at CI size (4 x (1000 + 1000)) matches the reference draws."""
    figures, judged = measured(name, seed, "ci")
    record(**figures)
    check(*judged)


@pytest.mark.release
@pytest.mark.parametrize("name", PASSING)
def test_nuts_matches_posteriordb_reference_at_release_size(name, backend, seed, record, check):
    """NUTS at release size (4 x (1000 + 10000): MCSEs ~3x smaller) matches the reference."""
    figures, judged = measured(name, seed, "release")
    record(**figures)
    check(*judged)


@pytest.mark.parametrize("size", ["ci", pytest.param("release", marks=pytest.mark.release)])
def test_centred_eight_schools_is_flagged_against_the_noncentred_reference(
    size, backend, seed, record
):
    """The centred parametrisation's funnel: NUTS diverges and misses tau's lower tail, and the
    check says so (posteriordb's own known-bad pair)."""
    figures, judged = measured("eight_schools_centered", seed, size)
    record(**figures, failed=[v.name for v in verdicts.failed(judged)])
    assert verdicts.failed(judged), figures


@pytest.mark.xfail(
    strict=True,
    reason="NumPyro's default target acceptance 0.8 on the non-centred eight schools: divergent "
    "transitions in 73 of 100 CI-size runs (the z-scores hold in all 100); 0.95, the "
    "reference's own setting: 3 of 100 (docs/findings.md#eight-schools-divergences)",
)
def test_nuts_at_default_settings_on_noncentred_eight_schools_has_no_divergences(
    backend, seed, record
):
    """Without divergences in at least 19 of 20 runs, as the registered target 0.95 is (97 of
    100 runs without)."""
    posterior = posteriordb.get("eight_schools_noncentered")
    batch = nuts_draws(posterior, seed, runs=20, target_accept_prob=0.8)
    divergent = sum(batch.run(r)[1] > 0 for r in range(batch.count))
    record(model=posterior.name, divergent_runs=int(divergent), runs=batch.count)
    assert divergent <= 1, f"{divergent} of 20 runs diverge"


@pytest.mark.parametrize("guide", ["svi-mean-field", "svi-full-rank", "laplace"])
def test_each_gaussian_approximation_of_the_skewed_garch_posterior_is_flagged(
    guide, backend, seed, record
):
    """A Gaussian guide cannot hold GARCH's skewed, bounded posterior: the check flags each,
    and the record says how far it lands (mean gaps in reference sds, sd ratios;
    docs/calibration.md#posteriordb-guides)."""
    posterior = posteriordb.get("garch11")
    inputs, data = posterior.inputs_and_data()
    reference = posterior.reference_draws()
    draws, _ = fit_draws(
        posterior.model,
        jax.random.PRNGKey(seed),
        inputs,
        data,
        zoo.INFERENCES[guide],
        GUIDE_DRAWS,
        list(reference),
    )
    figures, judged = check(posterior, draws)
    label = zoo.describe_inference(zoo.INFERENCES[guide])
    record(model="garch11", **figures, distances=distances(draws, reference), **{INFERENCE: label})
    assert "reference_z" in [v.name for v in verdicts.failed(judged)], figures["max_abs_z"]
