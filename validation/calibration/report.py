"""Tables of a calibration run: one row per bug, one per check, one per SBC fault."""

from __future__ import annotations

import json
from pathlib import Path


def nominal_rates() -> dict[str, str]:
    """Each check's nominal false-alarm rate (:data:`validation.claims.rates.FALSE_ALARM`)."""
    from validation.claims.rates import FALSE_ALARM

    return dict(FALSE_ALARM)


def _pct(rate: float) -> str:
    return f"{100 * rate:.1f}%"


def _ci(row: dict) -> str:
    low, high = row["interval"]
    return f"[{_pct(low)}, {_pct(high)}]"


def power_line(row: dict) -> str:
    return (
        f"{row['bug']}: caught {row['alarms']}/{row['seeds']} {_ci(row)} by "
        f"{', '.join(row['caught_by']) or 'nothing'} ({row['seconds']:.0f} s)"
    )


def false_alarm_line(row: dict) -> str:
    checks = ", ".join(f"{k} {v['alarms']}/{v['seeds']}" for k, v in row["checks"].items())
    return f"{row['probe']}: {checks} ({row['seconds']:.0f} s)"


def sbc_power_line(row: dict) -> str:
    return (
        f"{row['model']} ({row['replications']} replications, {row['quantities']} quantities),"
        f" {row['fault']} in {row['where']}: power {_pct(row['rate'])} {_ci(row)}"
    )


def save_row(path: Path, key: str, row: dict) -> None:
    """Put ``row`` into the JSON list at ``path``, replacing the row with the same ``key``."""
    rows = json.loads(path.read_text()) if path.exists() else []
    rows = [r for r in rows if r[key] != row[key]] + [row]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(path)


def merge(directory: Path) -> dict:
    """The parts' rows, bugs in catalogue order and probes in probe order."""
    from validation.calibration.bugs import BY_NAME
    from validation.calibration.probes import PROBES

    merged = {}
    for part, key in (("power", "bugs"), ("false-alarms", "checks"), ("sbc-power", "sbc_power")):
        path = directory / f"calibration-{part}.json"
        merged[key] = json.loads(path.read_text()) if path.exists() else []
    merged["bugs"].sort(key=lambda r: list(BY_NAME).index(r["bug"]))
    merged["checks"].sort(key=lambda r: list(PROBES).index(r["probe"]))
    return merged


def to_markdown(merged: dict) -> str:
    nominal = nominal_rates()
    lines = ["# Calibration of the validation suite", ""]
    lines += [
        "## Bugs: detection rate over seeds",
        "",
        "| bug | layer | family | what is wrong | caught | 95% interval | caught by (seeds) |",
        "|---|---|---|---|---|---|---|",
    ]
    from validation.calibration.bugs import BY_NAME

    for row in merged["bugs"]:
        summary = BY_NAME[row["bug"]].summary  # the catalogue's words, not the run's copy
        seeds = "deterministic" if row["deterministic"] else f"{row['alarms']}/{row['seeds']}"
        by = "; ".join(f"`{k}` ({v})" for k, v in row["caught_by"].items()) or "nothing"
        lines.append(
            f"| `{row['bug']}` | {row['layer']} | {row['family']} | {summary} | "
            f"{seeds} | {_ci(row)} | {by} |"
        )
    lines += [
        "",
        "## Checks: false alarms on the correct code",
        "",
        "| probe | check | nominal | alarms / seeds | 95% interval |",
        "|---|---|---|---|---|",
    ]
    for row in merged["checks"]:
        for check, rate in [*row["checks"].items(), ("any check of the probe", row["any"])]:
            base = check.split("[")[0]
            if rate["deterministic"]:
                count, ci = ("fails" if rate["alarms"] else "passes") + " (deterministic)", "-"
            else:
                count, ci = f"{rate['alarms']}/{rate['seeds']}", _ci(rate)
            lines.append(
                f"| {row['probe']} | `{check}` | {nominal.get(base, '')} | {count} | {ci} |"
            )
    lines += [
        "",
        "## SBC power of each NUTS model's verdict",
        "",
        "| model | replications | quantities | fault | in | power | 95% interval |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in merged["sbc_power"]:
        lines.append(
            f"| `{row['model']}` | {row['replications']} | {row['quantities']} | "
            f"{row['fault']} | {row['where']} | {_pct(row['rate'])} | {_ci(row)} |"
        )
    return "\n".join(lines) + "\n"


DOCS_BEGIN, DOCS_END = "<!-- calibrate:begin -->", "<!-- calibrate:end -->"


def into_docs(markdown: str, path: Path) -> None:
    """Replace what lies between the :data:`DOCS_BEGIN` and :data:`DOCS_END` lines of ``path``
    with ``markdown``: its title left out, its sections one level down."""
    text = Path(path).read_text()
    if text.count(DOCS_BEGIN) != 1 or text.count(DOCS_END) != 1:
        raise ValueError(f"needs one {DOCS_BEGIN} line and one {DOCS_END} line")
    head, rest = text.split(DOCS_BEGIN)
    _, tail = rest.split(DOCS_END)
    # The tables sit in a section of the page: the title goes, each heading one level down.
    body = "\n".join(
        "#" + line if line.startswith("## ") else line
        for line in markdown.splitlines()
        if not line.startswith("# ")
    )
    Path(path).write_text(f"{head}{DOCS_BEGIN}\n{body.strip()}\n{DOCS_END}{tail}")
