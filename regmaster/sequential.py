"""Sequential SBC: replications in stages, the verdict at each look, an early stop for a clear
failure, the family-wise false-alarm rate kept by spending alpha over the looks.

Stage k adds the replications between the (k-1)-th and the k-th size of ``stages``, simulated
and fitted as an independent SBC run (its own seed); after each stage the verdict judges every
rank so far at level alpha / K, K the number of looks. By the union bound the chance that any
look rejects calibrated inference is at most alpha (Bonferroni spending: conservative, and
valid whatever the dependence between looks). A failure clear at 100 replications stops there
instead of running on to 1000.

References
----------
Modrak et al. (2023). Simulation-based calibration checking for Bayesian computation: the choice
of test quantities shapes sensitivity. Bayesian Analysis (the history of the verdict).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .checks import check_probability
from .sbc import SBCResult, fit_summary, result_from_ranks, run_sbc
from .seeds import seed_from_name
from .settings import Execution
from .verdicts import SBC_ALPHA

__all__ = ["SequentialResult", "sequential_sbc", "stage_seed"]


class SequentialResult(NamedTuple):
    """The combined result at the last look, every look's (replications, smallest Holm p), the
    level each look was judged at, and whether the run stopped before its last stage."""

    result: SBCResult
    looks: list[tuple[int, float]]
    level: float
    stopped_early: bool


def stage_seed(seed: int, stage: int) -> int:
    """Stage 0 runs at ``seed`` itself (a one-stage run is the plain run); later stages at
    seeds derived from it."""
    return seed if stage == 0 else seed_from_name(f"sequential:{seed}:{stage}")


def _combined(parts: Sequence[SBCResult], alpha: float) -> SBCResult:
    """The replications of ``parts`` as one result: ranks, truths, draws and fit health
    concatenated, the verdict recomputed at ``alpha``."""
    first = parts[0]
    health = {
        k: np.concatenate([p.per_replication[k] for p in parts]) for k in first.per_replication
    }
    combined = result_from_ranks(
        first.model,
        first.quantities,
        np.concatenate([p.ranks for p in parts]),
        first.num_draws,
        alpha,
        truth=np.concatenate([p.truth for p in parts]),
        thinned=np.concatenate([p.thinned for p in parts]),
        per_replication=health,
        inference=first.inference,
    )
    seconds = sum(p.seconds for p in parts)
    return combined._replace(fit_diagnostics=fit_summary(health, first.num_draws), seconds=seconds)


def sequential_sbc(
    spec,
    *,
    seed: int = 0,
    stages: Sequence[int] = (100, 200, 500, 1000),
    alpha: float = SBC_ALPHA.value,
    inference=None,
    inference_model=None,
    execution: Execution | None = None,
    on_look: Callable[[int, float], None] | None = None,
) -> SequentialResult:
    """SBC in stages, stopping at the first look that rejects.

    Parameters
    ----------
    spec : ModelSpec or str
        As for :func:`regmaster.run_sbc`.
    seed : int
        Stage k runs at :func:`stage_seed` (seed, k).
    stages : sequence of int
        Increasing replication counts, the looks (the first at least 2).
    alpha : float
        The family-wise false-alarm rate over all looks; each look is judged at alpha / K.
    inference, inference_model, execution
        As for :func:`regmaster.run_sbc`.
    on_look : callable, optional
        Called after each look with its replication count and smallest Holm-adjusted p.

    Returns
    -------
    SequentialResult
        The combined result at the last look taken, and every look.
    """
    stages = [int(n) for n in stages]
    if (
        not stages
        or stages[0] < 2
        or any(b <= a for a, b in zip(stages[:-1], stages[1:], strict=True))
    ):
        raise ValueError(f"stages must increase from at least 2, got {list(stages)!r}")
    alpha = check_probability("alpha", alpha)
    level = alpha / len(stages)
    parts, looks, done = [], [], 0
    for k, size in enumerate(stages):
        parts.append(
            run_sbc(
                spec,
                seed=stage_seed(seed, k),
                replications=size - done,
                alpha=level,
                inference=inference,
                inference_model=inference_model,
                execution=execution,
            )
        )
        done = size
        combined = _combined(parts, level)
        looks.append((size, float(combined.adjusted.min())))
        if on_look is not None:
            on_look(*looks[-1])
        if not combined.passed:
            return SequentialResult(combined, looks, level, k < len(stages) - 1)
    return SequentialResult(combined, looks, level, False)
