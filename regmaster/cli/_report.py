"""``regmaster report``: read, merge, compare and render validation run records."""

from __future__ import annotations

import sys
from pathlib import Path

from ._common import check_outputs, write_json, write_text


def add_parser(subparsers) -> None:
    """Declare ``report``, its actions and options.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``regmaster`` command's subcommands.
    """
    rep = subparsers.add_parser(
        "report",
        help="read, compare and render validation run records",
        description="Read the run record a validation run writes (reports/validation.json). "
        "show: the model x family summary. timing: seconds per model and family. "
        "merge PART... --out PATH: one record of a run made in parts. "
        "compare BASELINE CURRENT: every check whose verdict changed or whose key figure moved "
        "past its tolerance; exits 1 on any regression. "
        "markdown, html: the report as Markdown, or as one self-contained HTML page (images "
        "embedded). A bad or incompatible file exits 2.",
    )
    rep.add_argument("action", choices=("show", "timing", "merge", "compare", "markdown", "html"))
    rep.add_argument("files", nargs="+", metavar="FILE", help="run record(s)")
    rep.add_argument(
        "--out",
        metavar="PATH",
        help="show, timing, markdown, html: write to PATH, not stdout; merge: the record",
    )
    rep.add_argument(
        "--exact",
        action="store_true",
        help="compare: list every figure that differs at all (timings left out) and exit 1 if "
        "any does: do two runs give the same numbers?",
    )
    rep.set_defaults(func=run)


def check_files(parser, args) -> None:
    """Refuse (exit 2, through ``parser.error``) an action given the wrong number of files.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``regmaster`` parser.
    args : argparse.Namespace
        The parsed command line, of any subcommand (only ``report`` has an ``action``).
    """
    if getattr(args, "action", None) not in (None, "merge"):
        wanted = 2 if args.action == "compare" else 1
        if len(args.files) != wanted:
            parser.error(f"report {args.action} takes {wanted} file(s), got {len(args.files)}")


def run(args) -> int:
    """Carry out the report action ``args`` names.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``report`` options.

    Returns
    -------
    int
        0; for ``compare``, 1 on a regression (with ``--exact``, on any difference).
    """
    from .. import report

    if args.exact and args.action != "compare":
        raise ValueError(f"--exact applies to report compare, not report {args.action}")
    if args.action == "compare":
        if args.out:
            raise ValueError("report compare prints its changes; it takes no --out")
        return _compare(args)
    records = [report.load(path) for path in args.files]  # a bad file is refused first
    check_outputs({"--out": (args.out, False)}, args.files)
    if args.action == "merge":
        if not args.out:
            raise ValueError("report merge needs --out PATH for the merged record")
        merged = report.merge_records(records)
        write_json(args.out, merged)
        print(f"wrote {args.out}: {len(merged['results'])} checks from {len(args.files)} part(s)")
        return 0
    record = records[0]
    if args.action == "show":
        text = report.format_summary(record) + "\n"
    elif args.action == "timing":
        text = report.format_timing(record) + "\n"
    elif args.action == "html":
        text = report.to_html(record, Path(args.files[0]).parent)
    else:
        text = report.to_markdown(record)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def _compare(args) -> int:
    """``compare BASELINE CURRENT``: the changes (``--exact``: the differences), then a count."""
    from .. import report

    baseline, current = (report.load(path) for path in args.files)
    if args.exact:
        differences = report.diff(baseline, current)
        for change in differences:
            print(f"differs: {change.test}: {change.what} {change.before} -> {change.after}")
        print(f"{len(differences)} figure(s) differ (timings left out)")
        return 1 if differences else 0
    changes = report.compare(baseline, current)
    for change in changes:
        print(change.describe())
    regressions = sum(c.regression for c in changes)
    print(
        f"{len(changes)} change(s), {regressions} regression(s) against {args.files[0]}"
        if changes
        else f"no change against {args.files[0]}"
    )
    return 1 if regressions else 0
