"""The ``regmaster`` command: ``fit`` reproduces the notebook's experiment, ``sbc`` calibrates,
``report`` reads run records, ``rank`` ranks more quantities of a finished run, ``reference``
holds NUTS against posteriordb's reference posteriors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import __version__
from . import _fit, _rank, _reference, _report, _sbc
from ._common import Parser
from ._common import check_output as _check_output  # noqa: F401 (imported from here)

__all__ = ["INTERNAL_ERROR", "build_parser", "main"]

INTERNAL_ERROR = 3
"""Exit status of an error inside regmaster (1 is a FAIL verdict, 2 bad input)."""


def build_parser() -> argparse.ArgumentParser:
    """The ``regmaster`` parser: ``--version`` and the subcommands fit, sbc, report, rank and
    reference.

    Returns
    -------
    argparse.ArgumentParser
        Each subcommand's parsed arguments carry ``func``, the function that runs it.
    """
    parser = Parser(prog="regmaster", description=__doc__)
    parser.add_argument("--version", action="version", version=f"regmaster {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _fit.add_parser(sub)
    _sbc.add_parser(sub)
    _report.add_parser(sub)
    _rank.add_parser(sub)
    _reference.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``regmaster`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``regmaster``; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 PASS, 1 FAIL, 2 bad input, 3 (:data:`INTERNAL_ERROR`) an error
        inside regmaster, 130 interrupted.
    """
    from ..runtime import single_threaded_eigen

    single_threaded_eigen()  # before any JAX computation
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    _report.check_files(parser, args)
    try:
        return args.func(args)
    except ValueError as error:
        print(f"regmaster: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regmaster: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from ..distributed import PeerLost

        if isinstance(error, PeerLost):
            print(f"regmaster: error: {error}", file=sys.stderr)
            return 2
        return _internal_error(args, error)


def _internal_error(args, error: Exception) -> int:
    """One line on stderr naming the error, where the traceback was written and the kept
    checkpoint; exit :data:`INTERNAL_ERROR`."""
    import tempfile
    import traceback

    log = Path(tempfile.gettempdir()) / f"regmaster-error-{os.getpid()}.txt"
    try:
        log.write_text("".join(traceback.format_exception(error)))
        where = f"traceback in {log}"
    except OSError:
        where = "traceback not saved"
    kept = getattr(args, "kept_checkpoint", None)
    kept_text = f"; the finished segments are kept in {kept} (--resume)" if kept else ""
    print(
        f"regmaster: internal error: {type(error).__name__}: {error} ({where}{kept_text})",
        file=sys.stderr,
    )
    return INTERNAL_ERROR
