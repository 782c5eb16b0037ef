"""The regression policy: which differences between a baseline and a current record count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import verdicts
from ._record import _number, results_by_test, verdict_of


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
    """Every check whose verdict changed or whose key figure moved past its tolerance.

    Regressions: a check of the baseline missing now; a check that was ``pass`` and is no longer,
    or ``finding`` and is now ``fail``; each named verdict (:mod:`regmaster.verdicts`: ``rhat``,
    ``ranks``, ``share_ess_below_num_draws``, ...) that held and no longer does; the
    ``r2_threshold`` verdict's margin shrunk by more than :data:`regmaster.verdicts.R2_MARGIN_LOSS`;
    more SBC replications with divergences than the baseline's beyond chance
    (:func:`regmaster.verdicts.divergence_rise`). A baseline written before verdicts were recorded
    counts every verdict of a passed check as held.
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
        changes.extend(_verdict_changes(test, old, new))
        changes.extend(_figure_changes(test, old, new))
    for test in after.keys() - before.keys():
        v_new = verdict_of(after[test]["outcome"])
        changes.append(Change(test, "verdict", None, v_new, v_new == "fail"))
    return sorted(changes, key=lambda c: (not c.regression, c.test, c.what))


def _verdicts(result: Mapping[str, Any]) -> dict[str, Mapping[str, Any]] | None:
    recorded = result.get("verdicts")
    return None if recorded is None else {v["name"]: v for v in recorded}


def _held(result: Mapping[str, Any], name: str) -> bool | None:
    """Whether verdict ``name`` held in ``result``; None where the result does not say."""
    recorded = _verdicts(result)
    if recorded is None:  # a record from before verdicts were kept
        return True if result.get("outcome") == "passed" else None
    return recorded[name]["passed"] if name in recorded else None


def _verdict_changes(test: str, old: Mapping, new: Mapping) -> list[Change]:
    changes = []
    for name, verdict in (_verdicts(new) or {}).items():
        if not verdict["passed"] and _held(old, name):
            changes.append(Change(test, f"{name} verdict", "held", verdict["value"], True))
    return changes


def _figure_changes(test: str, old_result: Mapping, new_result: Mapping) -> list[Change]:
    old, new = old_result.get("figures", {}), new_result.get("figures", {})
    changes = []
    if "r2_threshold" in (_verdicts(new_result) or {}):
        a, b = _number(old.get("margin")), _number(new.get("margin"))
        if a is not None and b is not None and not verdicts.R2_MARGIN_LOSS.holds(a - b):
            changes.append(Change(test, "R^2 margin", round(a, 4), round(b, 4), True))
    before, after = _diverging(old), _diverging(new)
    if before is not None and after is not None:
        rise = verdicts.divergence_rise(before, after)
        if not rise.passed:
            was, now = f"{before[0]}/{before[1]}", f"{after[0]}/{after[1]} (p {rise.value:.2g})"
            changes.append(Change(test, "replications with divergences", was, now, True))
    return changes


def _diverging(figures: Mapping[str, Any]) -> tuple[int, int] | None:
    """(replications with divergences, replications) of an SBC record; None where not kept."""
    k, n = (
        _number(figures.get("replications_with_divergences")),
        _number(figures.get("replications")),
    )
    return None if k is None or not n else (int(k), int(n))


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
