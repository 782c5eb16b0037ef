"""`regmaster fit --model all` against the notebook's code as written, side by side in one run.

Each contender runs as a fresh process, timed wall-clock from start to exit (imports included):
1. the notebook's seven experiments (benchmarks/notebook_reference.py);
2. `regmaster fit --model all` with an empty compilation cache (cold start);
3. the same again, with the cache the cold run wrote (warm start).
Targets (issue): cold <= 1/2 and warm <= 1/4 of the notebook's time. Usage:
    python benchmarks/bench_fit.py [--repeats K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the three runs")
    args = parser.parse_args()
    env = dict(os.environ)
    rows = []
    for round_ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            notebook, _ = timed([sys.executable, str(HERE / "notebook_reference.py")], env)
            command = [
                sys.executable,
                "-m",
                "regmaster",
                "fit",
                "--model",
                "all",
                "--quiet",
                "--cache-dir",
                str(Path(tmp) / "xla"),
                "--json",
                str(Path(tmp) / "r.json"),
            ]
            cold, _ = timed(command, env)
            warm, table = timed(command, env)
            r2 = {
                m["name"]: round(m["r2"], 4)
                for m in json.loads((Path(tmp) / "r.json").read_text())["models"]
            }
        rows.append((notebook, cold, warm))
        print(
            f"round {round_ + 1}: notebook {notebook:6.1f} s | regmaster cold {cold:6.1f} s "
            f"(ratio {cold / notebook:.2f}) | warm {warm:6.1f} s (ratio {warm / notebook:.2f})"
        )
    print(table)
    print("R² of the warm run:", r2)
    cold_ratio = statistics.median(cold / notebook for notebook, cold, _ in rows)
    warm_ratio = statistics.median(warm / notebook for notebook, _, warm in rows)
    print(
        f"cpu count {os.cpu_count()}; median over {len(rows)} round(s): "
        f"cold/notebook = {cold_ratio:.2f} (target <= 0.50), "
        f"warm/notebook = {warm_ratio:.2f} (target <= 0.25)"
    )


if __name__ == "__main__":
    main()
