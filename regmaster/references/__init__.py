"""The references the validation suite holds the models against: answers computed without the
models' inference, each by an independent route.

:mod:`~regmaster.references.posteriors`
    Closed-form and quadrature posteriors: conjugate and unknown-noise Gaussian linear regression,
    the ridge MAP, GP regression and Bayesian linear regression on fixed features.
:mod:`~regmaster.references.optima`
    A MAP optimiser independent of NumPyro's SVI (scipy over the constrained values, then Newton
    steps), and SVI's AutoDelta objective evaluated at a given point.
:mod:`~regmaster.references.rff_bounds`
    The variance of the random-feature kernel estimates, their Hoeffding bounds, and the slope of
    an error against the number of features.

The kernels themselves (the exact RBF kernel and its random-feature estimates) are in
:mod:`regmaster.kernels`.
"""

from .optima import (
    POSITIVE_LOWER_BOUND,
    ConstrainedMap,
    constrained_map,
    delta_guide_objective,
    grad_norm,
    log_joint_fn,
    newton_polish,
)
from .posteriors import (
    GaussianPosterior,
    LinearPosterior,
    blr_posterior,
    conjugate_posterior,
    gp_posterior,
    kernel_posterior,
    linear_posterior,
    ridge_map,
)
from .rff_bounds import (
    VARIANTS,
    Variant,
    empirical_slope,
    hoeffding_bound,
    rff_variance,
    uniform_error_bound,
)

__all__ = [
    "POSITIVE_LOWER_BOUND",
    "VARIANTS",
    "ConstrainedMap",
    "GaussianPosterior",
    "LinearPosterior",
    "Variant",
    "blr_posterior",
    "conjugate_posterior",
    "constrained_map",
    "delta_guide_objective",
    "empirical_slope",
    "gp_posterior",
    "grad_norm",
    "hoeffding_bound",
    "kernel_posterior",
    "linear_posterior",
    "log_joint_fn",
    "newton_polish",
    "rff_variance",
    "ridge_map",
    "uniform_error_bound",
]
