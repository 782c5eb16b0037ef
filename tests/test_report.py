"""The run record: loading with one-line errors, the summary, and the release comparison."""

import copy
import json
import subprocess

import pytest

from regmaster import report
from regmaster.cli import main

R2 = "validation/test_r2.py::test_r2_passes_notebook_threshold"
SBC = "validation/test_sbc.py::test_sbc_ranks_uniform"


def _record() -> dict:
    def result(test, outcome, family, model, verdicts=(), **figures):
        return {
            "test": test,
            "family": family,
            "model": model,
            "outcome": outcome,
            "figures": figures,
            "verdicts": [
                {"name": name, "passed": passed, "value": value, "bound": bound}
                for name, passed, value, bound in verdicts
            ],
        }

    return {
        "schema": report.SCHEMA,
        "environment": {"packages": {"jax": "0.10.2"}},
        "seconds": 12.0,
        "results": [
            result(
                f"{R2}[bnn-cpu]",
                "passed",
                "r2",
                "bnn",
                verdicts=[("r2_threshold", True, 0.994, "> 0.7")],
                statistic="R^2 of the predictive mean",
                value=0.994,
                margin=0.294,
                threshold="> 0.7",
            ),
            result(
                f"{SBC}[linear-cpu]",
                "passed",
                "sbc",
                "linear",
                verdicts=[("ranks", True, 0.8, 0.01)],
                min_holm_pvalue=0.8,
                replications=200,
                replications_with_divergences=1,
                divergent_transitions=3,
            ),
            result(f"{SBC}[deep_rff-cpu]", "xfailed", "sbc", "deep_rff"),
            result(f"{SBC}[linear-gpu]", "skipped", "sbc", "linear"),
        ],
    }


def _write(tmp_path, name, record) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(record))
    return str(path)


def _find(record, test):
    return next(r for r in record["results"] if r["test"] == test)


def test_a_record_compared_with_itself_has_no_change():
    assert report.compare(_record(), _record()) == []


def test_a_baseline_with_a_better_r2_is_a_regression():
    baseline = _record()
    _find(baseline, f"{R2}[bnn-cpu]")["figures"]["margin"] = 0.31  # R^2 0.010 + 0.006 higher
    changes = report.compare(baseline, _record())
    assert [(c.test, c.what, c.regression) for c in changes] == [
        (f"{R2}[bnn-cpu]", "R^2 margin", True)
    ]


def test_an_r2_within_the_tolerance_is_no_change():
    baseline = _record()
    _find(baseline, f"{R2}[bnn-cpu]")["figures"]["margin"] = 0.3  # 0.006 better: within 0.01
    assert report.compare(baseline, _record()) == []


def test_a_check_that_passed_and_fails_now_is_a_regression():
    current = _record()
    _find(current, f"{SBC}[linear-cpu]").update(outcome="failed")
    _find(current, f"{SBC}[linear-cpu]")["figures"].update(min_holm_pvalue=0.004)
    _find(current, f"{SBC}[linear-cpu]")["verdicts"][0].update(passed=False, value=0.004)
    changes = report.compare(_record(), current)
    assert {(c.what, c.regression) for c in changes} == {
        ("verdict", True),
        ("ranks verdict", True),
    }


def test_a_verdict_of_a_baseline_without_verdicts_held_if_its_check_passed():
    baseline = _record()
    for result in baseline["results"]:
        del result["verdicts"]  # a record written before verdicts were kept
    current = _record()
    _find(current, f"{SBC}[linear-cpu]").update(outcome="failed")
    _find(current, f"{SBC}[linear-cpu]")["verdicts"][0].update(passed=False, value=0.004)
    changes = {(c.test, c.what) for c in report.compare(baseline, current) if c.regression}
    assert changes == {(f"{SBC}[linear-cpu]", "verdict"), (f"{SBC}[linear-cpu]", "ranks verdict")}


def test_more_diverging_replications_beyond_chance_and_missing_checks_are_regressions():
    current = _record()
    # 1 -> 15 of 200 replications: one-sided Fisher p 0.0002 (12 would be 0.0015: within chance)
    _find(current, f"{SBC}[linear-cpu]")["figures"]["replications_with_divergences"] = 15
    current["results"].remove(_find(current, f"{R2}[bnn-cpu]"))
    baseline = _record()
    _find(baseline, f"{SBC}[deep_rff-cpu]")["outcome"] = "failed"  # now a finding: better
    changes = {(c.test, c.what): c.regression for c in report.compare(baseline, current)}
    assert changes == {
        (f"{SBC}[linear-cpu]", "replications with divergences"): True,
        (f"{R2}[bnn-cpu]", "missing"): True,
        (f"{SBC}[deep_rff-cpu]", "verdict"): False,
    }


def test_a_few_more_diverging_replications_are_within_chance_and_no_change():
    current = _record()
    _find(current, f"{SBC}[linear-cpu]")["figures"].update(
        replications_with_divergences=3, divergent_transitions=40
    )  # 1 -> 3 of 200: p 0.31
    assert report.compare(_record(), current) == []


def test_the_release_records_show_no_regression_and_no_divergence_rise_either_way():
    # Correct code both times, fitted by two drivers whose chains part by rounding: the release's
    # null case (docs/calibration.md#release-divergences).
    old, new = (
        report.load(f"releases/{day}-cpu/validation.json") for day in ("2026-11-30", "2026-12-03")
    )
    assert [c for c in report.compare(old, new) if c.regression] == []
    rises = [c for c in report.compare(new, old) if c.what == "replications with divergences"]
    assert rises == []


def test_summary_counts_verdicts_per_model_and_family():
    table = report.summary(_record())
    assert table["linear"]["sbc"] == {"pass": 1, "skip": 1}
    assert table["deep_rff"]["sbc"] == {"finding": 1}
    text = report.format_summary(_record())
    assert "total: 2 pass, 1 finding, 0 fail, 1 skip; 12 s" in text


def test_timing_sums_the_seconds_of_the_checks_that_ran_per_model_and_family(tmp_path, capsys):
    record = _record()
    for result, seconds in zip(record["results"], (3.0, 40.0, 7.5, 99.0), strict=True):
        result["seconds"] = seconds
    record["results"].append({**record["results"][1], "test": f"{SBC}[linear-x]", "seconds": 2.0})
    table = report.timing(record)
    assert table == {"bnn": {"r2": 3.0}, "linear": {"sbc": 42.0}, "deep_rff": {"sbc": 7.5}}
    assert main(["report", "timing", _write(tmp_path, "run.json", record)]) == 0
    text = capsys.readouterr().out
    assert "| linear | - | 42 | 42 |" in text and "| total | 3 | 50 | 52 |" in text


def test_timing_of_a_check_resumed_from_a_checkpoint_counts_its_earlier_sittings():
    record = _record()
    deep = next(r for r in record["results"] if r["model"] == "deep_rff")
    deep["seconds"], deep["figures"] = 7.5, {**deep.get("figures", {}), "earlier_seconds": 100.0}
    assert report.timing(record)["deep_rff"]["sbc"] == 107.5


def test_a_run_in_parts_merges_into_one_record_later_parts_replacing_earlier(tmp_path, capsys):
    first, second = _record(), _record()
    first["environment"]["command"], second["environment"]["command"] = ["p", "-m r2"], ["p"]
    # The second part reran linear's SBC (now failing) and skipped bnn's R² check.
    _find(second, f"{SBC}[linear-cpu]")["outcome"] = "failed"
    _find(second, f"{R2}[bnn-cpu]")["outcome"] = "skipped"
    second["results"].append({**_find(second, f"{SBC}[linear-cpu]"), "test": f"{SBC}[x-cpu]"})
    paths = [_write(tmp_path, "a.json", first), _write(tmp_path, "b.json", second)]
    out = tmp_path / "merged.json"
    assert main(["report", "merge", *paths, "--out", str(out)]) == 0
    merged = report.load(out)
    assert _find(merged, f"{SBC}[linear-cpu]")["outcome"] == "failed"
    assert _find(merged, f"{R2}[bnn-cpu]")["outcome"] == "passed"
    assert len(merged["results"]) == 5 and merged["seconds"] == 24.0
    assert [p["command"] for p in merged["parts"]] == [["p", "-m r2"], ["p"]]
    assert main(["report", "merge", *paths]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"results": [', "not JSON"),
        ('{"models": []}', "not a regmaster run record"),
        ('{"schema": "other/9", "results": []}', "schema 'other/9'"),
        ('{"results": [{"test": "x"}]}', "result 0 lacks"),
        (
            '{"results": [{"test": "a", "outcome": "passed"}, {"test": "a", "outcome": "failed"}]}',
            "'test' must be a test id given once, got 'a'",
        ),
        ('{"results": [{"test": "a", "outcome": ["passed"]}]}', "outcome ['passed'] is none of"),
        (
            '{"results": [{"test": "a", "outcome": "passed", "model": 5}]}',
            "'model' must be a string",
        ),
        ('{"results": [{"test": "a", "outcome": "passed", "figures": "x"}]}', "'figures' must be"),
        (
            '{"results": [{"test": "a", "outcome": "passed", "verdicts": [{"name": "rhat"}]}]}',
            "'verdicts' must be a list of objects with a 'name' and 'passed'",
        ),
        ('{"seconds": NaN, "results": []}', "'seconds' must be a finite number, got nan"),
        ('{"environment": [], "results": []}', "'environment' must be an object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (b"\xc4\x00\xff", "not a text file"),
    ],
)
def test_bad_files_are_one_line_errors_with_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["report", "show", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(path) in err[0]


def test_parts_run_with_different_package_versions_are_refused_naming_the_package(tmp_path, capsys):
    later = _record()
    later["environment"] = {"packages": {"jax": "0.10.3"}}
    paths = [_write(tmp_path, "a.json", _record()), _write(tmp_path, "b.json", later)]
    assert main(["report", "merge", *paths, "--out", str(tmp_path / "merged.json")]) == 2
    assert "part 2 ran jax 0.10.3, part 1 jax 0.10.2" in capsys.readouterr().err
    assert not (tmp_path / "merged.json").exists()


@pytest.mark.parametrize("action", ["html", "markdown", "merge"])
def test_an_output_that_is_an_input_record_is_refused_and_the_record_kept(tmp_path, capsys, action):
    path = _write(tmp_path, "run.json", _record())
    before = (tmp_path / "run.json").read_text()
    assert main(["report", action, path, "--out", path]) == 2
    assert f"--out {path} is also an input file" in capsys.readouterr().err
    assert (tmp_path / "run.json").read_text() == before


def test_show_and_timing_write_to_out_and_options_of_other_actions_are_refused(tmp_path, capsys):
    path = _write(tmp_path, "run.json", _record())
    assert main(["report", "show", path, "--out", str(tmp_path / "summary.txt")]) == 0
    assert "total: 2 pass" in (tmp_path / "summary.txt").read_text()
    assert main(["report", "show", path, "--exact"]) == 2
    assert "--exact applies to report compare" in capsys.readouterr().err
    assert (
        main(["report", "merge", str(tmp_path / "none.json"), "--out", str(tmp_path / "a/b.json")])
        == 2
    )
    assert not (tmp_path / "a").exists()  # the bad input refused before any folder was made
    empty = _write(tmp_path, "empty.json", {**_record(), "results": []})
    capsys.readouterr()
    assert main(["report", "timing", empty]) == 0
    assert capsys.readouterr().out.strip() == "no check ran: nothing to time"


def test_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_report_compare_exits_0_on_itself_and_1_naming_the_regression(tmp_path, capsys):
    same = _write(tmp_path, "a.json", _record())
    assert main(["report", "compare", same, same]) == 0
    baseline = copy.deepcopy(_record())
    _find(baseline, f"{R2}[bnn-cpu]")["figures"]["margin"] = 0.5
    better = _write(tmp_path, "better.json", baseline)
    capsys.readouterr()
    assert main(["report", "compare", better, same]) == 1
    assert f"REGRESSION: {R2}[bnn-cpu]: R^2 margin" in capsys.readouterr().out


def test_report_markdown_lists_every_check_that_ran(tmp_path, capsys):
    path = _write(tmp_path, "a.json", _record())
    assert main(["report", "markdown", path]) == 0
    text = capsys.readouterr().out
    assert "| linear | - | pass 1 |" in text or "| linear | pass 1 |" in text
    assert f"{SBC}[deep_rff-cpu] | finding" in text and "[linear-gpu]" not in text


def test_split_test_id_reads_model_and_backend():
    assert report.split_test_id("a.py::t[rff_gp_noncentred-gpu]") == (
        "a.py::t",
        "rff_gp_noncentred",
        "gpu",
    )
    assert report.split_test_id("a.py::t") == ("a.py::t", None, None)


def test_html_is_one_self_contained_page_with_its_images_embedded(tmp_path):
    import matplotlib.pyplot as plt

    record = _record()
    (tmp_path / "figures").mkdir()
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "figures" / "x.png")
    plt.close(fig)
    _find(record, f"{SBC}[linear-cpu]")["images"] = ["figures/x.png"]
    page = report.to_html(record, tmp_path)
    assert page.count("data:image/png;base64,") == 1
    assert 'src="figures' not in page and "http" not in page
    assert "<td class='finding'>finding</td>" in page


def test_exact_diff_lists_every_moved_figure_but_not_timings():
    current = _record()
    figures = _find(current, f"{SBC}[linear-cpu]")["figures"]
    figures.update(min_holm_pvalue=0.8000001, seconds=99.0)
    changes = report.diff(_record(), current)
    assert [(c.test, c.what) for c in changes] == [(f"{SBC}[linear-cpu]", "min_holm_pvalue")]
    assert report.diff(_record(), _record()) == []


def test_environment_names_the_commit_and_whether_tracked_files_differ_from_it(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert report.environment()["git_commit"] is None and report.environment()["git_dirty"] is None

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-qm", "a")
    env = report.environment()
    assert len(env["git_commit"]) == 40 and env["git_dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    assert report.environment()["git_dirty"] is True
    assert "(with uncommitted changes)" in report.to_markdown(
        {**_record(), "environment": report.environment()}
    )


def test_each_check_names_its_inference_and_sbc_verdicts_are_listed_by_inference(tmp_path):
    record = _record()
    _find(record, f"{SBC}[linear-cpu]")["inference"] = "NUTS (target acceptance 0.8)"
    _find(record, f"{SBC}[deep_rff-cpu]")["figures"]["min_holm_pvalue"] = 0.005
    paths = report.inference_paths(record)
    # the SBC ranks checks that ran, skipped ones left out; an unnamed inference said so
    assert paths == [
        ("deep_rff", "cpu", "not recorded", "finding", "0.005"),
        ("linear", "cpu", "NUTS (target acceptance 0.8)", "pass", "0.8"),
    ]
    text = report.to_markdown(record)
    assert "## SBC by inference" in text
    assert f"| {SBC}[linear-cpu] | pass | NUTS (target acceptance 0.8) |" in text
    page = report.to_html(record, tmp_path)
    assert "<h2>SBC by inference</h2>" in page and "<td>NUTS (target acceptance 0.8)</td>" in page
