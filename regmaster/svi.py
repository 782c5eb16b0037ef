"""Stochastic variational inference as an inference of SBC: every replication's optimisation in
one compiled program.

:class:`BatchedSVI` fits a NumPyro guide (``AutoNormal``, ``AutoMultivariateNormal``,
``AutoLowRankMultivariateNormal``, ``AutoLaplaceApproximation``, ``AutoDelta`` or a guide of one's
own) to every simulated data set by maximising the ELBO with Adam, ``vmap``-ed over the
replications; the posterior draws of each are the guide's, independent by construction, so SBC
ranks them without thinning (no ESS health check applies). Its own health, per replication, is
the final relative change of the ELBO and the norm of its gradient.

References
----------
Gal, Ghahramani (2016). Dropout as a Bayesian approximation: representing model uncertainty in
deep learning. ICML.
Kucukelbir, Tran, Ranganath, Gelman, Blei (2017). Automatic differentiation variational
inference. JMLR 18(14).
Yao, Vehtari, Simpson, Gelman (2018). Yes, but did it work?: evaluating variational inference.
ICML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import (
    AutoDelta,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from numpyro.optim import Adam

from .calling import check_finite, conditioned, leading_size
from .checks import check_positive_float, check_positive_int
from .engine import latent_transforms
from .settings import Execution, RunLengths

_FINAL_ELBO = Trace_ELBO(num_particles=64)
"""The ELBO whose gradient norm is reported at the end: 64 draws, so that its noise is small."""


class SVIFit(NamedTuple):
    """Guide draws of a batch of replications, shaped (replication, chain, draw, ...), and each
    replication's optimisation health."""

    samples: dict[str, np.ndarray]
    final_loss: np.ndarray  # (replications,): mean -ELBO over the last tenth of the steps
    loss_change: np.ndarray  # (replications,): its relative fall from the tenth before
    grad_norm: np.ndarray  # (replications,): |grad -ELBO| (64 draws) at the returned parameters
    earlier_seconds: float = 0.0
    independent_draws: bool = True
    # site -> (loc, scale), each (replications, ...): the guide's Gaussian marginals in the
    # unconstrained space, kept when the inference ranks by them (``cdf_ranks``)
    marginals: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def transition_health(self) -> dict[str, np.ndarray]:
        """Per-replication figures of the optimisation (leading axis the replications)."""
        return {
            "final_loss": self.final_loss,
            "loss_change": self.loss_change,
            "grad_norm": self.grad_norm,
        }


GAUSSIAN_GUIDES = (
    AutoNormal,
    AutoMultivariateNormal,
    AutoLowRankMultivariateNormal,
    AutoLaplaceApproximation,
)
"""The autoguides whose every latent component is Gaussian in the unconstrained space."""


def gaussian_marginals(guide, params) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Each latent site's marginal N(m, s^2) under a Gaussian guide, componentwise, in the
    unconstrained space: ``site -> (m, s)`` shaped as the site."""
    if isinstance(guide, AutoNormal):
        p = guide.prefix
        return {k: (params[f"{k}_{p}_loc"], params[f"{k}_{p}_scale"]) for k in guide._init_locs}
    posterior = guide.get_posterior(params)  # a (low-rank) multivariate normal, flat
    locs = guide._unpack_latent(posterior.loc)
    scales = guide._unpack_latent(jnp.sqrt(posterior.variance))
    return {k: (locs[k], scales[k]) for k in locs}


@dataclass(frozen=True)
class BatchedSVI:
    """SVI with a NumPyro guide, the optimisation of every replication vmapped into one program.

    Attributes
    ----------
    guide : callable
        ``guide(model) -> AutoGuide`` (default ``AutoMultivariateNormal``, the full-rank
        Gaussian); any NumPyro autoguide class, or a function building one's own.
    num_steps : int
        Adam steps per replication.
    learning_rate : float
        Adam's step size.
    num_particles : int
        Monte Carlo draws of the ELBO per step.
    halving_steps : int, optional
        Halve Adam's step size every this many steps (:func:`regmaster.inference.decaying_adam`);
        at a constant step size the iterates keep moving around the optimum
        (docs/findings.md#svi-notebook-models).
    cdf_ranks : bool
        Rank each component of a latent site by the guide's marginal CDF instead of among its
        draws: for a Gaussian guide (:data:`GAUSSIAN_GUIDES`) and a site whose transform to its
        support is elementwise, u = Phi((T^-1(theta~) - m) / s) with (m, s) the component's
        marginal in the unconstrained space, and the rank floor(u (L + 1)): uniform on 0..L
        when the guide is the posterior, with no Monte Carlo noise from L draws (the R package
        SBC's ``SBC_posterior_cdf``; Modrak et al. 2023).
    """

    guide: Callable[[Callable], Any] = AutoMultivariateNormal
    num_steps: int = 2000
    learning_rate: float = 0.01
    num_particles: int = 1
    halving_steps: int | None = None
    cdf_ranks: bool = False

    name = "SVI"

    def __post_init__(self):
        if not callable(self.guide):
            raise ValueError(
                "guide must be a NumPyro autoguide class (e.g. AutoNormal) or a function "
                f"model -> guide; got {self.guide!r}"
            )
        check_positive_int("num_steps", self.num_steps)
        check_positive_float("learning_rate", self.learning_rate)
        check_positive_int("num_particles", self.num_particles)
        if self.halving_steps is not None:
            check_positive_int("halving_steps", self.halving_steps)
        gaussian = isinstance(self.guide, type) and issubclass(self.guide, GAUSSIAN_GUIDES)
        if self.cdf_ranks and not gaussian:
            names = ", ".join(g.__name__ for g in GAUSSIAN_GUIDES)
            raise ValueError(f"cdf_ranks needs a Gaussian guide ({names}); got {self.guide!r}")

    @property
    def label(self) -> str:
        """How a run record names this inference."""
        guide = getattr(self.guide, "__name__", repr(self.guide))
        ranks = "; ranked by its marginal CDF" if self.cdf_ranks else ""
        return f"SVI with {guide} ({self.num_steps} Adam steps{ranks})"

    def _optimizer(self):
        if self.halving_steps is None:
            return Adam(self.learning_rate)
        from .inference import decaying_adam

        return decaying_adam(self.learning_rate, self.halving_steps)

    def fit(
        self,
        model,
        key: jax.Array,
        x,
        y_batch,
        lengths: RunLengths,
        execution: Execution | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> SVIFit:
        """Fit the guide to every row of ``y_batch`` and draw ``num_chains x num_samples`` from
        each, laid out as chains (independent draws: the layout only keeps the shapes of a
        sampler's); ``num_warmup`` is unused and ``execution`` places nothing yet (one device, no
        checkpoint: a fit takes seconds).
        """
        kwargs = dict(model_kwargs or {})
        check_finite("x", x)
        y_batch = jax.tree.map(jnp.asarray, y_batch)
        check_finite("y_batch", y_batch)
        num_reps = leading_size("y_batch", y_batch)
        target = conditioned(model)
        steps, draws = self.num_steps, lengths.num_chains * lengths.num_samples

        def one(key_fit, key_draw, y_row):
            # A guide per replication: a guide keeps the data of its first call (Laplace's
            # Hessian is taken there), so one shared guide would see replication 0's data
            # (docs/findings.md#mlp-map-laplace).
            guide = self.guide(target)
            svi = SVI(target, guide, self._optimizer(), Trace_ELBO(self.num_particles))
            state = svi.init(key_fit, x, y_row, **kwargs)
            state, losses = jax.lax.scan(
                lambda s, _: svi.update(s, x, y_row, **kwargs), state, None, length=steps
            )
            params = svi.get_params(state)

            def loss(raw):  # -ELBO in the optimiser's (unconstrained) coordinates, as SVI steps
                constrained = svi.constrain_fn(raw)
                return _FINAL_ELBO.loss(key_fit, constrained, target, guide, x, y_row, **kwargs)

            flat_grad, _ = ravel_pytree(jax.grad(loss)(svi.optim.get_params(state.optim_state)))
            sample = guide.sample_posterior(
                key_draw, params, x, y_row, sample_shape=(draws,), **kwargs
            )
            marginals = gaussian_marginals(guide, params) if self.cdf_ranks else None
            # The mean -ELBO of the last tenth of the steps against the tenth before it.
            k = max(steps // 10, 1)
            last, before = losses[-k:].mean(), losses[-2 * k : -k].mean()
            change = (before - last) / jnp.maximum(jnp.abs(last), 1e-12)
            return sample, last, change, jnp.linalg.norm(flat_grad), marginals

        keys = jax.random.split(key, 2 * num_reps).reshape(2, num_reps, -1)
        sample, final, change, norm, marginals = jax.jit(jax.vmap(one))(keys[0], keys[1], y_batch)
        latent = latent_transforms(model, x, jax.tree.map(lambda a: a[0], y_batch), kwargs)
        chains = (lengths.num_chains, lengths.num_samples)
        return SVIFit(
            {
                k: np.asarray(v).reshape(num_reps, *chains, *v.shape[2:])
                for k, v in sample.items()
                if k in latent
            },
            np.asarray(final),
            np.asarray(change),
            np.asarray(norm),
            marginals=None if marginals is None else jax.tree.map(np.asarray, marginals),
        )


@dataclass(frozen=True)
class MCDropout(BatchedSVI):
    """MC dropout as the notebook runs it (Gal & Ghahramani 2016): MAP weights by SVI with an
    ``AutoDelta`` guide, the model drawing a fresh dropout mask at every step, then a fresh mask
    per predictive draw.

    The model draws its mask from ``numpyro.prng_key()`` (not a sample site), so the guide's
    draws are the MAP point repeated and the spread of a quantity comes from the masks: SBC
    evaluates every truth and every draw under its own key (:func:`regmaster.run_sbc`), which
    makes the mask part of each ranked quantity. Rank only quantities the mask moves (the
    function at probe inputs, the log-likelihood): the weights and ``sigma`` are points, and
    the point check flags them.

    Attributes
    ----------
    num_steps : int
        Adam steps of the MAP fit (the notebook: 2000).
    learning_rate : float
        Adam's step size (the notebook: 5e-3).
    """

    guide: Callable[[Callable], Any] = AutoDelta
    num_steps: int = 2000
    learning_rate: float = 5e-3

    name = "MC dropout"

    def __post_init__(self):
        super().__post_init__()
        if self.guide is not AutoDelta:
            raise ValueError(f"guide: MC dropout fits the MAP (AutoDelta), got {self.guide!r}")

    @property
    def label(self) -> str:
        """How a run record names this inference."""
        return f"MC dropout (MAP by SVI, {self.num_steps} Adam steps; a fresh mask per draw)"
