"""The calibration harness: its catalogue, its interval, its command line, one bug end to end.

Run by ``tox -e validate`` with the suite it measures (the package's unit tests in tests/ do not
import validation/)."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest

from validation.calibration import __main__ as cli
from validation.calibration.bugs import BUGS
from validation.calibration.probes import PROBES, diagnostics_probe
from validation.calibration.run import interval, power_of


def test_catalogue_has_15_bugs_and_two_per_family():
    assert len(BUGS) >= 15
    assert len({b.name for b in BUGS}) == len(BUGS)
    per_family = collections.Counter(b.family for b in BUGS)
    assert min(per_family.values()) >= 2, per_family
    assert all(p in PROBES for b in BUGS for p in b.probes)


def test_interval_has_the_closed_form_ends_at_0_and_n():
    # Clopper-Pearson at k = 0: upper 1 - 0.025^(1/n); at k = n: lower 0.025^(1/n).
    assert interval(0, 200) == pytest.approx((0.0, 1 - 0.025 ** (1 / 200)), abs=1e-12)
    assert interval(20, 20) == pytest.approx((0.025 ** (1 / 20), 1.0), abs=1e-12)


def test_a_diagnostics_bug_is_caught_and_undone():
    bug = next(b for b in BUGS if b.name == "ess_without_autocorrelation")
    row = power_of(dataclasses.replace(bug, probes=("diagnostics",)), 3)
    assert row["alarms"] == 3, row
    assert "diagnostics/test_ess_of_ar1_chains_matches_theory" in row["caught_by"]
    after = diagnostics_probe("after", 3)  # the patch is gone: the correct code passes
    assert not np.any(np.stack(list(after.values()))), after


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["power", "--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["power", "--bugs", "no_such_bug"], "unknown bug or probe no_such_bug"),
        (["false-alarms", "--probes", "nope"], "unknown bug or probe nope"),
    ],
)
def test_bad_arguments_are_refused_naming_them(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_tables_replace_only_what_lies_between_the_docs_markers(tmp_path):
    from validation.calibration.report import DOCS_BEGIN, DOCS_END, into_docs

    docs = tmp_path / "calibration.md"
    docs.write_text(f"# Title\nbefore\n{DOCS_BEGIN}\nold table\n{DOCS_END}\nafter\n")
    into_docs("# Calibration\n\n## Bugs\n\n| a |\n", docs)
    expected = f"# Title\nbefore\n{DOCS_BEGIN}\n### Bugs\n\n| a |\n{DOCS_END}\nafter\n"
    assert docs.read_text() == expected
    docs.write_text("no markers\n")
    with pytest.raises(ValueError, match="calibrate:begin"):
        into_docs("# x\n", docs)
