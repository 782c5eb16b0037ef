"""SVI as an inference of SBC: the guide's family decides the verdict (Yao et al. 2018), on the
conjugate regression of ``examples/svi_guides.py`` (Gaussian posterior, correlated weights)."""

import json

import pytest

from examples.svi_guides import FULL_RANK, MEAN_FIELD, POINT
from regmaster import RunLengths, run_sbc
from regmaster.cli import main
from regmaster.svi import BatchedSVI


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


def test_a_point_estimate_is_flagged():
    result = run_sbc(POINT, seed=3)
    assert not result.passed, result.rows()


def test_svi_refuses_several_chains():
    with pytest.raises(ValueError, match="num_chains must be 1 for SVI"):
        BatchedSVI().fit(None, None, None, None, RunLengths(num_chains=2))


def test_the_command_calibrates_the_settings_inference_and_reports_its_health(tmp_path, capsys):
    # The guide named in SBCSettings is what run_sbc and the command calibrate: a point estimate,
    # flagged (exit 1), its health the optimisation's end, its record naming the guide.
    record = tmp_path / "point.json"
    argv = ["sbc", "--model", "examples.svi_guides:POINT", "--replications", "20", "--quiet"]
    assert main([*argv, "--json", str(record), "--checkpoint", str(tmp_path / "c")]) == 1
    out = capsys.readouterr().out
    assert "independent draws per replication" in out and "final |grad ELBO|" in out
    settings = json.loads(record.read_text())["sbc"]["settings"]
    assert settings["inference"]["name"] == "SVI" and settings["inference"]["guide"] == "AutoDelta"


def test_the_plugin_calibrates_the_inference_it_is_given(regmaster):
    from numpyro.infer.autoguide import AutoDelta

    result = regmaster.sbc(FULL_RANK, replications=50, inference=BatchedSVI(AutoDelta))
    assert not result.passed, result.rows()  # the point estimate, not the settings' full rank
