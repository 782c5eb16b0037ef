"""Leapfrog steps computed per step needed, interleaved and in lockstep.

The interleaved driver counts what its slots computed (slots x ticks, idle slots included) and
what the lanes needed (every trajectory, warmup included). A vmapped lockstep transition runs
until the longest trajectory of its group ends, so a group of ``g`` lanes computes
``g * max(steps)`` lane-steps where the lanes needed ``sum(steps)``. This fits one model's SBC
lanes with the interleaved driver at the default layout and prints its count, and the lockstep
ratio over the same lanes' post-warmup trajectories for groups of 2 (the chains of one
replication: the kernel loop) and of :data:`regmaster.engine.LANES_PER_STEP` (lockstep on a
CPU). Usage:
    python benchmarks/lane_waste.py [--model NAME] [--replications N]
"""

from __future__ import annotations

import argparse

import jax
import jax.random as jr
import numpy as np

from regmaster import engine, sbc, zoo
from regmaster.settings import Execution

jax.config.update("jax_enable_x64", True)


def computed_per_needed(steps: np.ndarray, size: int) -> float:
    """``steps``: (lanes, iterations) leapfrog steps; lanes grouped in order, ``size`` per group."""
    groups = steps[: steps.shape[0] // size * size].reshape(-1, size, steps.shape[1])
    return float((groups.max(axis=1) * size).sum() / groups.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bnn", help="a calibratable NUTS model")
    parser.add_argument("--replications", type=int, default=40)
    args = parser.parse_args()
    spec = zoo.REGISTRY.get(args.model)
    if spec is None or spec.sbc is None or spec.inference != "nuts":
        parser.error(f"--model must be one of {zoo.names(calibratable=True)}, got {args.model!r}")
    if args.replications * spec.sbc.lengths.num_chains < engine.LANES_PER_STEP:
        parser.error(
            f"--replications must give at least {engine.LANES_PER_STEP} lanes "
            f"({spec.sbc.lengths.num_chains} chains each), got {args.replications}"
        )
    settings, kwargs = spec.sbc, spec.fixed_kwargs()
    x = settings.design()
    _, y = sbc.simulate(
        spec.model, jr.PRNGKey(0), x, args.replications, observed=settings.observed, **kwargs
    )
    fit = spec.nuts().fit(
        spec.model, jr.PRNGKey(1), x, y, settings.lengths, Execution(driver="interleaved"), kwargs
    )
    computed, needed = fit.leapfrog_steps
    chains = settings.lengths.num_chains
    steps = np.asarray(fit.num_steps).reshape(args.replications * chains, -1)
    print(
        f"{spec.name}: {steps.shape[0]} lanes x {steps.shape[1]} post-warmup iterations; "
        f"leapfrog steps mean {steps.mean():.1f}, median {np.median(steps):.0f}, max "
        f"{steps.max()}; computed per needed: interleaved {computed / needed:.2f}; lockstep in "
        f"groups of {chains} (kernel loop) {computed_per_needed(steps, chains):.2f}, of "
        f"{engine.LANES_PER_STEP} {computed_per_needed(steps, engine.LANES_PER_STEP):.2f}"
    )


if __name__ == "__main__":
    main()
