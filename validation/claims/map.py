"""AutoDelta against the closed-form ridge MAP of the linear model with sigma fixed."""

from __future__ import annotations

import jax
import numpy as np
from numpyro import handlers

from regmaster import verdicts
from regmaster.data import NOISE_SD, make_sinc  # the ridge check fixes sigma at it
from regmaster.inference import decaying_adam, run_map
from regmaster.nn import LinearRegressor
from regmaster.references import posteriors
from regmaster.verdicts import MAP_RIDGE
from regmaster.zoo import get_spec


def ridge_gap(seed: int):
    """|w_AutoDelta - w_ridge|_inf with w_ridge = (Phi'Phi/s^2 + I)^-1 Phi'y/s^2 (sigma fixed):
    the figures and the verdict."""
    spec = get_spec("linear")
    data = make_sinc()
    model = handlers.condition(spec.model, {"sigma": NOISE_SD})
    fit = run_map(
        model,
        jax.random.PRNGKey(seed),
        data.x_train,
        data.y_train,
        num_steps=5000,
        optimizer=decaying_adam(0.1, 1000),
        **spec.kwargs(data.model_keys),
    )
    features = LinearRegressor(spec.static_kwargs["degree"]).features(data.x_train)
    ridge = posteriors.ridge_map(features, data.y_train, noise_sd=NOISE_SD)
    gap = float(np.max(np.abs(np.asarray(fit.point()["w"]) - ridge)))
    figures = {
        "statistic": "|w_AutoDelta - w_ridge|_inf",
        "value": gap,
        "threshold": MAP_RIDGE.value,
    }
    return figures, verdicts.judge("map_ridge", MAP_RIDGE, gap, "linear")
