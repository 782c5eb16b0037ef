"""The ``regmaster`` command: ``fit`` reproduces the notebook's experiment, ``sbc`` calibrates."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__, zoo


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _model_names(values: list[str]) -> list[str]:
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name == "all":
                names.extend(zoo.MODEL_NAMES)
            elif name:
                zoo.notebook_spec(name)  # raises ValueError naming the unknown model
                names.append(name)
    if not names:
        raise ValueError("--model needs at least one model name or 'all'")
    return list(dict.fromkeys(names))


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _write_text(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def _write_json(path: str, payload: dict) -> None:
    _write_text(path, json.dumps(payload, indent=2) + "\n")


def _cmd_fit(args) -> int:
    from .data import make_sinc
    from .experiment import fit_many
    from .report import environment
    from .runtime import default_cache_dir

    names = _model_names(args.model)
    data = make_sinc(args.seed, n_train=args.n_train, noise=args.noise)
    _check_output("--json", args.json)
    _check_output("--out", args.out, directory=True)
    jobs = args.jobs if args.jobs is not None else min(len(names), os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    cache = None if args.no_cache else (args.cache_dir or default_cache_dir())
    done = []

    def progress(outcome):
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
    print(f"{'model':<12} {'inference':<10} {'R²':>8} {'threshold':>11} {'pass':>5} {'seconds':>8}")
    for o in outcomes:
        threshold = f"{o.direction} {o.threshold}"
        verdict = "yes" if o.passed else "NO"
        print(
            f"{o.name:<12} {o.inference:<10} {o.r2:>8.4f} {threshold:>11} {verdict:>5} "
            f"{o.seconds:>8.1f}"
        )
    print(f"total {total:.1f} s")
    if args.json:
        _write_json(
            args.json,
            {
                "models": [o.as_row() for o in outcomes],
                "seed": args.seed,
                "seconds": total,
                "settings": {"n_train": args.n_train, "noise": args.noise, "jobs": jobs},
                "environment": environment(),
            },
        )
    if args.out:
        from .plots import save_fit_figures

        for path in save_fit_figures(outcomes, data, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if all(o.passed for o in outcomes) else 1


MIN_USEFUL_REPLICATIONS = 100
"""Below this many replications the rank tests have little power (docs/calibration.md)."""

SBC_HEALTH = {
    "share_ess_below_num_draws": 0.05,  # the thinned draws are near-independent
    "max_rhat": 1.01,
    "divergent_transitions": 0,
    "saturated_transitions": 0,
}


def _health(diagnostics: dict) -> list[dict]:
    """The fits' health checks: each figure against its bound, and whether it holds."""
    return [
        {
            "name": name,
            "value": diagnostics[name],
            "bound": bound,
            "passed": diagnostics[name] <= bound,
        }
        for name, bound in SBC_HEALTH.items()
        if name in diagnostics
    ]


def _checkpoint_path(args, spec) -> Path:
    from .runtime import default_cache_dir

    if args.checkpoint:
        return Path(args.checkpoint)
    replications = args.replications or spec.sbc.replications_ci
    runs = default_cache_dir().parent / "runs"
    label = "".join(c if c.isalnum() or c in "-_" else "_" for c in args.model)
    return runs / f"sbc-{label}-n{replications}-seed{args.seed}"


def _cmd_sbc(args) -> int:
    from jax.errors import JaxRuntimeError

    from .distributed import PeerLost, is_reporter
    from .engine import clear_checkpoint, has_checkpoint, spans_processes
    from .report import environment
    from .runtime import configure, default_cache_dir
    from .sbc import run_model_sbc

    if args.replications is not None and args.replications < 2:
        raise ValueError(f"--replications must be >= 2, got {args.replications}")
    if not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha must be in (0, 1), got {args.alpha}")
    _check_output("--json", args.json)
    _check_output("--out", args.out, directory=True)
    devices = _sbc_devices(args)  # joins a jax.distributed run before any JAX computation
    across_processes = bool(devices) and spans_processes(devices)
    reporter = is_reporter()
    args.quiet = args.quiet or not reporter
    configure(cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()))
    spec = zoo.resolve(args.model)
    if spec.sbc is None or spec.inference != "nuts":
        calibratable = ", ".join(zoo.names(calibratable=True))
        raise ValueError(
            f"model must be one of {calibratable} or module:ModelSpec with SBC "
            f"settings; got {args.model!r}"
        )
    checkpoint = _checkpoint_path(args, spec)
    if args.resume and not has_checkpoint(checkpoint):
        raise ValueError(f"--resume: no checkpoint of this run in {checkpoint}")
    if reporter:  # only process 0 writes the checkpoint; the others never touch its directory
        _check_output("--checkpoint", str(checkpoint), directory=True)
        if not args.resume:
            clear_checkpoint(checkpoint)
    if across_processes:  # nobody resumes what process 0 is clearing
        from .distributed import barrier

        barrier("regmaster: checkpoint ready")
    replications = args.replications or spec.sbc.replications_ci
    if replications < MIN_USEFUL_REPLICATIONS:
        _say(
            f"warning: {replications} replications: the rank tests have little power below "
            f"{MIN_USEFUL_REPLICATIONS} (a posterior 20% too narrow is missed in 13% of runs "
            "even at 100); read a PASS as a smoke test",
            args.quiet,
            always=reporter,
        )
    _say(
        f"SBC of {args.model}: {replications} replications x {spec.sbc.num_chains} chains in one "
        f"batched NUTS program"
        + (f" over {len(devices)} devices" if devices else "")
        + (f", resuming from {checkpoint}" if args.resume else f"; checkpoint {checkpoint}"),
        args.quiet,
    )

    batch_lanes = replications * spec.sbc.num_chains

    def progress(p) -> None:
        if p.done == 0:
            _say(f"  {batch_lanes} lanes initialised in {p.seconds:.1f} s", args.quiet)
            return
        rate = replications * (p.done - p.resumed_from) / p.total / p.seconds
        _say(
            f"  {p.done}/{p.total} NUTS iterations ({p.fraction:.0%}), {rate:.2f} "
            f"replications/s, ~{p.seconds_left:.0f} s left",
            args.quiet,
        )

    try:
        result = run_model_sbc(
            spec,
            num_replications=args.replications,
            seed=args.seed,
            alpha=args.alpha,
            devices=devices,
            on_progress=progress,
            checkpoint=checkpoint,
        )
    except JaxRuntimeError as error:  # a collective failed: another process stopped
        if not across_processes:
            raise
        raise PeerLost.from_error(error) from None
    except KeyboardInterrupt:
        again = " ".join(["regmaster", *args.argv])
        if "--resume" not in args.argv:
            again += " --resume"
        print(f"regmaster: interrupted; the finished segments are kept: {again}", file=sys.stderr)
        return 130
    if not reporter:  # every process holds the same result; the first reports it
        return 0 if result.passed else 1
    clear_checkpoint(checkpoint)
    print(f"{'quantity':<16} {'p (Holm)':>9} {'chi2':>8} {'ks':>8} {'mean':>8} {'spread':>8}")
    for row in result.rows():
        print(
            f"{row['name']:<16} {row['pvalue']:>9.3g} {row['p_chi2']:>8.3g} "
            f"{row['p_ks']:>8.3g} {row['p_mean']:>8.3g} {row['p_spread']:>8.3g}"
        )
    verdict = "PASS" if result.passed else "FAIL"
    print(
        f"{verdict}: {result.model}, {result.replications} replications, family-wise alpha "
        f"{result.alpha}, {result.seconds:.1f} s ({result.replications_per_second:.1f} "
        f"replications/s)"
    )
    diag = result.fit_diagnostics
    print(
        f"fits: {diag['divergent_transitions']} divergent and "
        f"{diag['saturated_transitions']} tree-depth-saturated transitions; "
        f"median bulk ESS {diag['median_ess_bulk']:.0f}"
    )
    health = _health(diag)
    for check in health:
        if not check["passed"]:
            print(
                f"warning: health: {check['name']} = {check['value']:.4g} (bound {check['bound']})",
                file=sys.stderr,
            )
    if args.json:
        payload = result.to_json()
        payload.update(
            seed=args.seed,
            settings=_sbc_settings(spec),
            health=health,
            environment=environment(),
        )
        _write_json(args.json, payload)
    if args.out:
        from .plots import save_sbc_figures

        for path in save_sbc_figures(result, args.out):
            _say(f"wrote {path}", args.quiet)
    return 0 if result.passed else 1


def _sbc_devices(args) -> list | None:
    """The devices an SBC run's lanes are split over: ``None`` (the default device) or, with
    ``--devices all`` or a ``jax.distributed`` run, every device of every process."""
    distributed = args.distributed or args.coordinator is not None
    if args.coordinator is None and (args.num_processes is not None or args.process_id is not None):
        raise ValueError("--num-processes and --process-id need --coordinator HOST:PORT")
    if distributed:
        from .distributed import first_line, initialize

        try:
            initialize(args.coordinator, args.num_processes, args.process_id)
        except RuntimeError as error:  # no cluster found, coordinator unreachable
            raise ValueError(
                f"--distributed: JAX could not join the run: {first_line(error)}"
            ) from None
    if not (distributed or args.devices == "all"):
        return None
    import jax

    return jax.devices()


def _sbc_settings(spec) -> dict:
    from dataclasses import asdict

    return {
        **asdict(spec.sbc),
        "target_accept_prob": spec.target_accept_prob,
        "max_tree_depth": spec.max_tree_depth,
    }


def _say(message: str, quiet: bool, always: bool = False) -> None:
    if always or not quiet:
        print(message, file=sys.stderr, flush=True)


def _check_output(option: str, path: str | None, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before any computing: the directories are
    made and a file is opened for appending (and removed again if it did not exist)."""
    if not path:
        return
    target = Path(path)
    try:
        if directory:
            target.mkdir(parents=True, exist_ok=True)
            probe = target / ".regmaster-write-test"
        else:
            if target.is_dir():
                raise IsADirectoryError(21, "is a directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            probe = target
        existed = probe.exists()
        with open(probe, "a"):
            pass
        if not existed:
            probe.unlink()
    except OSError as error:
        raise ValueError(
            f"{option} {path}: cannot write there ({error.strerror or error})"
        ) from None


def _cmd_report(args) -> int:
    from . import report

    if args.action == "show":
        print(report.format_summary(report.load(args.files[0])))
        return 0
    if args.action == "merge":
        if not args.out:
            raise ValueError("report merge needs --out PATH for the merged record")
        _check_output("--out", args.out)
        merged = report.merge_records([report.load(path) for path in args.files])
        _write_json(args.out, merged)
        print(f"wrote {args.out}: {len(merged['results'])} checks from {len(args.files)} part(s)")
        return 0
    if args.action == "timing":
        print(report.format_timing(report.load(args.files[0])))
        return 0
    if args.action == "compare":
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
    record = report.load(args.files[0])
    _check_output("--out", args.out)
    if args.action == "html":
        text = report.to_html(record, Path(args.files[0]).parent)
    else:
        text = report.to_markdown(record)
    if args.out:
        _write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="regmaster", description=__doc__)
    parser.add_argument("--version", action="version", version=f"regmaster {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    fit = sub.add_parser(
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
        type=_non_negative_int,
        default=666,
        help="data and key seed; 666 is the notebook's (default 666)",
    )
    fit.add_argument("--n-train", type=int, default=100, help="training points (default 100)")
    fit.add_argument("--noise", type=float, default=0.05, help="noise sd (default 0.05)")
    fit.add_argument(
        "--jobs",
        type=int,
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
    fit.set_defaults(func=_cmd_fit)

    sbc = sub.add_parser(
        "sbc",
        help="simulation-based calibration of a NUTS model",
        description="Simulation-based calibration (Talts et al. 2018): simulate from the prior, "
        "fit every replication with NUTS in one batched program, rank the truth "
        "among the posterior draws, test uniformity (chi-square, KS, mean, spread) "
        "with Holm's correction. Exits 1 if calibration fails.",
    )
    sbc.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help=f"one of: {', '.join(zoo.names(calibratable=True))}; or your own model, "
        "package.module:SPEC naming a regmaster ModelSpec with SBC settings",
    )
    sbc.add_argument(
        "--replications",
        type=int,
        default=None,
        metavar="N",
        help="replications (default: the model's CI size; 1000 for a release)",
    )
    sbc.add_argument(
        "--seed", type=_non_negative_int, default=0, help="simulation and fit seed (default 0)"
    )
    sbc.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="family-wise false-alarm rate of the verdict (default 0.01)",
    )
    sbc.add_argument("--json", metavar="PATH", help="write the verdict as JSON to PATH")
    sbc.add_argument("--out", metavar="DIR", help="save rank histograms and ECDF plots in DIR")
    sbc.add_argument("--cache-dir", metavar="DIR", help="persistent XLA compilation cache")
    sbc.add_argument("--no-cache", action="store_true", help="compile from scratch")
    sbc.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    sbc.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoint (same model, replications, seed): "
        "the numbers are those of an uninterrupted run",
    )
    sbc.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="directory where the run keeps its finished segments (default: "
        "~/.cache/regmaster/runs/sbc-MODEL-nN-seedS; removed when the run completes)",
    )
    sbc.add_argument(
        "--devices",
        choices=("default", "all"),
        default="default",
        help="default: every lane on JAX's default device; all: the lanes split over every "
        "device JAX sees (several GPUs; CPU cores made devices with XLA_FLAGS="
        "--xla_force_host_platform_device_count=N)",
    )
    sbc.add_argument(
        "--distributed",
        action="store_true",
        help="one run over several processes or hosts (jax.distributed): start the same "
        "command in every process; the cluster is read from SLURM, Open MPI or "
        "JAX_COORDINATOR_ADDRESS unless --coordinator is given; process 0 reports "
        "(docs/scale.md)",
    )
    sbc.add_argument(
        "--coordinator", metavar="HOST:PORT", help="with --distributed: process 0's address"
    )
    sbc.add_argument(
        "--num-processes", type=int, metavar="N", help="with --coordinator: processes in the run"
    )
    sbc.add_argument(
        "--process-id", type=int, metavar="I", help="with --coordinator: this process, 0..N-1"
    )
    sbc.set_defaults(func=_cmd_sbc)

    rep = sub.add_parser(
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
        "--out", metavar="PATH", help="markdown, html: write to PATH, not stdout; merge: the record"
    )
    rep.add_argument(
        "--exact",
        action="store_true",
        help="compare: list every figure that differs at all (timings left out) and exit 1 if "
        "any does: do two runs give the same numbers?",
    )
    rep.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "action", None) not in (None, "merge"):
        wanted = 2 if args.action == "compare" else 1
        if len(args.files) != wanted:
            parser.error(f"report {args.action} takes {wanted} file(s), got {len(args.files)}")
    try:
        return args.func(args)
    except ValueError as error:
        print(f"regmaster: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        from .distributed import PeerLost

        if not isinstance(error, PeerLost):
            raise
        print(f"regmaster: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regmaster: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
