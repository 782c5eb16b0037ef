"""Reference posteriors from posteriordb, with their models in NumPyro.

Ten posteriors of posteriordb (Magnusson et al. 2024; github.com/stan-dev/posteriordb, release
1.0, BSD-3: ``data/LICENCE.md``) are vendored in ``data/``: each folder holds the Stan model, the
data, and reference draws by Stan's NUTS (10 chains x 1,000 thinned draws, bulk and tail ESS near
10,000, R-hat < 1.01, no divergences), unchanged. :data:`POSTERIORS` pairs each with its NumPyro
translation (:mod:`regmaster.posteriordb.models`), and adds the centred eight schools, held
against the non-centred reference as a known-bad case.

Every entry is a :class:`Posterior`: ``inputs_and_data()`` gives the model's inputs and the data
dict that conditions its observed site (:func:`regmaster.calling.call`), ``reference_draws()`` the
reference as ``{site: (chain, draw, ...)}`` arrays.

References
----------
Magnusson, Torgander, Bürkner, Zhang, Carpenter, Vehtari (2024). posteriordb: testing,
benchmarking and developing Bayesian inference algorithms. arXiv:2407.04967.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..reference_draws import draws_from_chains, read_zipped_json
from . import models

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Posterior:
    """A posteriordb posterior and its NumPyro model.

    Attributes
    ----------
    name : str
        The entry's name here (``eight_schools_centered`` is a variant).
    folder : str
        The posteriordb posterior whose data and reference draws it uses.
    model : callable
        ``model(inputs)``, its observed site conditioned through the data dict.
    prepare : callable
        posteriordb data dict -> ``(inputs, {observed site: value})``: Stan's transformed data.
    flat : tuple of str
        The sites with Stan's flat (improper) prior: no SBC, no prior predictive.
    note : str
        What the translation changes or keeps (constants Stan drops, parametrisation).
    target_accept_prob : float
        NUTS's target acceptance: NumPyro's default 0.8 unless a finding says otherwise
        (docs/findings.md).
    """

    name: str
    folder: str
    model: Callable[..., None]
    prepare: Callable[[dict], tuple[dict, dict]]
    flat: tuple[str, ...] = ()
    note: str = ""
    target_accept_prob: float = 0.8

    @property
    def path(self) -> Path:
        return DATA / self.folder

    @property
    def improper(self) -> bool:
        """Whether any prior is flat: the posterior exists, a draw from the prior does not."""
        return bool(self.flat)

    def raw_data(self) -> dict:
        """The posteriordb data, as Stan's data block names it."""
        return _data(self.folder)

    def inputs_and_data(self) -> tuple[dict, dict]:
        """The model's inputs and the observed data dict, as JAX arrays."""
        inputs, data = self.prepare(self.raw_data())
        return jax.tree.map(jnp.asarray, inputs), jax.tree.map(jnp.asarray, data)

    def reference_draws(self) -> dict[str, np.ndarray]:
        """The reference draws, ``{site: (10, 1000, ...)}``."""
        return dict(_reference(self.folder))

    def info(self) -> dict:
        """posteriordb's record of how the reference was drawn (``reference_draws.info.json``)."""
        return json.loads((self.path / "reference_draws.info.json").read_text())


@functools.cache
def _data(folder: str) -> dict:
    return read_zipped_json(DATA / folder / "data.json.zip")


@functools.cache
def _reference(folder: str) -> dict[str, np.ndarray]:
    return draws_from_chains(read_zipped_json(DATA / folder / "reference_draws.json.zip"))


def _array(value) -> np.ndarray:
    return np.asarray(value, dtype=float)


def _ark(data):
    y, k = _array(data["y"]), int(data["K"])
    lags = np.stack([y[k - 1 - j : len(y) - 1 - j] for j in range(k)], axis=1)
    return {"lags": lags}, {"y": y[k:]}


def _earnings(data):
    height, male = _array(data["height"]), _array(data["male"])
    z_height = (height - height.mean()) / height.std(ddof=1)  # Stan's sd() divides by N - 1
    design = np.stack([np.ones_like(height), z_height, male, z_height * male], axis=1)
    return {"design": design}, {"log_earn": np.log(_array(data["earn"]))}


def _eight_schools(data):
    return {"sigma": _array(data["sigma"])}, {"y": _array(data["y"])}


def _garch(data):
    y = _array(data["y"])
    return {"y_previous": y[:-1], "sigma1": _array(data["sigma1"])}, {"y": y}


def _gp(data):
    return {"x": _array(data["x"])}, {"y": _array(data["y"])}


def _kidiq(data):
    mom_iq = _array(data["mom_iq"])
    design = np.stack([np.ones_like(mom_iq), mom_iq], axis=1)
    return {"design": design, "sigma_scale": _array(2.5)}, {"y": _array(data["kid_score"])}


def _kilpisjarvi(data):
    inputs = {k: _array(data[k]) for k in ("x", "pmualpha", "psalpha", "pmubeta", "psbeta")}
    return inputs, {"y": _array(data["y"])}


def _gauss_mix(data):
    y = _array(data["y"])
    return {"index": np.arange(len(y))}, {"y": y}


def _mesquite(data):
    volume = np.log(_array(data["diam1"]) * _array(data["diam2"]) * _array(data["canopy_height"]))
    design = np.stack([np.ones_like(volume), volume], axis=1)
    return {"design": design}, {"y": np.log(_array(data["weight"]))}


def _blr(data):
    return {"X": _array(data["X"])}, {"y": _array(data["y"])}


_HALF = "Stan's truncated priors drop log 2 (no change to the posterior)"

POSTERIORS: dict[str, Posterior] = {
    p.name: p
    for p in (
        Posterior("arK", "arK-arK", models.ark, _ark, note=_HALF),
        Posterior(
            "earnings_interaction",
            "earnings-logearn_interaction_z",
            models.earnings_interaction,
            _earnings,
            flat=("beta", "sigma"),
            note="log(earn) and the standardised height are Stan's transformed data",
        ),
        Posterior(
            "eight_schools_noncentered",
            "eight_schools-eight_schools_noncentered",
            models.eight_schools_noncentered,
            _eight_schools,
            note=_HALF + "; target acceptance 0.95, the reference's own (docs/findings.md"
            "#eight-schools-divergences)",
            target_accept_prob=0.95,
        ),
        Posterior(
            "eight_schools_centered",
            "eight_schools-eight_schools_noncentered",
            models.eight_schools_centered,
            _eight_schools,
            note="the centred parametrisation, held against the non-centred reference: known bad",
        ),
        Posterior(
            "garch11",
            "garch-garch11",
            models.garch11,
            _garch,
            flat=("mu", "alpha0", "alpha1", "beta1_fraction"),
            note="beta1 flat on (0, 1 - alpha1): a flat fraction of the bound and the Jacobian "
            "log(1 - alpha1), Stan's own transform",
        ),
        Posterior("gp_regr", "gp_pois_regr-gp_regr", models.gp_regression, _gp, note=_HALF),
        Posterior(
            "kidiq_momiq",
            "kidiq-kidscore_momiq",
            models.linear_flat,
            _kidiq,
            flat=("beta",),
            note=_HALF,
        ),
        Posterior(
            "kilpisjarvi",
            "kilpisjarvi_mod-kilpisjarvi",
            models.kilpisjarvi,
            _kilpisjarvi,
            flat=("sigma",),
        ),
        Posterior(
            "gauss_mix",
            "low_dim_gauss_mix-low_dim_gauss_mix",
            models.gauss_mix,
            _gauss_mix,
            flat=("mu",),
            note="ordered mu: flat on the ordered vectors plus N(0, 2) per element as a factor; "
            + _HALF,
        ),
        Posterior(
            "mesquite_logvolume",
            "mesquite-logmesquite_logvolume",
            models.linear_flat,
            _mesquite,
            flat=("beta", "sigma"),
            note="log weight and log canopy volume are Stan's transformed data",
        ),
        Posterior("blr", "sblrc-blr", models.blr, _blr, note=_HALF),
    )
}
"""Every posterior by name: the ten of posteriordb and the centred eight schools."""

KNOWN_BAD: tuple[str, ...] = ("eight_schools_centered",)
"""Entries that must fail the check: their model is not the reference's parametrisation."""


def get(name: str) -> Posterior:
    """The posterior ``name``, or a ValueError that lists them all."""
    if name not in POSTERIORS:
        raise ValueError(f"unknown posterior {name!r}; known: {', '.join(POSTERIORS)}")
    return POSTERIORS[name]


__all__ = [
    "KNOWN_BAD",
    "POSTERIORS",
    "Posterior",
    "get",
]
