"""SVI as an inference of SBC: the guide's family decides the verdict (Yao et al. 2018), on the
conjugate regression of ``examples/svi_guides.py`` (Gaussian posterior, correlated weights)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoLaplaceApproximation, AutoMultivariateNormal, AutoNormal
from numpyro.optim import Adam

from examples.svi_guides import FULL_RANK, LAPLACE, MEAN_FIELD, POINT
from regmaster import ModelSpec, RunLengths, SBCSettings, model_mlp_dropout, run_sbc, sbc_passed
from regmaster.calling import conditioned
from regmaster.cli import main
from regmaster.svi import BatchedSVI, MCDropout


def test_a_full_rank_guide_on_a_gaussian_posterior_is_calibrated():
    # False alarm: nominal <= 0.01 (Holm); measured 1 in 100 runs of 100 replications (1.0%, 95%
    # interval 0.03%-5.45%): python -m validation.calibration.svi_false_alarms.
    result = run_sbc(FULL_RANK, seed=1)
    assert result.passed, result.rows()
    assert "share_ess_below_num_draws" not in result.fit_diagnostics  # independent draws
    assert result.fit_diagnostics["max_final_loss_change"] < 0.1  # the optimisation settled


def test_a_mean_field_guide_on_a_correlated_posterior_is_flagged():
    result = run_sbc(MEAN_FIELD, seed=2)
    assert not result.passed, result.rows()
    worst = min(result.rows(), key=lambda r: r["pvalue"])
    assert worst["name"].startswith("w"), result.rows()


def test_an_optimisation_stopped_after_a_few_steps_is_flagged():
    # 20 Adam steps from the guide's start: the guide is still near its initialisation.
    stopped = BatchedSVI(AutoMultivariateNormal, num_steps=20, learning_rate=0.02)
    result = run_sbc(FULL_RANK, seed=6, inference=stopped)
    assert not result.passed, result.rows()
    assert result.fit_diagnostics["max_final_loss_change"] > 0.1  # and its health says so


def test_a_point_estimate_is_flagged():
    result = run_sbc(POINT, seed=3)
    assert not result.passed, result.rows()
    # and named as such: every replication's draws are one value (a deterministic count)
    assert result.fit_diagnostics["replications_with_point_draws"] == result.replications
    assert not sbc_passed(result)


def _normal_mean(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    numpyro.sample("y", dist.Normal(mu, sigma).expand([x.shape[0]]), obs=y)


def test_each_replication_takes_its_laplace_approximation_at_its_own_data():
    # Unknown noise: the Hessian at the MAP depends on the data. A guide shared by the batch keeps
    # the data of its first call, so replication 1 got replication 0's curvature (a 50x too
    # narrow posterior here); each replication must match NumPyro's own Laplace on its data.
    x = jnp.zeros(20)
    noise = jax.random.normal(jax.random.PRNGKey(0), (2, 20))
    y = jnp.stack([1.0 + 0.1 * noise[0], 1.0 + 5.0 * noise[1]])
    laplace = BatchedSVI(AutoLaplaceApproximation, num_steps=3000, learning_rate=0.05)
    lengths = RunLengths(num_warmup=0, num_samples=4000, num_chains=1)
    fit = laplace.fit(_normal_mean, jax.random.PRNGKey(1), x, y, lengths)
    for i in range(2):
        guide = AutoLaplaceApproximation(conditioned(_normal_mean))
        svi = SVI(conditioned(_normal_mean), guide, Adam(0.05), Trace_ELBO())
        params = svi.run(jax.random.PRNGKey(2), 3000, x, y[i], progress_bar=False).params
        own = guide.sample_posterior(jax.random.PRNGKey(3), params, x, y[i], sample_shape=(4000,))
        # sd of 4000 draws: ~1.1% relative error each; 10% is > 6 of those apart
        ratio = fit.samples["mu"][i].std() / own["mu"].std()
        assert abs(ratio - 1.0) < 0.1, (i, ratio)


def test_mc_dropout_ranks_over_fresh_masks_and_a_model_without_one_is_a_point():
    # MC dropout's spread is the masks': each draw's quantities see their own mask. A model that
    # draws no mask (linear) gives the MAP point over and over, and is flagged.
    dropout = ModelSpec(
        name="tiny_dropout",
        title="MLP with dropout, 5 hidden units",
        model=model_mlp_dropout,
        static_kwargs={"hidden_dim": 5, "dropout_rate": 0.2},
        sbc=SBCSettings(
            num_points=10,
            observed="obs",
            probe_x=(0.0,),
            parameters=(),
            lengths=RunLengths(num_warmup=0, num_samples=99, num_chains=1),
            inference=MCDropout(num_steps=200),
        ),
    )
    result = run_sbc(dropout, seed=7, replications=4)
    assert result.fit_diagnostics["replications_with_point_draws"] == 0
    assert np.all(result.thinned.std(axis=1) > 0)
    linear = run_sbc("linear", seed=7, replications=4, inference=MCDropout(num_steps=200))
    assert linear.fit_diagnostics["replications_with_point_draws"] == 4
    assert not sbc_passed(linear)


def test_mc_dropout_is_the_map_and_refuses_another_guide():
    with pytest.raises(ValueError, match="guide: MC dropout fits the MAP"):
        MCDropout(guide=AutoNormal)


def test_a_laplace_approximation_of_a_gaussian_posterior_is_calibrated():
    # Laplace is exact for a Gaussian posterior: false alarm <= 0.01 (Holm); fixed seed.
    # Power: the same ranks reject a point estimate (AutoDelta) and a mean-field guide above.
    result = run_sbc(LAPLACE, seed=4)
    assert result.passed, result.rows()


def test_guide_draws_take_a_samplers_layout_and_are_thinned_from_it():
    # Any run lengths: chains x draws independent guide draws, thinned to the draws ranked.
    # The verdict's false alarm <= 0.01 (Holm); power of the same guide family: the mean-field
    # and stopped cases above.
    lengths = RunLengths(num_warmup=0, num_samples=100, num_chains=2)
    spec = dataclasses.replace(FULL_RANK, sbc=dataclasses.replace(FULL_RANK.sbc, lengths=lengths))
    result = run_sbc(spec, seed=5, replications=20)
    assert result.thinned.shape == (20, 99, 3) and result.passed, result.rows()


def test_the_command_calibrates_the_settings_inference_and_reports_its_health(tmp_path, capsys):
    # The guide named in SBCSettings is what run_sbc and the command calibrate: a point estimate,
    # flagged (exit 1), its health the optimisation's end, its record naming the guide.
    record = tmp_path / "point.json"
    argv = ["sbc", "--model", "examples.svi_guides:POINT", "--replications", "20", "--quiet"]
    assert main([*argv, "--json", str(record), "--checkpoint", str(tmp_path / "c")]) == 1
    out = capsys.readouterr().out
    assert "independent draws per replication" in out and "final |grad ELBO|" in out
    assert "no spread in 20 replications (a point)" in out
    assert "FAIL: replications_with_point_draws" in out
    settings = json.loads(record.read_text())["sbc"]["settings"]
    assert settings["inference"]["name"] == "SVI" and settings["inference"]["guide"] == "AutoDelta"


def test_the_plugin_calibrates_the_inference_it_is_given(regmaster):
    from numpyro.infer.autoguide import AutoDelta

    result = regmaster.sbc(FULL_RANK, replications=50, inference=BatchedSVI(AutoDelta))
    assert not result.passed, result.rows()  # the point estimate, not the settings' full rank


def test_an_unknown_inference_is_refused_in_one_line_before_any_computing(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["sbc", "--model", "linear", "--inference", "advi"])
    assert stop.value.code == 2
    assert "argument --inference: invalid choice: 'advi'" in capsys.readouterr().err


def test_a_guide_that_is_no_class_or_function_is_refused_naming_it():
    with pytest.raises(
        ValueError, match="guide must be a NumPyro autoguide class .* got 'AutoNormal'"
    ):
        BatchedSVI("AutoNormal")


def test_cdf_ranks_are_the_truths_place_in_the_guides_own_marginal():
    # Rank by the guide's marginal CDF, through sigma's log transform, against the rank among
    # 20,000 draws of the same guide (same seed, same fit): u and r / L agree to the draws'
    # Monte Carlo error (sd <= 0.0035; bound 0.015, over 4 sd).
    lengths = RunLengths(num_warmup=0, num_samples=20_000, num_chains=1)
    spec = ModelSpec(
        name="normal_mean_unknown_sd",
        title="normal mean, unknown sd",
        model=_normal_mean,
        sbc=SBCSettings(inputs=np.zeros(20), observed="y", lengths=lengths, num_draws=20_000),
    )
    guide = BatchedSVI(AutoMultivariateNormal, num_steps=1000, learning_rate=0.05)
    by_draws = run_sbc(spec, seed=8, replications=10, inference=guide)
    by_cdf = run_sbc(
        spec, seed=8, replications=10, inference=dataclasses.replace(guide, cdf_ranks=True)
    )
    assert by_cdf.quantities[:2] == ["mu", "sigma"]
    gap = np.abs(by_cdf.ranks[:, :2] - by_draws.ranks[:, :2]) / 20_000
    assert gap.max() < 0.015, gap
    assert np.array_equal(by_cdf.ranks[:, 2], by_draws.ranks[:, 2])  # loglik: among the draws


def test_cdf_ranks_refuse_a_guide_without_gaussian_marginals():
    from numpyro.infer.autoguide import AutoDelta

    with pytest.raises(ValueError, match="cdf_ranks needs a Gaussian guide"):
        BatchedSVI(AutoDelta, cdf_ranks=True)
