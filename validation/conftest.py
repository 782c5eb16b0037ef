"""pytest configuration of the validation suite.

- markers, one per family (:mod:`regmaster.families`, registered by the plugin), strictly
  (``--strict-markers`` in pyproject.toml);
- options: ``--sbc-replications``, ``--release``;
- ``backend``: every check that runs inference is parametrized over ``cpu`` and ``gpu``; ``gpu``
  skips with the reason when JAX sees no GPU;
- ``seed``, ``record``, ``save_figure`` and ``--report-json`` come from regmaster's pytest plugin
  (:mod:`regmaster.plugin`): seeds from test ids, figures into the run record;
- ``fit_cache``: where the xdist workers of one run share fits (:mod:`validation.fitcache`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import jax
import pytest

from regmaster.checks import check_output
from regmaster.runtime import configure, default_cache_dir

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
        "--sbc-devices",
        choices=("one", "all"),
        default="one",
        help="one: each SBC run on one device of its backend; all: its lanes split over every "
        "device of the backend (several GPUs; docs/scale.md)",
    )
    group.addoption(
        "--sbc-checkpoints",
        metavar="DIR",
        default=None,
        help="keep each SBC run's finished segments in DIR/<run>; a run stopped early (Ctrl-C, "
        "a lost machine) resumes there to the same numbers; removed when the run completes",
    )
    group.addoption(
        "--xla-cache",
        metavar="DIR",
        default=None,
        help="persistent XLA compilation cache shared by runs and workers (default "
        "$REGMASTER_CACHE_DIR, else ~/.cache/regmaster/xla); 'off': compile from scratch",
    )
    group.addoption(
        "--release",
        action="store_true",
        help="also run the release-gate checks (marker 'release'), skipped otherwise",
    )


def pytest_configure(config):  # the family markers are registered by regmaster's plugin
    replications = config.getoption("--sbc-replications")
    if replications is not None and replications < 2:
        raise pytest.UsageError(f"--sbc-replications must be >= 2, got {replications}")
    if not hasattr(config, "workerinput"):  # before any fitting, not when a segment is saved
        try:
            check_output("--sbc-checkpoints", config.getoption("--sbc-checkpoints"), directory=True)
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
    # Every process (each xdist worker too) reads and writes the compiled programs there; a
    # program compiles to the same executable either way, so the figures do not change.
    where = config.getoption("--xla-cache")
    if where != "off":
        try:
            configure(cache_dir=where or default_cache_dir())
        except OSError as error:  # an unwritable directory costs time, not the run
            warnings.warn(f"--xla-cache: no compilation cache ({error})", stacklevel=1)


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

    def rank(item) -> tuple[int, bool]:
        # Within a rank, the gpu cases last: xdist hands items out alternately, and cpu and gpu
        # cases side by side sent every cpu SBC run to one worker, one after another.
        gpu = item.nodeid.endswith("-gpu]")
        if "test_sbc.py::test_sbc_ranks_uniform" in item.nodeid:
            return 0, gpu
        return (2 if "test_sbc.py::" in item.nodeid else 1), gpu

    items.sort(key=rank)
