"""NUTS against exact posteriors: the cases, their exact moments, the draws and the verdicts.

Statistic: z = (estimate - exact) / MCSE (:func:`regmaster.moments.compare`), evaluated once the
run has converged (:func:`regmaster.verdicts.reference`). The cases: quadrature over sigma, and
conjugate cases with sigma fixed (Bishop 2006, PRML section 3.3).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np
from numpyro.handlers import condition

from regmaster import moments, verdicts
from regmaster.data import NOISE_SD, make_sinc  # the conjugate cases fix sigma at it
from regmaster.inference import run_nuts
from regmaster.nn import LinearRegressor
from regmaster.references import posteriors
from regmaster.settings import RunLengths
from regmaster.verdicts import ESS_REFERENCE, RHAT, Z_MEAN, Z_SD
from regmaster.zoo import get_spec

# 4 chains x (500 + 2000): at 1000 draws the R-hat gate alone alarmed in 4 of 200 correct runs of
# linear-sigma_fixed (docs/calibration.md#exact-posterior).
RUN = RunLengths(num_samples=2000)


class Case(NamedTuple):
    model: str
    sigma: float | None  # None: sigma ~ HalfNormal(1) is sampled and integrated by quadrature
    z_cov: float
    n_train: int | None = None  # only the first n training points: the prior then matters


CASES = {
    "linear-quadrature": Case("linear", None, Z_MEAN.value),
    # At sigma 0.05 and 100 points the prior moves the posterior by ~0.02 sd and a wrong prior
    # scale goes unseen; at sigma 1 and 3 points it weighs like the data (docs/calibration.md#bugs).
    "linear-sigma_1-3_points": Case("linear", 1.0, Z_MEAN.value, n_train=3),
    # sigma's log|det J| term shifts its posterior by ~1/n of sigma: 0.06 sd with every point,
    # ~0.3 sd with 10 (docs/calibration.md#bugs, missing_jacobian).
    "linear-quadrature-10_points": Case("linear", None, Z_MEAN.value, n_train=10),
    "linear-sigma_fixed": Case("linear", NOISE_SD, Z_MEAN.value),
    "rff_svr-sigma_fixed": Case("rff_svr", NOISE_SD, Z_SD.value),
}


def case_data(case: Case):
    """The notebook's data set, or its first ``case.n_train`` training points."""
    data = make_sinc()
    if case.n_train is None:
        return data
    return data._replace(x_train=data.x_train[: case.n_train], y_train=data.y_train[: case.n_train])


def features(model: str, data) -> np.ndarray:
    """Phi(x_train): [1, x] for the linear model, the notebook's 40 RFF features for rff_svr."""
    spec = get_spec(model)
    if model == "linear":
        return np.asarray(LinearRegressor(spec.static_kwargs["degree"]).features(data.x_train))
    return np.asarray(spec.kwargs(data.model_keys)["rff"](data.x_train))


def nuts_draws(case: Case, seed: int, data, chains: int = RUN.num_chains) -> dict[str, np.ndarray]:
    """NUTS draws (chain, draw, ...) of w, and of sigma when it is sampled."""
    spec = get_spec(case.model)
    model = spec.model if case.sigma is None else condition(spec.model, {"sigma": case.sigma})
    mcmc = run_nuts(
        model,
        jax.random.PRNGKey(seed),
        data.x_train,
        data.y_train,
        num_warmup=RUN.num_warmup,
        num_samples=RUN.num_samples,
        num_chains=chains,
        **spec.kwargs(data.model_keys),
    )
    samples = mcmc.get_samples(group_by_chain=True)
    return {k: np.asarray(samples[k]) for k in ("w", "sigma") if k in samples}


def exact_moments(case: Case, features, y) -> dict[str, np.ndarray]:
    if case.sigma is None:
        post = posteriors.linear_posterior(features, y)
        return {
            "w_mean": post.w_mean,
            "w_sd": post.w_sd,
            "w_cov": post.w_cov,
            "sigma_mean": np.array([post.sigma_mean]),
            "sigma_sd": np.array([post.sigma_sd]),
        }
    post = posteriors.conjugate_posterior(features, y, noise_sd=case.sigma)
    return {"w_mean": post.mean, "w_sd": post.sd, "w_cov": post.cov}


def judge(case: Case, draws: dict[str, np.ndarray], exact: dict[str, np.ndarray]):
    """The figures the suite records and the verdicts of NUTS draws against the ``exact``
    moments."""
    figures = moments.compare(draws, exact)
    max_z = figures["max_abs_z"]
    limits = {
        k: (Z_SD.value if k.endswith("_sd") else case.z_cov if k == "w_cov" else Z_MEAN.value)
        for k in max_z
    }
    recorded: dict[str, Any] = {
        "statistic": "max |z| per family, z = (NUTS - exact) / MCSE",
        "max_abs_z": max_z,
        "threshold": limits,
        "margin": {k: limits[k] - max_z[k] for k in max_z},
        "n_z_scores": figures["n_z_scores"],
        "gate": figures["gate"],
        "gate_threshold": {
            "max_rhat": RHAT.value,
            "min_ess_bulk": ESS_REFERENCE.value,
            "min_ess_tail": ESS_REFERENCE.value,
        },
    }
    return recorded, verdicts.reference(figures["gate"], max_z, limits)


def measured(name: str, seed: int, chains: int = RUN.num_chains):
    """One case end to end: its data, exact moments, NUTS draws, figures and verdicts."""
    case = CASES[name]
    data = case_data(case)
    exact = exact_moments(case, features(case.model, data), np.asarray(data.y_train))
    draws = nuts_draws(case, seed, data, chains)
    return judge(case, draws, exact)
