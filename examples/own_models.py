"""Models of one's own whose data are not the notebook's one input vector and one ``y``:

- ``REGRESSION``: a linear regression on a design matrix of three covariates, ``X`` (20, 3),
  called ``model(X, y)``;
- ``TWO_SITES``: one slope seen through two observed sites, a Gaussian measurement and a Poisson
  count, inputs a dict of arrays, the sites conditioned on the data (``observed`` a tuple).

Each has a twin whose prior is too narrow (``*_narrow_prior``): fitted to data simulated from the
right model (``inference_model=``, ``regmaster sbc --inference-model``), SBC rejects it.
"""

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from regmaster import ModelSpec, RunLengths, SBCSettings

# A fixed design: 20 rows, 3 covariates on [-1, 1] (a seeded draw, kept in the file's numbers).
DESIGN = np.round(np.random.default_rng(20261202).uniform(-1.0, 1.0, (20, 3)), 3)


def regression(X, y=None, *, prior_scale=1.0):
    """alpha ~ N(0, 1), beta_k ~ N(0, s), sigma ~ HalfNormal(1), y ~ N(alpha + X beta, sigma)."""
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 1.0))
    beta = numpyro.sample("beta", dist.Normal(jnp.zeros(X.shape[1]), prior_scale))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.deterministic("f", alpha + X @ beta)
    numpyro.sample("y", dist.Normal(alpha + X @ beta, sigma), obs=y)


def regression_narrow_prior(X, y=None):
    """``regression`` with beta ~ N(0, 0.3): a prior the simulated data do not come from."""
    regression(X, y, prior_scale=0.3)


INPUTS = {"x": np.linspace(-1.0, 1.0, 12), "exposure": np.full(12, 2.0)}


def two_sites(inputs, *, prior_scale=1.0):
    """b ~ N(0, s), a ~ N(0, 1), c ~ N(0, 0.5), sigma ~ HalfNormal(1);
    height_i ~ N(a + b x_i, sigma), count_i ~ Poisson(exposure_i exp(c + b x_i))."""
    x = inputs["x"]
    b = numpyro.sample("b", dist.Normal(0.0, prior_scale))
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    c = numpyro.sample("c", dist.Normal(0.0, 0.5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("unit", x.shape[0]):
        numpyro.sample("height", dist.Normal(a + b * x, sigma))
        numpyro.sample("count", dist.Poisson(inputs["exposure"] * jnp.exp(c + b * x)))


def two_sites_narrow_prior(inputs):
    """``two_sites`` with b ~ N(0, 0.3)."""
    two_sites(inputs, prior_scale=0.3)


_RUN = dict(lengths=RunLengths(num_warmup=300, num_samples=300, num_chains=2), replications_ci=100)

REGRESSION = ModelSpec(
    name="regression_3_covariates",
    title="Linear regression on a design matrix of three covariates",
    model=regression,
    sbc=SBCSettings(inputs=DESIGN, observed="y", probe_x=DESIGN[:2], **_RUN),
)
TWO_SITES = ModelSpec(
    name="two_observed_sites",
    title="One slope seen through a Gaussian and a Poisson site",
    model=two_sites,
    sbc=SBCSettings(inputs=INPUTS, observed=("height", "count"), **_RUN),
)
