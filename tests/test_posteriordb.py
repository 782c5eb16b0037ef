"""The posteriordb posteriors: reading the reference draws, the translations against Stan's
densities written independently with scipy, flat priors, and the check's statistic."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import log_density
from scipy import stats
from scipy.special import logsumexp

from regmaster import ModelSpec, SBCSettings, posteriordb, reference_draws, run_sbc, verdicts
from regmaster.calling import conditioned, improper_sites


def test_reference_draws_are_read_as_sites_with_zero_based_indices():
    chains = [{"mu": [0.0, 1.0], "b[1,1]": [1.0, 2.0], "b[2,1]": [3.0, 4.0]}] * 3
    draws = reference_draws.draws_from_chains(chains)
    assert draws["mu"].shape == (3, 2)
    assert draws["b"].shape == (3, 2, 2, 1)
    assert draws["b"][0, 1, 1, 0] == 4.0


def test_reference_draws_with_a_missing_element_are_refused():
    with pytest.raises(ValueError, match="lacks some"):
        reference_draws.draws_from_chains([{"b[1]": [0.0], "b[3]": [1.0]}])
    with pytest.raises(ValueError, match="chain 1 names"):
        reference_draws.draws_from_chains([{"a": [0.0]}, {"b": [0.0]}])


# Stan's log density of each model, up to a constant, written from model.stan with scipy
# (constrained parameters; Stan's own Jacobians left out, as NumPyro's log_density does).


def _normal(y, mu, sd):
    return stats.norm.logpdf(y, mu, sd).sum()


def _stan_lp(name, raw, p):
    y = np.asarray(raw.get("y", 0.0), dtype=float)
    if name == "arK":
        k = raw["K"]
        mu = p["alpha"] + sum(p["beta"][j] * y[k - 1 - j : len(y) - 1 - j] for j in range(k))
        prior = _normal(p["alpha"], 0, 10) + _normal(p["beta"], 0, 10)
        return prior + stats.cauchy.logpdf(p["sigma"], 0, 2.5) + _normal(y[k:], mu, p["sigma"])
    if name == "earnings_interaction":
        h, male = np.asarray(raw["height"]), np.asarray(raw["male"])
        z = (h - h.mean()) / h.std(ddof=1)
        b = p["beta"]
        mu = b[0] + b[1] * z + b[2] * male + b[3] * z * male
        return _normal(np.log(raw["earn"]), mu, p["sigma"])
    if name.startswith("eight_schools"):
        if name.endswith("_centered"):
            prior = _normal(p["theta"], p["mu"], p["tau"])
        else:  # Stan's parameter is theta_trans = (theta - mu) / tau
            prior = _normal((p["theta"] - p["mu"]) / p["tau"], 0, 1)
        return (
            prior
            + _normal(y, p["theta"], raw["sigma"])
            + _normal(p["mu"], 0, 5)
            + stats.cauchy.logpdf(p["tau"], 0, 5)
        )
    if name == "garch11":
        s = np.empty_like(y)
        s[0] = raw["sigma1"]
        for t in range(1, len(y)):
            s[t] = np.sqrt(
                p["alpha0"] + p["alpha1"] * (y[t - 1] - p["mu"]) ** 2 + p["beta1"] * s[t - 1] ** 2
            )
        return _normal(y, p["mu"], s)
    if name == "gp_regr":
        x = np.asarray(raw["x"])
        cov = p["alpha"] ** 2 * np.exp(-0.5 * (x[:, None] - x[None]) ** 2 / p["rho"] ** 2)
        cov += p["sigma"] * np.eye(len(x))
        prior = stats.gamma.logpdf(p["rho"], 25, scale=1 / 4) + _normal(p["alpha"], 0, 2)
        prior += _normal(p["sigma"], 0, 1)
        return prior + stats.multivariate_normal.logpdf(y, np.zeros(len(x)), cov)
    if name == "kidiq_momiq":
        mu = p["beta"][0] + p["beta"][1] * np.asarray(raw["mom_iq"])
        return stats.cauchy.logpdf(p["sigma"], 0, 2.5) + _normal(raw["kid_score"], mu, p["sigma"])
    if name == "kilpisjarvi":
        prior = _normal(p["alpha"], raw["pmualpha"], raw["psalpha"])
        prior += _normal(p["beta"], raw["pmubeta"], raw["psbeta"])
        return prior + _normal(y, p["alpha"] + p["beta"] * np.asarray(raw["x"]), p["sigma"])
    if name == "gauss_mix":
        mu, sd, th = p["mu"], p["sigma"], p["theta"]
        mix = logsumexp(
            [
                np.log(th) + stats.norm.logpdf(y, mu[0], sd[0]),
                np.log1p(-th) + stats.norm.logpdf(y, mu[1], sd[1]),
            ],
            axis=0,
        )
        prior = _normal(sd, 0, 2) + _normal(mu, 0, 2) + stats.beta.logpdf(th, 5, 5)
        return prior + mix.sum()
    if name == "mesquite_logvolume":
        v = np.log(np.asarray(raw["diam1"]) * raw["diam2"] * np.asarray(raw["canopy_height"]))
        return _normal(np.log(raw["weight"]), p["beta"][0] + p["beta"][1] * v, p["sigma"])
    if name == "blr":
        mu = np.asarray(raw["X"]) @ p["beta"]
        return _normal(p["beta"], 0, 10) + _normal(p["sigma"], 0, 10) + _normal(y, mu, p["sigma"])
    raise KeyError(name)


def _our_sites(name, point):
    """The reference's parameters as our model's latent sites."""
    if name == "eight_schools_noncentered":
        rest = {k: v for k, v in point.items() if k != "theta"}
        return rest | {"theta_trans": (point["theta"] - point["mu"]) / point["tau"]}
    if name == "garch11":
        rest = {k: v for k, v in point.items() if k != "beta1"}
        return rest | {"beta1_fraction": point["beta1"] / (1 - point["alpha1"])}
    return point


def _jacobian(name, point):
    """log |d(our sites) / d(Stan's parameters)| where our sites are not Stan's: garch's flat
    beta1 is a flat fraction of its bound here."""
    if name == "garch11":
        return -np.log1p(-point["alpha1"])  # fraction = beta1 / (1 - alpha1)
    return 0.0


@pytest.mark.parametrize("name", list(posteriordb.POSTERIORS))
def test_translation_matches_the_stan_density_up_to_a_constant(name):
    posterior = posteriordb.get(name)
    raw, (inputs, data) = posterior.raw_data(), posterior.inputs_and_data()
    reference = posterior.reference_draws()
    gaps = []
    for i in range(0, 1000, 125):  # 8 reference draws of chain 0
        point = {k: v[0, i] for k, v in reference.items()}
        ours, _ = log_density(
            conditioned(posterior.model), (inputs, data), {}, _our_sites(name, point)
        )
        gaps.append(float(ours) + _jacobian(name, point) - _stan_lp(name, raw, point))
    # A wrong prior, likelihood or transformed datum moves the gap between draws; float64
    # rounding of sums of ~1,000 terms stays below 1e-8.
    assert np.ptp(gaps) < 1e-8, gaps


def test_flat_priors_are_traced_and_sbc_refuses_them_in_one_line():
    posterior = posteriordb.get("mesquite_logvolume")
    inputs, data = posterior.inputs_and_data()
    assert improper_sites(posterior.model, inputs, data) == ["beta", "sigma"]
    spec = ModelSpec(
        "mesquite", "mesquite", posterior.model, sbc=SBCSettings(observed="y", inputs=inputs)
    )
    with pytest.raises(ValueError, match=r"flat \(improper\) prior on beta, sigma"):
        run_sbc(spec, replications=10)


def _moving_bound(y=None):
    a = numpyro.sample("a", dist.ImproperUniform(dist.constraints.unit_interval, (), ()))
    b = numpyro.sample("b", dist.ImproperUniform(dist.constraints.interval(0.0, 1.0 - a), (), ()))
    numpyro.sample("y", dist.Normal(b, 0.02), obs=y)


@pytest.mark.xfail(
    strict=True,
    reason="NumPyro 0.22 reports a flat site whose bound moves with another parameter through "
    "the bound at the initial point: y = 0.3 pins b to 0.3 +- 0.02, its reported draws average "
    "0.09 (docs/findings.md#numpyro-dynamic-bound)",
)
def test_numpyro_reports_a_moving_bound_site_as_sampled():
    mcmc = MCMC(NUTS(_moving_bound), num_warmup=500, num_samples=500, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), y=jnp.asarray(0.3))
    reported = float(np.mean(np.asarray(mcmc.get_samples()["b"])))
    assert abs(reported - 0.3) < 0.01, reported  # the posterior mean of b is 0.3 +- 0.002


def test_garch_beta1_stays_below_its_moving_bound():
    posterior = posteriordb.get("garch11")
    inputs, data = posterior.inputs_and_data()
    mcmc = MCMC(
        NUTS(conditioned(posterior.model)), num_warmup=300, num_samples=300, progress_bar=False
    )
    mcmc.run(jax.random.PRNGKey(0), inputs, data)
    draws = mcmc.get_samples()
    assert np.all(np.asarray(draws["beta1"]) < 1.0 - np.asarray(draws["alpha1"]))


def _gaussian_draws(rng, chains, means, sds, shift=0.0, scale=1.0):
    """Independent draws, (chains, 1000, sites), of N(mean + shift sd, (scale sd)^2) per site."""
    noise = rng.standard_normal((chains, 1000, len(means)))
    return {"theta": means + shift * sds + scale * sds * noise}


MEANS, SDS = np.array([0.0, 3.0, -1.0]), np.array([1.0, 0.5, 2.0])


def test_reference_z_scores_are_standard_normal_for_draws_of_the_same_law():
    # Independent Gaussian draws against a Gaussian reference, a fresh reference each run: over
    # 200 runs every statistic's z has mean within 0.25 of 0 (3.5 se) and sd within 0.85-1.15
    # (3 se): both MCSEs are right. False alarm on correct code ~4% (union over 12 means and sds
    # at those tails); fixed seed. Catches the reference's MCSE left out of the denominator (z
    # sds up to 1.27).
    rng = np.random.default_rng(20261203)
    z = []
    for _ in range(200):
        reference = _gaussian_draws(rng, 10, MEANS, SDS)
        scores = reference_draws.z_scores(_gaussian_draws(rng, 4, MEANS, SDS), reference)
        z.append([scores[f"theta_{s}"] for s in reference_draws.STATISTICS])
    z = np.array(z)  # (runs, statistics, sites)
    assert np.all(np.abs(z.mean(0)) < 0.25), z.mean(0)
    assert np.all((0.85 < z.std(0)) & (z.std(0) < 1.15)), z.std(0)


def test_reference_check_flags_a_shifted_and_a_widened_posterior():
    rng = np.random.default_rng(7)
    reference = _gaussian_draws(rng, 10, MEANS, SDS)

    def judged(**fault):
        figures = reference_draws.compare(_gaussian_draws(rng, 4, MEANS, SDS, **fault), reference)
        return {v.name: v.passed for v in verdicts.against_reference_draws(figures)}

    assert all(judged().values())
    assert not judged(shift=0.1)["reference_z"]  # 0.1 sd: z ~ 5.9 against a bound near 4.4
    assert not judged(scale=1.1)["reference_z"]  # 10% wider: z ~ 7 on the sds


def test_a_site_missing_from_the_draws_is_named():
    reference = {"a": np.zeros((2, 10))}
    with pytest.raises(ValueError, match="'a', which has no draws"):
        reference_draws.z_scores({"b": np.zeros((2, 10))}, reference)


def test_posterior_names_are_checked():
    with pytest.raises(ValueError, match="unknown posterior 'nope'"):
        posteriordb.get("nope")
    assert dataclasses.is_dataclass(posteriordb.get("blr"))


def test_the_command_prints_the_z_table_and_refuses_an_unknown_posterior(capsys):
    from regmaster.cli import main

    assert main(["reference", "mesquite_logvolume"]) == 0
    out = capsys.readouterr().out
    assert "z mean" in out and "beta[1]" in out and "PASS: smallest Holm-adjusted p" in out
    assert main(["reference", "--list"]) == 0
    assert "eight_schools_centered: posteriordb" in capsys.readouterr().out
    assert main(["reference", "nope"]) == 2
    assert "unknown posterior 'nope'" in capsys.readouterr().err


def test_the_command_flags_the_centred_eight_schools():
    from regmaster.cli import main

    assert main(["reference", "eight_schools_centered"]) == 1
