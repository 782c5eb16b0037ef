"""The ten posteriordb models in NumPyro, translated from their Stan code (``data/*/model.stan``).

Each model takes one argument, ``inputs`` (a dict of arrays built from the posterior's data by
:func:`regmaster.posteriordb.Posterior.inputs_and_data`), and names its observed site after
Stan's outcome; the data reach it as ``{site: value}`` (:func:`regmaster.calling.call`).

Translation rules:

- A Stan parameter without a sampling statement has a flat prior on its support: here
  ``ImproperUniform`` on the same constraint (no proper stand-in), so NUTS sees Stan's density.
- A bounded parameter with a prior (``real<lower=0> sigma; sigma ~ cauchy(0, 2.5)``) is the
  truncated law: Stan drops the constant log 2 of the truncation, which changes no posterior;
  here ``HalfCauchy`` / ``HalfNormal``.
- ``ordered[2] mu; mu ~ normal(0, 2)`` is a flat ordered vector plus the normal log-density as a
  factor: Stan's density, the normalising constant of the ordering left out as Stan leaves it.
- Stan indexes from 1: ``beta[1]`` is ``beta[0]`` here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from einops import einsum
from numpyro.distributions import constraints


def _flat(name: str, support, shape: tuple[int, ...] = ()):
    """A Stan parameter with no prior: flat (improper) on its support."""
    return numpyro.sample(name, dist.ImproperUniform(support, (), shape))


def ark(inputs):
    """AR(K): y_t ~ N(alpha + sum_k beta_k y_{t-k}, sigma), t = K+1..T; alpha, beta ~ N(0, 10),
    sigma ~ half-Cauchy(0, 2.5). ``inputs["lags"]`` (T - K, K): y_{t-1}, ..., y_{t-K}."""
    lags = inputs["lags"]
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 10.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([lags.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
    mu = alpha + einsum(lags, beta, "t k, k -> t")
    numpyro.sample("y", dist.Normal(mu, sigma).to_event(1))


def earnings_interaction(inputs):
    """log(earn) ~ N(beta_1 + beta_2 z_height + beta_3 male + beta_4 z_height male, sigma); flat
    beta and sigma > 0. ``inputs["design"]`` (N, 4) holds the four columns."""
    design = inputs["design"]
    beta = _flat("beta", constraints.real_vector, (design.shape[1],))
    sigma = _flat("sigma", constraints.positive)
    mu = einsum(design, beta, "n d, d -> n")
    numpyro.sample("log_earn", dist.Normal(mu, sigma).to_event(1))


def eight_schools_noncentered(inputs):
    """theta = mu + tau theta_trans, theta_trans ~ N(0, 1), mu ~ N(0, 5), tau ~ half-Cauchy(0, 5);
    y_j ~ N(theta_j, sigma_j), sigma_j known."""
    sigma = inputs["sigma"]
    theta_trans = numpyro.sample(
        "theta_trans", dist.Normal(0.0, 1.0).expand([sigma.shape[0]]).to_event(1)
    )
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta = numpyro.deterministic("theta", theta_trans * tau + mu)
    numpyro.sample("y", dist.Normal(theta, sigma).to_event(1))


def eight_schools_centered(inputs):
    """The same posterior parametrised as theta_j ~ N(mu, tau): the funnel that NUTS does not
    explore (divergences, tau's lower tail missed); held against the non-centred reference."""
    sigma = inputs["sigma"]
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta = numpyro.sample("theta", dist.Normal(mu, tau).expand([sigma.shape[0]]).to_event(1))
    numpyro.sample("y", dist.Normal(theta, sigma).to_event(1))


def garch11(inputs):
    """GARCH(1, 1): y_t ~ N(mu, sigma_t), sigma_1 given, sigma_t^2 = alpha0 + alpha1 (y_{t-1} -
    mu)^2 + beta1 sigma_{t-1}^2; flat mu, alpha0 > 0, alpha1 in (0, 1), beta1 in (0, 1 - alpha1).
    ``inputs["y_previous"]`` is y_1..y_{T-1}."""
    mu = _flat("mu", constraints.real)
    alpha0 = _flat("alpha0", constraints.positive)
    alpha1 = _flat("alpha1", constraints.unit_interval)
    # beta1 flat on (0, 1 - alpha1) as Stan's own transform writes it: a flat fraction of the
    # bound and the Jacobian log(1 - alpha1). NumPyro's ImproperUniform on the moving interval
    # samples right but reports beta1 outside it (docs/findings.md#numpyro-dynamic-bound).
    fraction = _flat("beta1_fraction", constraints.unit_interval)
    numpyro.factor("beta1_jacobian", jnp.log1p(-alpha1))
    beta1 = numpyro.deterministic("beta1", fraction * (1.0 - alpha1))

    def step(sigma_previous, y_previous):
        sigma = jnp.sqrt(alpha0 + alpha1 * (y_previous - mu) ** 2 + beta1 * sigma_previous**2)
        return sigma, sigma

    sigma1 = jnp.asarray(inputs["sigma1"], dtype=inputs["y_previous"].dtype)
    _, rest = jax.lax.scan(step, sigma1, inputs["y_previous"])
    sigma = jnp.concatenate([sigma1[None], rest])
    numpyro.sample("y", dist.Normal(mu, sigma).to_event(1))


def gp_regression(inputs):
    """y ~ MVN(0, K + sigma I), K_ij = alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2)) (Stan's
    ``gp_exp_quad_cov``; sigma, not sigma^2, on the diagonal, as the Stan code has it);
    rho ~ Gamma(25, rate 4), alpha ~ half-N(0, 2), sigma ~ half-N(0, 1)."""
    x = inputs["x"]
    rho = numpyro.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = numpyro.sample("alpha", dist.HalfNormal(2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    gram = alpha**2 * jnp.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / rho**2)
    cov = gram + sigma * jnp.eye(x.shape[0])
    numpyro.sample(
        "y", dist.MultivariateNormal(jnp.zeros(x.shape[0]), scale_tril=jnp.linalg.cholesky(cov))
    )


def linear_flat(inputs):
    """y ~ N(X beta, sigma) with flat beta and sigma > 0 (``kidiq`` has a half-Cauchy sigma:
    ``inputs["sigma_scale"]``, absent for flat). ``inputs["design"]`` (N, D)."""
    design = inputs["design"]
    beta = _flat("beta", constraints.real_vector, (design.shape[1],))
    if "sigma_scale" in inputs:
        sigma = numpyro.sample("sigma", dist.HalfCauchy(inputs["sigma_scale"]))
    else:
        sigma = _flat("sigma", constraints.positive)
    mu = einsum(design, beta, "n d, d -> n")
    numpyro.sample("y", dist.Normal(mu, sigma).to_event(1))


def kilpisjarvi(inputs):
    """y ~ N(alpha + beta x, sigma); alpha ~ N(pmualpha, psalpha), beta ~ N(pmubeta, psbeta),
    flat sigma > 0."""
    alpha = numpyro.sample("alpha", dist.Normal(inputs["pmualpha"], inputs["psalpha"]))
    beta = numpyro.sample("beta", dist.Normal(inputs["pmubeta"], inputs["psbeta"]))
    sigma = _flat("sigma", constraints.positive)
    numpyro.sample("y", dist.Normal(alpha + beta * inputs["x"], sigma).to_event(1))


def gauss_mix(inputs):
    """y_n ~ theta N(mu_1, sigma_1) + (1 - theta) N(mu_2, sigma_2), mu ordered with N(0, 2) on
    each, sigma ~ half-N(0, 2), theta ~ Beta(5, 5)."""
    mu = _flat("mu", constraints.ordered_vector, (2,))
    numpyro.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu).sum())
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = numpyro.sample("theta", dist.Beta(5.0, 5.0))
    mixing = dist.Categorical(probs=jnp.stack([theta, 1.0 - theta]))
    per_point = dist.MixtureSameFamily(mixing, dist.Normal(mu, sigma))
    numpyro.sample("y", per_point.expand([inputs["index"].shape[0]]).to_event(1))


def blr(inputs):
    """y ~ N(X beta, sigma), beta ~ N(0, 10), sigma ~ half-N(0, 10). ``inputs["X"]`` (N, D)."""
    design = inputs["X"]
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([design.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    numpyro.sample("y", dist.Normal(einsum(design, beta, "n d, d -> n"), sigma).to_event(1))
