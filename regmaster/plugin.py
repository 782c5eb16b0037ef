"""regmaster's pytest plugin: validate inference inside any test suite.

Installed with the package (entry point ``pytest11``), it gives every test:

- ``seed``: a stable 31-bit seed from the test's node id, so a check draws the same numbers alone,
  in a full run and on any xdist worker;
- ``record(name=value, ...)``: figures kept with the test's report; a test module's
  ``FALSE_ALARM = {test_name: rate}`` adds each check's nominal false-alarm rate;
- ``save_figure(fig, name)``: a figure saved beside the run record and shown in its report;
- ``regmaster``: :class:`Checks` (simulation-based calibration with its health checks,
  multi-chain convergence) for one's own model, described by a :class:`regmaster.ModelSpec`;
- ``--report-json PATH``: the run record (every check's verdict, figures, seed, the environment)
  with ``validation.md``, ``index.html`` and ``figures/`` beside it (:mod:`regmaster.report`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from . import verdicts, zoo
from .checks import check_output
from .families import COSTS, FAMILIES
from .report import (
    SCHEMA,
    environment,
    jsonable,
    split_test_id,
    to_html,
    to_markdown,
    verdict_of,
)
from .runtime import single_threaded_eigen
from .seeds import seed_from_name
from .settings import RunLengths


def pytest_configure(config):
    """Register the family and cost markers (:mod:`regmaster.families`); keep XLA's CPU client
    off the Eigen pool that can wedge (:func:`regmaster.runtime.single_threaded_eigen`); refuse
    a ``--report-json`` path that cannot be written before any check runs."""
    single_threaded_eigen()
    for name, text in {**FAMILIES, **COSTS}.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if not hasattr(config, "workerinput"):  # the controller writes the record: check it first
        try:
            check_output("--report-json", config.getoption("--report-json"))
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None


def pytest_addoption(parser):
    parser.getgroup("regmaster").addoption(
        "--report-json",
        default=None,
        help="write every check's outcome and recorded figures to this JSON file, with "
        "validation.md, index.html and figures/ beside it",
    )


@pytest.fixture
def seed(request) -> int:
    """The test's seed, from its node id (``path::test[params]``)."""
    return seed_from_name(request.node.nodeid)


@pytest.fixture
def record(request, seed):
    """``record(name=value, ...)`` keeps measured figures with this test's report."""
    request.node.user_properties.append(("seed", seed))
    rates = getattr(request.module, "FALSE_ALARM", {})
    if request.function.__name__ in rates:
        request.node.user_properties.append(("false_alarm", rates[request.function.__name__]))

    def _record(**figures):
        for name, value in figures.items():
            request.node.user_properties.append((name, jsonable(value)))

    return _record


@pytest.fixture
def check(request):
    """``check(*verdicts)``: keeps each :class:`regmaster.verdicts.Verdict` with this test's
    report (the run record's ``verdicts``, which the regression policy reads) and fails the test
    naming every verdict that does not hold."""

    def _check(*judged: verdicts.Verdict) -> None:
        for verdict in judged:
            request.node.user_properties.append(("verdict", verdict.as_record()))
        verdicts.assert_verdicts(judged)

    return _check


@pytest.fixture
def save_figure(request):
    """``save_figure(fig, name)``: the figure as ``<report dir>/figures/<name>.png``, listed under
    ``images`` in this check's record (closed either way; kept only with ``--report-json``)."""
    path = request.config.getoption("--report-json")

    def _save(fig, name: str) -> None:
        import matplotlib.pyplot as plt

        try:
            if path:
                directory = Path(path).parent / "figures"
                directory.mkdir(parents=True, exist_ok=True)
                fig.savefig(directory / f"{name}.png", dpi=90, bbox_inches="tight")
                request.node.user_properties.append(("image", f"figures/{name}.png"))
        finally:
            plt.close(fig)

    return _save


def _reason(report) -> str | None:
    """Why a check did not pass: the xfail reason, the skip reason, or the failure's last line."""
    if hasattr(report, "wasxfail"):
        return report.wasxfail or None
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if report.failed:
        lines = [line for line in report.longreprtext.splitlines() if line.startswith("E ")]
        return lines[0][1:].strip() if lines else report.longreprtext.strip()[-300:]
    return None


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
        if report.when == "setup" and report.failed:
            outcome = "error"
        _, params, backend = split_test_id(report.nodeid)
        properties = dict(report.user_properties)
        families = [m for m in FAMILIES if m in report.keywords]
        family = properties.get("family") or (families[0] if families else None)
        model = properties.get("model") or (params if params in zoo.REGISTRY else None)
        _RESULTS.append(
            {
                "test": report.nodeid,
                "family": family,
                "model": model,
                "inference": properties.get(INFERENCE) or _inference(model, family),
                "params": params,
                "backend": backend,
                "outcome": outcome,
                "verdict": verdict_of(outcome),
                "reason": _reason(report),
                "seconds": round(report.duration, 3),
                "figures": {
                    k: v
                    for k, v in report.user_properties
                    if k not in ("image", "family", "verdict", INFERENCE)
                },
                "verdicts": [v for k, v in report.user_properties if k == "verdict"],
                "images": [v for k, v in report.user_properties if k == "image"],
            }
        )


INFERENCE = "inference_label"
"""The user property naming the inference a check ran: the run record's ``inference``, not a
figure (a check's own figures may hold an ``inference`` of their own)."""


def _inference(model: str | None, family: str | None) -> str | None:
    """The inference a registered entry's check of ``family`` runs; a check of one's own names
    it with ``request.node.user_properties.append((INFERENCE, label))``."""
    if model not in zoo.REGISTRY or family is None:
        return None
    return zoo.get_spec(model).inference_for(family)


_RESULTS: list[dict] = []


def pytest_sessionstart(session):
    session.config.stash[_STARTED] = time.perf_counter()
    # The code that runs is the one checked out now; a long run may outlast later commits.
    session.config.stash[_ENVIRONMENT] = environment(
        ["pytest", *session.config.invocation_params.args]
    )


_STARTED = pytest.StashKey[float]()
_ENVIRONMENT = pytest.StashKey[dict]()


def pytest_sessionfinish(session):
    path = session.config.getoption("--report-json")
    if not path or hasattr(session.config, "workerinput"):
        return
    record = {
        "schema": SCHEMA,
        "environment": session.config.stash[_ENVIRONMENT],
        "seconds": round(time.perf_counter() - session.config.stash[_STARTED], 1),
        "results": sorted(_RESULTS, key=lambda r: r["test"]),
    }
    directory = Path(path).parent
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    (directory / "validation.md").write_text(to_markdown(record))
    (directory / "index.html").write_text(to_html(record, directory))


class Checks:
    """Checks of one's own model (a :class:`regmaster.ModelSpec`), seeded from the test's id and
    recorded in the run record; the ``regmaster`` fixture. Each check returns its result and
    asserts nothing; the ``assert_*`` methods state the suite's claims through the verdict
    functions of :mod:`regmaster.verdicts`, the suite's and the command's."""

    def __init__(self, seed: int, record, save_figure, check=None):
        self.seed, self._record, self._save_figure = seed, record, save_figure
        self._check = check or verdicts.assert_verdicts

    def sbc(
        self,
        spec,
        *,
        replications: int | None = None,
        alpha: float = verdicts.SBC_ALPHA.value,
        inference=None,
        inference_model=None,
    ):
        """Simulation-based calibration of ``spec`` with its ``SBCSettings``
        (:func:`regmaster.run_sbc`); records the verdict, p-values, health and plots.

        ``inference``: the inference calibrated (default: the settings' own, else the entry's
        NUTS; a :class:`regmaster.BatchedSVI` for a guide). ``inference_model``: fit this model
        to data simulated from ``spec.model`` (the same sites; e.g. a cheaper approximation, or a
        twin with another prior, which should fail).
        """
        from .plots import SBC_FIGURES
        from .sbc import run_sbc

        result = run_sbc(
            spec,
            replications=replications,
            seed=self.seed,
            alpha=alpha,
            inference=inference,
            inference_model=inference_model,
        )
        self._record(family="sbc", model=spec.name, **{INFERENCE: result.inference})
        self._record(**result.figures())
        for kind, figure in SBC_FIGURES.items():
            self._save_figure(figure(result), f"sbc_{kind}_{spec.name}_{self.seed}")
        return result

    def assert_calibrated(self, result) -> None:
        """Every verdict of the SBC rule (:func:`regmaster.verdicts.sbc_verdicts`, the command's
        and the suite's): uniform ranks (Holm over every test of every quantity, family-wise
        alpha) and near-independent thinned draws (at most
        :data:`~regmaster.verdicts.LOW_ESS_SHARE` of (replication, quantity) bulk ESS below
        the number of draws ranked)."""
        self._check(*verdicts.sbc_verdicts(result))

    def _fit(self, spec, x, y, lengths: RunLengths, inference, names=(), references=()):
        """One fit of ``spec`` on data ``(x, y)`` by ``inference`` (default: the entry's NUTS):
        the draws per site shaped (chain, draw, ...), ``names`` computed where the inference
        does not return them, and the inference's own health. The data and the ``references``
        ((site, value) pairs) are checked against the model first (:func:`_checked_data`)."""
        from .engine import BatchedHMC, BatchedNUTS
        from .reference import fit_draws

        inference = spec.nuts() if inference is None else inference
        if isinstance(inference, (BatchedNUTS, BatchedHMC)) and lengths.num_chains < 2:
            raise ValueError(
                f"lengths.num_chains must be >= 2: R-hat compares chains; got {lengths.num_chains}"
            )
        x, y = _checked_data(spec, x, y, references)
        self._record(**{INFERENCE: zoo.describe_inference(inference)})
        key = jax.random.PRNGKey(self.seed)
        return fit_draws(spec.model, key, x, y, inference, lengths, names, **spec.fixed_kwargs())

    def convergence(self, spec, x, y, *, lengths: RunLengths | None = None, inference=None) -> dict:
        """Several chains on data ``(x, y)`` (``lengths``, default 4 x (500 + 1000)) by
        ``inference`` (default: the entry's NUTS settings): worst R-hat, bulk and tail ESS per
        chain over every latent site (ArviZ), and the divergences; recorded."""
        from . import diagnostics

        draws, health = self._fit(spec, x, y, lengths or RunLengths(), inference)
        summary = diagnostics.convergence_summary(draws)
        summary["divergences"] = int(health["diverging"].sum()) if "diverging" in health else 0
        self._record(family="convergence", model=spec.name, **summary)
        return summary

    def assert_converged(self, summary: dict) -> None:
        """R-hat, bulk and tail ESS per chain and divergences within the convergence family's
        thresholds (:func:`regmaster.verdicts.convergence`; Vehtari et al. 2021)."""
        figures = {
            "max_rhat": summary["max_rhat"],
            "min_ess_per_chain": min(
                summary["min_ess_bulk_per_chain"], summary["min_ess_tail_per_chain"]
            ),
            "divergences": summary["divergences"],
        }
        self._check(*verdicts.convergence(figures))

    def posterior(
        self,
        spec,
        x,
        y,
        exact_mean: dict,
        exact_sd: dict,
        *,
        lengths: RunLengths | None = None,
        inference=None,
    ) -> dict:
        """``inference`` (default: the entry's NUTS, 4 x (500 + 1000)) against a known posterior:
        z = (estimate - exact) / MCSE for the mean and sd of each site given
        (:func:`regmaster.moments.compare`), with the convergence gate over those sites;
        recorded. The z-scores are named ``<site>_mean`` and ``<site>_sd``."""
        from . import moments

        if not exact_mean and not exact_sd:
            raise ValueError("exact_mean and exact_sd are both empty: name a site's moments")
        given = [*exact_mean.items(), *exact_sd.items()]
        draws, _ = self._fit(spec, x, y, lengths or RunLengths(), inference, references=given)
        exact = {f"{k}_mean": v for k, v in exact_mean.items()}
        exact |= {f"{k}_sd": v for k, v in exact_sd.items()}
        figures = moments.compare(draws, exact)
        self._record(
            family="exact", model=spec.name, max_abs_z=figures["max_abs_z"], **figures["gate"]
        )
        return {"max_abs_z": figures["max_abs_z"], **figures["gate"]}

    def assert_posterior_matches(self, result: dict) -> None:
        """Converged (R-hat and the reference ESS), then every |z| within its bound
        (:func:`regmaster.verdicts.reference`)."""
        self._check(*verdicts.reference(result, result["max_abs_z"]))

    def against_reference(
        self,
        spec,
        x,
        y,
        reference,
        *,
        lengths: RunLengths | None = None,
        inference=None,
    ) -> dict:
        """``inference`` (default: the entry's NUTS, 4 x (500 + 1000)) on data ``(x, y)``
        against reference draws (:func:`regmaster.reference_draws.compare`): z-scores of the
        mean, sd, 5% and 95% quantiles of every site the reference names (deterministic sites
        too), with both MCSEs, and the convergence gate; recorded.

        ``reference``: posteriordb's format (the path of a ``reference_draws.json`` or
        ``.json.zip``, or its list of chains) or ``{site: array (chain, draw, ...)}``
        (:func:`regmaster.reference_draws.read_reference`). Models with flat (improper) priors
        work as any other."""
        from . import reference_draws

        reference = reference_draws.read_reference(reference)
        draws, own = self._fit(
            spec,
            x,
            y,
            lengths or RunLengths(),
            inference,
            list(reference),
            [(name, None) for name in reference],
        )
        divergences = int(np.sum(own.get("diverging", 0)))
        figures = reference_draws.compare(draws, reference, divergences)
        self._record(family="reference", model=spec.name, **figures)
        return figures

    def assert_matches_reference(self, figures: dict) -> None:
        """Converged (R-hat, reference ESS, no divergence), then the smallest Holm-adjusted p of
        every z-score above :data:`~regmaster.verdicts.REFERENCE_ALPHA`
        (:func:`regmaster.verdicts.against_reference_draws`, the suite's and the command's)."""
        self._check(*verdicts.against_reference_draws(figures))

    def map(self, spec, x, y, reference: dict, *, num_steps: int = 5000) -> dict:
        """AutoDelta (Adam from 0.1, halving every 1000 steps) against a known MAP point in the
        constrained space: the largest absolute difference per site; recorded."""
        from .inference import decaying_adam, run_map

        if not reference:
            raise ValueError("reference is empty: name the MAP value of at least one site")
        x, y = _checked_data(spec, x, y, reference.items())
        fit = run_map(
            spec.model,
            jax.random.PRNGKey(self.seed),
            x,
            y,
            num_steps=num_steps,
            optimizer=decaying_adam(0.1, 1000),
            **spec.fixed_kwargs(),
        )
        point = fit.point()
        gaps = {
            k: float(np.max(np.abs(np.asarray(point[k]) - np.asarray(v))))
            for k, v in reference.items()
        }
        self._record(family="map", model=spec.name, gaps=gaps)
        return gaps

    def assert_map_matches(self, gaps: dict) -> None:
        """Every site within :data:`regmaster.verdicts.MAP_THETA` of the reference (float64)."""
        self._check(*verdicts.map_point(theta_gap=max(gaps.values())))


def _checked_data(spec, x, y, references=()):
    """``(x, y)`` as arrays, after refusing, before any fitting, data the model cannot take as
    meant: a site name in a dict ``y`` that is no sample site, an observed site of the entry's
    SBC settings that ``y`` lacks, data shaped unlike the site they observe (a scalar site may
    be observed on any shape), data that observe nothing; and ``references``, (site, value)
    pairs, naming no latent or deterministic site, or with a value that is not finite or not
    shaped as the site (a value of None: the name only)."""
    from .calling import check_data, describe
    from .calling import trace as trace_of

    if isinstance(y, dict):
        y = {k: np.asarray(v) for k, v in y.items()}
    elif y is not None:
        y = np.asarray(y)
    x, y = check_data(x, y) if y is not None else (x, None)
    if y is None:
        raise ValueError(f"y must hold the data of {spec.name}'s observed site(s), got None")
    kwargs = spec.fixed_kwargs()
    sites = {
        k: v
        for k, v in trace_of(spec.model, x, None, **kwargs).items()
        if v["type"] in ("sample", "deterministic")
    }
    prior = {k: v for k, v in sites.items() if v["type"] == "sample"}
    if isinstance(y, dict):
        unknown = sorted(set(y) - set(prior))
        if unknown:
            raise ValueError(
                f"y names {', '.join(map(repr, unknown))}, no sample site of {spec.name}; its "
                f"sample sites: {', '.join(prior)}"
            )
        observed = spec.sbc.observed if spec.sbc is not None else ()
        lacking = [
            n for n in ((observed,) if isinstance(observed, str) else observed) if n not in y
        ]
        if lacking:
            raise ValueError(f"y lacks the observed site(s) {', '.join(map(repr, lacking))}")
    try:
        given = trace_of(spec.model, x, y, **kwargs)
    except Exception as error:  # the model's own error on these data
        raise ValueError(
            f"model {spec.name} fails on y {describe(y)}: {type(error).__name__}: {error}"
        ) from None
    newly = [k for k, v in given.items() if v.get("is_observed") and k in prior]
    newly = [k for k in newly if not prior[k]["is_observed"]]
    if not newly:
        raise ValueError(f"y {describe(y)} observes no sample site of {spec.name}")
    for k in newly:
        want, got = np.shape(prior[k]["value"]), np.shape(given[k]["value"])
        if want not in ((), got):
            where = f"y[{k!r}]" if isinstance(y, dict) else "y"
            raise ValueError(
                f"{where} is shaped {got}; {spec.name}'s site {k!r} is shaped {want} on these "
                "inputs"
            )
    for name, value in references:
        _check_reference(spec.name, sites, newly, name, value)
    return x, y


def _check_reference(model: str, sites: dict, observed, name: str, value) -> None:
    """Refuse a reference to a site the model neither samples nor computes (``sites``: its
    trace), to an ``observed`` site, or a ``value`` that is not finite or not shaped as the
    site."""
    if name not in sites:
        raise ValueError(
            f"{name!r} is no sample or deterministic site of {model}; its sites: {', '.join(sites)}"
        )
    if name in observed:
        raise ValueError(f"{name!r} is observed: a reference names latent or deterministic sites")
    shape = np.shape(sites[name]["value"])
    if value is not None and (np.shape(value) != shape or not np.all(np.isfinite(value))):
        raise ValueError(
            f"the reference of {name!r} must be finite and shaped {shape} as the site, got "
            f"{np.asarray(value).tolist() if np.size(value) <= 8 else np.shape(value)}"
        )


@pytest.fixture
def regmaster(seed, record, save_figure, check) -> Checks:
    """regmaster's checks for one's own model, seeded from this test's id (:class:`Checks`)."""
    jax.config.update("jax_enable_x64", True)
    return Checks(seed, record, save_figure, check)
