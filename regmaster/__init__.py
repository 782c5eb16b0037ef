"""regmaster: the Regression Masterclass's seven Bayesian regression models (Pattern 1) and the
machinery that validates their inference."""

from importlib import metadata as _metadata

from .data import Dataset as Dataset
from .data import latent as latent
from .data import make_sinc as make_sinc
from .engine import BatchedFit as BatchedFit
from .engine import fit_batched as fit_batched
from .experiment import FitOutcome as FitOutcome
from .experiment import fit_many as fit_many
from .experiment import fit_one as fit_one
from .inference import MapFit as MapFit
from .inference import decaying_adam as decaying_adam
from .inference import predict as predict
from .inference import predictive_interval as predictive_interval
from .inference import r2 as r2
from .inference import run_map as run_map
from .inference import run_nuts as run_nuts
from .kernels import SinCosFeatureMap as SinCosFeatureMap
from .kernels import blr_posterior as blr_posterior
from .kernels import gp_posterior as gp_posterior
from .kernels import hoeffding_bound as hoeffding_bound
from .kernels import rbf_kernel as rbf_kernel
from .kernels import rff_kernel as rff_kernel
from .kernels import rff_variance as rff_variance
from .kernels import uniform_error_bound as uniform_error_bound
from .models import model_bnn as model_bnn
from .models import model_deep_rff as model_deep_rff
from .models import model_linear as model_linear
from .models import model_mlp as model_mlp
from .models import model_mlp_dropout as model_mlp_dropout
from .models import model_rff_gp as model_rff_gp
from .models import model_rff_gp_noncentred as model_rff_gp_noncentred
from .models import model_rff_svr as model_rff_svr
from .nn import MLP as MLP
from .nn import DeepRFFRegressor as DeepRFFRegressor
from .nn import LinearRegressor as LinearRegressor
from .nn import MLPDropout as MLPDropout
from .nn import RFFFeatureMap as RFFFeatureMap
from .sbc import SBCResult as SBCResult
from .sbc import run_model_sbc as run_model_sbc
from .sbc import run_sbc as run_sbc
from .seeds import seed_from_name as seed_from_name
from .verdicts import Verdict as Verdict
from .verdicts import sbc_passed as sbc_passed
from .verdicts import sbc_verdicts as sbc_verdicts
from .zoo import MODEL_NAMES as MODEL_NAMES
from .zoo import REGISTRY as REGISTRY
from .zoo import AdamSchedule as AdamSchedule
from .zoo import ModelSpec as ModelSpec
from .zoo import Notebook as Notebook
from .zoo import NutsSettings as NutsSettings
from .zoo import SBCSettings as SBCSettings
from .zoo import get_spec as get_spec
from .zoo import names as names
from .zoo import variant as variant

try:
    __version__ = _metadata.version("regmaster")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "unknown"
