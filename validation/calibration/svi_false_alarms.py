"""``python -m validation.calibration.svi_false_alarms``: the false-alarm rate of the SBC verdict
on a calibrated approximation, the full-rank Gaussian guide on the conjugate regression of
``examples/svi_guides.py`` (its family holds the posterior): 100 runs of 100 replications, fitted
as one batch and split (``SBCResult.split``); once ranked among the guide's draws, once by its
marginal CDF (``cdf_ranks``)."""

from __future__ import annotations

import dataclasses
import time

import jax

from validation.calibration.run import interval


def main(runs: int = 100) -> None:
    jax.config.update("jax_enable_x64", True)
    from examples.svi_guides import FULL_RANK
    from regmaster import run_sbc, verdicts
    from regmaster.seeds import seed_from_name

    per_run = FULL_RANK.sbc.replications_ci
    for ranked_by, cdf in (("draws", False), ("marginal CDF", True)):
        start = time.perf_counter()
        inference = dataclasses.replace(FULL_RANK.sbc.inference, cdf_ranks=cdf)
        batch = run_sbc(
            FULL_RANK,
            seed=seed_from_name("svi-full-rank-false-alarms"),
            replications=runs * per_run,
            inference=inference,
        )
        alarms = sum(not verdicts.sbc_passed(part) for part in batch.split(runs))
        low, high = interval(alarms, runs)
        print(
            f"{FULL_RANK.name}, ranked by {ranked_by}: {alarms} alarms in {runs} SBC runs of "
            f"{per_run} replications ({alarms / runs:.1%}, 95% interval {low:.2%}-{high:.2%}); "
            f"{time.perf_counter() - start:.0f} s"
        )


if __name__ == "__main__":
    main()
