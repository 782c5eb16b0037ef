"""Eight schools (Rubin 1981; Gelman et al., Bayesian Data Analysis, section 5.5), described to
regmaster as a user describes their own model: a NumPyro model and a ``ModelSpec``.

The centred form puts NUTS in a funnel between tau and the school effects, so SBC flags tau
(Talts et al. 2018, section 5.2); the non-centred form samples the same law and passes.
"""

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from regmaster import ModelSpec, RunLengths, SBCSettings

SIGMA = (15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0)  # the schools' standard errors


def centred(sigma, y=None):
    """mu ~ N(0, 5), tau ~ HalfCauchy(5), theta_j ~ N(mu, tau), y_j ~ N(theta_j, sigma_j)."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(sigma)):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def noncentred(sigma, y=None):
    """The same law with theta_j = mu + tau * eta_j, eta_j ~ N(0, 1)."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(sigma)):
        eta = numpyro.sample("eta", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * eta)
        numpyro.sample("y", dist.Normal(theta, jnp.asarray(sigma)), obs=y)


def _settings(**changes) -> SBCSettings:
    base = dict(
        inputs=SIGMA,
        observed="y",
        probe_x=None,
        lengths=RunLengths(num_warmup=500, num_samples=500, num_chains=2),
        replications_ci=200,
    )
    return SBCSettings(**(base | changes))


CENTRED = ModelSpec(
    name="eight_schools_centred", title="Eight schools, centred", model=centred, sbc=_settings()
)
NONCENTRED = ModelSpec(
    name="eight_schools_noncentred",
    title="Eight schools, non-centred",
    model=noncentred,
    target_accept_prob=0.95,  # at NumPyro's 0.8, 6 of 4000 transitions diverge on the data
    sbc=_settings(),
)
