"""float64 cosine: ``jnp.cos`` (libm) against :func:`regmaster.fastmath.cos`, side by side.

Two workloads on a 4000-element array (the size of the deep RFF model's hidden layer), each a
jitted ``fori_loop`` whose carry feeds the next step so that nothing is hoisted out of the loop:

- ``cos``: ``s = sum(cos(a * x + b))``, ``a += 1e-12 * s``;
- ``value_and_grad``: ``v, g = value_and_grad(sum(cos(a * x + b)))(a, b)``, ``(a, b) -= 1e-12 * g``
  (the gradient needs ``sin`` too).

Reported: nanoseconds per array element per loop step, the minimum over repeats of wall-clock and of
process CPU time (all threads), and the ratio jnp / fastmath. The two implementations are timed in
alternation in one run, so machine load affects both alike. Run with
``python benchmarks/bench_cos.py [--n 4000] [--steps 1000] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

jax.config.update("jax_enable_x64", True)

from regmaster import fastmath  # noqa: E402

CosFn = Callable[[jax.Array], jax.Array]


def cos_loop(cos: CosFn, x: jax.Array, steps: int) -> Callable[[jax.Array], jax.Array]:
    def body(_, p):
        s = jnp.sum(cos(p[0] * x + p[1]))
        return p.at[0].add(1e-12 * s)

    return jax.jit(lambda p: lax.fori_loop(0, steps, body, p))


def value_and_grad_loop(cos: CosFn, x: jax.Array, steps: int) -> Callable[[jax.Array], jax.Array]:
    vg = jax.value_and_grad(lambda p: jnp.sum(cos(p[0] * x + p[1])))

    def body(_, p):
        v, g = vg(p)
        return p - 1e-12 * g + 0.0 * v

    return jax.jit(lambda p: lax.fori_loop(0, steps, body, p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="array size")
    parser.add_argument("--steps", type=int, default=1000, help="fori_loop steps per call")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per loop (min kept)")
    args = parser.parse_args()

    x = jnp.linspace(-30.0, 30.0, args.n)
    p0 = jnp.array([1.3, 0.2])
    impls: dict[str, CosFn] = {"jnp.cos": jnp.cos, "fastmath.cos": fastmath.cos}
    workloads = {"cos": cos_loop, "value_and_grad": value_and_grad_loop}
    loops = {
        (w, name): make(cos, x, args.steps)
        for w, make in workloads.items()
        for name, cos in impls.items()
    }
    for loop in loops.values():
        loop(p0).block_until_ready()  # compile and warm up

    best = {key: [float("inf"), float("inf")] for key in loops}
    for _ in range(args.repeats):
        for key, loop in loops.items():
            t0, c0 = time.perf_counter(), time.process_time()
            loop(p0).block_until_ready()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best[key][0] = min(best[key][0], wall)
            best[key][1] = min(best[key][1], cpu)

    per = 1e9 / (args.steps * args.n)
    print(
        f"{jax.devices()[0].device_kind}, jax {jax.__version__}, float64, n = {args.n}, "
        f"{args.steps} steps, min of {args.repeats}; ns per element per step"
    )
    print(f"{'workload':16s} {'clock':5s} {'jnp.cos':>9s} {'fastmath':>9s} {'ratio':>7s}")
    for w in workloads:
        for i, clock in enumerate(("wall", "cpu")):
            ref = best[(w, "jnp.cos")][i] * per
            new = best[(w, "fastmath.cos")][i] * per
            print(f"{w:16s} {clock:5s} {ref:9.2f} {new:9.2f} {ref / new:6.2f}x")


if __name__ == "__main__":
    main()
