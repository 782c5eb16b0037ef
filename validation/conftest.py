"""pytest configuration of the validation suite.

- markers, one per family, registered strictly (``--strict-markers`` in pyproject.toml);
- options: ``--sbc-replications``, ``--release``, ``--report-json``;
- ``backend``: every check that runs inference is parametrized over ``cpu`` and ``gpu``; ``gpu``
  skips with the reason when JAX sees no GPU;
- ``seed``: derived from the test's node id (check, parameters, backend) by a stable hash, so a test
  draws the same numbers alone, in the full run, and under any xdist worker;
- ``record``: the figures a check measured (statistic, threshold, p-value, margin), kept with the
  test report and written to ``--report-json`` at the end of the run;
- ``fit_cache``: where the xdist workers of one run share fits (:mod:`validation.fitcache`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from regmaster import zoo
from regmaster.report import (
    SCHEMA,
    environment,
    split_test_id,
    to_html,
    to_markdown,
    verdict_of,
)
from regmaster.seeds import seed_from_name

MARKERS = {
    "convergence": "R-hat, ESS, divergences, E-BFMI, tree depth through ArviZ",
    "exact": "NUTS against a closed-form or quadrature posterior",
    "map": "AutoDelta against closed-form and independent optima",
    "r2": "the notebook's R^2 thresholds and their robustness over data seeds",
    "coverage": "posterior-predictive interval coverage of fresh observations",
    "sbc": "simulation-based calibration",
    "rff": "random Fourier features against the exact RBF kernel",
    "slow": "the heaviest checks (minutes each on 2 cores)",
    "release": "release-gate checks too heavy for CI (tens of minutes each); run with --release",
}

# Replications per SBC test for a release; the CI default is each entry's
# ``SBCSettings.replications_ci``, sized for the 45-minute CI budget on 2 cores.
SBC_REPLICATIONS_RELEASE = 1000


def pytest_addoption(parser):
    group = parser.getgroup("regmaster")
    group.addoption(
        "--sbc-replications",
        type=int,
        default=None,
        help="replications per SBC test (default: each registry entry's CI size, "
        f"SBCSettings.replications_ci; release: {SBC_REPLICATIONS_RELEASE})",
    )
    group.addoption(
        "--release",
        action="store_true",
        help="also run the release-gate checks (marker 'release'), skipped otherwise",
    )
    group.addoption(
        "--report-json",
        default=None,
        help="write every check's outcome and recorded figures to this JSON file",
    )


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config, items):
    _order_sbc_runs_first(items)
    if config.getoption("--release"):
        return
    skip = pytest.mark.skip(reason="release-gate check (tens of minutes on 2 cores): --release")
    for item in items:
        if "release" in item.keywords:
            item.add_marker(skip)


def _platform_devices(platform: str) -> list:
    try:
        return jax.devices(platform)
    except RuntimeError:
        return []


BACKENDS = ("cpu", "gpu")


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc):
    # trylast: after @pytest.mark.parametrize, so ids read [model-cpu], [model-gpu].
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request):
    """The JAX platform a check runs on; the check body runs under ``jax.default_device``."""
    devices = _platform_devices(request.param)
    if not devices:
        pytest.skip(f"JAX sees no {request.param} device (backends: {jax.devices()})")
    with jax.default_device(devices[0]):
        yield request.param


@pytest.fixture
def seed(request) -> int:
    """The test's seed, from its node id (``path::test[params-backend]``)."""
    return seed_from_name(request.node.nodeid)


def _jsonable(value):
    if isinstance(value, (np.generic, jax.Array)):
        value = np.asarray(value).tolist()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@pytest.fixture
def record(request, seed):
    """``record(name=value, ...)`` keeps measured figures with this test's report."""
    request.node.user_properties.append(("seed", seed))
    rates = getattr(request.module, "FALSE_ALARM", {})
    if request.function.__name__ in rates:
        request.node.user_properties.append(("false_alarm", rates[request.function.__name__]))

    def _record(**figures):
        for name, value in figures.items():
            request.node.user_properties.append((name, _jsonable(value)))

    return _record


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
        families = [m for m in MARKERS if m in report.keywords and m not in ("slow", "release")]
        _RESULTS.append(
            {
                "test": report.nodeid,
                "family": families[0] if families else None,
                "model": params if params in zoo.REGISTRY else None,
                "params": params,
                "backend": backend,
                "outcome": outcome,
                "verdict": verdict_of(outcome),
                "reason": _reason(report),
                "seconds": round(report.duration, 3),
                "figures": {k: v for k, v in report.user_properties if k != "image"},
                "images": [v for k, v in report.user_properties if k == "image"],
            }
        )


_RESULTS: list[dict] = []


def pytest_sessionstart(session):
    session.config.stash[_STARTED] = time.perf_counter()


_STARTED = pytest.StashKey[float]()


def pytest_sessionfinish(session):
    path = session.config.getoption("--report-json")
    if not path or hasattr(session.config, "workerinput"):
        return
    record = {
        "schema": SCHEMA,
        "environment": environment(["pytest", *session.config.invocation_params.args]),
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


@pytest.fixture(scope="session")
def fit_cache(tmp_path_factory, request) -> Path:
    """A directory shared by the xdist workers of this run: the controller's base temp directory
    (each worker's own is ``popen-gw<N>`` below it), or this process's without xdist."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if hasattr(request.config, "workerinput") else base) / "regmaster-fits"


def _order_sbc_runs_first(items) -> None:
    """SBC rank tests first, the checks that only read an SBC run last.

    Each SBC run takes minutes and is shared by two tests; a worker handed the second test while
    another computes the run waits on its lock (an idle worker: 389 s for deep_rff_smooth when the
    SBC tests came last). Starting the long runs first and reading them last keeps both busy.
    """

    def rank(item) -> int:
        if "test_sbc.py::test_sbc_ranks_uniform" in item.nodeid:
            return 0
        return 2 if "test_sbc.py::" in item.nodeid else 1

    items.sort(key=rank)
