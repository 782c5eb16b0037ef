"""A convergence run (several chains on one data set) by numpyro's ``MCMC`` and by the engine.

The convergence family runs each entry's chains vectorised in numpyro's ``MCMC``
(:func:`regmaster.convergence.multi_chain_run`): every transition waits for the longest of the
chains' trajectories. The engine's interleaved driver runs the same NUTS kernel with each chain a
slot of its own. This times both on the notebook data with the entry's sampler settings and
chains, at ``--warmup`` + ``--samples`` iterations (the release entry bnn_depth16 takes ~1,400 s
at its full 500 + 1,000), compilation included, and prints their ratio. Usage:
    python benchmarks/convergence_runs.py [--model bnn_depth16] [--warmup 100] [--samples 100]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from lane_waste import computed_per_needed

from regmaster import zoo
from regmaster.convergence import multi_chain_run
from regmaster.data import make_sinc
from regmaster.settings import Execution, RunLengths

jax.config.update("jax_enable_x64", True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    nuts = [n for n, s in zoo.REGISTRY.items() if s.inference == "nuts"]
    parser.add_argument("--model", default="bnn_depth16", choices=nuts)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    if args.warmup < 1 or args.samples < 1:
        parser.error(f"--warmup and --samples must be >= 1, got {args.warmup}, {args.samples}")
    spec, data = zoo.REGISTRY[args.model], make_sinc()
    chains = spec.convergence.num_chains
    lengths = RunLengths(num_warmup=args.warmup, num_samples=args.samples, num_chains=chains)

    start = time.perf_counter()
    run = multi_chain_run(args.model, 0, data, lengths)
    mcmc = time.perf_counter() - start
    print(f"  measured MCMC (vectorized chains): {mcmc:.1f} s", flush=True)

    start = time.perf_counter()
    fit = spec.nuts().fit(
        spec.model, jr.PRNGKey(0), data.x_train, jnp.asarray(data.y_train)[None], lengths,
        Execution(driver="interleaved"), spec.kwargs(data.model_keys),
    )  # fmt: skip
    interleaved = time.perf_counter() - start
    computed, needed = fit.leapfrog_steps
    mcmc_steps = np.asarray(run.num_steps)  # (chain, draw): one group of every chain
    lockstep = computed_per_needed(mcmc_steps, chains)
    print(
        f"{args.model}, {chains} chains, {args.warmup}+{args.samples}: MCMC {mcmc:.1f} s, engine "
        f"(interleaved) {interleaved:.1f} s, MCMC / engine {mcmc / interleaved:.2f}; leapfrog "
        f"steps computed per needed: engine {computed / needed:.2f}, MCMC's vectorised chains "
        f"{lockstep:.2f} (draws); mean steps per draw: MCMC {mcmc_steps.mean():.0f}, engine "
        f"{np.asarray(fit.num_steps).mean():.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
