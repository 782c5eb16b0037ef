"""Measure the suite: detection rate of every catalogued bug, false-alarm rate of every check, and
the power of each NUTS model's CI-size SBC against a too-narrow and a shifted posterior."""

from __future__ import annotations

import itertools
import time

import jax
import numpy as np
import pytest
from scipy import stats as sps

from regmaster import zoo
from regmaster.planning import quantity_count, simulated_verdict
from regmaster.seeds import seed_from_name
from validation.calibration.bugs import BUGS, Bug
from validation.calibration.probes import DETERMINISTIC, FAILURES, PROBES, Alarms
from validation.conftest import SBC_REPLICATIONS_RELEASE


def interval(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95% interval of a binomial rate k / n."""
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def _rate(alarms: np.ndarray, deterministic: bool) -> dict:
    k, n = int(alarms.sum()), int(alarms.size)
    return {
        "alarms": k,
        "seeds": n,
        "rate": k / n,
        "interval": interval(k, n),
        "deterministic": deterministic,
    }


def _examples(per_check: int = 3) -> list[str]:
    """Up to ``per_check`` failure messages of each failing test function."""
    kept: dict[str, int] = {}
    out = []
    for message in FAILURES:
        name = message.split(":")[0]
        if kept.get(name, 0) < per_check:
            kept[name] = kept.get(name, 0) + 1
            out.append(message)
    return out


def power_of(bug: Bug, seeds: int) -> dict:
    """Every probe on the bug's path, ``seeds`` seeds each, with the bug applied."""
    start = time.perf_counter()
    jax.clear_caches()  # compiled programs hold the correct code
    per_check: dict[str, np.ndarray] = {}
    FAILURES.clear()
    with pytest.MonkeyPatch.context() as mp:
        bug.patch(mp)
        for probe in bug.probes:
            alarms = PROBES[probe](f"power:{bug.name}:{probe}", seeds)
            per_check.update({f"{probe}/{k}": v for k, v in alarms.items()})
    jax.clear_caches()
    caught = np.any(np.stack(list(per_check.values())), axis=0)
    deterministic = all(p in DETERMINISTIC for p in bug.probes)
    return {
        "bug": bug.name,
        "layer": bug.layer,
        "family": bug.family,
        "summary": bug.summary,
        "probes": list(bug.probes),
        **_rate(caught, deterministic),
        "caught_by": {k: int(v.sum()) for k, v in per_check.items() if v.any()},
        "examples": _examples(),
        "seconds": time.perf_counter() - start,
    }


def false_alarms_of(probe: str, seeds: int) -> dict:
    """The correct code through one probe: the rate per check and for the probe as a whole."""
    start = time.perf_counter()
    FAILURES.clear()
    alarms: Alarms = PROBES[probe](f"false-alarm:{probe}", seeds)
    deterministic = probe in DETERMINISTIC
    return {
        "probe": probe,
        "checks": {k: _rate(v, deterministic) for k, v in alarms.items()},
        "any": _rate(np.any(np.stack(list(alarms.values())), axis=0), deterministic),
        "examples": _examples(),
        "seconds": time.perf_counter() - start,
    }


def sbc_power(runs: int, sizes=("ci", "release")) -> list[dict]:
    """Power of each NUTS model's CI-size SBC verdict against a posterior 20% too narrow and one
    shifted by 0.25 sd, in every quantity and in one, over ``runs`` simulated SBC runs."""
    rows = []
    for name in zoo.names("sbc"):
        spec = zoo.get_spec(name)
        settings = spec.sbc
        q = quantity_count(spec)
        counts = {"ci": settings.replications_ci, "release": SBC_REPLICATIONS_RELEASE}
        chosen = [(size, counts[size]) for size in sizes]
        faults = (("20% too narrow", {"scale": 0.8}), ("shift 0.25 sd", {"shift": 0.25}))
        for (size, replications), (fault, kwargs), (where, faulty) in itertools.product(
            chosen, faults, (("every quantity", None), ("one quantity", 1))
        ):
            rng = np.random.default_rng(seed_from_name(f"sbc-power:{name}:{size}:{fault}:{where}"))
            detected = np.array(
                [
                    not simulated_verdict(
                        rng, replications, q, settings.num_draws, faulty=faulty, **kwargs
                    )
                    for _ in range(runs)
                ]
            )
            rows.append(
                {
                    "model": name,
                    "size": size,
                    "replications": replications,
                    "quantities": q,
                    "fault": fault,
                    "where": where,
                    **_rate(detected, False),
                }
            )
    return rows


__all__ = ["BUGS", "false_alarms_of", "interval", "power_of", "sbc_power"]
