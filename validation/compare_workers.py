"""The same figures with any number of xdist workers: run the suite once per worker count and list
every figure or verdict that differs from the first run (timings left out).

    python -m validation.compare_workers --workers 0 2 4 [--out DIR] [-- PYTEST_ARGS ...]

``PYTEST_ARGS`` select what runs (default: the whole suite, ``validation``), e.g.
``-- validation/test_map.py -k cpu``. Each run writes ``DIR/n<N>/validation.json``; the
comparison is :func:`regmaster.report.diff` (``regmaster report compare --exact``). Exit status 0
when every run equals the first, 1 when one differs, 2 on bad input or a run that did not finish.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from regmaster.report import diff, load


def run_suite(workers: int, record: Path, pytest_args: list[str]) -> tuple[int, float]:
    """``pytest PYTEST_ARGS -n WORKERS --report-json RECORD``: exit code and wall seconds."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *(pytest_args or ["validation"]),
        "-n",
        str(workers),
        "-q",
        "-p",
        "no:cacheprovider",
        "--report-json",
        str(record),
    ]
    env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
    start = time.perf_counter()
    done = subprocess.run(command, env=env)
    return done.returncode, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ours, pytest_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    parser = argparse.ArgumentParser(
        prog="python -m validation.compare_workers", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=[0, 2],
        metavar="N",
        help="xdist worker counts to compare, the first is the reference (default: 0 2)",
    )
    parser.add_argument(
        "--out", default="reports/workers", metavar="DIR", help="where the run records go"
    )
    args = parser.parse_args(ours)
    if min(args.workers) < 0:
        parser.error(f"--workers must be integers >= 0, got {args.workers}")
    if len(set(args.workers)) < 2:
        parser.error(f"--workers needs two different counts, got {args.workers}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out must be a directory, got {args.out!r} (a file)")

    records, seconds = {}, {}
    for workers in args.workers:
        record = out / f"n{workers}" / "validation.json"
        code, seconds[workers] = run_suite(workers, record, pytest_args)
        if code not in (0, 1) or not record.is_file():  # 1: some check failed, still comparable
            print(f"compare_workers: the run with -n {workers} did not finish (pytest exit {code})")
            return 2
        records[workers] = load(record)

    reference = args.workers[0]
    base = records[reference]
    tests = len(base.get("results", []))
    print(f"\n{tests} checks; reference: -n {reference} ({seconds[reference]:.0f} s)")
    differs = False
    summary = {"reference": reference, "checks": tests, "runs": []}
    for workers in args.workers[1:]:
        changes = diff(base, records[workers])
        differs |= bool(changes)
        print(f"-n {workers} ({seconds[workers]:.0f} s): {len(changes)} differences")
        for change in changes:
            print(f"  {change.test}: {change.what}: {change.before!r} -> {change.after!r}")
        summary["runs"].append(
            {"workers": workers, "seconds": seconds[workers], "differences": len(changes)}
        )
    summary["reference_seconds"] = seconds[reference]
    (out / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("identical" if not differs else "DIFFERENT")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
