"""Shared by tests/ and validation/: float64 for the whole session (the notebook's precision), and
the validation suite's markers, which tests/ meets when it imports the checks
(tests/test_calibration.py)."""

import jax

jax.config.update("jax_enable_x64", True)


def pytest_configure(config):
    from validation.conftest import MARKERS

    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
