"""Validating a model of one's own with regmaster's pytest plugin (installed with the package).

Run: ``pytest examples`` (add ``--report-json reports/examples.json`` for the report). The
``regmaster`` fixture seeds every check from the test's id and records its figures.
"""

import jax.numpy as jnp

from examples.eight_schools import NONCENTRED, SIGMA

# The schools' estimated effects (Rubin 1981).
Y = jnp.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def test_noncentred_eight_schools_is_calibrated(regmaster):
    result = regmaster.sbc(NONCENTRED)
    regmaster.assert_calibrated(result)


def test_noncentred_eight_schools_converges_on_the_data(regmaster):
    summary = regmaster.convergence(NONCENTRED, jnp.asarray(SIGMA), Y)
    regmaster.assert_converged(summary)
