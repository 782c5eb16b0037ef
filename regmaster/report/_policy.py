"""The regression policy: which differences between a baseline and a current record count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._record import _number, results_by_test, verdict_of

TOLERANCES = {
    "r2_margin": 0.01,  # R² may lose at most this much distance from its notebook threshold
    "sbc_alpha": 0.01,  # an SBC verdict's smallest Holm-adjusted p-value must stay above it
}
"""How far a key figure may move before :func:`compare` calls it a regression."""


@dataclass(frozen=True)
class Change:
    """One difference between a baseline and a current record."""

    test: str
    what: str  # "verdict", "missing", or the name of a key figure
    before: Any
    after: Any
    regression: bool

    def describe(self) -> str:
        mark = "REGRESSION" if self.regression else "change"
        return f"{mark}: {self.test}: {self.what} {self.before} -> {self.after}"


def compare(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    """Every check whose verdict changed or whose key figure moved past :data:`TOLERANCES`.

    Regressions: a check of the baseline missing now; a verdict that was ``pass`` and is no longer,
    or ``finding`` and is now ``fail``; R² closer to its threshold by more than 0.01; an SBC
    verdict whose smallest Holm p-value falls to alpha or below; divergences where there were none;
    an SBC health share over its bound where it was within.
    """
    before, after = results_by_test(baseline), results_by_test(current)
    changes = []
    for test, old in before.items():
        new = after.get(test)
        if new is None:
            changes.append(Change(test, "missing", verdict_of(old["outcome"]), None, True))
            continue
        v_old, v_new = verdict_of(old["outcome"]), verdict_of(new["outcome"])
        if v_old != v_new:
            worse = (v_old == "pass") or (v_old == "finding" and v_new == "fail")
            changes.append(Change(test, "verdict", v_old, v_new, worse))
        changes.extend(_figure_changes(test, old.get("figures", {}), new.get("figures", {})))
    for test in after.keys() - before.keys():
        v_new = verdict_of(after[test]["outcome"])
        changes.append(Change(test, "verdict", None, v_new, v_new == "fail"))
    return sorted(changes, key=lambda c: (not c.regression, c.test, c.what))


def _figure_changes(test: str, old: Mapping, new: Mapping) -> list[Change]:
    changes = []
    if old.get("statistic") == "R^2 of the predictive mean":
        a, b = _number(old.get("margin")), _number(new.get("margin"))
        if a is not None and b is not None and a - b > TOLERANCES["r2_margin"]:
            changes.append(Change(test, "R^2 margin", round(a, 4), round(b, 4), True))
    a, b = _number(old.get("min_holm_pvalue")), _number(new.get("min_holm_pvalue"))
    alpha = TOLERANCES["sbc_alpha"]
    if a is not None and b is not None and a > alpha >= b:
        changes.append(Change(test, "SBC min Holm p-value", a, b, True))
    for key in ("divergent_transitions",):
        a, b = _number(old.get(key)), _number(new.get(key))
        if a == 0 and b is not None and b > 0:
            changes.append(Change(test, key, int(a), int(b), True))
    if old.get("statistic") == "divergent transitions":
        a, b = _number(old.get("value")), _number(new.get("value"))
        if a == 0 and b is not None and b > 0:
            changes.append(Change(test, "divergent transitions", 0, int(b), True))
    a, b = (
        _number(old.get("share_ess_below_num_draws")),
        _number(new.get("share_ess_below_num_draws")),
    )
    bound = _number(new.get("threshold"))
    if a is not None and b is not None and bound is not None and a <= bound < b:
        changes.append(Change(test, "share of draws with low ESS", a, b, True))
    return changes


TIMING_FIGURES = frozenset({"seconds", "earlier_seconds", "replications_per_second"})
"""Figures that measure time: they differ between any two runs and are left out of :func:`diff`."""


def diff(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    """Every figure and outcome that differs at all between two records (timing figures left
    out): the check that two runs gave the same numbers. Each difference counts as a regression."""
    before, after = results_by_test(baseline), results_by_test(current)
    changes = []
    for test in sorted(before.keys() | after.keys()):
        old, new = before.get(test), after.get(test)
        if old is None or new is None:
            what = "missing" if new is None else "new"
            changes.append(Change(test, what, old and old["outcome"], new and new["outcome"], True))
            continue
        if old["outcome"] != new["outcome"]:
            changes.append(Change(test, "outcome", old["outcome"], new["outcome"], True))
        a, b = old.get("figures", {}), new.get("figures", {})
        for key in sorted((a.keys() | b.keys()) - TIMING_FIGURES):
            if a.get(key) != b.get(key):
                changes.append(Change(test, key, a.get(key), b.get(key), True))
    return changes
