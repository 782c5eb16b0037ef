"""``python -m validation.calibration PART``: one part of ``tox -e calibrate``.

Parts (each well under 90 minutes on 2 cores; figures in docs/calibration.md):
A part run on some bugs or probes replaces their rows in the part's file and keeps the others.

  power         every catalogued bug through the probes on its path, ``--seeds`` seeds (20)
  false-alarms  the correct code through every probe, ``--false-alarm-seeds`` seeds (200)
  sbc-power     each NUTS model's SBC verdict against a too-narrow and a shifted posterior, at
                its CI size (``--sbc-sizes ci release`` adds 1000 replications)
  report        merge the parts' JSON into reports/calibration.json and reports/calibration.md;
                with ``--docs docs/calibration.md``, the tables there too
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax

from validation.calibration.report import DOCS_BEGIN, DOCS_END

PARTS = ("power", "false-alarms", "sbc-power", "report")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m validation.calibration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("part", choices=PARTS)
    parser.add_argument("--seeds", type=int, default=20, help="seeds per bug (power)")
    parser.add_argument("--false-alarm-seeds", type=int, default=200)
    parser.add_argument("--sbc-runs", type=int, default=200, help="simulated SBC runs per fault")
    parser.add_argument(
        "--sbc-sizes",
        nargs="+",
        choices=("ci", "release"),
        default=["ci"],
        help="replication counts for sbc-power: each model's CI size, 1000",
    )
    parser.add_argument("--bugs", nargs="*", help="only these bugs (power)")
    parser.add_argument("--probes", nargs="*", help="only these probes (false-alarms)")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument(
        "--docs",
        type=Path,
        help="report: also put the tables into this Markdown file, between its "
        f"{DOCS_BEGIN} and {DOCS_END} lines (docs/calibration.md)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("seeds", "false_alarm_seeds", "sbc_runs"):
        if getattr(args, name) < 1:
            print(
                f"error: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}",
                file=sys.stderr,
            )
            return 2
    jax.config.update("jax_enable_x64", True)  # as the suite runs (conftest.py)
    from validation.calibration import report
    from validation.calibration.bugs import BY_NAME
    from validation.calibration.probes import DETERMINISTIC, PROBES
    from validation.calibration.run import false_alarms_of, power_of, sbc_power

    unknown = sorted(set(args.bugs or ()) - set(BY_NAME)) + sorted(
        set(args.probes or ()) - set(PROBES)
    )
    if unknown:
        print(
            f"error: unknown bug or probe {', '.join(unknown)}; bugs: {', '.join(BY_NAME)}; "
            f"probes: {', '.join(PROBES)}",
            file=sys.stderr,
        )
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: --out {args.out}: {error.strerror}", file=sys.stderr)
        return 2
    part_file = args.out / f"calibration-{args.part}.json"
    if args.part == "power":
        for name in args.bugs or BY_NAME:
            row = power_of(BY_NAME[name], args.seeds)
            report.save_row(part_file, "bug", row)
            print(report.power_line(row), flush=True)
    elif args.part == "false-alarms":
        for probe in args.probes or PROBES:
            seeds = 1 if probe in DETERMINISTIC else args.false_alarm_seeds
            row = false_alarms_of(probe, seeds)
            report.save_row(part_file, "probe", row)
            print(report.false_alarm_line(row), flush=True)
    elif args.part == "sbc-power":
        rows = sbc_power(args.sbc_runs, args.sbc_sizes)
        part_file.write_text(json.dumps(rows, indent=1))
        for row in rows:
            print(report.sbc_power_line(row), flush=True)
    else:
        merged = report.merge(args.out)
        (args.out / "calibration.json").write_text(json.dumps(merged, indent=1))
        (args.out / "calibration.md").write_text(report.to_markdown(merged))
        print(f"wrote {args.out / 'calibration.json'} and {args.out / 'calibration.md'}")
        if args.docs is not None:
            try:
                report.into_docs(report.to_markdown(merged), args.docs)
            except (OSError, ValueError) as error:
                print(f"error: --docs {args.docs}: {error}", file=sys.stderr)
                return 2
            print(f"updated the tables in {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
