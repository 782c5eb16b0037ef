"""SVI as an inference of SBC: the guide's family decides the verdict (Yao et al. 2018).

Conjugate Bayesian regression y ~ N(w0 + w1 (x + 1.5), 0.5^2), w ~ N(0, I): its posterior is
Gaussian with correlated w0 and w1, so a full-rank Gaussian guide holds it exactly, a mean-field
guide is too narrow along the correlation, and a point (AutoDelta) has no width at all.
"""

import dataclasses
import json

import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.autoguide import AutoDelta, AutoMultivariateNormal, AutoNormal

from regmaster import ModelSpec, RunLengths, SBCSettings, run_sbc
from regmaster.cli import main
from regmaster.svi import BatchedSVI


def _regression(x, y=None):
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    numpyro.sample("y", dist.Normal(w[0] + w[1] * (x + 1.5), 0.5), obs=y)


SPEC = ModelSpec(
    name="correlated_regression",
    title="Conjugate regression with correlated weights",
    model=_regression,
    sbc=SBCSettings(
        inputs=np.linspace(-1.0, 1.0, 8),
        observed="y",
        lengths=RunLengths(num_warmup=0, num_samples=99, num_chains=1),
        replications_ci=100,
    ),
)


def _sbc(guide, seed):
    return run_sbc(SPEC, seed=seed, inference=BatchedSVI(guide, num_steps=2000, learning_rate=0.02))


def test_a_full_rank_guide_on_a_gaussian_posterior_is_calibrated():
    # The family holds the posterior: false-alarm rate <= 0.01 (Holm); fixed seed.
    result = _sbc(AutoMultivariateNormal, seed=1)
    assert result.passed, result.rows()
    assert "share_ess_below_num_draws" not in result.fit_diagnostics  # independent draws
    assert result.fit_diagnostics["max_final_loss_change"] < 0.1  # the optimisation settled


def test_a_mean_field_guide_on_a_correlated_posterior_is_flagged():
    result = _sbc(AutoNormal, seed=2)
    assert not result.passed, result.rows()
    worst = min(result.rows(), key=lambda r: r["pvalue"])
    assert worst["name"].startswith("w"), result.rows()


def test_a_point_estimate_is_flagged():
    result = _sbc(AutoDelta, seed=3)
    assert not result.passed, result.rows()


def test_svi_refuses_several_chains():
    with pytest.raises(ValueError, match="num_chains must be 1 for SVI"):
        BatchedSVI().fit(_regression, None, None, None, RunLengths(num_chains=2))


POINT = dataclasses.replace(
    SPEC,
    name="correlated_regression_point",
    sbc=dataclasses.replace(SPEC.sbc, inference=BatchedSVI(AutoDelta, num_steps=500)),
)


def test_the_settings_inference_is_the_default_and_the_command_reports_its_health(tmp_path, capsys):
    # The guide named in SBCSettings is what run_sbc and the command calibrate: a point estimate,
    # flagged (exit 1), its health the optimisation's end, its record naming the guide.
    record = tmp_path / "point.json"
    argv = ["sbc", "--model", "tests.test_svi:POINT", "--replications", "20", "--quiet"]
    assert main([*argv, "--json", str(record), "--checkpoint", str(tmp_path / "c")]) == 1
    out = capsys.readouterr().out
    assert "independent draws per replication" in out and "final |grad ELBO|" in out
    settings = json.loads(record.read_text())["sbc"]["settings"]
    assert settings["inference"]["name"] == "SVI" and settings["inference"]["guide"] == "AutoDelta"
