"""Known answers: models whose right SBC verdict is known from the literature, run as acceptance
tests of the validator itself (seeds from the test ids; 200 replications, 2 chains x (500 + 500)).

- centred eight schools with NUTS: tau is not recovered (Talts et al. 2018, section 5.2): flagged;
- non-centred eight schools: passes (``examples/test_eight_schools.py``);
- inference with the wrong observation noise (twice the generator's): flagged;
- a "sampler" that ignores the data and returns the prior (regmaster's linear model, its
  likelihood cancelled): every parameter's ranks are uniform, the log-likelihood's are not
  (Modrak et al. 2023): flagged, by the log-likelihood alone.
"""

import dataclasses

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from examples.eight_schools import CENTRED, NONCENTRED
from regmaster import get_spec, run_sbc
from regmaster.verdicts import sbc_passed


def _flagged(result) -> bool:
    """Rejected by the SBC rule: the rank tests or the health of the thinned draws."""
    return not sbc_passed(result)


def test_centred_eight_schools_is_flagged(regmaster):
    result = regmaster.sbc(CENTRED)
    assert _flagged(result), result.rows()


def _noncentred_with_noise_scale(scale: float):
    def model(sigma, y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
        with numpyro.plate("school", len(sigma)):
            eta = numpyro.sample("eta", dist.Normal(0.0, 1.0))
            numpyro.sample("y", dist.Normal(mu + tau * eta, scale * sigma), obs=y)

    return model


def test_inference_with_twice_the_noise_is_flagged(seed):
    spec = dataclasses.replace(NONCENTRED, model=_noncentred_with_noise_scale(1.0))
    result = run_sbc(spec, seed=seed, inference_model=_noncentred_with_noise_scale(2.0))
    assert not result.passed, result.rows()


def _linear_ignoring_the_data(x, y=None, *, degree):
    """regmaster's linear model with the likelihood cancelled: its posterior is its prior."""
    w = numpyro.sample("w", dist.Normal(jnp.zeros(degree + 1), 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    f = w[0] + w[1] * x
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)
    if y is not None:
        numpyro.factor("forget", -dist.Normal(f, sigma).log_prob(y).sum())


def test_a_sampler_that_returns_the_prior_is_flagged_by_the_log_likelihood(seed):
    linear = get_spec("linear")  # ranked without its probe: the twin has no site f
    spec = dataclasses.replace(linear, sbc=dataclasses.replace(linear.sbc, probe_x=None))
    result = run_sbc(spec, seed=seed, inference_model=_linear_ignoring_the_data)
    by_name = {row["name"]: row["pvalue"] for row in result.rows()}
    assert by_name["loglik"] <= result.alpha, by_name
    assert all(p > result.alpha for name, p in by_name.items() if name != "loglik"), by_name
