"""validation.compare_workers: the same figures with any number of xdist workers."""

from __future__ import annotations

import json

import pytest

from validation import compare_workers


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--workers", "2", "2"], "two different counts"),
        (["--workers", "-1", "2"], "integers >= 0"),
        (["--workers", "0", "x"], "'x'"),
    ],
)
def test_bad_arguments_exit_2_naming_them(argv, named, capsys):
    with pytest.raises(SystemExit) as stop:
        compare_workers.main(argv)
    assert stop.value.code == 2
    assert named in capsys.readouterr().err


def test_runs_with_zero_and_two_workers_of_the_diagnostics_checks_are_identical(tmp_path):
    selection = ["validation/test_diagnostics.py", "-k", "rhat"]
    code = compare_workers.main(["--workers", "0", "2", "--out", str(tmp_path), "--", *selection])
    summary = json.loads((tmp_path / "comparison.json").read_text())
    assert code == 0 and summary["checks"] >= 3
    assert [run["differences"] for run in summary["runs"]] == [0]
