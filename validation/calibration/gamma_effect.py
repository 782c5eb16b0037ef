"""``python -m validation.calibration.gamma_effect``: what the gamma test would change in the SBC
verdict on the bug catalogue. Every catalogued bug on the path of the ``sbc_linear`` probe is
applied and the probe's runs fitted as in ``tox -e calibrate`` (same labels, so the same seeds);
each run's ranks are judged by Holm over the verdict's four tests (its recorded p-values) and
over the four and the gamma test (docs/calibration.md#sbc-tests)."""

from __future__ import annotations

import sys
import time

import jax
import numpy as np
import pytest


def _rejects_with_gamma(result) -> bool:
    from regmaster import stats

    gamma = stats.gamma_pvalue(result.ranks, result.num_draws)
    stacked = np.stack([*(result.pvalues[t] for t in stats.TESTS), gamma])
    return bool(np.any(stats.holm(stacked).min(axis=0) <= result.alpha))


def main(seeds: int = 20, names: list[str] | None = None) -> None:
    jax.config.update("jax_enable_x64", True)
    from regmaster import zoo
    from regmaster.sbc import run_sbc
    from regmaster.seeds import seed_from_name
    from validation.calibration.bugs import BUGS

    chosen = [b for b in BUGS if "sbc_linear" in b.probes and (not names or b.name in names)]
    per_run = zoo.get_spec("linear").sbc.replications_ci
    print("| bug | runs | rejected, 4 tests | rejected, 4 + gamma | seconds |")
    print("|---|---:|---:|---:|---:|")
    for bug in chosen:
        start = time.perf_counter()
        jax.clear_caches()  # compiled programs hold the correct code
        with pytest.MonkeyPatch.context() as mp:
            bug.patch(mp)
            batch = run_sbc(
                "linear",
                seed=seed_from_name(f"power:{bug.name}:sbc_linear"),
                replications=seeds * per_run,
            )
            runs = batch.split(seeds)
            four = sum(not r.passed for r in runs)
            five = sum(_rejects_with_gamma(r) for r in runs)
        jax.clear_caches()
        print(
            f"| `{bug.name}` | {seeds} | {four} | {five} | {time.perf_counter() - start:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(names=sys.argv[1:] or None)
