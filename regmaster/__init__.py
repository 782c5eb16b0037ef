"""regmaster: the Regression Masterclass's seven Bayesian regression models (Pattern 1) and the
machinery that validates their inference.

The names below are the public surface; everything else stays importable from its module
(:mod:`regmaster.kernels`, :mod:`regmaster.references`, :mod:`regmaster.engine`,
:mod:`regmaster.inference`, ...).

Describe a model
    :class:`ModelSpec`, :class:`SBCSettings`, :class:`RunLengths`, :class:`Notebook`,
    :class:`AdamSchedule`, :func:`variant`; the registry: :data:`REGISTRY`, :data:`MODEL_NAMES`,
    :func:`get_spec`, :func:`names`.
Run simulation-based calibration and the checks
    :func:`run_sbc` (its result :class:`SBCResult`; more quantities later:
    :func:`rank_quantities`, :func:`save_result`, :func:`load_result`; in stages:
    :func:`sequential_sbc`), with an inference
    (:class:`BatchedNUTS`, :class:`BatchedHMC`, :class:`BatchedSVI`, :class:`MCDropout`,
    :class:`OwnSampler`)
    and an :class:`Execution` (devices, checkpoint, progress); the verdicts:
    :class:`Verdict`, :func:`sbc_verdicts`, :func:`sbc_passed`, and the modules
    :mod:`~regmaster.verdicts` (every threshold) and :mod:`~regmaster.moments` (posterior draws
    against reference moments) and :mod:`~regmaster.reference_draws` (against reference draws).
Reference posteriors from outside the project
    :mod:`~regmaster.posteriordb`: ten posteriordb posteriors with their NumPyro models and
    reference draws; :mod:`regmaster.reference` fits and judges one.
The seven models
    :func:`model_linear`, :func:`model_mlp`, :func:`model_mlp_dropout`, :func:`model_bnn`,
    :func:`model_rff_svr`, :func:`model_rff_gp`, :func:`model_rff_gp_noncentred`,
    :func:`model_deep_rff`; their Equinox modules :class:`LinearRegressor`, :class:`MLP`,
    :class:`MLPDropout`, :class:`RFFFeatureMap`, :class:`DeepRFFRegressor`.
Reproduce the notebook
    :func:`make_sinc`, :class:`Dataset`, :func:`fit_one`, :func:`fit_many`, :class:`FitOutcome`;
    the inference paths :func:`run_nuts`, :func:`run_map`, :func:`predict`, and :func:`r2`.
Read run records
    :mod:`~regmaster.report`.
"""

from importlib import metadata as _metadata

from . import moments, posteriordb, reference_draws, report, verdicts
from .data import Dataset, make_sinc
from .engine import BatchedHMC, BatchedNUTS
from .experiment import FitOutcome, fit_many, fit_one
from .inference import predict, r2, run_map, run_nuts
from .models import (
    model_bnn,
    model_deep_rff,
    model_linear,
    model_mlp,
    model_mlp_dropout,
    model_rff_gp,
    model_rff_gp_noncentred,
    model_rff_svr,
)
from .nn import MLP, DeepRFFRegressor, LinearRegressor, MLPDropout, RFFFeatureMap
from .sampler import OwnSampler
from .sbc import SBCResult, load_result, rank_quantities, run_sbc, save_result
from .sequential import SequentialResult, sequential_sbc
from .settings import Execution, RunLengths
from .svi import BatchedSVI, MCDropout
from .verdicts import Verdict, sbc_passed, sbc_verdicts
from .zoo import (
    MODEL_NAMES,
    REGISTRY,
    AdamSchedule,
    ModelSpec,
    Notebook,
    SBCSettings,
    get_spec,
    names,
    variant,
)

__all__ = [
    # describe a model
    "ModelSpec",
    "SBCSettings",
    "RunLengths",
    "Notebook",
    "AdamSchedule",
    "variant",
    "get_spec",
    "names",
    "REGISTRY",
    "MODEL_NAMES",
    # run SBC and the checks
    "run_sbc",
    "rank_quantities",
    "save_result",
    "load_result",
    "sequential_sbc",
    "SequentialResult",
    "BatchedNUTS",
    "BatchedHMC",
    "BatchedSVI",
    "MCDropout",
    "OwnSampler",
    "Execution",
    "SBCResult",
    "Verdict",
    "sbc_verdicts",
    "sbc_passed",
    "verdicts",
    "moments",
    "posteriordb",
    "reference_draws",
    # the seven models and their Equinox modules
    "model_linear",
    "model_mlp",
    "model_mlp_dropout",
    "model_bnn",
    "model_rff_svr",
    "model_rff_gp",
    "model_rff_gp_noncentred",
    "model_deep_rff",
    "LinearRegressor",
    "MLP",
    "MLPDropout",
    "RFFFeatureMap",
    "DeepRFFRegressor",
    # reproduce the notebook
    "make_sinc",
    "Dataset",
    "fit_one",
    "fit_many",
    "FitOutcome",
    "run_nuts",
    "run_map",
    "predict",
    "r2",
    # read run records
    "report",
]

try:
    __version__ = _metadata.version("regmaster")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "unknown"
