"""The pytest plugin's checks on a model with a known posterior: y_i ~ N(mu, 1), mu ~ N(0, s^2).

The posterior of mu is N(m, v) with v = 1 / (n + 1 / s^2), m = v sum(y); the MAP is m.
"""

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from regmaster import ModelSpec, RunLengths, SBCSettings, verdicts

X = jnp.zeros(20)
Y = jnp.asarray(np.random.default_rng(7).normal(1.5, 1.0, 20))


def _normal_mean(x, y=None, *, prior_sd=1.0):
    mu = numpyro.sample("mu", dist.Normal(0.0, prior_sd))
    numpyro.sample("obs", dist.Normal(mu + x, 1.0), obs=y)


SPEC = ModelSpec(name="normal_mean", title="normal mean", model=_normal_mean)
EXACT_VAR = 1.0 / (20 + 1.0)
EXACT_MEAN = EXACT_VAR * float(Y.sum())


def test_nuts_matches_the_exact_posterior(regmaster):
    result = regmaster.posterior(SPEC, X, Y, {"mu": EXACT_MEAN}, {"mu": EXACT_VAR**0.5})
    regmaster.assert_posterior_matches(result)


def test_a_wrong_prior_scale_is_caught_by_the_posterior_check(regmaster):
    wrong = ModelSpec(
        name="wide", title="wide", model=_normal_mean, static_kwargs={"prior_sd": 0.5}
    )
    result = regmaster.posterior(wrong, X, Y, {"mu": EXACT_MEAN}, {"mu": EXACT_VAR**0.5})
    with pytest.raises(AssertionError, match="mu_mean"):
        regmaster.assert_posterior_matches(result)


def test_autodelta_reaches_the_known_map(regmaster):
    gaps = regmaster.map(SPEC, X, Y, {"mu": EXACT_MEAN})
    regmaster.assert_map_matches(gaps)


def test_a_site_the_model_does_not_sample_is_refused_before_fitting(regmaster):
    with pytest.raises(ValueError, match="'nu' is no sample or deterministic site of normal_mean"):
        regmaster.posterior(SPEC, X, Y, {"nu": 0.0}, {})


def _two_sites(x, y=None):  # the data arrive as a site dict
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("height", dist.Normal(mu + x, 1.0))
    numpyro.sample("count", dist.Poisson(jnp.exp(mu) + 0.0 * x))


TWO = ModelSpec(
    name="two_sites",
    title="two observed sites",
    model=_two_sites,
    sbc=SBCSettings(inputs=X, observed=("height", "count")),
)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.convergence(TWO, X, {"heigth": Y, "count": Y * 0}), "y names 'heigth'"),
        (lambda c: c.convergence(TWO, X, {"height": Y}), "y lacks the observed site"),
        (lambda c: c.convergence(SPEC, X, Y[:, None]), "y must have the shape of x"),
        (
            lambda c: c.convergence(TWO, X, {"height": Y[:, None], "count": Y * 0}),
            r"y\['height'\] is shaped \(20, 1\); two_sites's site 'height' is shaped \(20,\)",
        ),
        (lambda c: c.convergence(SPEC, X, None), "y must hold the data"),
        (
            lambda c: c.convergence(SPEC, X, Y, lengths=RunLengths(100, 100, 1)),
            "num_chains must be >= 2",
        ),
        (lambda c: c.posterior(SPEC, X, Y, {}, {"obs": 1.0}), "'obs' is observed"),
        (
            lambda c: c.posterior(SPEC, X, Y, {"mu": [0.5, -0.5]}, {}),
            r"reference of 'mu' must be finite and shaped \(\)",
        ),
        (lambda c: c.posterior(SPEC, X, Y, {"mu": np.nan}, {}), "must be finite"),
        (lambda c: c.map(SPEC, X, Y, {"mu": np.zeros((3, 1))}), r"shaped \(\) as the site"),
        (lambda c: c.map(SPEC, X, Y, {}), "reference is empty"),
    ],
)
def test_data_and_references_that_do_not_fit_the_model_are_refused_before_fitting(
    regmaster, call, message
):
    # Each of these used to fit and then fail deep inside, or answer a different question
    # (a misspelt site sampled as a latent one; data broadcast to another shape).
    with pytest.raises(ValueError, match=message):
        call(regmaster)


def test_check_keeps_every_verdict_and_fails_naming_the_one_that_does_not_hold(check, request):
    held = verdicts.judge("rhat", verdicts.RHAT, 1.0)
    broken = verdicts.judge("ess", verdicts.ESS_PER_CHAIN, 12.0)
    check(held)
    with pytest.raises(AssertionError, match="^ess: "):
        check(broken)
    kept = [v for k, v in request.node.user_properties if k == "verdict"]
    assert [(v["name"], v["passed"]) for v in kept] == [("rhat", True), ("ess", False)]


def test_a_check_names_the_inference_it_ran(regmaster, request):
    from numpyro.infer.autoguide import AutoMultivariateNormal

    from regmaster import BatchedSVI, RunLengths

    guide = BatchedSVI(AutoMultivariateNormal, num_steps=500, learning_rate=0.05)
    lengths = RunLengths(num_warmup=0, num_samples=1000, num_chains=1)
    regmaster.posterior(
        SPEC, X, Y, {"mu": EXACT_MEAN}, {"mu": EXACT_VAR**0.5}, lengths=lengths, inference=guide
    )
    named = [v for k, v in request.node.user_properties if k == "inference_label"]
    assert named == ["SVI with AutoMultivariateNormal (500 Adam steps)"]


def _flat_normal_mean(x, y=None):
    mu = numpyro.sample("mu", dist.ImproperUniform(dist.constraints.real, (), ()))
    numpyro.deterministic("mu_twice", 2.0 * mu)
    numpyro.sample("obs", dist.Normal(mu + x, 1.0), obs=y)


FLAT = ModelSpec(name="flat_normal_mean", title="flat prior", model=_flat_normal_mean)


def test_a_model_with_a_flat_prior_is_checked_against_its_exact_posterior(regmaster):
    # Flat prior: mu | y ~ N(mean(y), 1 / n); ImproperUniform cannot be drawn from the prior.
    result = regmaster.posterior(FLAT, X, Y, {"mu": float(Y.mean())}, {"mu": 20**-0.5})
    regmaster.assert_posterior_matches(result)


def test_reference_draws_in_posteriordb_format_are_matched_deterministic_sites_too(
    regmaster, tmp_path
):
    import json

    rng = np.random.default_rng(3)
    mu = float(Y.mean()) + 20**-0.5 * rng.standard_normal((10, 1000))
    chains = [{"mu": list(c), "mu_twice": list(2 * c)} for c in mu]
    path = tmp_path / "reference_draws.json"
    path.write_text(json.dumps(chains))
    figures = regmaster.against_reference(FLAT, X, Y, path)
    assert set(figures["max_abs_z"]) == {
        f"{s}_{t}" for s in ("mu", "mu_twice") for t in ("mean", "sd", "q05", "q95")
    }
    regmaster.assert_matches_reference(figures)


def test_reference_draws_of_another_posterior_are_flagged(regmaster):
    rng = np.random.default_rng(4)
    # 0.2 sd off: z ~ 7 with 4,000 NUTS draws, against a bound near 4.4
    shifted = float(Y.mean()) + 0.2 * 20**-0.5 + 20**-0.5 * rng.standard_normal((10, 1000))
    figures = regmaster.against_reference(FLAT, X, Y, {"mu": shifted})
    with pytest.raises(AssertionError, match="reference_z"):
        regmaster.assert_matches_reference(figures)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--sbc-replications", "0"], "--sbc-replications must be >= 2, got 0"),
        (["--report-json", "{file}/r.json"], "--report-json {file}/r.json: cannot write there"),
        (["--sbc-checkpoints", "{file}"], "--sbc-checkpoints {file}: cannot write there"),
    ],
)
def test_suite_options_that_cannot_work_stop_it_before_any_check_runs(tmp_path, option, message):
    # A bad --report-json used to be found when the record was written, after the whole run.
    import subprocess
    import sys

    afile = tmp_path / "afile"
    afile.write_text("")
    option = [o.replace("{file}", str(afile)) for o in option]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "validation",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *option,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 4  # pytest's usage error
    assert message.replace("{file}", str(afile)) in run.stderr
