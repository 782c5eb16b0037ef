"""The interleaved driver's tick against a plain leapfrog step, and its cost per slot.

A tick is one leapfrog step in every slot plus the bookkeeping that follows (U-turn checks,
closing subtrees, ending transitions, the warmup adaptation, records, the queue). This times,
side by side in one run and compiled beforehand, ``--ticks`` ticks of the driver's segment
program against as many vmapped velocity-Verlet steps of the same lanes in a ``fori_loop``, for
each slot count in ``--slots``, and prints the ratio. Usage:
    python benchmarks/tick_overhead.py [--model NAME] [--slots 40,200] [--ticks 2000]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.random as jr
import numpy as np
from numpyro.infer.hmc_util import IntegratorState, euclidean_kinetic_energy, velocity_verlet

from regmaster import sbc, zoo
from regmaster.engine import _driver, _interleaved, _kernel

jax.config.update("jax_enable_x64", True)


def _programs(spec, slots: int, ticks: int):
    settings, kwargs = spec.sbc, spec.fixed_kwargs()
    x = settings.design()
    _, y = sbc.simulate(spec.model, jr.PRNGKey(0), x, slots, observed=settings.observed, **kwargs)
    lengths = settings.lengths
    runner = _kernel.chain_runner(
        spec.model, x, jax.tree.map(lambda a: a[0], y),
        num_warmup=lengths.num_warmup, num_samples=lengths.num_samples, **kwargs,
    )  # fmt: skip
    walker = _interleaved.nuts_walker(spec.model, x, runner, 0.8, 10, kwargs)
    z0, keys = _driver._initial_points_and_keys(jr.PRNGKey(1), runner.template, slots, 2.0, None)
    layout = _interleaved.laid_out(z0, y, keys, slots, slots, 1, 1)
    init = jax.jit(lambda jobs: _interleaved.start(runner, walker, jobs, slots))
    run = jax.block_until_ready(init(layout.jobs))

    # The driver's own segment program, stopped after ``ticks`` ticks instead of a quota.
    def ticking(jobs, run):
        stop = run.ticks + ticks
        return _interleaved.segment(runner, walker, jobs, run, 10**9, ticks + 1, until=stop)[0]

    def leapfrogs(run):
        walk = run.walk
        adapt = walk.state.adapt_state

        def one(z, r, pe, grad, step, imm, y):
            pe_fn = walker.potential_fn_gen(*walker.model_args(y))
            potential = lambda q: pe_fn(walker.unravel(q))  # noqa: E731
            update = velocity_verlet(potential, euclidean_kinetic_energy)[1]
            return update(step, imm, (z, r, pe, grad))

        state = IntegratorState(
            walk.state.z, walk.momentum, walk.state.potential_energy, walk.state.z_grad
        )
        body = jax.vmap(one)
        return jax.lax.fori_loop(
            0, ticks, lambda i, s: body(*s, adapt.step_size, adapt.inverse_mass_matrix, run.y),
            state,
        )  # fmt: skip

    return layout.jobs, run, jax.jit(ticking), jax.jit(leapfrogs)


def _seconds(fn, *args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bnn")
    parser.add_argument("--slots", default="40,200")
    parser.add_argument("--ticks", type=int, default=2000)
    args = parser.parse_args()
    spec = zoo.REGISTRY[args.model]
    for slots in (int(s) for s in args.slots.split(",")):
        jobs, run, ticking, leapfrogs = _programs(spec, slots, args.ticks)
        _seconds(leapfrogs, run)  # compiled, warm (ticking: below)
        ended = jax.block_until_ready(ticking(jobs, run))
        tick, leap = [], []
        for _ in range(2):  # alternated, medians
            tick.append(_seconds(ticking, jobs, run))
            leap.append(_seconds(leapfrogs, run))
        t, lf = np.median(tick) / args.ticks, np.median(leap) / args.ticks
        print(
            f"{spec.name}, {slots} slots: tick {t * 1e6:.0f} us, leapfrog step {lf * 1e6:.0f} us, "
            f"tick / leapfrog {t / lf:.2f}; per slot: tick {t / slots * 1e6:.2f} us; "
            f"transitions ended per tick {int(ended.finished[0]) / args.ticks:.2f}, leapfrog "
            f"steps needed per tick {int(ended.needed[0]) / args.ticks:.1f} of {slots}"
        )


if __name__ == "__main__":
    main()
