"""Fixtures shared by the validation families."""

from __future__ import annotations

from pathlib import Path

import pytest

from regmaster.fits import shared_cache_dir


@pytest.fixture(scope="session")
def fit_cache(tmp_path_factory) -> Path:
    """Where the xdist workers of this run share fits and SBC runs (each is computed once)."""
    return shared_cache_dir(tmp_path_factory)


def pytest_collection_modifyitems(config, items):
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
