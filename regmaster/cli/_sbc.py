"""``regmaster sbc``: simulation-based calibration of a NUTS model, resumable and distributable."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .. import verdicts, zoo
from ._common import CACHE_OPTION, check_output, check_outputs, say, seed_value, write_json


def add_parser(subparsers) -> None:
    """Declare ``sbc`` and its options.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``regmaster`` command's subcommands.
    """
    sbc = subparsers.add_parser(
        "sbc",
        help="simulation-based calibration of a model's inference (NUTS or an SVI guide)",
        description="Simulation-based calibration (Talts et al. 2018): simulate from the prior, "
        "fit every replication in one batched program (NUTS, or the SVI guide of the model's "
        "SBCSettings), rank the truth "
        "among the posterior draws, test uniformity (chi-square, KS, mean, spread) "
        "with Holm's correction, and check the fits' health (thinned draws near-independent). "
        "Exits 0 on PASS, 1 on FAIL (ranks or health), 2 on bad input, 3 on an internal error "
        "(the checkpoint is kept). MODULE:ATTR paths are imported from the current directory "
        "first, then sys.path.",
    )
    _add_run_options(sbc)
    _add_output_options(sbc)
    _add_device_options(sbc)
    sbc.set_defaults(func=run)


def _add_run_options(sbc) -> None:
    """What is calibrated, how often, with which seed and family-wise alpha."""
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
        "--inference",
        choices=list(zoo.INFERENCES),
        default=None,
        help="the inference calibrated: nuts (the entry's kernel settings), hmc (10 leapfrog "
        "steps), an SVI guide "
        "(svi-full-rank, svi-mean-field, svi-low-rank), laplace (at the MAP), map (a point, "
        "which fails) or mc-dropout (the MAP, a fresh dropout mask per draw); default: the "
        "model's SBC settings",
    )
    sbc.add_argument(
        "--replications",
        type=int,
        default=None,
        metavar="N",
        help="replications (default: the model's CI size; 1000 for a release)",
    )
    sbc.add_argument(
        "--seed", type=seed_value, default=0, help="simulation and fit seed (default 0)"
    )
    sbc.add_argument(
        "--alpha",
        type=float,
        default=verdicts.SBC_ALPHA.value,
        help="family-wise false-alarm rate of the verdict (default %(default)s)",
    )


def _add_output_options(sbc) -> None:
    """Where the record, plots, compilation cache and checkpoint go; progress and resuming."""
    sbc.add_argument(
        "--json",
        metavar="PATH",
        help="write the run record to PATH (verdicts, p-values, ranks, settings; `regmaster "
        "report show PATH` reads it) and the thinned draws and truths to PATH.draws.npz",
    )
    sbc.add_argument("--out", metavar="DIR", help="save rank histograms and ECDF plots in DIR")
    sbc.add_argument(
        "--plan",
        metavar="FAULT",
        type=_fault,
        help="fit nothing: print how many replications detect FAULT (narrow=0.1: a posterior "
        "10%% too narrow; wide=0.1; shift=0.25: shifted by 0.25 sd) in every quantity, with "
        "the power of each size, simulated for this model's quantities (docs/calibration.md"
        "#planner)",
    )
    sbc.add_argument(
        "--plan-power", type=float, default=None, metavar="P", help="the target power (0.8)"
    )
    sbc.add_argument(
        "--sequential",
        metavar="N1,N2,...",
        type=_stages,
        help="replications in stages (e.g. 100,200,500,1000), each an independent run; after "
        "each the verdict over every rank so far at alpha / (number of looks), stopping at the "
        "first that rejects: the family-wise false-alarm rate stays alpha (docs/calibration.md"
        "#sequential); no checkpoint",
    )
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


def _add_device_options(sbc) -> None:
    """The devices, processes and hosts the replications are split over."""
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


def run(args) -> int:
    """Check the options, join a distributed run if asked, then calibrate under the checkpoint's
    lock (only process 0 writes the checkpoint).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``sbc`` options, with ``argv`` the command line.

    Returns
    -------
    int
        0 on PASS, 1 on FAIL, 130 when interrupted.
    """
    from ..distributed import is_reporter
    from ..runtime import configure, default_cache_dir

    if args.replications is not None and args.replications < 2:
        raise ValueError(f"--replications must be >= 2, got {args.replications}")
    if not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.plan is not None:
        ignored = [o for o, v in (("--json", args.json), ("--out", args.out),
                                  ("--sequential", args.sequential), ("--resume", args.resume),
                                  ("--checkpoint", args.checkpoint)) if v]  # fmt: skip
        if ignored:
            raise ValueError(f"--plan fits nothing; drop {', '.join(ignored)}")
        return _plan(args)
    if args.plan_power is not None:
        raise ValueError("--plan-power applies with --plan only")
    if args.sequential and args.checkpoint:
        raise ValueError("--sequential keeps no checkpoint; drop --checkpoint")
    for option, path in (("--json", args.json), ("--out", args.out)):
        if path is not None and not path:
            raise ValueError(f"{option} needs a path, got an empty one")
    if args.sequential and (args.replications is not None or args.resume):
        given = "--replications" if args.replications is not None else "--resume"
        raise ValueError(f"--sequential sets the replications in stages; drop {given}")
    cache = None if args.no_cache else str(args.cache_dir or default_cache_dir())
    check_outputs(
        {"--json": (args.json, False), "--out": (args.out, True), CACHE_OPTION: (cache, True)}
    )
    devices = _sbc_devices(args)  # joins a jax.distributed run before any JAX computation
    reporter = is_reporter()
    args.quiet = args.quiet or not reporter
    configure(cache_dir=cache)
    spec = _with_inference(_sbc_spec(args), args.inference)
    inference_model = _inference_model(args.inference_model)
    if args.sequential:
        return _run_sequential(args, spec, inference_model, devices, reporter)
    replications = args.replications or spec.sbc.replications_ci
    checkpoint = _checkpoint_path(args, spec, replications, devices)
    args.kept_checkpoint = checkpoint
    if not reporter:  # only process 0 writes the checkpoint; the others never touch it
        return _run_sbc(args, spec, inference_model, replications, devices, checkpoint)
    check_output("--checkpoint", str(checkpoint), directory=True)
    from ..runs import locked

    with locked(checkpoint, say=lambda m: say(m, False)):
        return _run_sbc(args, spec, inference_model, replications, devices, checkpoint)


def _stages(text: str) -> list[int]:
    """``100,200,500`` as increasing replication counts (an argparse ``type``)."""
    try:
        stages = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be increasing replication counts such as 100,200,500, got {text!r}"
        ) from None
    if stages[0] < 2 or any(b <= a for a, b in zip(stages[:-1], stages[1:], strict=True)):
        raise argparse.ArgumentTypeError(f"must increase from at least 2, got {text!r}")
    return stages


def _fault(text: str) -> dict[str, float]:
    """``narrow=K``, ``wide=K`` or ``shift=D`` as the planner's scale or shift."""
    kind, _, value = text.partition("=")
    try:
        amount = float(value)
    except ValueError:
        amount = float("nan")
    if (
        kind not in ("narrow", "wide", "shift")
        or not 0 < amount < float("inf")
        or (kind == "narrow" and amount >= 1)
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use narrow=K (0 < K < 1), wide=K (K > 0) or shift=D (D > 0), finite"
        )
    if kind == "shift":
        return {"shift": amount}
    return {"scale": 1.0 - amount if kind == "narrow" else 1.0 + amount}


def _plan(args) -> int:
    """``--plan FAULT``: the smallest replication count that detects the fault at the target
    power, and the power of each count tried (regmaster.planning)."""
    from ..planning import DEFAULT_POWER, plan

    spec = _sbc_spec(args)
    power = DEFAULT_POWER if args.plan_power is None else args.plan_power
    if not 0.0 < power < 1.0:
        raise ValueError(f"--plan-power must be in (0, 1), got {power}")
    result = plan(spec, power=power, seed=args.seed, alpha=args.alpha, **args.plan)
    fault = args.plan
    described = (
        f"shifted by {fault['shift']:g} posterior sds"
        if "shift" in fault
        else f"{abs(1 - fault['scale']):.0%} too {'narrow' if fault['scale'] < 1 else 'wide'}"
    )
    print(
        f"SBC plan for {spec.name}: {result.quantities} quantities, {result.num_draws} draws "
        f"each; a posterior {described} in every quantity, alpha {args.alpha}"
    )
    print("replications  power (200 simulated runs)")
    for size, power in result.power_by_size.items():
        print(f"{size:<13} {power:.3f}")
    if result.replications is None:
        print(f"no size up to {max(result.power_by_size)} reaches power {power}")
    else:
        print(f"{result.replications} replications detect it with probability >= {power}")
    return 0


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
    """``--checkpoint``, or the default directory named by the run's definition."""
    from ..runs import default_checkpoint, run_key
    from ..runtime import default_cache_dir

    if args.checkpoint:
        return Path(args.checkpoint)
    key = run_key(_sbc_definition(args, spec, replications, devices))
    base = default_cache_dir().parent / "runs"
    return default_checkpoint(base, args.model, replications, args.seed, key)


def _with_inference(spec, name: str | None):
    """``spec`` calibrated with the registry's inference ``name`` (``None``: its own)."""
    if name is None:
        return spec
    settings = dataclasses.replace(spec.sbc, inference=zoo.INFERENCES[name])
    return dataclasses.replace(spec, sbc=settings)


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
    """The ModelSpec ``--model`` names, refused unless it has SBC settings."""
    spec = zoo.resolve(args.model)
    if spec.sbc is None:
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
    """The progress callback: lanes initialised, then iterations done, rate and time left."""

    def progress(p) -> None:
        """One progress line on stderr for ``p``, the engine's progress."""
        if p.done == 0:
            say(f"  {lanes} lanes initialised in {p.seconds:.1f} s", quiet)
            return
        rate = replications * (p.done - p.resumed_from) / p.total / p.seconds
        left = p.seconds_left
        eta = "estimating the time left" if left != left else f"~{left:.0f} s left"
        say(
            f"  {p.done}/{p.total} NUTS iterations ({p.fraction:.0%}), {rate:.2f} "
            f"replications/s, {eta}",
            quiet,
        )

    return progress


def _run_sbc(args, spec, inference_model, replications, devices, checkpoint) -> int:
    """Calibrate from the checkpoint (or from scratch), then report; 130 when interrupted."""
    from jax.errors import JaxRuntimeError

    from ..distributed import PeerLost, is_reporter
    from ..engine import spans_processes
    from ..sbc import run_sbc
    from ..settings import Execution

    across_processes = bool(devices) and spans_processes(devices)
    reporter = is_reporter()
    _start(args, spec, replications, devices, checkpoint, across_processes, reporter)
    lanes = replications * spec.sbc.lengths.num_chains
    execution = Execution(
        devices=devices,
        on_progress=_progress_printer(replications, lanes, args.quiet),
        checkpoint=checkpoint,
    )
    try:
        result = run_sbc(
            spec,
            seed=args.seed,
            replications=replications,
            alpha=args.alpha,
            inference_model=inference_model,
            execution=execution,
        )
    except JaxRuntimeError as error:  # a collective failed: another process stopped
        if not across_processes:
            raise
        raise PeerLost.from_error(error) from None
    except KeyboardInterrupt:
        return _interrupted(args, checkpoint)
    return _finish(args, spec, result, checkpoint, reporter)


def _run_sequential(args, spec, inference_model, devices, reporter) -> int:
    """``--sequential``: the stages, a line per look, then the combined result as any run's."""
    from ..sequential import sequential_sbc
    from ..settings import Execution

    stages = args.sequential
    level = args.alpha / len(stages)
    say(
        f"sequential SBC of {args.model}: looks at {', '.join(map(str, stages))} replications, "
        f"each judged at alpha {args.alpha} / {len(stages)} = {level:.3g}",
        args.quiet,
    )

    def look(replications: int, pvalue: float) -> None:
        verdict = "rejects: stop" if pvalue <= level else "holds"
        print(f"look at {replications} replications: smallest Holm p {pvalue:.3g}, {verdict}")

    outcome = sequential_sbc(
        spec,
        seed=args.seed,
        stages=stages,
        alpha=args.alpha,
        inference_model=inference_model,
        execution=Execution(devices=devices),
        on_look=look,
    )
    status = _finish(args, spec, outcome.result, None, reporter)
    print(
        f"sequential: {len(outcome.looks)} of {len(stages)} looks, each at alpha {level:.3g}, "
        f"family-wise alpha {args.alpha}"
        + (
            f"; stopped early at {outcome.looks[-1][0]} replications"
            if outcome.stopped_early
            else ""
        )
    )
    return status


def _start(args, spec, replications, devices, checkpoint, across_processes, reporter) -> None:
    """Check or clear the checkpoint, wait for every process, warn of a small run, announce it."""
    from ..engine import clear_checkpoint, has_checkpoint

    if args.resume and not has_checkpoint(checkpoint):
        raise ValueError(f"--resume: no checkpoint of this run in {checkpoint}")
    if not args.resume and has_checkpoint(checkpoint):  # an unfinished run's segments
        if args.checkpoint:  # a directory the user named may hold another run's
            raise ValueError(
                f"--checkpoint {checkpoint} holds the finished segments of an unfinished run: "
                "add --resume to continue it, or delete the directory, or name another"
            )
        say(
            f"discarding the finished segments of an earlier sitting in {checkpoint} (--resume "
            "continues them)",
            args.quiet,
            always=reporter,
        )
    if reporter and not args.resume:
        clear_checkpoint(checkpoint)
    if across_processes:  # nobody resumes what process 0 is clearing
        from ..distributed import barrier

        barrier("regmaster: checkpoint ready")
    advised = verdicts.SBC_REPLICATIONS_ADVISED
    if not advised.holds(replications):
        say(
            f"warning: {replications} replications: the rank tests have little power below "
            f"{advised.value} ({advised.false_alarm}); read a PASS as a smoke test",
            args.quiet,
            always=reporter,
        )
    inference = spec.sbc.inference or spec.nuts()
    chains = spec.sbc.lengths.num_chains
    segmented = inference.name in ("NUTS", "HMC")  # an SVI fit runs in one piece
    say(
        f"SBC of {args.model}"
        + (f" fitted with {args.inference_model}" if args.inference_model else "")
        + f": {replications} replications x {chains} chain{'s' * (chains != 1)} in one batched "
        f"{inference.name} program"
        + (f" over {len(devices)} devices" if devices else "")
        + (f", resuming from {checkpoint}" if args.resume else "")
        + (f"; checkpoint {checkpoint}" if segmented and not args.resume else ""),
        args.quiet,
    )


def _interrupted(args, checkpoint) -> int:
    """Ctrl-C: say whether finished segments are kept and the command that resumes them."""
    from ..engine import has_checkpoint

    if not has_checkpoint(checkpoint):
        print("regmaster: interrupted before the first segment finished", file=sys.stderr)
        return 130
    again = " ".join(["regmaster", *args.argv])
    if "--resume" not in args.argv:
        again += " --resume"
    print(f"regmaster: interrupted; the finished segments are kept: {again}", file=sys.stderr)
    return 130


def _finish(args, spec, result, checkpoint, reporter) -> int:
    """The verdicts; process 0 writes the record, prints the table, saves the plots and removes
    the checkpoint."""
    from ..engine import clear_checkpoint
    from ..verdicts import sbc_verdicts

    verdicts = sbc_verdicts(result)
    passed = all(v.passed for v in verdicts)
    if not reporter:  # every process holds the same result; the first reports it
        return 0 if passed else 1
    if args.json:  # the result is kept before anything else can fail
        _write_sbc_record(args, spec, result, verdicts)
    _print_sbc(result, verdicts)
    if args.out:
        from ..plots import save_sbc_figures

        for path in save_sbc_figures(result, args.out):
            say(f"wrote {path}", args.quiet)
    if checkpoint is not None:
        clear_checkpoint(checkpoint)
    return 0 if passed else 1


def print_table(result) -> None:
    """The table of the rank tests' p-values per quantity, Holm-adjusted first."""
    print(f"{'quantity':<16} {'p (Holm)':>9} {'chi2':>8} {'ks':>8} {'mean':>8} {'spread':>8}")
    for row in result.rows():
        print(
            f"{row['name']:<16} {row['pvalue']:>9.3g} {row['p_chi2']:>8.3g} "
            f"{row['p_ks']:>8.3g} {row['p_mean']:>8.3g} {row['p_spread']:>8.3g}"
        )


def _print_sbc(result, verdicts) -> None:
    """The table of p-values per quantity, the fits' health, every failed verdict, the status."""
    print_table(result)
    print(f"fits: {_health_line(result.fit_diagnostics, result.num_draws)}")
    for verdict in verdicts:
        if not verdict.passed:
            print(f"FAIL: {verdict.name}: {verdict.message}")
    status = "PASS" if all(v.passed for v in verdicts) else "FAIL"
    print(
        f"{status}: {result.model}, {result.replications} replications, family-wise alpha "
        f"{result.alpha}, {result.seconds:.1f} s ({result.replications_per_second:.1f} "
        f"replications/s)"
    )


def _health_line(diag: dict, num_draws: int) -> str:
    """The fits' health in one line: what the inference reports (a sampler's transitions, an
    optimisation's end) and, for dependent draws, their ESS."""
    parts = []
    if "divergent_transitions" in diag:
        saturated = diag.get("saturated_transitions")
        parts.append(
            f"{diag['divergent_transitions']} divergent"
            + (f" and {saturated} tree-depth-saturated" if saturated is not None else "")
            + " transitions"
        )
    if "max_final_grad_norm" in diag:
        parts.append(
            f"largest final |grad ELBO| {diag['max_final_grad_norm']:.3g}, largest relative "
            f"change of the ELBO over the last tenth {diag['max_final_loss_change']:.2g}"
        )
    if "share_ess_below_num_draws" in diag:
        parts.append(
            f"median bulk ESS {diag['median_ess_bulk']:.0f}; "
            f"{diag['share_ess_below_num_draws']:.1%} of (replication, quantity) bulk ESS below "
            f"{num_draws}"
        )
    else:
        points = diag.get("replications_with_point_draws", 0)
        parts.append(
            f"{num_draws} independent draws per replication"
            + (f", no spread in {points} replications (a point)" if points else "")
        )
    return "; ".join(parts)


def _write_sbc_record(args, spec, result, verdicts) -> None:
    """``--json``: a run record ``regmaster report`` reads (one SBC check) with the ranks, and
    the thinned draws, truths and data beside it (``PATH.draws.npz``: :func:`regmaster.sbc.
    load_result` reads it back, :func:`regmaster.sbc.rank_quantities` ranks more quantities)."""
    import numpy as np

    from ..report import SCHEMA, environment, jsonable
    from ..sbc import save_result
    from ..verdicts import sbc_passed

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
    write_json(args.json, jsonable(record))
    save_result(result, sidecar)


def _sbc_devices(args) -> list | None:
    """The devices an SBC run's lanes are split over: ``None`` (the default device) or, with
    ``--devices all`` or a ``jax.distributed`` run, every device of every process."""
    distributed = args.distributed or args.coordinator is not None
    if args.coordinator is None and (args.num_processes is not None or args.process_id is not None):
        raise ValueError("--num-processes and --process-id need --coordinator HOST:PORT")
    if distributed:
        from ..distributed import first_line, initialize

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
    """The model's SBC settings with its NUTS step-size target and tree depth."""
    return {
        **spec.sbc.to_json(),
        "target_accept_prob": spec.target_accept_prob,
        "max_tree_depth": spec.max_tree_depth,
    }
