"""What marginal ranks miss (Modrak et al. 2023): a bivariate normal mean with a known posterior,
sampled three ways through :class:`regmaster.OwnSampler` (``examples/test_bivariate_normal.py``).

mu ~ N(0, I_2), y_i ~ N(mu, Sigma) with Sigma = [[1, 0.8], [0.8, 1]], i = 1..3: the posterior is
N(m, S), S = (I + n Sigma^-1)^-1, m = S Sigma^-1 sum_i y_i, its components correlated. Three
samplers: the exact posterior; the prior (it ignores the data); and the posterior without its
correlation (the right marginals, S's off-diagonal set to 0). The last two have exactly uniform
marginal ranks for mu[0] and mu[1]: only quantities that depend on the data or on both
components see them, the log-likelihood for the prior, mu[0] + mu[1] and mu[0] - mu[1] for the
missing correlation.

    regmaster sbc --model examples.bivariate_normal:NO_CORRELATION
    regmaster sbc --model examples.bivariate_normal:MARGINALS_ONLY --json run.json
    regmaster rank run.draws.npz --quantity "mu[0]-mu[1]=examples.bivariate_normal:mu_difference"
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from regmaster import ModelSpec, OwnSampler, RunLengths, SBCSettings

SIGMA = jnp.array([[1.0, 0.8], [0.8, 1.0]])
NUM_OBS = 3
PRECISION = jnp.linalg.inv(SIGMA)
POSTERIOR_COV = jnp.linalg.inv(jnp.eye(2) + NUM_OBS * PRECISION)


def bivariate_normal(x, y=None):
    mu = numpyro.sample("mu", dist.MultivariateNormal(jnp.zeros(2), jnp.eye(2)))
    with numpyro.plate("obs", x.shape[0]):
        numpyro.sample("y", dist.MultivariateNormal(mu, SIGMA), obs=y)


def _sampler(covariance, use_data: bool = True):
    chol = jnp.linalg.cholesky(covariance)

    def sample(key, x, y):
        mean = POSTERIOR_COV @ PRECISION @ y.sum(axis=0) if use_data else jnp.zeros(2)
        return {"mu": mean + jax.random.normal(key, (1, 99, 2)) @ chol.T}

    return sample


def mu_sum(params, x, y):
    return params["mu"][0] + params["mu"][1]


def mu_difference(params, x, y):
    return params["mu"][0] - params["mu"][1]


EXACT = ModelSpec(
    name="bivariate_normal_exact",
    title="Bivariate normal mean, exact posterior draws",
    model=bivariate_normal,
    sbc=SBCSettings(
        inputs=np.zeros(NUM_OBS),  # the model reads only how many observations there are
        observed="y",
        lengths=RunLengths(num_warmup=0, num_samples=99, num_chains=1),
        replications_ci=200,
        quantities={"mu[0]+mu[1]": mu_sum, "mu[0]-mu[1]": mu_difference},
        inference=OwnSampler(_sampler(POSTERIOR_COV), "exact posterior", independent_draws=True),
    ),
)
PRIOR_ONLY = dataclasses.replace(
    EXACT,
    name="bivariate_normal_prior_only",
    title="Bivariate normal mean, draws from the prior",
    sbc=dataclasses.replace(
        EXACT.sbc,
        inference=OwnSampler(_sampler(jnp.eye(2), use_data=False), "prior", independent_draws=True),
    ),
)
NO_CORRELATION = dataclasses.replace(
    EXACT,
    name="bivariate_normal_no_correlation",
    title="Bivariate normal mean, the posterior without its correlation",
    sbc=dataclasses.replace(
        EXACT.sbc,
        inference=OwnSampler(
            _sampler(jnp.diag(jnp.diag(POSTERIOR_COV))), "no correlation", independent_draws=True
        ),
    ),
)
MARGINALS_ONLY = dataclasses.replace(
    NO_CORRELATION,
    name="bivariate_normal_marginals_only",
    title="Bivariate normal mean without its correlation, marginal quantities only",
    sbc=dataclasses.replace(NO_CORRELATION.sbc, quantities=None),
)
