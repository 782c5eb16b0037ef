"""The families of checks: one pytest marker each, and the family a run record files a check under.

The pytest plugin registers these markers in every suite that loads it; a check's family in the
run record is the first family marker it carries (:mod:`regmaster.plugin`).
"""

from __future__ import annotations

FAMILIES: dict[str, str] = {
    "convergence": "R-hat, ESS, divergences, E-BFMI, tree depth through ArviZ",
    "diagnostics": "R-hat, ESS and MCSE on chains with a known answer",
    "exact": "NUTS against a closed-form or quadrature posterior",
    "reference": "NUTS against posteriordb's reference draws (posteriors nobody here wrote)",
    "map": "AutoDelta against closed-form and independent optima",
    "r2": "the notebook's R^2 thresholds and their robustness over data seeds",
    "coverage": "posterior-predictive interval coverage of fresh observations",
    "sbc": "simulation-based calibration",
    "rff": "random Fourier features against the exact RBF kernel",
}
"""Family name -> the claim its checks make."""

COSTS: dict[str, str] = {
    "slow": "the heaviest checks (minutes each on 2 cores)",
    "release": "release-gate checks too heavy for CI (tens of minutes each); run with --release",
}
"""Markers of a check's cost, not of its family."""
