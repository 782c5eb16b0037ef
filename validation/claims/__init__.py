"""The suite's checks as plain functions: figures and verdicts from a fit, no pytest fixtures.

The test modules of ``validation/`` call them on one fit and record what they return; the
calibration harness (:mod:`validation.calibration.probes`) calls the same functions on batched
fits of many seeds. A claim's threshold lives in :mod:`regmaster.verdicts` (the claims a user
makes of a model) or beside the check here (the suite's own known-answer checks).
"""
