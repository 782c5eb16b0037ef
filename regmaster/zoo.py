"""The registry: one entry per model or validated variant; every model list derives from it.

An entry (:class:`ModelSpec`) says how to call a NumPyro model, how NUTS samples it, which
quantities are identified, which validation families check it and at what cost, and the settings
each of those checks needs. The notebook's own facts (keys, fit settings, printed R², thresholds)
are an optional part, :class:`Notebook`: the seven Masterclass models carry it, a model of one's
own need not.

A variant is an entry built from another with :func:`variant`; ``stands_for`` names the notebook
model it stands in for. Why each variant exists is in ``docs/findings.md``.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jax
from numpyro.infer import autoguide

from . import models
from .engine import BatchedHMC, BatchedNUTS
from .nn import DeepRFFRegressor, RFFFeatureMap
from .settings import RunLengths
from .svi import BatchedSVI, MCDropout

Inference = Literal["nuts", "map"]
Cost = Literal["ci", "slow", "release"]

FAMILIES: tuple[str, ...] = ("convergence", "sbc", "r2", "r2_seeds", "coverage", "map")
"""Validation families an entry can opt into (``ModelSpec.checks``)."""

COSTS: tuple[str, ...] = ("ci", "slow", "release")
"""Cost classes: ``ci`` runs in ``tox -e validate``; ``slow`` too, under the marker ``slow``;
``release`` only with ``--release``."""


@dataclass(frozen=True)
class Notebook:
    """The reference notebook's facts about a model: keys, fit settings, R² and its threshold.

    Keys are indices into the notebook's ``k_models`` (``Dataset.model_keys``). ``fit_order``
    ranks the notebook fits by measured cost, slowest first (how ``fit_many`` schedules workers).
    """

    fit_key: int
    predict_key: int
    r2_threshold: float
    r2_direction: Literal[">", "<"]
    printed_r2: float
    fit_order: int
    num_warmup: int = 0
    num_samples: int = 0
    svi_steps: int = 0
    learning_rate: float = 0.0
    num_predictive: int = 0

    def passes(self, r2: float) -> bool:
        compare = operator.gt if self.r2_direction == ">" else operator.lt
        return bool(compare(r2, self.r2_threshold))

    @property
    def threshold_label(self) -> str:
        return f"{self.r2_direction} {self.r2_threshold}"


@dataclass(frozen=True)
class SBCSettings:
    """How a model is calibrated: inputs, data sites, run lengths, test quantities, CI size.

    ``inputs``: the model's inputs, any array (a design matrix of several covariates), a dict of
    arrays, or nothing (``None`` with no ``num_points``: the model is called without inputs);
    ``num_points`` instead: that many fixed points on the notebook's range [-10, 10].
    ``observed``: the observed sample site, one name (the model is called ``model(inputs, y)``)
    or a tuple of names (the sites are conditioned on the data; :mod:`regmaster.calling`).
    ``parameters`` lists the sample sites whose components are ranked (``None``: every site);
    models whose weights are not identified rank only invariant quantities. ``probe_x``: inputs
    at which the site ``probe_site`` is ranked too (``None``: no probe). The log-likelihood of
    every observed site is always ranked. ``lengths``: each replication's chains;
    ``num_draws``: the L thinned draws each truth is ranked among. ``inference``: the inference
    calibrated (``None``: the entry's NUTS settings; a :class:`regmaster.BatchedSVI` for a
    guide). ``quantities``: more test quantities, ``name -> fn(params, inputs, data)``
    returning a scalar from one parameter point (site -> value) and the data, ranked after the
    log-likelihood: data-dependent ones (mu1 + mu2, a log joint) catch what marginal ranks miss
    (Modrak et al. 2023). Release size: ``--sbc-replications``.
    """

    observed: str | tuple[str, ...] | None = None
    num_points: int | None = None
    inputs: Any = None
    lengths: RunLengths = RunLengths(num_warmup=500, num_samples=500, num_chains=2)
    num_draws: int = 99
    inference: Any = None
    parameters: tuple[str, ...] | None = None
    probe_x: Any = None
    probe_site: str = "f"
    replications_ci: int = 200
    quantities: Mapping[str, Callable[..., Any]] | None = None

    def __post_init__(self):
        if self.observed is None:
            raise ValueError(
                "SBCSettings needs observed=, the name of the model's observed sample site "
                "(or a tuple of names)"
            )
        if self.num_points is not None and self.inputs is not None:
            raise ValueError("SBCSettings takes at most one of num_points and inputs")
        if isinstance(self.parameters, str):
            raise ValueError(
                f"parameters must be a sequence of site names, got the string {self.parameters!r} "
                f"(write ({self.parameters!r},))"
            )
        draws = self.lengths.num_chains * self.lengths.num_samples
        if not 1 <= self.num_draws <= draws:
            raise ValueError(
                f"num_draws must be in 1..num_chains * num_samples = {draws}, got {self.num_draws}"
            )

    def design(self):
        """The model's inputs: ``inputs`` as arrays (a tuple of numbers as a float array), else
        ``num_points`` fixed points on the notebook's range [-10, 10], else ``None``."""
        import jax.numpy as jnp

        if self.num_points is not None:
            return jnp.linspace(-10.0, 10.0, self.num_points)
        if self.inputs is None:
            return None
        if isinstance(self.inputs, (tuple, list)):
            return jnp.asarray(self.inputs, dtype=float)
        return jax.tree.map(jnp.asarray, self.inputs)

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON values (arrays as nested lists)."""
        import numpy as np

        def plain(value):
            if isinstance(value, Mapping):
                return {str(k): plain(v) for k, v in value.items()}
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            if hasattr(value, "shape"):
                return np.asarray(value).tolist()
            if dataclasses.is_dataclass(value):
                fields = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
                return {"name": value.name, **fields} if hasattr(value, "name") else fields
            if callable(value):  # a guide or a function: by its name
                return getattr(value, "__name__", repr(value))
            return value

        fields = [f.name for f in dataclasses.fields(self)]
        if self.inference is None:  # the entry's NUTS: named by its sampler settings instead
            fields.remove("inference")
        return {name: plain(getattr(self, name)) for name in fields}


@dataclass(frozen=True)
class AdamSchedule:
    """Adam from ``learning_rate``, halving every ``halving_steps``, for ``num_steps`` steps: the
    optimiser of the MAP-equals-AutoDelta check (a constant rate drifts off the optimum)."""

    learning_rate: float
    halving_steps: int
    num_steps: int


@dataclass(frozen=True)
class ModelSpec:
    """A model, how to fit it, and what the validation suite checks on it.

    ``checks`` maps a family of :data:`FAMILIES` to the entry's cost class there; a family that is
    absent does not check it. ``identified=False`` marks weights that are not identified
    (hidden-unit permutations and sign flips, exchangeable inner units): convergence is then
    checked on invariant quantities only.
    """

    name: str
    title: str
    model: Callable[..., None]
    inference: Inference = "nuts"
    static_kwargs: Mapping[str, Any] = field(default_factory=dict)
    module_kwargs: Callable[[jax.Array], dict[str, Any]] | None = None
    module_key: int | None = None
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    identified: bool = True
    stands_for: str | None = None
    checks: Mapping[str, Cost] = field(default_factory=dict)
    notebook: Notebook | None = None
    convergence: RunLengths = RunLengths()
    sbc: SBCSettings | None = None
    map_schedule: AdamSchedule | None = None
    coverage_exempt: str | None = None

    def __post_init__(self):
        for family, cost in self.checks.items():
            if family not in FAMILIES or cost not in COSTS:
                raise ValueError(f"{self.name}: checks has {family!r}: {cost!r}")
        needs = {"sbc": self.sbc, "map": self.map_schedule, "r2": self.notebook}
        for family, setting in needs.items():
            if family in self.checks and setting is None:
                raise ValueError(f"{self.name}: checked by {family!r} but has no settings for it")

    @property
    def inference_label(self) -> str:
        return "NUTS" if self.inference == "nuts" else "SVI+Delta"

    def inference_for(self, family: str) -> str | None:
        """The inference a check of ``family`` runs on this entry, as the run record names it:
        the SBC settings' (else the entry's NUTS) for ``sbc``, AutoDelta for ``map``, the
        entry's own for the families that fit it; ``None`` for a family that fits nothing
        (``rff``, ``diagnostics``)."""
        if family == "sbc" and self.sbc is not None:
            return describe_inference(self.sbc.inference or self.nuts())
        if family == "map":
            return "MAP by SVI (AutoDelta)"
        if family in ("convergence", "exact", "r2", "r2_seeds", "coverage"):
            nuts = self.inference == "nuts"
            return describe_inference(self.nuts()) if nuts else "MAP by SVI (AutoDelta)"
        return None

    def nuts(self) -> BatchedNUTS:
        """The entry's NUTS kernel settings (target acceptance, tree depth) as the inference of a
        batched fit."""
        return BatchedNUTS(self.target_accept_prob, self.max_tree_depth)

    def kwargs(self, model_keys: Sequence[jax.Array]) -> dict[str, Any]:
        """The model's keyword arguments; fixed random modules come from the notebook's keys."""
        if self.module_kwargs is None:
            return dict(self.static_kwargs)
        return {**self.static_kwargs, **self.module_kwargs(model_keys[self.module_key])}

    def fixed_kwargs(self) -> dict[str, Any]:
        """The keyword arguments outside the notebook's experiment: fixed modules from the
        notebook's default keys (seed 666), static ones as given."""
        if self.module_kwargs is None:
            return dict(self.static_kwargs)
        from .data import make_sinc

        return self.kwargs(make_sinc().model_keys)

    def keys_used(self) -> list[int]:
        """Indices into the notebook's ``k_models`` that this model consumes."""
        nb = self.notebook
        used = {self.module_key} | ({nb.fit_key, nb.predict_key} if nb else set())
        return sorted(used - {None})


def describe_inference(inference) -> str:
    """An inference's name in a run record: its ``label`` (settings included), else its
    ``name``, else its type."""
    return getattr(inference, "label", None) or getattr(inference, "name", type(inference).__name__)


def variant(base: ModelSpec, name: str, title: str, **changes) -> ModelSpec:
    """An entry that stands for ``base``: ``base`` with ``changes``, checked by ``checks`` only."""
    return dataclasses.replace(
        base, name=name, title=title, stands_for=base.stands_for or base.name, **changes
    )


def _rff(key):
    return {"rff": RFFFeatureMap(n_features=40, lengthscale=1.0, key=key)}


def _deep_rff(key, lengthscale_1: float = 1.0, lengthscale_2: float = 1.0):
    module = DeepRFFRegressor(
        n_features_1=15,
        n_features_2=10,
        inner_dim=4,
        lengthscale_1=lengthscale_1,
        lengthscale_2=lengthscale_2,
        key=key,
    )
    return {"deep_rff": module}


def _deep_rff_smooth(key):
    """Smooth features and a wider noise prior (docs/findings.md#deep-rff-sbc-mixing)."""
    return {**_deep_rff(key, lengthscale_1=4.0, lengthscale_2=2.0), "sigma_scale": 0.5}


_NOTEBOOK_NUTS = {"num_warmup": 300, "num_samples": 500}
# The notebook's models observe "obs" and record f; SBC ranks f at three inputs.
_NOTEBOOK_SBC = {"observed": "obs", "probe_x": (-5.0, 0.0, 5.0)}
_SBC_300 = RunLengths(num_warmup=300, num_samples=300, num_chains=2)
_GUIDE_DRAWS = RunLengths(num_warmup=0, num_samples=99, num_chains=1)

LINEAR = ModelSpec(
    name="linear",
    title="Bayesian linear (degree=1)",
    model=models.model_linear,
    static_kwargs={"degree": 1},
    checks={
        "convergence": "ci",
        "sbc": "ci",
        "r2": "ci",
        "r2_seeds": "ci",
        "coverage": "ci",
        "map": "ci",
    },
    notebook=Notebook(0, 1, 0.3, "<", -0.015, fit_order=5, **_NOTEBOOK_NUTS),
    sbc=SBCSettings(num_points=20, lengths=_SBC_300, replications_ci=200, **_NOTEBOOK_SBC),
    map_schedule=AdamSchedule(0.1, 1000, 5000),
    coverage_exempt="misspecified on purpose (R^2 < 0.3): nominal coverage is not expected",
)
MLP_MAP = ModelSpec(
    name="mlp_map",
    title="MLP via MAP (H=30)",
    model=models.model_mlp,
    inference="map",
    static_kwargs={"hidden_dim": 30},
    identified=False,
    checks={"r2": "ci", "r2_seeds": "ci", "coverage": "ci", "map": "ci"},
    notebook=Notebook(
        2, 3, 0.85, ">", 0.992, fit_order=3, svi_steps=2000, learning_rate=5e-3, num_predictive=200
    ),
    # The log joint is ill-conditioned: a slower decay and many more steps (docs/findings.md).
    map_schedule=AdamSchedule(0.01, 20000, 100_000),
    coverage_exempt="MAP plug-in interval: no parameter uncertainty, undercovers by construction",
)
MLP_DROPOUT = ModelSpec(
    name="mlp_dropout",
    title="MC-Dropout MLP (H=30, p=0.1)",
    model=models.model_mlp_dropout,
    inference="map",
    static_kwargs={"hidden_dim": 30, "dropout_rate": 0.1},
    identified=False,
    checks={"r2": "ci", "r2_seeds": "ci", "coverage": "ci"},
    notebook=Notebook(
        4, 5, 0.80, ">", 0.906, fit_order=7, svi_steps=2000, learning_rate=5e-3, num_predictive=100
    ),
    coverage_exempt="MC-dropout interval: no calibration claim",
)
BNN = ModelSpec(
    name="bnn",
    title="Bayesian MLP via NUTS (H=15)",
    model=models.model_bnn,
    static_kwargs={"hidden_dim": 15, "prior_scale": 1.0},
    identified=False,
    checks={"convergence": "ci", "sbc": "slow", "r2": "ci", "r2_seeds": "slow", "coverage": "ci"},
    notebook=Notebook(6, 7, 0.70, ">", 0.994, fit_order=2, **_NOTEBOOK_NUTS),
    convergence=RunLengths(num_samples=500),
    # 400 draws per chain: at 200 its thinned draws were too dependent (docs/findings.md#bnn-sbc).
    sbc=SBCSettings(
        num_points=20,
        lengths=RunLengths(num_warmup=200, num_samples=400, num_chains=2),
        parameters=("sigma",),
        replications_ci=40,
        **_NOTEBOOK_SBC,
    ),
)
RFF_SVR = ModelSpec(
    name="rff_svr",
    title="SVR via RFF (D=40)",
    model=models.model_rff_svr,
    module_kwargs=_rff,
    module_key=8,
    checks={
        "convergence": "ci",
        "sbc": "ci",
        "r2": "ci",
        "r2_seeds": "ci",
        "coverage": "ci",
        "map": "ci",
    },
    notebook=Notebook(9, 10, 0.80, ">", 0.996, fit_order=4, **_NOTEBOOK_NUTS),
    sbc=SBCSettings(num_points=30, lengths=_SBC_300, replications_ci=100, **_NOTEBOOK_SBC),
    map_schedule=AdamSchedule(0.1, 1000, 5000),
)
RFF_GP = ModelSpec(
    name="rff_gp",
    title="Approx GP via hierarchical RFF (D=40)",
    model=models.model_rff_gp,
    module_kwargs=_rff,
    module_key=8,
    checks={"convergence": "ci", "sbc": "ci", "r2": "ci", "r2_seeds": "ci", "coverage": "ci"},
    notebook=Notebook(11, 12, 0.80, ">", 0.996, fit_order=6, **_NOTEBOOK_NUTS),
    sbc=SBCSettings(num_points=30, lengths=_SBC_300, replications_ci=100, **_NOTEBOOK_SBC),
)
DEEP_RFF = ModelSpec(
    name="deep_rff",
    title="Deep GP via two-layer RFF (D1=15, D2=10, inner=4)",
    model=models.model_deep_rff,
    module_kwargs=_deep_rff,
    module_key=13,
    identified=False,
    # Its convergence and SBC checks are findings whose passing variants run in CI: release only.
    checks={
        "convergence": "release",
        "sbc": "release",
        "r2": "ci",
        "r2_seeds": "slow",
        "coverage": "ci",
    },
    notebook=Notebook(14, 14, 0.70, ">", 0.995, fit_order=1, num_warmup=200, num_samples=300),
    convergence=RunLengths(num_samples=500),
    sbc=SBCSettings(
        num_points=20,
        lengths=RunLengths(num_warmup=200, num_samples=200, num_chains=2),
        parameters=("sigma",),
        replications_ci=20,
        **_NOTEBOOK_SBC,
    ),
)


def _svi(guide) -> BatchedSVI:
    # A constant step size leaves some replications moving (docs/findings.md#svi-notebook-models).
    return BatchedSVI(
        guide, num_steps=10_000, learning_rate=0.05, num_particles=4, halving_steps=2000
    )


INFERENCES: dict[str, Any] = {
    "nuts": None,  # the entry's own kernel settings (ModelSpec.nuts)
    "hmc": BatchedHMC(num_steps=10),
    "svi-full-rank": _svi(autoguide.AutoMultivariateNormal),
    "svi-mean-field": _svi(autoguide.AutoNormal),
    "svi-low-rank": _svi(autoguide.AutoLowRankMultivariateNormal),
    "laplace": _svi(autoguide.AutoLaplaceApproximation),
    "map": _svi(autoguide.AutoDelta),
    "mc-dropout": MCDropout(),
}
"""The inferences ``regmaster sbc --inference`` names: NUTS, HMC with 10 leapfrog steps, or SVI
with NumPyro's autoguides (10,000 Adam steps from 0.05, halving every 2000, 4 draws of the ELBO
per step; a point estimate is flagged, as it should be), or MC dropout (the notebook's MAP fit, a
fresh mask per draw)."""


def _full_rank_svi(base: ModelSpec, name: str, title: str) -> ModelSpec:
    """``base``'s SBC with the full-rank Gaussian guide: 99 independent draws per replication."""
    guided = dataclasses.replace(
        base.sbc, lengths=_GUIDE_DRAWS, inference=INFERENCES["svi-full-rank"]
    )
    return variant(base, name, title, checks={"sbc": "ci"}, sbc=guided)


def _mc_dropout(base: ModelSpec) -> MCDropout:
    """MC dropout with the notebook's MAP fit of ``base`` (its steps and step size)."""
    return MCDropout(num_steps=base.notebook.svi_steps, learning_rate=base.notebook.learning_rate)


# Laplace around the MAP needs the optimum: the MLP's log joint is ill-conditioned, so more
# steps and a slower decay than INFERENCES' (docs/findings.md#mlp-map-laplace).
_MLP_LAPLACE = BatchedSVI(
    autoguide.AutoLaplaceApproximation,
    num_steps=40_000,
    learning_rate=0.01,
    num_particles=1,
    halving_steps=8000,
)
# The approximations of the MLPs: sigma (Laplace) or nothing (MC dropout: a point) and the
# function at the probes, on the notebook's 20 inputs; a clear failure shows at 50.
_MLP_SBC = {"num_points": 20, "lengths": _GUIDE_DRAWS, "replications_ci": 50, **_NOTEBOOK_SBC}

_VARIANTS = (
    # The same joint law, non-centred: no funnel between amplitude and w.
    variant(
        RFF_GP,
        "rff_gp_noncentred",
        "Approx GP via hierarchical RFF, non-centred (D=40)",
        model=models.model_rff_gp_noncentred,
        checks={"convergence": "ci", "sbc": "ci", "coverage": "ci"},
        sbc=dataclasses.replace(RFF_GP.sbc, parameters=("amplitude", "sigma", "w_raw")),
    ),
    # NumPyro's default depth 10 saturates (docs/findings.md#deep-rff-tree-depth).
    variant(
        DEEP_RFF,
        "deep_rff_depth12",
        "Deep GP via two-layer RFF, tree depth 12",
        max_tree_depth=12,
        checks={"convergence": "ci"},
    ),
    # Smooth features and a wider noise prior: SBC mixes (docs/findings.md#deep-rff-sbc-mixing).
    variant(
        DEEP_RFF,
        "deep_rff_smooth",
        "Deep GP via two-layer RFF, lengthscales 4 and 2, sigma ~ HalfNormal(0.5)",
        module_kwargs=_deep_rff_smooth,
        checks={"sbc": "slow"},
        sbc=dataclasses.replace(DEEP_RFF.sbc, replications_ci=100),
    ),
    # SVI with a full-rank Gaussian guide (docs/findings.md#svi-notebook-models).
    _full_rank_svi(LINEAR, "linear_svi", "Bayesian linear by SVI, full-rank Gaussian guide"),
    _full_rank_svi(RFF_SVR, "rff_svr_svi", "SVR via RFF by SVI, full-rank Gaussian guide"),
    # The notebook's two MLP inferences, calibrated (docs/findings.md#mlp-map-laplace).
    variant(
        MLP_MAP,
        "mlp_map_laplace",
        "MLP, Laplace approximation around the MAP (H=30)",
        checks={"sbc": "ci"},
        sbc=SBCSettings(parameters=("sigma",), inference=_MLP_LAPLACE, **_MLP_SBC),
    ),
    variant(
        MLP_DROPOUT,
        "mlp_dropout_mc",
        "MC-Dropout MLP, MAP weights and a fresh mask per draw (H=30, p=0.1)",
        checks={"sbc": "ci"},
        sbc=SBCSettings(parameters=(), inference=_mc_dropout(MLP_DROPOUT), **_MLP_SBC),
    ),
    # Trajectories of ~12 000 leapfrog steps (docs/findings.md#bnn-convergence): release only.
    variant(
        BNN,
        "bnn_depth16",
        "Bayesian MLP via NUTS, tree depth 16, target acceptance 0.99",
        target_accept_prob=0.99,
        max_tree_depth=16,
        checks={"convergence": "release"},
        convergence=RunLengths(num_samples=1000),
    ),
)

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (LINEAR, MLP_MAP, MLP_DROPOUT, BNN, RFF_SVR, RFF_GP, DEEP_RFF, *_VARIANTS)
}

MODEL_NAMES: tuple[str, ...] = tuple(n for n, s in REGISTRY.items() if s.stands_for is None)
"""The seven notebook models, in the notebook's order."""

COMPARISON_PANEL: tuple[str, ...] = ("mlp_map", "bnn", "rff_gp")
"""The notebook's 1x3 comparison figure."""


def names(
    family: str | None = None,
    *,
    inference: Inference | None = None,
    calibratable: bool = False,
    fittable: bool = False,
) -> list[str]:
    """Registered names, in registry order, filtered: those ``family`` checks, of one
    ``inference``, with SBC settings (``calibratable``), with the notebook's facts (``fittable``:
    ``regmaster fit`` reproduces them)."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    return [
        name
        for name, spec in REGISTRY.items()
        if (family is None or family in spec.checks)
        and (inference is None or spec.inference == inference)
        and (not calibratable or spec.sbc is not None)
        and (not fittable or spec.notebook is not None)
    ]


def get_spec(name: str) -> ModelSpec:
    """The entry registered under ``name`` (a notebook model or a validated variant)."""
    if name not in REGISTRY:
        raise ValueError(f"model must be one of {', '.join(REGISTRY)}; got {name!r}")
    return REGISTRY[name]


def notebook_spec(name: str) -> ModelSpec:
    """The entry ``name``, refused unless it carries the notebook's facts (``regmaster fit``)."""
    fittable = names(fittable=True)
    if name not in fittable:
        raise ValueError(f"model must be one of {', '.join(fittable)}; got {name!r}")
    return REGISTRY[name]


def load_attribute(path: str, option: str = "model"):
    """The object ``package.module:attr`` names; the module is imported from ``sys.path`` with
    the current directory first (so ``examples.eight_schools:NONCENTRED`` works from the
    repository root, and a module of one's own from its directory)."""
    import importlib
    import sys
    from pathlib import Path

    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{option} {path!r}: must be package.module:attribute")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as error:  # the user's module may do anything on import
        raise ValueError(
            f"{option} {path!r}: cannot import {module_name!r} ({type(error).__name__}: "
            f"{error}; modules are looked up from {Path.cwd()} and sys.path)"
        ) from None
    if not hasattr(module, attribute):
        raise ValueError(f"{option} {path!r}: module {module_name!r} has no {attribute!r}")
    return getattr(module, attribute)


def resolve(name: str) -> ModelSpec:
    """A registered entry, or a :class:`ModelSpec` named by import path ``package.module:attr``
    (the way to hand one's own model to ``regmaster sbc``; :func:`load_attribute`)."""
    if ":" not in name:
        return get_spec(name)
    spec = load_attribute(name)
    if not isinstance(spec, ModelSpec):
        raise ValueError(
            f"model {name!r}: {name.partition(':')[2]!r} must be a regmaster ModelSpec, found "
            f"{type(spec).__name__}"
        )
    return spec
