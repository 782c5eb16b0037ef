"""How many SBC replications a model needs to see a given failure: the power of the verdict,
simulated, and the smallest replication count that reaches a target power.

A calibrated posterior, in its own units, makes the truth's fractional rank uniform; a sampler
whose posterior is N(shift, scale^2) in those units (too narrow: scale < 1; biased: shift != 0)
gives the ranks of ``ranks_of`` on N(0, 1) truths among N(shift, scale^2) draws, whatever the
model (probability integral transform). The verdict is the suite's: the four rank tests of every
quantity, Holm at alpha. What the model contributes is its number of quantities and draws
(:func:`quantity_count`); the simulation takes the quantities as independent and the thinned
draws as near-independent (the ESS health check), as the SBC power table of
``docs/calibration.md`` does.

References
----------
Talts, Betancourt, Simpson, Vehtari, Gelman (2018). Validating Bayesian inference algorithms with
simulation-based calibration. arXiv:1804.06788.
Modrak, Moon, Kim, Bürkner, Huurre, Faltejskova, Gelman, Vehtari (2023). Simulation-based
calibration checking for Bayesian computation: the choice of test quantities shapes sensitivity.
Bayesian Analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .checks import check_positive_int, check_probability
from .verdicts import SBC_ALPHA

__all__ = [
    "Plan",
    "plan",
    "quantity_count",
    "simulated_power",
    "simulated_sequential_stop",
    "simulated_verdict",
]

SIZES: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000)
"""The replication counts a plan tries, smallest first."""


def _simulated_ranks(rng, replications, quantities, num_draws, scale, shift, faulty=None):
    """Ranks of N(0, 1) truths among draws whose first ``faulty`` quantities (default all) are
    N(shift, scale^2), the rest N(0, 1)."""
    from .sbc import ranks_of

    faulty = quantities if faulty is None else faulty
    truth = rng.standard_normal((replications, quantities))
    draws = rng.standard_normal((replications, num_draws, quantities))
    draws[..., :faulty] = shift + scale * draws[..., :faulty]
    return ranks_of(truth, draws, rng)


def simulated_verdict(
    rng: np.random.Generator,
    replications: int,
    quantities: int,
    num_draws: int,
    *,
    scale: float = 1.0,
    shift: float = 0.0,
    faulty: int | None = None,
    alpha: float = SBC_ALPHA.value,
) -> bool:
    """Whether the SBC verdict passes when the first ``faulty`` quantities (default all) of
    each replication are drawn from N(shift, scale^2) around N(0, 1) truths."""
    from .sbc import verdict

    ranks = _simulated_ranks(rng, replications, quantities, num_draws, scale, shift, faulty)
    return verdict(ranks, num_draws, alpha, rng)[2]


def simulated_sequential_stop(
    rng: np.random.Generator,
    stages: Sequence[int],
    quantities: int,
    num_draws: int,
    *,
    scale: float = 1.0,
    shift: float = 0.0,
    alpha: float = SBC_ALPHA.value,
) -> int | None:
    """The replications at which a sequential SBC (:func:`regmaster.sequential.sequential_sbc`:
    Holm at alpha / K at each of K looks) first rejects simulated ranks, or ``None``."""
    from .sbc import verdict

    level, ranks = alpha / len(stages), np.empty((0, quantities), dtype=int)
    for size in stages:
        new = _simulated_ranks(rng, size - len(ranks), quantities, num_draws, scale, shift)
        ranks = np.concatenate([ranks, new])
        if not verdict(ranks, num_draws, level, rng)[2]:
            return size
    return None


def simulated_power(
    replications: int,
    quantities: int,
    num_draws: int,
    *,
    scale: float = 1.0,
    shift: float = 0.0,
    faulty: int | None = None,
    runs: int = 200,
    seed: int = 0,
    alpha: float = SBC_ALPHA.value,
) -> float:
    """The share of ``runs`` simulated SBC runs whose verdict rejects
    (:func:`simulated_verdict`)."""
    rng = np.random.default_rng(seed)
    passed = [
        simulated_verdict(
            rng,
            replications,
            quantities,
            num_draws,
            scale=scale,
            shift=shift,
            faulty=faulty,
            alpha=alpha,
        )
        for _ in range(check_positive_int("runs", runs))
    ]
    return 1.0 - float(np.mean(passed))


def quantity_count(spec) -> int:
    """How many test quantities an SBC of ``spec`` ranks: read off one simulated truth (no fit)."""
    import jax

    from .sbc import quantity_names, simulate

    settings = spec.sbc
    truth, _ = simulate(
        spec.model,
        jax.random.PRNGKey(0),
        settings.design(),
        1,
        observed=settings.observed,
        **spec.fixed_kwargs(),
    )
    names = quantity_names(
        {k: v[0] for k, v in truth.items()},
        parameters=settings.parameters,
        probe_x=settings.probe_x,
        derived=tuple(settings.quantities or ()),
    )
    return len(names)


class Plan(NamedTuple):
    """The simulated power at each replication count, and the smallest count reaching the target
    (``None`` when none of them does)."""

    quantities: int
    num_draws: int
    power_by_size: dict[int, float]
    target: float
    replications: int | None


DEFAULT_POWER = 0.8
"""The power a plan aims at unless told otherwise."""


def plan(
    spec,
    *,
    scale: float = 1.0,
    shift: float = 0.0,
    every_quantity: bool = True,
    power: float = DEFAULT_POWER,
    sizes: Sequence[int] = SIZES,
    runs: int = 200,
    seed: int = 0,
    alpha: float = SBC_ALPHA.value,
) -> Plan:
    """How many replications detect a posterior ``scale`` times too wide (0.9: 10% too narrow) or
    shifted by ``shift`` posterior sds, in every quantity or in one, with probability ``power``.

    Parameters
    ----------
    spec : ModelSpec
        The model and its SBC settings (its quantities and draws).
    scale, shift : float
        The fault: draws N(shift, scale^2) in units of the posterior.
    every_quantity : bool
        The fault in every quantity (True) or in one.
    power : float
        The target probability of a rejection, in (0, 1).
    sizes : sequence of int
        Replication counts tried, smallest first; the search stops at the first that reaches
        ``power``.
    runs : int
        Simulated SBC runs per count (the power's standard error is at most 0.5 / sqrt(runs)).
    seed : int
        Seed of the simulation.
    alpha : float
        The verdict's family-wise level.

    Returns
    -------
    Plan
        Power by size and the smallest size reaching the target.
    """
    power = check_probability("power", power)
    if scale <= 0.0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    if scale == 1.0 and shift == 0.0:
        raise ValueError("plan needs a fault: scale != 1 or shift != 0 (else nothing to detect)")
    quantities, num_draws = quantity_count(spec), spec.sbc.num_draws
    by_size: dict[int, float] = {}
    for size in sorted(check_positive_int("sizes", n, minimum=2) for n in sizes):
        by_size[size] = simulated_power(
            size,
            quantities,
            num_draws,
            scale=scale,
            shift=shift,
            faulty=None if every_quantity else 1,
            runs=runs,
            seed=seed + size,
        )
        if by_size[size] >= power:
            return Plan(quantities, num_draws, by_size, power, size)
    return Plan(quantities, num_draws, by_size, power, None)
