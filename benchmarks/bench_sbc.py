"""The batched SBC engine against the two usual ways of fitting SBC replications, in one run.

Same model (linear, degree 1, 20 inputs), same simulated data sets, same NUTS settings (300 warmup,
300 samples, 2 chains) for all three:
  engine      all replications x chains in one compiled NUTS program (regmaster.engine.fit_batched:
              lanes vmapped 40 at a time under one lax.map on a CPU, all at once on a GPU), on
              one device, then split over every device (on a CPU one per core:
              XLA_FLAGS=--xla_force_host_platform_device_count, set here before JAX starts; the
              loops and the one-device engine use the first only);
  loop/MCMC   a Python loop of numpyro MCMC.run, one per replication (how SBC tools work);
  loop/kernel a Python loop over replications of the engine's own compiled chain runner.
Times include compilation. Usage:
    python benchmarks/bench_sbc.py [--replications N] [--mcmc-replications K] [--backend gpu]
With K < N the MCMC loop runs K replications and its time per replication is scaled to N;
``--loop-replications J`` does the same for the kernel loop. Each time is printed as it is taken.
``--backend gpu`` runs every contender on the first GPU (the split engine uses every GPU and is
left out when there is one). The execution-only lines also time the other layout of lanes (all
in one vmap on a CPU, 40 per step on a GPU; see regmaster.engine.default_lanes_per_step).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# One CPU device per core for the split engine; must be set before JAX starts.
os.environ.setdefault(
    "XLA_FLAGS", f"--xla_force_host_platform_device_count={len(os.sched_getaffinity(0))}"
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from regmaster import engine as nuts_engine  # noqa: E402
from regmaster import model_linear, sbc  # noqa: E402

jax.config.update("jax_enable_x64", True)
WARMUP, SAMPLES, CHAINS = 300, 300, 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--mcmc-replications", type=int, default=None)
    parser.add_argument("--loop-replications", type=int, default=None)
    parser.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    args = parser.parse_args()
    try:
        devices = jax.devices(args.backend)
    except RuntimeError:
        parser.error(f"--backend {args.backend}: JAX sees no such device ({jax.devices()})")
    with jax.default_device(devices[0]):
        n = args.replications
        compare(n, args.mcmc_replications or n, args.loop_replications or n, devices)


def progress(label: str, seconds: float) -> None:
    print(f"  measured {label}: {seconds:.2f} s", flush=True)


def compare(n: int, k: int, j: int, devices: list) -> None:
    """Time the three contenders on ``n`` replications (the MCMC loop on ``k``, the kernel loop
    on ``j``, each scaled to ``n``)."""
    x = jnp.linspace(-10.0, 10.0, 20)
    _, y = sbc.simulate(model_linear, jr.PRNGKey(0), x, n, degree=1)
    platform = devices[0].platform.upper()
    split = len(devices) > 1

    def engine_fit(
        key, y_batch, num_warmup=WARMUP, num_samples=SAMPLES, on=None, segment=None, regroup=True
    ):
        return nuts_engine.fit_batched(
            model_linear,
            key,
            x,
            y_batch,
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=CHAINS,
            devices=on,
            segment_steps=segment,
            regroup=regroup,
            degree=1,
        )

    # Untimed: the first NUTS program of a process pays ~1 s of one-off start-up (imports,
    # lowering rules), whichever contender comes first.
    engine_fit(jr.PRNGKey(9), y[:2], num_warmup=2, num_samples=2)

    start = time.perf_counter()
    fit = engine_fit(jr.PRNGKey(1), y)
    engine = time.perf_counter() - start
    progress("engine", engine)
    # The same run in one segment: what segments (progress, Ctrl-C, checkpoints) cost.
    start = time.perf_counter()
    engine_fit(jr.PRNGKey(1), y, segment=WARMUP + SAMPLES)
    one_segment = time.perf_counter() - start
    progress("engine in one segment", one_segment)
    # Lanes left in their first groups against regrouped: what regrouping by trajectory length
    # saves. Alternated twice each (compilation included in every call), medians compared.
    regrouping = {True: [], False: []}
    for regroup in (False, True, False, True):
        start = time.perf_counter()
        engine_fit(jr.PRNGKey(1), y, regroup=regroup)
        regrouping[regroup].append(time.perf_counter() - start)
        progress(
            f"engine, {'regrouped' if regroup else 'never regrouped'}", regrouping[regroup][-1]
        )
    fixed_groups, regrouped = (statistics.median(regrouping[r]) for r in (False, True))
    if split:
        start = time.perf_counter()
        engine_fit(jr.PRNGKey(1), y, on=devices)
        engine_split = time.perf_counter() - start
        progress("engine split", engine_split)

    start = time.perf_counter()
    runner = nuts_engine.chain_runner(
        model_linear, x, y[0], num_warmup=WARMUP, num_samples=SAMPLES, degree=1
    )
    one_chain, template = runner.one_chain, runner.template
    run_replication = jax.jit(jax.vmap(one_chain, in_axes=(0, None, 0)))
    z0 = nuts_engine.uniform_initial_points(jr.PRNGKey(2), template, n * CHAINS)
    keys = jr.split(jr.PRNGKey(3), n * CHAINS).reshape(n, CHAINS, -1)

    def run_kernel_loop(first: int, stop: int) -> float:
        start, out = time.perf_counter(), None
        for r in range(first, stop):
            out = run_replication(
                jax.tree.map(lambda v, r=r: v[r * CHAINS : (r + 1) * CHAINS], z0), y[r], keys[r]
            )
        jax.block_until_ready(out)
        return time.perf_counter() - start

    # The first replication pays the compilation; the others are scaled from j - 1 to n - 1.
    kernel_loop = time.perf_counter() - start + run_kernel_loop(0, 1)
    kernel_loop += run_kernel_loop(1, j) * (n - 1) / max(j - 1, 1) if n > 1 else 0.0
    progress("loop/kernel (scaled)", kernel_loop)

    # Execution alone, compilation excluded: each program is compiled before it is timed.
    z_all = nuts_engine.uniform_initial_points(jr.PRNGKey(4), template, n * CHAINS)
    y_rows, keys_all = jnp.repeat(y, CHAINS, axis=0), jr.split(jr.PRNGKey(5), n * CHAINS)
    # The engine's own layout (the platform's default lanes per step), the other layout, and the
    # engine split over every device.
    lanes = nuts_engine.default_lanes_per_step(devices[0].platform, n * CHAINS)
    other_lanes = nuts_engine.LANES_PER_STEP if lanes != nuts_engine.LANES_PER_STEP else n * CHAINS
    layouts = [(lanes, None), (other_lanes, None)] + ([(lanes, devices)] if split else [])
    executions = []
    for per_step, on in layouts:
        batched = nuts_engine.batched_chains(one_chain, lanes_per_step=per_step, devices=on)
        jax.block_until_ready(batched(z_all, y_rows, keys_all))
        start = time.perf_counter()
        jax.block_until_ready(batched(z_all, y_rows, keys_all))
        executions.append(time.perf_counter() - start)
        progress(
            f"execution, {per_step} lanes per step on {len(on or [0])} device(s)", executions[-1]
        )
    engine_run, other_layout_run = executions[:2]
    kernel_loop_run = run_kernel_loop(0, j) * n / j
    progress("execution, loop/kernel (scaled)", kernel_loop_run)

    start = time.perf_counter()
    for r in range(k):
        mcmc = MCMC(
            NUTS(model_linear),
            num_warmup=WARMUP,
            num_samples=SAMPLES,
            num_chains=CHAINS,
            chain_method="vectorized",
            progress_bar=False,
        )
        mcmc.run(jr.PRNGKey(10 + r), x, y[r], degree=1)
        jax.block_until_ready(mcmc.get_samples())
    mcmc_loop = (time.perf_counter() - start) * n / k

    scaled = "" if k == n else f" (measured on {k}, scaled to {n})"
    loop_scaled = "" if j == n else f" (measured on {j}, scaled to {n})"
    print(f"linear, {n} replications x {CHAINS} chains, {WARMUP}+{SAMPLES} iterations")
    engines = [("engine", engine, engine_run, f"1 {platform} device")]
    if split:
        engines.append(
            ("engine split", engine_split, executions[2], f"{len(devices)} {platform} devices")
        )
    for label, seconds, _, where in engines:
        print(f"{label:12} {seconds:8.1f} s  {n / seconds:8.1f} replications/s  ({where})")
    print(f"loop/kernel  {kernel_loop:8.1f} s  {n / kernel_loop:8.1f} replications/s{loop_scaled}")
    print(f"loop/MCMC    {mcmc_loop:8.1f} s  {n / mcmc_loop:8.2f} replications/s{scaled}")
    for label, seconds, _, where in engines:
        print(
            f"{label} ({where}) speed-up: {mcmc_loop / seconds:.0f}x over loop/MCMC (target "
            f">= 100x), {kernel_loop / seconds:.1f}x over loop/kernel (target >= 3x)"
        )
    runs = ", ".join(f"{label} {run:.2f} s" for label, _, run, _ in engines)
    ratios = ", ".join(f"{kernel_loop_run / run:.1f}x" for _, _, run, _ in engines)
    print(
        f"execution alone (compiled once before), {lanes} lanes per step: {runs}, loop/kernel "
        f"{kernel_loop_run:.2f} s; ratios {ratios}"
    )
    print(
        f"execution alone, {other_lanes} lanes per step: {other_layout_run:.2f} s "
        f"({kernel_loop_run / other_layout_run:.1f}x over loop/kernel; "
        f"{other_layout_run / engine_run:.2f} of the {lanes}-lane time)"
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
    print(f"divergences in the engine's fits: {int(fit.diverging.sum())}")


if __name__ == "__main__":
    main()
