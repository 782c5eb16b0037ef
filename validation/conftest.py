"""Fixtures shared by the validation families."""

from __future__ import annotations

from pathlib import Path

import pytest

from regmaster.fits import shared_cache_dir


@pytest.fixture(scope="session")
def fit_cache(tmp_path_factory) -> Path:
    """Where the xdist workers of this run share fits and SBC runs (each is computed once)."""
    return shared_cache_dir(tmp_path_factory)
