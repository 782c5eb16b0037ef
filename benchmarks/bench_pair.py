"""How much two single-core processes slow each other on this machine, side by side in one run.

`regmaster fit --model all` and the suite run two pinned workers on a 2-core machine. When a
model fits slower beside another than alone, this separates the machine from the code: the same
fixed amount of work runs alone on one CPU, then as two copies at once on two CPUs, alternated
over rounds. Workloads, each single-threaded and cache-resident:
- ``python``: a pure-Python integer loop (no vector units, no memory traffic);
- ``cos``: float64 ``numpy.cos`` over 4,096 values (a scalar libm call per element, as in
  deep_rff's features);
- ``matmul``: float64 128x128 matrix products (AVX/AVX-512 FMA, as in the models' einsums).
A ratio near 1 means two workers get two cores' worth of work; near 2 means they share one core
(e.g. two hyperthreads of one physical core under the hypervisor). Usage:
    python benchmarks/bench_pair.py [--rounds K] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = {
    "python": "n = 0\nfor i in range(REPS * 200_000):\n    n += i & 7",
    "cos": (
        "import numpy as np\nx = np.linspace(0.0, 100.0, 4096)\n"
        "for _ in range(REPS * 60):\n    np.cos(x, out=x)"
    ),
    "matmul": (
        "import numpy as np\na = np.random.default_rng(0).standard_normal((128, 128)) / 12\n"
        "b = a.copy()\nfor _ in range(REPS * 20):\n    b = a @ b"
    ),
}
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _program(workload: str, reps: int, cpu: int) -> str:
    """A program that pins itself to ``cpu``, then times ``reps`` units of ``workload``."""
    body = WORKLOADS[workload].replace("REPS", str(reps))
    return (
        f"import os, time\nos.sched_setaffinity(0, {{{cpu}}})\n"
        f"start = time.perf_counter()\n{body}\nprint(time.perf_counter() - start)"
    )


def run(workload: str, reps: int, cpus: list[int]) -> list[float]:
    """Start one copy per CPU at once; each copy's own seconds of work."""
    env = dict(os.environ, **ONE_THREAD)
    copies = [
        subprocess.Popen(
            [sys.executable, "-c", _program(workload, reps, cpu)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for cpu in cpus
    ]
    return [float(copy.communicate()[0]) for copy in copies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=3.0, help="work per copy, roughly")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if args.seconds <= 0:
        parser.error(f"--seconds must be > 0, got {args.seconds}")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        parser.error(f"needs two CPUs, this process may use {cpus}")
    pair = cpus[:2]
    print(f"CPUs {pair}; ratio = one copy's time beside another / alone (median of rounds)")
    for workload in WORKLOADS:
        reps = 1
        while (probe := run(workload, reps, pair[:1])[0]) < 0.3:  # past first-call costs
            reps *= 10
        reps = max(1, round(reps * args.seconds / probe))
        ratios = []
        for _ in range(args.rounds):
            alone = run(workload, reps, pair[:1])[0]
            together = run(workload, reps, pair)
            ratios.append(statistics.mean(together) / alone)
            print(
                f"  {workload:<7} alone {alone:6.2f} s, beside another {together[0]:6.2f} / "
                f"{together[1]:6.2f} s: {ratios[-1]:.2f}x",
                flush=True,
            )
        print(f"{workload:<7} median {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s)")
