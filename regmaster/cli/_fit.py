"""``regmaster fit``: the notebook's models fitted with its settings, keys and data, and scored."""

from __future__ import annotations

import os
import sys
import time

from .. import zoo
from ..data import NOISE_SD
from ._common import (
    CACHE_OPTION,
    check_outputs,
    model_names,
    positive_float,
    positive_int,
    seed_value,
    write_json,
)


def add_parser(subparsers) -> None:
    """Declare ``fit`` and its options.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``regmaster`` command's subcommands.
    """
    fit = subparsers.add_parser(
        "fit",
        help="fit models with the notebook's settings and score them",
        description="Fit the notebook's models with its settings, keys and data, print the "
        "table (model, inference, R², threshold, pass, seconds). Exits 1 if a "
        "model misses its notebook threshold.",
    )
    fit.add_argument(
        "--model",
        nargs="+",
        default=["all"],
        metavar="NAME",
        help="'all' (the notebook's seven models) or one or more of: "
        f"{', '.join(zoo.names(fittable=True))} (space or comma separated; default all)",
    )
    fit.add_argument(
        "--seed",
        type=seed_value,
        default=666,
        help="data and key seed; 666 is the notebook's (default 666)",
    )
    fit.add_argument(
        "--n-train", type=positive_int, default=100, help="training points (default 100)"
    )
    fit.add_argument(
        "--noise", type=positive_float, default=NOISE_SD, help="noise sd (default %(default)s)"
    )
    fit.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="worker processes (default: one per model up to the CPU count); "
        "results do not depend on it",
    )
    fit.add_argument("--json", metavar="PATH", help="write the table as JSON to PATH")
    fit.add_argument(
        "--out",
        metavar="DIR",
        help="save one fit plot per model and the 1x3 comparison panel as PNG in DIR",
    )
    fit.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="persistent XLA compilation cache (default $REGMASTER_CACHE_DIR "
        "or ~/.cache/regmaster/xla)",
    )
    fit.add_argument("--no-cache", action="store_true", help="compile from scratch")
    fit.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    fit.set_defaults(func=run)


def run(args) -> int:
    """Fit the models ``args`` name, print the table and write what was asked for.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``fit`` options.

    Returns
    -------
    int
        0 if every model meets its notebook threshold, else 1.
    """
    from ..data import make_sinc
    from ..experiment import fit_many
    from ..runtime import default_cache_dir

    names = model_names(args.model)
    data = make_sinc(args.seed, n_train=args.n_train, noise=args.noise)
    cache = None if args.no_cache else str(args.cache_dir or default_cache_dir())
    check_outputs(
        {"--json": (args.json, False), "--out": (args.out, True), CACHE_OPTION: (cache, True)}
    )
    jobs = args.jobs if args.jobs is not None else min(len(names), os.cpu_count() or 1)
    done = []

    def progress(outcome):
        """Count a finished model and say so on stderr."""
        done.append(outcome.name)
        if not args.quiet:
            print(
                f"[{len(done)}/{len(names)}] {outcome.name} done in {outcome.seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    if not args.quiet:
        print(
            f"fitting {len(names)} model(s) with {jobs} worker(s), data seed {args.seed}",
            file=sys.stderr,
            flush=True,
        )
    start = time.perf_counter()
    outcomes = fit_many(
        names,
        seed=args.seed,
        jobs=jobs,
        cache_dir=cache,
        on_done=progress,
        n_train=args.n_train,
        noise=args.noise,
    )
    total = time.perf_counter() - start
    _print_table(outcomes, total)
    if args.json:
        _write_fits(args, outcomes, total, jobs)
    if args.out:
        from ..plots import save_fit_figures

        for path in save_fit_figures(outcomes, data, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if all(o.passed for o in outcomes) else 1


def _print_table(outcomes, total: float) -> None:
    """The table on stdout: one row per model, then the total time."""
    print(f"{'model':<12} {'inference':<10} {'R²':>8} {'threshold':>11} {'pass':>5} {'seconds':>8}")
    for o in outcomes:
        threshold = f"{o.direction} {o.threshold}"
        verdict = "yes" if o.passed else "NO"
        print(
            f"{o.name:<12} {o.inference:<10} {o.r2:>8.4f} {threshold:>11} {verdict:>5} "
            f"{o.seconds:>8.1f}"
        )
    print(f"total {total:.1f} s")


def _write_fits(args, outcomes, total: float, jobs: int) -> None:
    """``--json``: the table, the seed, the settings and the environment."""
    from ..report import environment

    write_json(
        args.json,
        {
            "models": [o.as_row() for o in outcomes],
            "seed": args.seed,
            "seconds": total,
            "settings": {"n_train": args.n_train, "noise": args.noise, "jobs": jobs},
            "environment": environment(),
        },
    )
