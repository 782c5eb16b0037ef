"""The batched SBC engine against the two usual ways of fitting SBC replications, in one run.

Same model (``--model``, default linear: degree 1, 20 inputs, 300 warmup + 300 samples, 2 chains;
any calibratable NUTS model with its registry settings), same simulated data sets, same NUTS
settings for all three:
  engine      all replications x chains in one compiled NUTS program (regmaster.engine.fit_batched:
              lanes vmapped 40 at a time under one lax.map on a CPU, all at once on a GPU), on
              one device, then split over every device (on a CPU one per core:
              XLA_FLAGS=--xla_force_host_platform_device_count, set here before JAX starts; the
              loops and the one-device engine use the first only);
  loop/MCMC   a Python loop of numpyro MCMC.run, one per replication: warm (one MCMC object
              with jit_model_args=True, compiled by an untimed first run; the target's
              baseline) and cold (a fresh MCMC per replication, compiling every time);
  loop/kernel a Python loop over replications of the engine's own compiled chain runner.
Times include compilation. Usage:
    python benchmarks/bench_sbc.py [--model NAME] [--replications N] [--mcmc-replications K]
        [--backend gpu] [--targets-only]
With K < N the MCMC loop runs K replications and its time per replication is scaled to N;
``--loop-replications J`` does the same for the kernel loop. Each time is printed as it is taken.
``--backend gpu`` runs every contender on the first GPU (the split engine uses every GPU and is
left out when there is one). The execution-only lines also time the other layout of lanes (all
in one vmap on a CPU, 40 per step on a GPU; see regmaster.engine.default_lanes_per_step).
``--targets-only`` times the three contenders and nothing else (no layouts, segments, regrouping).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial

# One CPU device per core for the split engine; must be set before JAX starts.
os.environ.setdefault(
    "XLA_FLAGS", f"--xla_force_host_platform_device_count={len(os.sched_getaffinity(0))}"
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
from _engine_loops import batched_chains, one_chain, uniform_initial_points  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from regmaster import engine as nuts_engine  # noqa: E402
from regmaster import sbc, zoo  # noqa: E402
from regmaster.settings import DRIVERS, Execution, RunLengths  # noqa: E402

jax.config.update("jax_enable_x64", True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="linear", help="a calibratable NUTS model")
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--mcmc-replications", type=int, default=None)
    parser.add_argument("--loop-replications", type=int, default=None)
    parser.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--targets-only", action="store_true")
    parser.add_argument(
        "--drivers", default=",".join(DRIVERS), help="the engine's drivers to time, in order"
    )
    args = parser.parse_args()
    drivers = tuple(args.drivers.split(","))
    if not drivers or set(drivers) - set(DRIVERS):
        parser.error(f"--drivers must name some of {DRIVERS}, got {args.drivers!r}")
    spec = zoo.REGISTRY.get(args.model)
    if spec is None or spec.sbc is None or spec.inference != "nuts":
        parser.error(f"--model must be one of {zoo.names(calibratable=True)}, got {args.model!r}")
    for option in ("replications", "mcmc_replications", "loop_replications"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1, got {value}")
    try:
        devices = jax.devices(args.backend)
    except RuntimeError:
        parser.error(f"--backend {args.backend}: JAX sees no such device ({jax.devices()})")
    with jax.default_device(devices[0]):
        n = args.replications
        k, j = min(args.mcmc_replications or n, n), min(args.loop_replications or n, n)
        compare(spec, n, k, j, devices, args.targets_only, drivers)


def progress(label: str, seconds: float) -> None:
    print(f"  measured {label}: {seconds:.2f} s", flush=True)


def compare(
    spec, n: int, k: int, j: int, devices: list, targets_only: bool = False, drivers=DRIVERS
) -> None:
    """Time the three contenders on ``n`` replications of ``spec``'s SBC (the MCMC loop on ``k``,
    the kernel loop on ``j``, each scaled to ``n``)."""
    settings, kwargs = spec.sbc, spec.fixed_kwargs()
    lengths = settings.lengths
    warmup, samples, chains = lengths.num_warmup, lengths.num_samples, lengths.num_chains
    nuts = {"target_accept_prob": spec.target_accept_prob, "max_tree_depth": spec.max_tree_depth}
    x = settings.design()
    _, y = sbc.simulate(spec.model, jr.PRNGKey(0), x, n, observed=settings.observed, **kwargs)
    platform = devices[0].platform.upper()
    split = len(devices) > 1 and not targets_only

    def engine_fit(
        key,
        y_batch,
        num_warmup=warmup,
        num_samples=samples,
        on=None,
        segment=None,
        regroup=True,
        driver=None,
    ):
        return nuts_engine.fit_batched(
            spec.model,
            key,
            x,
            y_batch,
            RunLengths(num_warmup=num_warmup, num_samples=num_samples, num_chains=chains),
            spec.nuts(),
            Execution(devices=on, segment_steps=segment, regroup=regroup, driver=driver),
            kwargs,
        )

    # Untimed: the first NUTS program of a process pays ~1 s of one-off start-up (imports,
    # lowering rules), whichever contender comes first.
    engine_fit(jr.PRNGKey(9), y[:2], num_warmup=2, num_samples=2)

    # The engine's drivers, each with its compilation (interleaved: every lane one leapfrog
    # step per tick; lockstep: a transition per step, waiting for the group's longest).
    by_driver = {}
    for driver in drivers:
        start = time.perf_counter()
        fit = engine_fit(jr.PRNGKey(1), y, driver=driver)
        by_driver[driver] = time.perf_counter() - start
        progress(f"engine ({driver})", by_driver[driver])
        if fit.leapfrog_steps is not None:
            computed, needed = fit.leapfrog_steps
            print(f"  leapfrog steps computed per needed ({driver}): {computed / needed:.3f}")
    engine = by_driver[drivers[0]]
    # The same run in one segment: what segments (progress, Ctrl-C, checkpoints) cost.
    one_segment = None
    if not targets_only:
        start = time.perf_counter()
        engine_fit(jr.PRNGKey(1), y, segment=warmup + samples)
        one_segment = time.perf_counter() - start
        progress("engine in one segment", one_segment)
    # Lanes left in their first groups against regrouped: what regrouping by trajectory length
    # saves. Alternated twice each (compilation included in every call), medians compared.
    regrouping = {True: [], False: []}
    for regroup in () if targets_only else (False, True, False, True):
        start = time.perf_counter()
        engine_fit(jr.PRNGKey(1), y, regroup=regroup)
        regrouping[regroup].append(time.perf_counter() - start)
        progress(
            f"engine, {'regrouped' if regroup else 'never regrouped'}", regrouping[regroup][-1]
        )
    if not targets_only:
        fixed_groups, regrouped = (statistics.median(regrouping[r]) for r in (False, True))
    if split:
        start = time.perf_counter()
        engine_fit(jr.PRNGKey(1), y, on=devices)
        engine_split = time.perf_counter() - start
        progress("engine split", engine_split)

    start = time.perf_counter()
    runner = nuts_engine.chain_runner(
        spec.model, x, y[0], num_warmup=warmup, num_samples=samples, **nuts, **kwargs
    )
    chain, template = partial(one_chain, runner), runner.template
    run_replication = jax.jit(jax.vmap(chain, in_axes=(0, None, 0)))
    z0 = uniform_initial_points(jr.PRNGKey(2), template, n * chains)
    keys = jr.split(jr.PRNGKey(3), n * chains).reshape(n, chains, -1)

    def run_kernel_loop(first: int, stop: int) -> float:
        start, out = time.perf_counter(), None
        for r in range(first, stop):
            out = run_replication(
                jax.tree.map(lambda v, r=r: v[r * chains : (r + 1) * chains], z0), y[r], keys[r]
            )
        jax.block_until_ready(out)
        return time.perf_counter() - start

    # The first replication pays the compilation; the others are scaled from j - 1 to n - 1.
    kernel_loop = time.perf_counter() - start + run_kernel_loop(0, 1)
    kernel_loop += run_kernel_loop(1, j) * (n - 1) / max(j - 1, 1) if n > 1 else 0.0
    progress("loop/kernel (scaled)", kernel_loop)

    if not targets_only:
        executions, labels = execution_alone(chain, template, y, chains, devices, split)
        kernel_loop_run = run_kernel_loop(0, j) * n / j
        progress("execution, loop/kernel (scaled)", kernel_loop_run)

    # The loops of MCMC.run: warm (one MCMC object, model arguments as jit arguments, compiled
    # by an untimed first run: compilation outside the loop) and cold (a fresh MCMC per
    # replication, compiling every time, as most SBC scripts do).
    model = partial(spec.model, **kwargs)

    def new_mcmc(**options):
        return MCMC(
            NUTS(model, **nuts),
            num_warmup=warmup,
            num_samples=samples,
            num_chains=chains,
            chain_method="vectorized",
            progress_bar=False,
            **options,
        )

    def run_mcmc(mcmc, r):
        mcmc.run(jr.PRNGKey(10 + r), x, y[r])
        jax.block_until_ready(mcmc.get_samples())

    warm = new_mcmc(jit_model_args=True)
    run_mcmc(warm, n - 1)  # untimed: compiles the sampler for data of this shape
    start = time.perf_counter()
    for r in range(k):
        run_mcmc(warm, r)
    mcmc_warm = (time.perf_counter() - start) * n / k
    progress("loop/MCMC warm (scaled)", mcmc_warm)
    start = time.perf_counter()
    for r in range(k):
        run_mcmc(new_mcmc(), r)
    mcmc_cold = (time.perf_counter() - start) * n / k
    progress("loop/MCMC cold (scaled)", mcmc_cold)

    scaled = "" if k == n else f" (measured on {k}, scaled to {n})"
    loop_scaled = "" if j == n else f" (measured on {j}, scaled to {n})"
    print(f"{spec.name}, {n} replications x {chains} chains, {warmup}+{samples} iterations")
    engines = [("engine", t, f"1 {platform} device, {d}") for d, t in by_driver.items()]
    if split:
        engines.append(("engine split", engine_split, f"{len(devices)} {platform} devices"))
    for label, seconds, where in engines:
        print(f"{label:15} {seconds:8.1f} s  {n / seconds:8.2f} replications/s  ({where})")
    print(
        f"loop/kernel     {kernel_loop:8.1f} s  {n / kernel_loop:8.2f} replications/s{loop_scaled}"
    )
    print(f"loop/MCMC warm  {mcmc_warm:8.1f} s  {n / mcmc_warm:8.2f} replications/s{scaled}")
    print(f"loop/MCMC cold  {mcmc_cold:8.1f} s  {n / mcmc_cold:8.2f} replications/s{scaled}")
    for label, seconds, where in engines:
        print(
            f"{label} ({where}), compilation counted: {mcmc_warm / seconds:.1f}x over the warm "
            f"loop/MCMC (target >= 100x), {kernel_loop / seconds:.2f}x over loop/kernel (target "
            f">= 3x); {mcmc_cold / seconds:.0f}x over the cold loop/MCMC"
        )
    print(
        f"per replication: engine {1000 * engine / n:.0f} ms, loop/kernel "
        f"{1000 * kernel_loop / n:.0f} ms, warm loop/MCMC {1000 * mcmc_warm / n:.0f} ms (of which "
        f"NUTS itself is at most the kernel loop's)"
    )
    print(f"divergences in the engine's fits: {int(fit.diverging.sum())}")
    if targets_only:
        return
    engine_run = executions[0]
    runs = ", ".join(f"{label} {executions[i]:.2f} s" for i, label in labels)
    print(
        f"execution alone (compiled once before): {runs}; loop/kernel {kernel_loop_run:.2f} s; "
        f"ratios {', '.join(f'{kernel_loop_run / t:.1f}x' for t in executions)}"
    )
    fixed = engine - engine_run
    print(
        f"engine's fixed cost (tracing, lowering, compiling) {fixed:.2f} s: with compilation "
        f"counted, no engine with that cost beats the kernel loop by more than "
        f"{kernel_loop / fixed:.1f}x"
    )
    print(
        f"engine regrouping lanes by trajectory length {regrouped:.2f} s against never "
        f"regrouped {fixed_groups:.2f} s (medians of 2, alternated): ratio "
        f"{fixed_groups / regrouped:.2f}"
    )
    print(
        f"engine in {nuts_engine.SEGMENTS} segments {engine:.2f} s against one segment "
        f"{one_segment:.2f} s: ratio {engine / one_segment:.3f}"
    )


def execution_alone(chain, template, y, chains: int, devices: list, split: bool):
    """Seconds of the engine's compiled program alone (compiled before it is timed) in its own
    layout (the platform's lanes per step), the other layout and, if ``split``, over every
    device; with ``(index, label)`` of each."""
    n = y.shape[0]
    z_all = uniform_initial_points(jr.PRNGKey(4), template, n * chains)
    y_rows, keys_all = jnp.repeat(y, chains, axis=0), jr.split(jr.PRNGKey(5), n * chains)
    lanes = nuts_engine.default_lanes_per_step(devices[0].platform, n * chains)
    other_lanes = nuts_engine.LANES_PER_STEP if lanes != nuts_engine.LANES_PER_STEP else n * chains
    layouts = [(lanes, None), (other_lanes, None)] + ([(lanes, devices)] if split else [])
    executions, labels = [], []
    for per_step, on in layouts:
        batched = batched_chains(chain, lanes_per_step=per_step, devices=on)
        jax.block_until_ready(batched(z_all, y_rows, keys_all))
        start = time.perf_counter()
        jax.block_until_ready(batched(z_all, y_rows, keys_all))
        executions.append(time.perf_counter() - start)
        labels.append((len(labels), f"{per_step} lanes per step on {len(on or [0])} device(s)"))
        progress(f"execution, {labels[-1][1]}", executions[-1])
    return executions, labels


if __name__ == "__main__":
    main()
