"""The suite's own checks, run over many seeds at CI size and batched where they run NUTS.

A probe returns, for every check it runs, a boolean array over seeds: True where the check failed
(an alarm). The checks are the suite's (:mod:`validation.claims`, on top of
:mod:`regmaster.verdicts`), called on fits: a probe that needs many NUTS runs fits them in one
batch (``4 x seeds`` vectorised chains, ``seeds`` SBC runs of one batched engine call) and hands
each seed's share to the same function the suite's test calls, so the statistic and the threshold
are the suite's, not copies. Rows are named after the tests that make each claim.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from regmaster import posteriordb, verdicts, zoo
from regmaster.convergence import multi_chain_run
from regmaster.data import NOTEBOOK_SEED
from regmaster.reference import check, nuts_draws
from regmaster.sbc import run_sbc
from regmaster.seeds import seed_from_name
from validation import fitcache
from validation.claims import convergence, exact, notebook, rff, sbc_statistics
from validation.claims import diagnostics as diag
from validation.claims.map import ridge_gap

Alarms = dict[str, np.ndarray]


FAILURES: list[str] = []  # the messages of the failed checks, for the report


def _alarm(check: Callable[[], object]) -> bool:
    """True when the check fails: a verdict that does not hold, an assertion, or any error (a red
    test either way). A check returns verdicts (or ``(figures, verdicts)``) or raises."""
    name = getattr(getattr(check, "func", check), "__name__", "check")
    try:
        outcome = check()
    except Exception as error:  # noqa: BLE001 - an erroring check is a failing check
        first_line = (str(error).splitlines() or [""])[0][:300]
        FAILURES.append(f"{name}: {type(error).__name__}: {first_line}")
        return True
    if isinstance(outcome, tuple) and not isinstance(outcome, verdicts.Verdict):
        outcome = outcome[1]  # (figures, verdicts)
    judged = [outcome] if isinstance(outcome, verdicts.Verdict) else list(outcome or [])
    bad = verdicts.failed(judged)
    for verdict in bad:
        FAILURES.append(f"{name}: {verdict.name}: {verdict.message[:300]}")
    return bool(bad)


def _seeds(label: str, count: int) -> list[int]:
    return [seed_from_name(f"{label}#{i}") for i in range(count)]


def _per_seed(label: str, count: int, checks: dict[str, Callable[[int], object]]) -> Alarms:
    seeds = _seeds(label, count)
    return {
        name: np.array([_alarm(functools.partial(check, s)) for s in seeds])
        for name, check in checks.items()
    }


# ------------------------------------------------------------------------ NUTS on the linear model


def _groups(draws: dict[str, np.ndarray], chains: int):
    """Split (chains x groups, ...) arrays into groups of ``chains`` consecutive chains."""
    count = next(iter(draws.values())).shape[0] // chains
    for g in range(count):
        yield {k: v[chains * g : chains * (g + 1)] for k, v in draws.items()}


def nuts_linear(label: str, count: int) -> Alarms:
    """The linear model's exact-posterior cases and its convergence checks, ``count`` seeds each:
    one vectorised run of 4 x ``count`` chains per case, split into 4-chain runs."""
    chains = exact.RUN.num_chains
    alarms: dict[str, list[bool]] = {}
    for case_name, case in exact.CASES.items():
        if case.model != "linear":
            continue
        seed = seed_from_name(f"{label}:{case_name}")
        data = exact.case_data(case)
        moments = exact.exact_moments(
            case, exact.features(case.model, data), np.asarray(data.y_train)
        )
        batch = exact.nuts_draws(case, seed, data, chains=chains * count)
        key = f"test_nuts_matches_exact_posterior[{case_name}]"
        for draws in _groups(batch, chains):
            judge = functools.partial(exact.judge, case, draws, moments)
            alarms.setdefault(key, []).append(_alarm(judge))
    settings = zoo.get_spec("linear").convergence
    batch = multi_chain_run(
        "linear",
        seed_from_name(f"{label}:convergence"),
        settings=dataclasses.replace(settings, num_chains=settings.num_chains * count),
    )
    fields = {"diverging": batch.diverging, "num_steps": batch.num_steps, "energy": batch.energy}
    for draws, extra in zip(
        _groups(batch.draws, settings.num_chains), _groups(fields, settings.num_chains), strict=True
    ):
        run = batch._replace(draws=draws, settings=settings, **extra)
        for test, claim in convergence.CLAIMS.items():
            alarms.setdefault(f"{test}[linear]", []).append(_alarm(functools.partial(claim, run)))
    return {k: np.array(v) for k, v in alarms.items()}


SBC_CLAIMS = {
    "test_sbc_ranks_uniform": verdicts.sbc_calibration,
    "test_sbc_thinned_draws_are_near_independent": verdicts.sbc_health,
}


def sbc_linear(label: str, count: int) -> Alarms:
    """SBC of the linear model at its CI size: ``count`` runs fitted as one batch."""
    replications = count * zoo.get_spec("linear").sbc.replications_ci
    batch = run_sbc(
        "linear",
        seed=seed_from_name(label),
        replications=replications,
        alpha=verdicts.SBC_ALPHA.value,
    )
    results = batch.split(count)
    return {
        f"{test}[linear]": np.array([_alarm(functools.partial(claim, r)) for r in results])
        for test, claim in SBC_CLAIMS.items()
    }


# ---------------------------------------------------------------------------- per-seed checks


def map_probe(label: str, count: int) -> Alarms:
    return _per_seed(label, count, {"test_autodelta_equals_ridge_closed_form": ridge_gap})


def diagnostics_probe(label: str, count: int) -> Alarms:
    return _per_seed(label, count, diag.CLAIMS)


def interval_probe(label: str, count: int) -> Alarms:
    checks = {"test_interval_of_normal_draws_has_its_level": notebook.interval_level}
    return _per_seed(label, count, checks)


RFF_CHECKS = {
    "test_rff_kernel_unbiased_with_theoretical_variance[0.5]": functools.partial(
        rff.kernel_unbiased_with_theoretical_variance, 0.5
    ),
    "test_rff_kernel_unbiased_with_theoretical_variance[2.5]": functools.partial(
        rff.kernel_unbiased_with_theoretical_variance, 2.5
    ),
    "test_hoeffding_pointwise_bound[0.5]": functools.partial(rff.hoeffding_pointwise_bound, 0.5),
    "test_rff_parameters_follow_documented_law": rff.parameters_follow_documented_law,
}


def rff_probe(label: str, count: int) -> Alarms:
    return _per_seed(label, count, RFF_CHECKS)


# ----------------------------------------------------- notebook fits: R^2 and coverage (one fit)

NOTEBOOK_MODELS = ("mlp_map", "rff_svr")


def notebook_fits(label: str, count: int) -> Alarms:
    """R^2 gates (deterministic: the notebook's keys) and coverage over ``count`` fresh-noise
    seeds, on one notebook fit per model."""
    fitcache._MEMO.clear()
    alarms: dict[str, np.ndarray] = {}
    for model in NOTEBOOK_MODELS:
        try:
            fit = fitcache.notebook_fit(model, NOTEBOOK_SEED, "cpu")
        except Exception as error:  # noqa: BLE001 - a fit that errors fails every check of it
            FAILURES.append(f"notebook_fit[{model}]: {type(error).__name__}: {error}"[:300])
            for test in ("test_r2_passes_notebook_threshold", "test_r2_matches_notebook_value"):
                alarms[f"{test}[{model}]"] = np.ones(count, bool)
            alarms[f"test_predictive_interval_covers_fresh_observations[{model}]"] = np.ones(
                count, bool
            )
            continue
        for test, claim in (
            ("test_r2_passes_notebook_threshold", notebook.r2_threshold),
            ("test_r2_matches_notebook_value", notebook.r2_printed),
        ):
            alarms[f"{test}[{model}]"] = np.full(
                count, _alarm(functools.partial(claim, model, fit))
            )
        alarms[f"test_predictive_interval_covers_fresh_observations[{model}]"] = np.array(
            [
                _alarm(functools.partial(notebook.fresh_coverage, model, fit, s))
                for s in _seeds(label, count)
            ]
        )
    fitcache._MEMO.clear()
    return alarms


# ------------------------------------------------------------ posteriordb reference posteriors

REFERENCE_PROBED = ("kilpisjarvi", "eight_schools_noncentered")
"""The posteriordb posteriors the calibration runs: the two whose priors the data do not
swamp (an informative slope prior; the hierarchy's scale), so a prior bug can show."""


def reference_probe(label: str, count: int) -> Alarms:
    """NUTS against the reference draws at CI size, ``count`` runs per posterior in one batch."""
    alarms = {}
    for name in REFERENCE_PROBED:
        posterior = posteriordb.get(name)
        batch = nuts_draws(posterior, seed_from_name(f"{label}:{name}"), runs=count)

        def judged(run: int, posterior=posterior, batch=batch):
            return check(posterior, *batch.run(run))[1]

        alarms[f"test_nuts_matches_posteriordb_reference[{name}]"] = np.array(
            [_alarm(functools.partial(judged, r)) for r in range(count)]
        )
    return alarms


# --------------------------------------------------------------- the SBC harness's unit checks


def harness(label: str, count: int) -> Alarms:
    """Deterministic checks of the SBC statistics (their own fixed seeds): run once."""
    return {n: np.full(count, _alarm(c)) for n, c in sbc_statistics.HARNESS.items()}


PROBES: dict[str, Callable[[str, int], Alarms]] = {
    "nuts_linear": nuts_linear,
    "sbc_linear": sbc_linear,
    "map": map_probe,
    "diagnostics": diagnostics_probe,
    "interval": interval_probe,
    "rff": rff_probe,
    "notebook_fits": notebook_fits,
    "harness": harness,
    "reference": reference_probe,
}
DETERMINISTIC = {"harness"}  # the same answer at every seed: run once, reported as such
