"""A model of one's own, run for real: any inputs and data sites, checks before computing, runs
that are never lost or mixed up, one verdict rule, figures that hide nothing."""

import json
import shutil
import threading
import time

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from regmaster import engine, report, runs, sbc, verdicts, zoo
from regmaster.cli import INTERNAL_ERROR, main
from regmaster.settings import Execution, RunLengths


def _normal_mean(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("obs", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)


def _fit(checkpoint):
    return engine.fit_batched(
        _normal_mean,
        jr.PRNGKey(0),
        jnp.zeros(3),
        jnp.zeros((2, 3)),
        RunLengths(num_warmup=10, num_samples=10, num_chains=2),
        execution=Execution(segment_steps=5, checkpoint=checkpoint),
    )


def test_a_checkpoint_with_a_swapped_segment_is_refused_naming_the_file(tmp_path):
    _fit(tmp_path / "run")
    shutil.copy(tmp_path / "run" / "segment-0.pkl", tmp_path / "run" / "segment-2.pkl")
    with pytest.raises(ValueError, match=r"segment-2.pkl does not match its checksum"):
        _fit(tmp_path / "run")


def test_a_damaged_state_file_is_refused_naming_it_and_what_to_do(tmp_path):
    _fit(tmp_path / "run")
    (tmp_path / "run" / "state.pkl").write_bytes(b"\x80\x05garbage")
    with pytest.raises(ValueError, match=r"state.pkl cannot be read .*delete .* afresh"):
        _fit(tmp_path / "run")


def test_an_intact_checkpoint_resumes_to_the_same_draws(tmp_path):
    first = _fit(tmp_path / "run")
    again = _fit(tmp_path / "run")  # every segment is read back, checksums verified
    np.testing.assert_array_equal(first.samples["mu"], again.samples["mu"])


def test_a_second_run_of_the_same_checkpoint_waits_for_the_first_and_says_so(tmp_path):
    said, order = [], []

    def second():
        with runs.locked(tmp_path / "run", say=said.append):
            order.append("second")

    with runs.locked(tmp_path / "run"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first done")
    thread.join(5)
    assert order == ["first done", "second"]
    assert len(said) == 1 and "is running this SBC" in said[0] and "waiting" in said[0]


def test_runs_that_differ_in_anything_get_their_own_checkpoint():
    base = {"model": "m", "settings": {"num_warmup": 300}, "seed": 0, "replications": 100}
    assert runs.run_key(base) == runs.run_key(dict(base))
    for change in ({"seed": 1}, {"settings": {"num_warmup": 301}}, {"inference_model": "a:b"}):
        assert runs.run_key(base | change) != runs.run_key(base)


def test_time_left_is_not_guessed_before_a_segment_has_set_the_pace():
    first = engine.Progress(10, 600, 30.0, 0, 10, 0.0)  # compile time inside the 30 s
    later = engine.Progress(40, 600, 33.0, 0, 10, 3.0)
    assert np.isnan(first.seconds_left)
    assert later.seconds_left == pytest.approx(3.0 * 560 / 30)


def _result(share_low_ess: float, passed: bool = True):
    adjusted = np.array([0.5 if passed else 1e-4, 0.8])
    return sbc.SBCResult(
        "m",
        ["a", "loglik"],
        np.zeros((100, 2), int),
        99,
        {},
        adjusted,
        0.01,
        passed,
        {"share_ess_below_num_draws": share_low_ess},
        1.0,
    )


def test_one_verdict_rule_rejects_dependent_draws_even_when_the_ranks_pass():
    assert verdicts.sbc_passed(_result(0.02))
    assert not verdicts.sbc_passed(_result(0.058))  # the share the command used to let pass
    assert not verdicts.sbc_passed(_result(0.0, passed=False))
    failing = [v.name for v in verdicts.sbc_verdicts(_result(0.3, passed=False)) if not v.passed]
    assert failing == ["ranks", "share_ess_below_num_draws"]


def test_settings_name_the_observed_site_and_serialise_any_inputs():
    with pytest.raises(ValueError, match="needs observed="):
        zoo.SBCSettings(num_points=5)
    settings = zoo.SBCSettings(inputs=np.ones((3, 2)), observed=("a", "b"))
    as_json = json.loads(json.dumps(settings.to_json()))
    assert as_json["inputs"] == [[1.0, 1.0]] * 3 and as_json["observed"] == ["a", "b"]
    assert zoo.SBCSettings(observed="y").design() is None  # a model without inputs
    assert zoo.SBCSettings(observed="y", probe_x=None).probe_x is None  # no site f assumed


def test_a_model_without_inputs_and_two_observed_sites_is_calibrated():
    def no_inputs():
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("a", dist.Normal(mu, 1.0).expand([3]))
        numpyro.sample("b", dist.Normal(2.0 * mu, 1.0))

    lengths = RunLengths(num_warmup=200, num_samples=200, num_chains=2)
    spec = zoo.ModelSpec(
        name="no_inputs",
        title="no inputs",
        model=no_inputs,
        sbc=zoo.SBCSettings(observed=("a", "b"), lengths=lengths, replications_ci=100),
    )
    result = sbc.run_sbc(spec, seed=4)
    assert result.quantities == ["mu", "loglik"]
    assert verdicts.sbc_passed(result), result.rows()  # false alarm <= 0.01 (Holm)


def test_figures_with_many_quantities_show_the_worst_and_say_how_many_are_left_out():
    from regmaster.plots import _sbc_grid

    adjusted = np.ones(46)
    adjusted[30] = 1e-6
    result = _result(0.0)._replace(quantities=[f"q{i}" for i in range(46)], adjusted=adjusted)
    shown, fig, _, note = _sbc_grid(result, 12)
    assert shown[0] == 30 and len(shown) == 12
    assert note.startswith("12 of 46 quantities shown, smallest p first; the other 34")
    few = _result(0.0)
    assert _sbc_grid(few, 12)[0] == [0, 1] and _sbc_grid(few, 12)[3] is None


_OWN = ["sbc", "--model", "examples.own_models:REGRESSION", "--replications", "20", "--quiet"]


def test_an_own_model_run_is_kept_through_an_internal_error_and_resumes(
    tmp_path, capsys, monkeypatch
):
    # The figures fail after the fit: the record is written first, the checkpoint kept, exit 3.
    import regmaster.plots

    def broken(*args, **kwargs):
        raise RuntimeError("no display")

    monkeypatch.setattr(regmaster.plots, "save_sbc_figures", broken)
    checkpoint, record_path = tmp_path / "ckpt", tmp_path / "sbc.json"
    argv = [*_OWN, "--checkpoint", str(checkpoint), "--json", str(record_path)]
    code = main([*argv, "--out", str(tmp_path / "figs")])
    err = capsys.readouterr().err
    assert code == INTERNAL_ERROR
    assert "internal error: RuntimeError: no display" in err and "Traceback" not in err
    assert engine.has_checkpoint(checkpoint)
    record = report.load(record_path)  # a run record regmaster report reads
    assert record["results"][0]["family"] == "sbc"
    assert np.asarray(record["sbc"]["ranks"]).shape == (20, 8)
    with np.load(tmp_path / "sbc.draws.npz") as sidecar:
        assert sidecar["thinned_draws"].shape == (20, 99, 8)
        assert sidecar["truth"].shape == (20, 8)
    monkeypatch.undo()
    assert main([*argv, "--resume"]) in (0, 1)
    assert not engine.has_checkpoint(checkpoint)  # removed once everything is written
    assert report.load(record_path)["sbc"]["ranks"] == record["sbc"]["ranks"]
    assert main(["report", "show", str(record_path)]) == 0
    assert "regression_3_covariates" in capsys.readouterr().out


def test_ctrl_c_before_the_first_segment_does_not_suggest_a_resume(tmp_path, capsys, monkeypatch):
    import regmaster.sbc

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(regmaster.sbc, "run_sbc", interrupted)
    assert main([*_OWN, "--checkpoint", str(tmp_path / "c")]) == 130
    err = capsys.readouterr().err
    assert "before the first segment" in err and "--resume" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--inference-model", "examples.own_models:nothing"], "has no 'nothing'"),
        (["--inference-model", "examples.own_models:DESIGN"], "must name a NumPyro model"),
        (["--model", "tests.data.raises_on_import:SPEC"], "ZeroDivisionError"),
    ],
)
def test_bad_import_paths_are_one_line_and_exit_2(argv, message, capsys):
    assert main([*_OWN, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_map_and_nuts_take_a_design_matrix():
    from examples.own_models import DESIGN, regression
    from regmaster.inference import run_map, run_nuts

    X = jnp.asarray(DESIGN)
    y = X @ jnp.array([1.0, -0.5, 0.25])
    point = run_map(regression, jr.PRNGKey(0), X, y, num_steps=20).point()
    assert point["beta"].shape == (3,)
    mcmc = run_nuts(regression, jr.PRNGKey(0), X, y, num_warmup=20, num_samples=10)
    assert mcmc.get_samples()["beta"].shape == (10, 3)
    with pytest.raises(ValueError, match=r"x\[0, 1\] must be finite|x must be finite"):
        run_nuts(regression, jr.PRNGKey(0), X.at[0, 1].set(jnp.nan), y, num_warmup=1, num_samples=1)


def test_a_named_checkpoint_of_an_unfinished_run_is_kept_unless_resumed(tmp_path, capsys):
    # Starting afresh used to clear it without a word: another run's finished segments lost.
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "state.pkl").write_bytes(b"an unfinished run's state")
    argv = [
        "sbc",
        "--model",
        "linear",
        "--replications",
        "20",
        "--checkpoint",
        str(tmp_path / "ck"),
    ]
    assert main(argv) == 2
    assert (
        "holds the finished segments of an unfinished run: add --resume" in capsys.readouterr().err
    )
    assert (tmp_path / "ck" / "state.pkl").read_bytes() == b"an unfinished run's state"
