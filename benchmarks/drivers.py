"""The engine's two NUTS drivers on every calibratable NUTS model's SBC fit, side by side.

For each model (``--models``, default all), its SBC data at ``--replications`` (default: the
model's CI count) is fitted by the interleaved and by the lockstep driver in one run,
compilation included, alternating which goes first; prints both times, their ratio and the
leapfrog steps computed per step needed (interleaved: counted by the driver; lockstep: each
group of ``LANES_PER_STEP`` lanes waits for its longest trajectory, post-warmup transitions).
Usage:
    python benchmarks/drivers.py [--models linear,bnn] [--replications N]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.random as jr
import numpy as np
from lane_waste import computed_per_needed

from regmaster import engine, sbc, zoo
from regmaster.settings import Execution

jax.config.update("jax_enable_x64", True)


def _timed(spec, y, driver: str):
    settings, kwargs = spec.sbc, spec.fixed_kwargs()
    start = time.perf_counter()
    fit = spec.nuts().fit(
        spec.model, jr.PRNGKey(1), settings.design(), y, settings.lengths,
        Execution(driver=driver), kwargs,
    )  # fmt: skip
    return time.perf_counter() - start, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    nuts_models = [n for n in zoo.names(calibratable=True) if zoo.REGISTRY[n].inference == "nuts"
                   and zoo.REGISTRY[n].sbc.lengths.num_warmup > 0]  # fmt: skip
    parser.add_argument("--models", default=",".join(nuts_models))
    parser.add_argument("--replications", type=int, default=None)
    args = parser.parse_args()
    for name in args.models.split(","):
        spec = zoo.REGISTRY.get(name)
        if spec is None or name not in nuts_models:
            parser.error(f"--models must name some of {nuts_models}, got {name!r}")
        settings, kwargs = spec.sbc, spec.fixed_kwargs()
        n = args.replications or settings.replications_ci
        _, y = sbc.simulate(
            spec.model, jr.PRNGKey(0), settings.design(), n, observed=settings.observed, **kwargs
        )
        order = ("interleaved", "lockstep")
        seconds, fits = {}, {}
        for driver in order:
            seconds[driver], fits[driver] = _timed(spec, y, driver)
        computed, needed = fits["interleaved"].leapfrog_steps
        steps = np.asarray(fits["lockstep"].num_steps).reshape(n * settings.lengths.num_chains, -1)
        lockstep_waste = computed_per_needed(steps, min(engine.LANES_PER_STEP, steps.shape[0]))
        print(
            f"{name}: {n} replications, interleaved {seconds['interleaved']:.1f} s, lockstep "
            f"{seconds['lockstep']:.1f} s, lockstep / interleaved "
            f"{seconds['lockstep'] / seconds['interleaved']:.2f}; leapfrog steps computed per "
            f"needed: interleaved {computed / needed:.2f}, lockstep {lockstep_waste:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
