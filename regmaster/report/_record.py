"""The run record: its schema, reading and checking it, merging parts, and its summaries.

A record holds the environment of the run and one result per check: its test id, family, model,
backend, outcome, verdict and recorded figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCHEMA = "regmaster-validation/1"
VERDICTS = ("pass", "finding", "fail", "skip")
_VERDICT_OF_OUTCOME = {
    "passed": "pass",
    "xfailed": "finding",
    "failed": "fail",
    "error": "fail",
    "skipped": "skip",
}


class RecordError(ValueError):
    """A file that is not a readable run record; the message is one line naming the file."""


def jsonable(value):
    """``value`` as JSON values: arrays and NumPy or JAX scalars as (nested) numbers, non-finite
    floats as strings (``"nan"``, ``"inf"``), dict keys as strings."""
    import numpy as np

    if isinstance(value, np.generic) or hasattr(value, "__array__"):  # NumPy and JAX arrays
        value = np.asarray(value).tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def verdict_of(outcome: str) -> str:
    """The verdict of a pytest outcome (``passed``, ``xfailed``, ``failed``, ``error``, ...)."""
    return _VERDICT_OF_OUTCOME.get(outcome, "fail")


def split_test_id(test: str) -> tuple[str, str | None, str | None]:
    """``(check, model, backend)`` of a node id ``path::test[model-backend]``."""
    check, _, params = test.partition("[")
    if not params:
        return check, None, None
    params = params.rstrip("]")
    model, sep, backend = params.rpartition("-")
    if sep and backend in ("cpu", "gpu"):
        return check, model or None, backend
    return check, params, None


def load(path: str | Path) -> dict[str, Any]:
    """The record in ``path``, checked; :class:`RecordError` names the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise RecordError(f"{path}: cannot read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise RecordError(f"{path}: not a text file (a run record is JSON)") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    except RecursionError:
        raise RecordError(f"{path}: not a run record (JSON nested too deeply)") from None
    if not isinstance(record, dict) or not isinstance(record.get("results"), list):
        raise RecordError(f"{path}: not a regmaster run record (no 'results' list)")
    schema = record.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise RecordError(f"{path}: record schema {schema!r}, this regmaster reads {SCHEMA!r}")
    problem = _record_problem(record)
    if problem:
        raise RecordError(f"{path}: {problem}")
    return record


def _record_problem(record: Mapping[str, Any]) -> str | None:
    """What makes ``record`` unreadable as a run record, in a few words; None when nothing."""
    environment = record.get("environment", {})
    if not isinstance(environment, dict) or not isinstance(environment.get("packages", {}), dict):
        return "'environment' must be an object, its 'packages' too"
    if not _seconds_ok(record.get("seconds")):
        return f"'seconds' must be a finite number, got {record.get('seconds')!r}"
    seen: set[str] = set()
    for i, result in enumerate(record["results"]):
        if not isinstance(result, dict) or not {"test", "outcome"} <= set(result):
            return f"result {i} lacks 'test' or 'outcome'"
        test = result["test"]
        if not isinstance(test, str) or test in seen:
            return f"result {i}: 'test' must be a test id given once, got {test!r}"
        seen.add(test)
        if not isinstance(result["outcome"], str) or result["outcome"] not in _VERDICT_OF_OUTCOME:
            known = ", ".join(_VERDICT_OF_OUTCOME)
            return f"{test}: outcome {result['outcome']!r} is none of {known}"
        for key in ("model", "family"):
            if not isinstance(result.get(key), (str, type(None))):
                return f"{test}: {key!r} must be a string, got {result[key]!r}"
        if not _seconds_ok(result.get("seconds")):
            return f"{test}: 'seconds' must be a finite number, got {result['seconds']!r}"
        if not isinstance(result.get("figures", {}), dict):
            return f"{test}: 'figures' must be an object"
        verdicts = result.get("verdicts", [])
        if not isinstance(verdicts, list) or not all(
            isinstance(v, dict)
            and isinstance(v.get("name"), str)
            and isinstance(v.get("passed"), bool)
            for v in verdicts
        ):
            return f"{test}: 'verdicts' must be a list of objects with a 'name' and 'passed'"
    return None


def _seconds_ok(value) -> bool:
    return value is None or _number(value) is not None


def results_by_test(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The record's results keyed by their test id.

    Parameters
    ----------
    record : mapping
        A run record, as :func:`load` returns it.

    Returns
    -------
    dict
        test id -> that check's result.
    """
    return {r["test"]: r for r in record["results"]}


def summary(record: Mapping[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    """model -> family -> verdict -> count."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for result in record["results"]:
        family = result.get("family") or "other"
        cell = table.setdefault(result.get("model") or "(suite)", {}).setdefault(family, {})
        verdict = verdict_of(result["outcome"])
        cell[verdict] = cell.get(verdict, 0) + 1
    return table


def format_summary(record: Mapping[str, Any]) -> str:
    """The summary as a text table: one row per model, one column per family."""
    table = summary(record)
    families = sorted({f for row in table.values() for f in row})
    width = max([len(m) for m in table] + [5])
    lines = [f"{'model':<{width}} " + " ".join(f"{f:<13}" for f in families)]
    for model in sorted(table):
        cells = [_cell(table[model].get(f, {})) for f in families]
        lines.append(f"{model:<{width}} " + " ".join(f"{c:<13}" for c in cells))
    counts = {v: 0 for v in VERDICTS}
    for result in record["results"]:
        counts[verdict_of(result["outcome"])] += 1
    totals = ", ".join(f"{n} {v}" for v, n in counts.items())
    seconds = record.get("seconds")
    lines.append(f"total: {totals}" + (f"; {seconds:.0f} s" if seconds is not None else ""))
    return "\n".join(lines)


def merge_records(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One record of a run made in parts (``pytest -k``/``-m`` selections, one after another):
    every part's checks, a check in a later part replacing the same check of an earlier one
    (skipped checks never replace one that ran); ``seconds`` is the parts' sum, ``parts`` lists
    each part's command, commit and seconds. The parts must have run on the same Python and
    package versions (the record keeps one environment, the first part's)."""
    if not records:
        raise ValueError("merge needs at least one run record")
    _check_one_environment(records)
    results: dict[str, dict[str, Any]] = {}
    for record in records:
        for result in record["results"]:
            earlier = results.get(result["test"])
            ran_before = earlier is not None and verdict_of(earlier["outcome"]) != "skip"
            if not (ran_before and verdict_of(result["outcome"]) == "skip"):
                results[result["test"]] = dict(result)
    parts = [
        {
            "command": record.get("environment", {}).get("command"),
            "git_commit": record.get("environment", {}).get("git_commit"),
            "git_dirty": record.get("environment", {}).get("git_dirty"),
            "seconds": record.get("seconds"),
        }
        for record in records
    ]
    return {
        "schema": SCHEMA,
        "environment": dict(records[0].get("environment", {})),
        "seconds": round(sum(float(p["seconds"] or 0.0) for p in parts), 1),
        "parts": parts,
        "results": sorted(results.values(), key=lambda r: r["test"]),
    }


def _check_one_environment(records: Sequence[Mapping[str, Any]]) -> None:
    """Refuse parts whose Python or package versions differ: their figures are not one run's."""
    first = records[0].get("environment", {})
    for number, record in enumerate(records[1:], start=2):
        env = record.get("environment", {})
        versions = [("python", first.get("python"), env.get("python"))]
        packages = first.get("packages", {}), env.get("packages", {})
        versions += [(name, packages[0].get(name), packages[1].get(name)) for name in packages[0]]
        for name, was, now in versions:
            if was is not None and now is not None and was != now:
                raise ValueError(
                    f"part {number} ran {name} {now}, part 1 {name} {was}: merge parts of one "
                    "environment (rerun the part)"
                )


def timing(record: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """model -> family -> seconds: the checks' durations summed (worker-seconds: with several
    workers they overlap, and a check waiting on a fit another worker computes counts its wait).
    A check resumed from a checkpoint also counts its earlier sittings (``earlier_seconds``)."""
    table: dict[str, dict[str, float]] = {}
    for result in record["results"]:
        if verdict_of(result["outcome"]) == "skip":
            continue
        family = result.get("family") or "other"
        row = table.setdefault(result.get("model") or "(suite)", {})
        earlier = float((result.get("figures") or {}).get("earlier_seconds") or 0.0)
        row[family] = row.get(family, 0.0) + float(result.get("seconds") or 0.0) + earlier
    return table


def format_timing(record: Mapping[str, Any]) -> str:
    """:func:`timing` as a Markdown table, a total per model and per family, and the run's wall
    time."""
    table = timing(record)
    if not table:
        return "no check ran: nothing to time"
    families = sorted({f for row in table.values() for f in row})
    lines = [
        "| model | " + " | ".join(families) + " | total |",
        "|---|" + "---:|" * (len(families) + 1),
    ]
    for model in sorted(table, key=lambda m: -sum(table[m].values())):
        cells = [f"{table[model][f]:.0f}" if f in table[model] else "-" for f in families]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {sum(table[model].values()):.0f} |")
    per_family = [sum(row.get(f, 0.0) for row in table.values()) for f in families]
    lines.append(
        "| total | " + " | ".join(f"{t:.0f}" for t in per_family) + f" | {sum(per_family):.0f} |"
    )
    seconds = record.get("seconds")
    if seconds is not None:
        lines.append(
            f"\nworker-seconds of the checks that ran; wall time of the run {seconds:.0f} s"
        )
    return "\n".join(lines)


def _cell(counts: Mapping[str, int]) -> str:
    """One summary cell: the worst verdict of a model and family, and how many checks had it."""
    if not counts:
        return "-"
    if counts.get("fail"):
        return f"FAIL {counts['fail']}"
    if counts.get("finding"):
        return f"finding {counts['finding']}"
    if counts.get("pass"):
        return f"pass {counts['pass']}"
    return f"skip {counts.get('skip', 0)}"


def _number(value) -> float | None:
    """``value`` as a finite float; None for a bool, a non-number or a non-finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
