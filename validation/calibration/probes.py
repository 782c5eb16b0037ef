"""The suite's own checks, run over many seeds at CI size and batched where they run NUTS.

A probe returns, for every check it runs, a boolean array over seeds: True where the check raised
(an alarm). Checks are the suite's test functions, called as plain functions; a probe that needs
many NUTS runs fits them in one batch (``4 x seeds`` vectorised chains, ``seeds`` SBC runs of one
batched engine call) and hands each seed's share to the test through its own helper (``_run``,
``_nuts_draws``, ``_sbc``), so the statistic and the threshold are the suite's, not copies.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from regmaster import zoo
from regmaster.convergence import nuts_run
from regmaster.sbc import run_model_sbc_groups
from regmaster.seeds import seed_from_name
from validation import fitcache
from validation import test_convergence as convergence
from validation import test_coverage as coverage
from validation import test_diagnostics as diag
from validation import test_exact_posterior as exact
from validation import test_map as map_checks
from validation import test_r2 as r2
from validation import test_rff as rff
from validation import test_sbc as sbc_checks

Alarms = dict[str, np.ndarray]


def _noop(*args, **kwargs) -> None:
    return None


FAILURES: list[str] = []  # the messages of the failed checks, for the report


def _alarm(check: Callable[[], None]) -> bool:
    """True when the check fails: an assertion, or any error (a red test either way)."""
    try:
        check()
    except Exception as error:  # noqa: BLE001 - an erroring check is a failing check
        name = getattr(getattr(check, "func", check), "__name__", "check")
        first_line = (str(error).splitlines() or [""])[0][:300]
        FAILURES.append(f"{name}: {type(error).__name__}: {first_line}")
        return True
    return False


def _seeds(label: str, count: int) -> list[int]:
    return [seed_from_name(f"{label}#{i}") for i in range(count)]


def _per_seed(label: str, count: int, checks: dict[str, Callable[[int], None]]) -> Alarms:
    seeds = _seeds(label, count)
    return {
        name: np.array([_alarm(functools.partial(check, s)) for s in seeds])
        for name, check in checks.items()
    }


# ------------------------------------------------------------------------ NUTS on the linear model

CONVERGENCE_CHECKS = (
    "test_rhat_below_1_01",
    "test_ess_at_least_100_per_chain",
    "test_no_divergences",
    "test_ebfmi_at_least_0_2",
    "test_tree_depth_not_saturated",
    "test_chains_are_not_copies",
)


def _groups(draws: dict[str, np.ndarray], chains: int):
    """Split (chains x groups, ...) arrays into groups of ``chains`` consecutive chains."""
    count = next(iter(draws.values())).shape[0] // chains
    for g in range(count):
        yield {k: v[chains * g : chains * (g + 1)] for k, v in draws.items()}


def nuts_linear(label: str, count: int) -> Alarms:
    """The linear model's exact-posterior cases and its convergence checks, ``count`` seeds each:
    one vectorised run of 4 x ``count`` chains per case, split into 4-chain runs."""
    chains = exact.RUN.num_chains
    nuts_draws = exact._nuts_draws
    alarms: dict[str, list[bool]] = {}
    for case_name, case in exact.CASES.items():
        if case.model != "linear":
            continue
        seed = seed_from_name(f"{label}:{case_name}")
        batch = nuts_draws(case, seed, exact.case_data(case), chains=chains * count)
        test = functools.partial(
            exact.test_nuts_matches_exact_posterior, case_name, "cpu", 0, _noop
        )
        for draws in _groups(batch, chains):
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(exact, "_nuts_draws", lambda *a, d=draws, **k: d)
                key = f"test_nuts_matches_exact_posterior[{case_name}]"
                alarms.setdefault(key, []).append(_alarm(test))
    settings = zoo.get_spec("linear").convergence
    batch = nuts_run(
        "linear",
        seed_from_name(f"{label}:convergence"),
        settings=dataclasses.replace(settings, num_chains=settings.num_chains * count),
    )
    fields = {"diverging": batch.diverging, "num_steps": batch.num_steps, "energy": batch.energy}
    for draws, extra in zip(
        _groups(batch.draws, settings.num_chains), _groups(fields, settings.num_chains), strict=True
    ):
        run = batch._replace(draws=draws, settings=settings, **extra)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(convergence, "_run", lambda *a, r=run: r)
            for check in CONVERGENCE_CHECKS:
                args = ("linear", "cpu", None, _noop) + ((_noop,) if "rhat" in check else ())
                test = functools.partial(getattr(convergence, check), *args)
                alarms.setdefault(f"{check}[linear]", []).append(_alarm(test))
    return {k: np.array(v) for k, v in alarms.items()}


def sbc_linear(label: str, count: int) -> Alarms:
    """SBC of the linear model at its CI size: ``count`` runs fitted as one batch."""
    results = run_model_sbc_groups(
        "linear", groups=count, seed=seed_from_name(label), alpha=sbc_checks.ALPHA
    )
    request = SimpleNamespace(config=SimpleNamespace(getoption=lambda name: None))
    alarms: dict[str, list[bool]] = {}
    for result in results:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(sbc_checks, "_sbc", lambda *a, r=result: r)
            for check in ("test_sbc_ranks_uniform", "test_sbc_thinned_draws_are_near_independent"):
                args = ("linear", "cpu", _noop, request, None)
                if check == "test_sbc_ranks_uniform":
                    args = (*args, _noop)
                test = functools.partial(getattr(sbc_checks, check), *args)
                alarms.setdefault(f"{check}[linear]", []).append(_alarm(test))
    return {k: np.array(v) for k, v in alarms.items()}


# ---------------------------------------------------------------------------- per-seed checks


def map_probe(label: str, count: int) -> Alarms:
    return _per_seed(
        label,
        count,
        {
            "test_autodelta_equals_ridge_closed_form": lambda s: (
                map_checks.test_autodelta_equals_ridge_closed_form("cpu", s, _noop)
            )
        },
    )


def diagnostics_probe(label: str, count: int) -> Alarms:
    names = [n for n in dir(diag) if n.startswith("test_")]
    tests = {n: getattr(diag, n) for n in names}
    return _per_seed(label, count, {n: functools.partial(_call, t) for n, t in tests.items()})


def _call(test, seed: int) -> None:
    test(seed, _noop)


def interval_probe(label: str, count: int) -> Alarms:
    test = coverage.test_interval_of_normal_draws_has_its_level
    return _per_seed(label, count, {test.__name__: lambda s: test(s, _noop)})


RFF_CHECKS = {
    "test_rff_kernel_unbiased_with_theoretical_variance[0.5]": lambda s: (
        rff.test_rff_kernel_unbiased_with_theoretical_variance(0.5, "cpu", s, _noop)
    ),
    "test_rff_kernel_unbiased_with_theoretical_variance[2.5]": lambda s: (
        rff.test_rff_kernel_unbiased_with_theoretical_variance(2.5, "cpu", s, _noop)
    ),
    "test_hoeffding_pointwise_bound[0.5]": lambda s: rff.test_hoeffding_pointwise_bound(
        0.5, "cpu", s, _noop
    ),
    "test_rff_parameters_follow_documented_law": lambda s: (
        rff.test_rff_parameters_follow_documented_law("cpu", s, _noop)
    ),
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
        for check in ("test_r2_passes_notebook_threshold", "test_r2_matches_notebook_value"):
            test = getattr(r2, check)
            args = (model, "cpu", None, _noop) + ((_noop,) if "passes" in check else ())
            alarms[f"{check}[{model}]"] = np.full(count, _alarm(functools.partial(test, *args)))
        test = coverage.test_predictive_interval_covers_fresh_observations
        alarms[f"{test.__name__}[{model}]"] = np.array(
            [
                _alarm(functools.partial(test, model, "cpu", s, None, _noop))
                for s in _seeds(label, count)
            ]
        )
    fitcache._MEMO.clear()
    return alarms


# --------------------------------------------------------------- the SBC harness's unit checks

HARNESS_CHECKS = (
    "test_exact_posterior_draws_pass",
    "test_false_alarm_rate_of_the_verdict_on_exact_draws_is_at_most_alpha",
    "test_ranks_count_draws_below_the_truth",
    "test_holm_adjusted_pvalues",
    "test_thin_takes_evenly_spaced_pooled_draws",
)


def _harness_module():
    name = "regmaster_sbc_harness_tests"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "tests" / "test_sbc.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def harness(label: str, count: int) -> Alarms:
    """Deterministic unit checks of the SBC statistics (their own fixed seeds): run once."""
    module = _harness_module()
    return {n: np.full(count, _alarm(getattr(module, n))) for n in HARNESS_CHECKS}


PROBES: dict[str, Callable[[str, int], Alarms]] = {
    "nuts_linear": nuts_linear,
    "sbc_linear": sbc_linear,
    "map": map_probe,
    "diagnostics": diagnostics_probe,
    "interval": interval_probe,
    "rff": rff_probe,
    "notebook_fits": notebook_fits,
    "harness": harness,
}
DETERMINISTIC = {"harness"}  # the same answer at every seed: run once, reported as such
