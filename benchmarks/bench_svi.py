"""SVI for SBC: every replication's optimisation in one vmapped program against a loop of
``SVI.run``, side by side in one run, compilation included.

Contenders, on data simulated from the model's prior (the SBC replications):
1. ``BatchedSVI.fit`` on all ``--replications`` at once (one compiled program);
2. NumPyro's ``SVI.run`` called once per replication, as a user would write it, on the first
   ``--loop-replications`` and scaled to all of them (each call compiles its own loop).
Same guide, optimiser, step count and draws. Usage:
    python benchmarks/bench_svi.py [--model linear] [--replications 1000] [--loop-replications 10]
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.random as jr  # noqa: E402
from numpyro.infer import SVI, Trace_ELBO  # noqa: E402
from numpyro.infer.autoguide import AutoMultivariateNormal  # noqa: E402
from numpyro.optim import Adam  # noqa: E402

from regmaster import sbc, zoo  # noqa: E402
from regmaster.calling import conditioned  # noqa: E402
from regmaster.settings import RunLengths  # noqa: E402
from regmaster.svi import BatchedSVI  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="linear", help="a model with SBC settings")
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--loop-replications", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    spec = zoo.get_spec(args.model)
    if spec.sbc is None:
        parser.error(f"--model must have SBC settings: {zoo.names(calibratable=True)}")
    settings, kwargs = spec.sbc, spec.fixed_kwargs()
    x = settings.design()
    _, y = sbc.simulate(
        spec.model, jr.PRNGKey(0), x, args.replications, observed=settings.observed, **kwargs
    )
    inference = BatchedSVI(AutoMultivariateNormal, num_steps=args.steps, learning_rate=0.01)
    draws = RunLengths(num_warmup=0, num_samples=99, num_chains=1)

    start = time.perf_counter()
    inference.fit(spec.model, jr.PRNGKey(1), x, y, draws, None, kwargs)
    batched = time.perf_counter() - start
    print(f"batched: {args.replications} replications in {batched:.1f} s", flush=True)

    target = conditioned(spec.model)
    start = time.perf_counter()
    for r in range(args.loop_replications):
        guide = AutoMultivariateNormal(target)
        svi = SVI(target, guide, Adam(0.01), Trace_ELBO())
        row = jax.tree.map(lambda a, r=r: a[r], y)
        result = svi.run(jr.PRNGKey(r), args.steps, x, row, progress_bar=False, **kwargs)
        jax.block_until_ready(guide.sample_posterior(jr.PRNGKey(r), result.params, (99,)))
    loop = (time.perf_counter() - start) * args.replications / args.loop_replications
    print(
        f"SVI.run loop: {args.loop_replications} replications in "
        f"{loop * args.loop_replications / args.replications:.1f} s, scaled to "
        f"{args.replications}: {loop:.0f} s"
    )
    print(f"{spec.name}, {args.steps} steps: batched is {loop / batched:.0f}x the loop")


if __name__ == "__main__":
    main()
