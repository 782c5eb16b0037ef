"""Auditing a variational approximation: a conjugate regression whose posterior is Gaussian with
correlated weights, calibrated with three NumPyro guides (``tests/test_svi.py``).

y_i ~ N(w0 + w1 (x_i + 1.5), 0.5^2), w ~ N(0, I), x on 8 points of [-1, 1]: the shift of x makes
w0 and w1 strongly correlated a posteriori. A full-rank Gaussian guide holds the posterior exactly
and passes, as does the Laplace approximation at the MAP (exact for a Gaussian posterior); a
mean-field guide is too narrow along the correlation and fails; a point (``AutoDelta``) has no
width and fails.

    regmaster sbc --model examples.svi_guides:FULL_RANK
    regmaster sbc --model examples.svi_guides:MEAN_FIELD
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer.autoguide import (
    AutoDelta,
    AutoLaplaceApproximation,
    AutoMultivariateNormal,
    AutoNormal,
)

from regmaster import BatchedSVI, ModelSpec, RunLengths, SBCSettings


def correlated_regression(x, y=None):
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    numpyro.sample("y", dist.Normal(w[0] + w[1] * (x + 1.5), 0.5), obs=y)


def _guide(guide) -> BatchedSVI:
    return BatchedSVI(guide, num_steps=2000, learning_rate=0.02)


FULL_RANK = ModelSpec(
    name="correlated_regression_full_rank",
    title="Conjugate regression with correlated weights, full-rank Gaussian guide",
    model=correlated_regression,
    sbc=SBCSettings(
        inputs=np.linspace(-1.0, 1.0, 8),
        observed="y",
        lengths=RunLengths(num_warmup=0, num_samples=99, num_chains=1),  # 99 guide draws
        replications_ci=100,
        inference=_guide(AutoMultivariateNormal),
    ),
)
MEAN_FIELD = dataclasses.replace(
    FULL_RANK,
    name="correlated_regression_mean_field",
    title="Conjugate regression with correlated weights, mean-field guide",
    sbc=dataclasses.replace(FULL_RANK.sbc, inference=_guide(AutoNormal)),
)
POINT = dataclasses.replace(
    FULL_RANK,
    name="correlated_regression_point",
    title="Conjugate regression with correlated weights, a point estimate",
    sbc=dataclasses.replace(FULL_RANK.sbc, inference=BatchedSVI(AutoDelta, num_steps=500)),
)
LAPLACE = dataclasses.replace(
    FULL_RANK,
    name="correlated_regression_laplace",
    title="Conjugate regression with correlated weights, Laplace approximation at the MAP",
    sbc=dataclasses.replace(FULL_RANK.sbc, inference=_guide(AutoLaplaceApproximation)),
)
