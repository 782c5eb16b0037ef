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


def _sbc_definition(args, spec, replications: int, devices) -> dict:
    """Everything that defines an SBC run's numbers: its checkpoint is keyed by it."""
    return {
        "model": args.model,
        "inference_model": args.inference_model,
        "settings": _sbc_settings(spec),
        "model_kwargs": repr(sorted(spec.static_kwargs.items())),
        "replications": replications,
        "seed": args.seed,
        "devices": len(devices) if devices else 0,
    }


def _checkpoint_path(args, spec, replications: int, devices) -> Path:
    from .runs import default_checkpoint, run_key
    from .runtime import default_cache_dir

    if args.checkpoint:
        return Path(args.checkpoint)
    key = run_key(_sbc_definition(args, spec, replications, devices))
    base = default_cache_dir().parent / "runs"
    return default_checkpoint(base, args.model, replications, args.seed, key)


def _inference_model(path: str | None):
    """The model ``--inference-model module:attr`` names: a NumPyro model or a ModelSpec."""
    if path is None:
        return None
    found = zoo.load_attribute(path, "--inference-model")
    model = found.model if isinstance(found, zoo.ModelSpec) else found
    if not callable(model):
        raise ValueError(
            f"--inference-model {path!r}: must name a NumPyro model or a ModelSpec, found "
            f"{type(found).__name__}"
        )
    return model


def _sbc_spec(args):
    spec = zoo.resolve(args.model)
    if spec.sbc is None or spec.inference != "nuts":
        calibratable = ", ".join(zoo.names(calibratable=True))
        raise ValueError(
            f"model must be one of {calibratable} or module:ModelSpec with SBC "
            f"settings; got {args.model!r}"
        )
    try:
        json.dumps(_sbc_settings(spec))
    except (TypeError, ValueError) as error:
        raise ValueError(f"model {args.model!r}: its SBC settings are not JSON ({error})") from None
    return spec


def _progress_printer(replications: int, lanes: int, quiet: bool):
    def progress(p) -> None:
        if p.done == 0:
            _say(f"  {lanes} lanes initialised in {p.seconds:.1f} s", quiet)
            return
        rate = replications * (p.done - p.resumed_from) / p.total / p.seconds
        left = p.seconds_left
        eta = "estimating the time left" if left != left else f"~{left:.0f} s left"
        _say(
            f"  {p.done}/{p.total} NUTS iterations ({p.fraction:.0%}), {rate:.2f} "
            f"replications/s, {eta}",
            quiet,
        )

    return progress


def _cmd_sbc(args) -> int:
    from .distributed import is_reporter
    from .runtime import configure, default_cache_dir

    if args.replications is not None and args.replications < 2:
        raise ValueError(f"--replications must be >= 2, got {args.replications}")
    if not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha must be in (0, 1), got {args.alpha}")
    _check_output("--json", args.json)
    _check_output("--out", args.out, directory=True)
    devices = _sbc_devices(args)  # joins a jax.distributed run before any JAX computation
    reporter = is_reporter()
    args.quiet = args.quiet or not reporter
    configure(cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()))
    spec = _sbc_spec(args)
    inference_model = _inference_model(args.inference_model)
    replications = args.replications or spec.sbc.replications_ci
    checkpoint = _checkpoint_path(args, spec, replications, devices)
    args.kept_checkpoint = checkpoint
    if not reporter:  # only process 0 writes the checkpoint; the others never touch it
        return _run_sbc(args, spec, inference_model, replications, devices, checkpoint)
    _check_output("--checkpoint", str(checkpoint), directory=True)
    from .runs import locked

    with locked(checkpoint, say=lambda m: _say(m, False)):
        return _run_sbc(args, spec, inference_model, replications, devices, checkpoint)


def _run_sbc(args, spec, inference_model, replications, devices, checkpoint) -> int:
    from jax.errors import JaxRuntimeError

    from .distributed import PeerLost, is_reporter
    from .engine import clear_checkpoint, has_checkpoint, spans_processes
    from .sbc import run_model_sbc

    across_processes = bool(devices) and spans_processes(devices)
    reporter = is_reporter()
    if args.resume and not has_checkpoint(checkpoint):
        raise ValueError(f"--resume: no checkpoint of this run in {checkpoint}")
    if reporter and not args.resume:
        clear_checkpoint(checkpoint)
    if across_processes:  # nobody resumes what process 0 is clearing
        from .distributed import barrier

        barrier("regmaster: checkpoint ready")
    if replications < MIN_USEFUL_REPLICATIONS:
        _say(
            f"warning: {replications} replications: the rank tests have little power below "
            f"{MIN_USEFUL_REPLICATIONS} (a posterior 20% too narrow is missed in 13% of runs "
            "even at 100); read a PASS as a smoke test",
            args.quiet,
            always=reporter,
        )
    _say(
        f"SBC of {args.model}"
        + (f" fitted with {args.inference_model}" if args.inference_model else "")
        + f": {replications} replications x {spec.sbc.num_chains} chains in one batched NUTS "
        "program"
        + (f" over {len(devices)} devices" if devices else "")
        + (f", resuming from {checkpoint}" if args.resume else f"; checkpoint {checkpoint}"),
        args.quiet,
    )
    lanes = replications * spec.sbc.num_chains
    try:
        result = run_model_sbc(
            spec,
            num_replications=replications,
            seed=args.seed,
            alpha=args.alpha,
            inference_model=inference_model,
            devices=devices,
            on_progress=_progress_printer(replications, lanes, args.quiet),
            checkpoint=checkpoint,
        )
    except JaxRuntimeError as error:  # a collective failed: another process stopped
        if not across_processes:
            raise
        raise PeerLost.from_error(error) from None
    except KeyboardInterrupt:
        if not has_checkpoint(checkpoint):
            print("regmaster: interrupted before the first segment finished", file=sys.stderr)
            return 130
        again = " ".join(["regmaster", *args.argv])
        if "--resume" not in args.argv:
            again += " --resume"
        print(f"regmaster: interrupted; the finished segments are kept: {again}", file=sys.stderr)
        return 130
    from .verdicts import sbc_verdicts

    verdicts = sbc_verdicts(result)
    passed = all(v.passed for v in verdicts)
    if not reporter:  # every process holds the same result; the first reports it
        return 0 if passed else 1
    if args.json:  # the result is kept before anything else can fail
        _write_sbc_record(args, spec, result, verdicts)
    _print_sbc(result, verdicts)
    if args.out:
        from .plots import save_sbc_figures

        for path in save_sbc_figures(result, args.out):
            _say(f"wrote {path}", args.quiet)
    clear_checkpoint(checkpoint)
    return 0 if passed else 1


def _print_sbc(result, verdicts) -> None:
    print(f"{'quantity':<16} {'p (Holm)':>9} {'chi2':>8} {'ks':>8} {'mean':>8} {'spread':>8}")
    for row in result.rows():
        print(
            f"{row['name']:<16} {row['pvalue']:>9.3g} {row['p_chi2']:>8.3g} "
            f"{row['p_ks']:>8.3g} {row['p_mean']:>8.3g} {row['p_spread']:>8.3g}"
        )
    diag = result.fit_diagnostics
    print(
        f"fits: {diag['divergent_transitions']} divergent and "
        f"{diag['saturated_transitions']} tree-depth-saturated transitions; "
        f"median bulk ESS {diag['median_ess_bulk']:.0f}; "
        f"{diag['share_ess_below_num_draws']:.1%} of (replication, quantity) bulk ESS below "
        f"{result.num_draws}"
    )
    for verdict in verdicts:
        if not verdict.passed:
            print(f"FAIL: {verdict.name}: {verdict.message}")
    status = "PASS" if all(v.passed for v in verdicts) else "FAIL"
    print(
        f"{status}: {result.model}, {result.replications} replications, family-wise alpha "
        f"{result.alpha}, {result.seconds:.1f} s ({result.replications_per_second:.1f} "
        f"replications/s)"
    )


def _write_sbc_record(args, spec, result, verdicts) -> None:
    """``--json``: a run record ``regmaster report`` reads (one SBC check) with the ranks, and
    the thinned draws and truths beside it (``PATH.draws.npz``)."""
    import numpy as np

    from .report import SCHEMA, environment, jsonable
    from .verdicts import sbc_passed

    passed = sbc_passed(result)
    failed = [v.message for v in verdicts if not v.passed]
    sidecar = Path(args.json).with_suffix(".draws.npz")
    check = {
        "test": f"regmaster sbc --model {args.model} --seed {args.seed}",
        "family": "sbc",
        "model": spec.name,
        "params": spec.name,
        "backend": None,
        "outcome": "passed" if passed else "failed",
        "verdict": "pass" if passed else "fail",
        "reason": failed[0] if failed else None,
        "seconds": round(result.seconds, 3),
        "figures": {
            **result.figures(),
            "seed": args.seed,
            "verdicts": {
                v.name: {"passed": v.passed, "value": v.value, "bound": v.bound} for v in verdicts
            },
        },
        "images": [],
    }
    sbc = {
        **result.to_json(),
        "seed": args.seed,
        "inference_model": args.inference_model,
        "settings": _sbc_settings(spec),
        "ranks": np.asarray(result.ranks).tolist(),
        "draws_file": sidecar.name,
    }
    record = {
        "schema": SCHEMA,
        "environment": environment(["regmaster", *args.argv]),
        "seconds": round(result.seconds, 1),
        "results": [check],
        "sbc": sbc,
    }
    _write_json(args.json, jsonable(record))
    np.savez_compressed(
        sidecar,
        quantities=np.asarray(result.quantities),
        ranks=result.ranks,
        truth=result.truth,
        thinned_draws=result.thinned,
    )


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
    return {
        **spec.sbc.to_json(),
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
        "with Holm's correction, and check the fits' health (thinned draws near-independent). "
        "Exits 0 on PASS, 1 on FAIL (ranks or health), 2 on bad input, 3 on an internal error "
        "(the checkpoint is kept). MODULE:ATTR paths are imported from the current directory "
        "first, then sys.path.",
    )
    sbc.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help=f"one of: {', '.join(zoo.names(calibratable=True))}; or your own model, "
        "package.module:SPEC naming a regmaster ModelSpec with SBC settings",
    )
    sbc.add_argument(
        "--inference-model",
        metavar="MODULE:ATTR",
        help="fit this NumPyro model (or ModelSpec's model) to the data simulated from --model: "
        "same sites, another prior or an approximation; default: --model's own",
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
    sbc.add_argument(
        "--json",
        metavar="PATH",
        help="write the run record to PATH (verdicts, p-values, ranks, settings; `regmaster "
        "report show PATH` reads it) and the thinned draws and truths to PATH.draws.npz",
    )
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
        "~/.cache/regmaster/runs/sbc-MODEL-nN-seedS-HASH, HASH naming everything that defines "
        "the run; locked while in use; removed when the run completes)",
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
    except KeyboardInterrupt:
        print("regmaster: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from .distributed import PeerLost

        if isinstance(error, PeerLost):
            print(f"regmaster: error: {error}", file=sys.stderr)
            return 2
        return _internal_error(args, error)


INTERNAL_ERROR = 3
"""Exit status of an error inside regmaster (1 is a FAIL verdict, 2 bad input)."""


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


if __name__ == "__main__":
    sys.exit(main())
