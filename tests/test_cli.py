import json
import subprocess
import sys

import pytest

from regmaster.cli import main
from regmaster.experiment import fit_many
from regmaster.zoo import names


def test_help_explains_every_fit_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--seed", "--json", "--out", "--jobs", "--cache-dir", "--no-cache"):
        assert option in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "--model", "resnet"], "'resnet'"),
        (["fit", "--noise", "-1"], "--noise"),
        (["fit", "--n-train", "0"], "--n-train"),
        (["fit", "--jobs", "0"], "--jobs"),
        (["fit", "--seed", "abc"], "--seed"),
        (["frobnicate"], "invalid choice"),
        (["sbc", "--model", "mlp_map"], "'mlp_map'"),
        (["sbc", "--model", "linear", "--replications", "1"], "--replications"),
        (["sbc", "--model", "linear", "--seed", "-1"], "--seed"),
        (["fit", "--seed", "-1"], "--seed"),
        (["sbc", "--model", "linear", "--alpha", "1.5"], "--alpha"),
        (["sbc", "--model", "linear", "--out", "/proc/regmaster"], "--out /proc/regmaster"),
        (["sbc", "--model", "linear", "--json", "/proc/r.json"], "--json /proc/r.json"),
        (["fit", "--model", "linear", "--json", "/proc/r.json"], "--json /proc/r.json"),
        (["sbc", "--model", "linear", "--checkpoint", "/nonexistent/c", "--resume"], "--resume"),
        (["report", "compare", "a.json"], "takes 2 file(s)"),
        (["sbc", "--model", "linear", "--plan", "shift=inf"], "--plan"),
        (["sbc", "--model", "linear", "--plan-power", "0.9"], "--plan-power applies with --plan"),
        (["sbc", "--model", "linear", "--plan", "wide=0.1", "--json", "p.json"], "drop --json"),
        (
            ["sbc", "--model", "linear", "--sequential", "10,20", "--checkpoint", "c"],
            "--sequential",
        ),
        (["sbc", "--model", "linear", "--json="], "--json needs a path"),
    ],
)
def test_bad_command_line_input_is_one_line_and_exit_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_console_command_has_no_traceback_on_bad_input():
    result = subprocess.run(
        [sys.executable, "-m", "regmaster", "fit", "--model", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    fittable = ", ".join(names(fittable=True))
    assert result.stderr.strip().splitlines() == [
        f"regmaster: error: model must be one of {fittable}; got 'nope'"
    ]


def test_sbc_help_lists_every_calibratable_entry(capsys):
    with pytest.raises(SystemExit):
        main(["sbc", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in names(calibratable=True):
        assert name in text


def test_fit_writes_the_json_table(tmp_path, capsys):
    path = tmp_path / "out.json"
    code = main(
        [
            "fit",
            "--model",
            "linear",
            "--json",
            str(path),
            "--no-cache",
            "--quiet",
            "--out",
            str(tmp_path / "figs"),
        ]
    )
    assert code == 0
    rows = json.loads(path.read_text())["models"]
    assert [r["name"] for r in rows] == ["linear"]
    assert set(rows[0]) >= {"name", "inference", "r2", "threshold", "passed", "seconds"}
    assert rows[0]["passed"] is True and rows[0]["inference"] == "NUTS"
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "comparison.png",
        "fit_linear.png",
    ]
    assert "linear" in capsys.readouterr().out


def test_results_do_not_depend_on_worker_count():
    one = fit_many(["linear", "mlp_dropout"], jobs=1)
    two = fit_many(["linear", "mlp_dropout"], jobs=2)
    assert [o.r2 for o in one] == [o.r2 for o in two]


def test_version_is_the_installed_packages(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"regmaster {metadata.version('regmaster')}"


def test_an_existing_json_path_is_kept_when_checked(tmp_path):
    from regmaster.cli import _check_output

    path = tmp_path / "keep.json"
    path.write_text("{}")
    _check_output("--json", str(path))
    assert path.read_text() == "{}"
    _check_output("--json", str(tmp_path / "new" / "r.json"))
    assert not (tmp_path / "new" / "r.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["fit", "--model", "linear", "--json", "same", "--out", "same"],
            "--out same is also the path of --json",
        ),
        (
            ["fit", "--model", "linear", "--seed", "4294967296"],
            "--seed: must be an integer in 0..4294967295",
        ),
        (
            ["reference", "kilpisjarvi", "--json", "/proc/x.json"],
            "--json /proc/x.json: cannot write there",
        ),
        (
            ["reference", "kilpisjarvi", "--seed", "-1"],
            "--seed: must be an integer in 0..4294967295",
        ),
        (["sbc", "--model", "linear", "--cache-dir", "{file}"], "--cache-dir"),
    ],
)
def test_outputs_and_seeds_that_cannot_work_are_refused_before_any_fitting(
    tmp_path, monkeypatch, capsys, argv, message
):
    # Each would have fitted first and lost the fit, or silently reused another seed's key.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    argv = [a.replace("{file}", str(tmp_path / "file")) for a in argv]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_rank_adds_a_quantity_to_a_finished_run_without_refitting(tmp_path, capsys):
    # A sampler without the posterior's correlation, run with its marginals only; mu[0] - mu[1]
    # ranked afterwards from the kept draws rejects (Holm p 9.6e-18 in a run that had it).
    record = tmp_path / "run.json"
    model = "examples.bivariate_normal:MARGINALS_ONLY"
    main(["sbc", "--model", model, "--json", str(record), "--quiet", "--no-cache"])
    capsys.readouterr()
    quantity = "mu[0]-mu[1]=examples.bivariate_normal:mu_difference"
    assert main(["rank", str(tmp_path / "run.draws.npz"), "--quantity", quantity]) == 1
    out = capsys.readouterr().out
    assert "mu[0]-mu[1]" in out and "FAIL: ranks:" in out


def test_rank_refuses_a_file_that_is_no_draws_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    quantity = "q=examples.bivariate_normal:mu_difference"
    assert main(["rank", str(bad), "--quantity", quantity]) == 2
    assert "not the draws file of an SBC run" in capsys.readouterr().err
    assert main(["rank", str(bad), "--quantity", quantity, "--quantity", quantity]) == 2
    assert "'q' is named twice" in capsys.readouterr().err
