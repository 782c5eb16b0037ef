"""The three inference paths: NUTS (any number of chains), MAP by SVI + AutoDelta, prediction.

References
----------
Hoffman, Gelman (2014). The No-U-Turn Sampler: adaptively setting path lengths in Hamiltonian
Monte Carlo. JMLR 15.
Kingma, Ba (2015). Adam: a method for stochastic optimization. ICLR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.util import compute_log_probs
from numpyro.optim import Adam, _NumPyroOptim

from .calling import check_data, conditioned
from .checks import check_inputs, check_positive_int, check_probability


class _CompiledInitNUTS(NUTS):
    """NUTS whose initialisation is one compiled program instead of ~60 eagerly dispatched ops.

    ``NUTS.init`` (tracing the model, the initial point, the heuristic step size, the adaptation
    state) runs op by op, and each op compiles its own tiny XLA program on a cold start (~30 ms
    each). Under one ``jax.jit`` it is a single program. numpyro runs the same function under
    ``vmap`` for vectorised chains; the reason that is safe (the state it sets does not depend on
    the traced key) makes ``jit`` safe too. The model's arguments are closed over, so they stay
    concrete.
    """

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs={}):  # noqa: B006
        parent_init = super().init

        def init(key):
            return parent_init(key, num_warmup, init_params, model_args, model_kwargs)

        return jax.jit(init)(rng_key)


def run_nuts(
    model: Callable[..., None],
    key: jax.Array,
    x,
    y,
    *,
    num_warmup: int,
    num_samples: int,
    num_chains: int = 1,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = False,
    progress_bar: bool = False,
    **model_kwargs,
) -> MCMC:
    """Run NUTS (Hoffman & Gelman 2014); all chains are one vectorised, compiled program.

    With one chain and default settings this is the notebook's
    ``MCMC(NUTS(model), num_warmup, num_samples).run(key, x, y, **kwargs)`` (same keys and
    adaptation; the initialisation is compiled as one program, which changes only rounding).
    ``dense_mass`` adapts a full mass matrix instead of a diagonal one.

    Parameters
    ----------
    model : callable
        A NumPyro model ``model(x, y, **model_kwargs)``.
    key : jax.Array
        PRNG key of the run.
    x : array or pytree
        The model's inputs.
    y : array or dict
        The data: an array passed as the model's second argument, or ``{site: value}`` to condition
        on (:mod:`regmaster.calling`).
    num_warmup : int
        Warmup (adaptation) iterations per chain, >= 0.
    num_samples : int
        Draws kept per chain.
    num_chains : int
        Chains, run vectorised.
    target_accept_prob : float
        Step-size adaptation target.
    max_tree_depth : int
        At most 2^max_tree_depth - 1 leapfrog steps per transition.
    dense_mass : bool
        Adapt a dense mass matrix.
    progress_bar : bool
        Show NumPyro's progress bar.
    **model_kwargs
        Passed to the model.

    Returns
    -------
    numpyro.infer.MCMC
        The finished run, with the extra fields ``diverging``, ``num_steps``, ``accept_prob`` and
        ``energy``.
    """
    x, y = check_data(x, y)
    model = conditioned(model) if isinstance(y, dict) else model  # a site dict: conditioned
    num_warmup = check_positive_int("num_warmup", num_warmup, minimum=0)
    num_samples = check_positive_int("num_samples", num_samples)
    num_chains = check_positive_int("num_chains", num_chains)
    kernel = _CompiledInitNUTS(
        model,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
        dense_mass=dense_mass,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=progress_bar,
    )
    mcmc.run(
        key, x, y, extra_fields=("diverging", "num_steps", "accept_prob", "energy"), **model_kwargs
    )
    return mcmc


class OrderedTraceELBO(Trace_ELBO):
    """numpyro's one-particle ``Trace_ELBO``, adding up the sites in trace order.

    ELBO = sum over sites of log p - log q, with the same keys, handlers and per-site log
    densities as ``Trace_ELBO``. numpyro adds the sites in ``set`` order, which follows the
    interpreter's string-hash seed (``PYTHONHASHSEED``), so the loss, and through it the whole
    optimisation path, differed in its last bits from one process to the next, and each process
    compiled a different program (a persistent-cache miss).
    """

    def __init__(self):
        super().__init__(num_particles=1)

    def loss_with_mutable_state(self, rng_key, param_map, model, guide, *args, **kwargs):
        """The negative ELBO of one particle, the sites added in trace order.

        Parameters
        ----------
        rng_key : jax.Array
            Split into the model's and the guide's seeds, as ``Trace_ELBO`` does.
        param_map : dict
            The current parameters.
        model, guide : callable
            The model and its guide.
        *args, **kwargs
            Their arguments.

        Returns
        -------
        dict
            ``loss`` (the negative ELBO) and ``mutable_state`` (None).
        """
        model_seed, guide_seed = jax.random.split(rng_key)
        guide_log_probs, guide_trace = compute_log_probs(
            handlers.seed(guide, guide_seed), args, kwargs, param_map
        )
        replayed = handlers.replay(handlers.seed(model, model_seed), guide_trace)
        model_log_probs, _ = compute_log_probs(replayed, args, kwargs, param_map)
        elbo = jnp.array(0.0)
        for name in dict.fromkeys([*model_log_probs, *guide_log_probs]):
            zero = jnp.array(0.0)
            elbo = elbo + (model_log_probs.get(name, zero) - guide_log_probs.get(name, zero))
        return {"loss": -elbo, "mutable_state": None}


class MapFit(NamedTuple):
    """A fitted AutoDelta guide: its parameters (``<site>_auto_loc``) and the loss trace.

    Attributes
    ----------
    guide : numpyro.infer.autoguide.AutoDelta
        The guide.
    params : dict
        Its parameters after the last step.
    losses : array, shape (steps,)
        The loss, -log p(y, theta), at each step.
    """

    guide: AutoDelta
    params: dict[str, Array]
    losses: Float[Array, " steps"]

    def point(self) -> dict[str, Array]:
        """The MAP point in the constrained space, keyed by site name.

        Returns
        -------
        dict
            Site name -> value.
        """
        return self.guide.median(self.params)


def decaying_adam(learning_rate: float = 0.1, halving_steps: int = 1000) -> _NumPyroOptim:
    """Adam whose rate halves every ``halving_steps``; constant-rate Adam drifts off the optimum.

    The rate at step t is learning_rate * 0.5^(t / halving_steps) (Kingma & Ba 2015 for Adam).

    Parameters
    ----------
    learning_rate : float
        The rate at step 0.
    halving_steps : int
        Steps over which the rate halves.

    Returns
    -------
    numpyro.optim.Adam
        The optimiser, for :func:`run_map`'s ``optimizer``.
    """

    def schedule(step):
        return learning_rate * 0.5 ** (step / halving_steps)

    return Adam(schedule)


def run_map(
    model: Callable[..., None],
    key: jax.Array,
    x,
    y,
    *,
    num_steps: int,
    learning_rate: float = 5e-3,
    optimizer: _NumPyroOptim | None = None,
    progress_bar: bool = False,
    **model_kwargs,
) -> MapFit:
    """MAP by SVI with an ``AutoDelta`` guide and ``Trace_ELBO`` (:class:`OrderedTraceELBO`).

    A delta guide has log q = 0, so the ELBO is log p(y, theta) at the guide's point, maximised in
    the constrained space with no Jacobian term. The default optimiser is the notebook's Adam(5e-3).

    Parameters
    ----------
    model : callable
        A NumPyro model ``model(x, y, **model_kwargs)``.
    key : jax.Array
        PRNG key of the initialisation and the steps.
    x : array or pytree
        The model's inputs.
    y : array
        The data, the model's second argument.
    num_steps : int
        SVI steps.
    learning_rate : float
        Adam's rate, when ``optimizer`` is not given.
    optimizer : numpyro optimiser, optional
        Replaces Adam(learning_rate), e.g. :func:`decaying_adam`.
    progress_bar : bool
        Show NumPyro's progress bar.
    **model_kwargs
        Passed to the model.

    Returns
    -------
    MapFit
        The guide, its parameters and the loss trace.
    """
    x, y = check_data(x, y)
    if isinstance(y, dict):
        raise ValueError(
            "y: run_map takes the data as the model's second argument, an array; got a site dict"
        )
    num_steps = check_positive_int("num_steps", num_steps)
    guide = AutoDelta(model)
    svi = SVI(model, guide, optimizer or Adam(learning_rate), OrderedTraceELBO())
    # svi.run would initialise op by op; compiled as one program it is one compile, not ~100.
    state = jax.jit(lambda key: svi.init(key, x, y, **model_kwargs))(key)
    result = svi.run(
        key, num_steps, x, y, progress_bar=progress_bar, init_state=state, **model_kwargs
    )
    return MapFit(guide, result.params, result.losses)


def predict(
    model: Callable[..., None],
    key: jax.Array,
    x,
    *,
    samples: dict[str, Array] | None = None,
    map_fit: MapFit | None = None,
    num_samples: int | None = None,
    site: str = "obs",
    **model_kwargs,
) -> Float[Array, "draws n"]:
    """Posterior-predictive draws of ``site`` at ``x``, from NUTS samples or a MAP fit.

    Parameters
    ----------
    model : callable
        The NumPyro model that was fitted.
    key : jax.Array
        PRNG key of the predictive draws.
    x : array, shape (n,)
        Inputs to predict at.
    samples : dict, optional
        Posterior samples (``MCMC.get_samples()``); one draw per sample.
    map_fit : MapFit, optional
        A MAP fit; exactly one of ``samples`` and ``map_fit`` is given.
    num_samples : int, optional
        Draws from a MAP fit (required with ``map_fit``).
    site : str
        The site returned.
    **model_kwargs
        Passed to the model.

    Returns
    -------
    array, shape (draws, n)
        The draws of ``site``.
    """
    x, _ = check_inputs(x)
    if (samples is None) == (map_fit is None):
        raise ValueError("predict needs exactly one of samples= or map_fit=")
    # One compiled program per call: run eagerly, the vmapped model dispatches dozens of ops, each
    # compiled on its own on a cold start. x and the model's arguments are closed over (concrete).
    if samples is not None:

        def draws(key, samples):
            predictive = Predictive(model, posterior_samples=samples)
            return predictive(key, x, **model_kwargs)[site]

        return jax.jit(draws)(key, samples)
    num_samples = check_positive_int("num_samples", num_samples)

    def draws(key, params):
        predictive = Predictive(model, params=params, num_samples=num_samples, guide=map_fit.guide)
        return predictive(key, x, **model_kwargs)[site]

    return jax.jit(draws)(key, map_fit.params)


def r2(y_true: Float[Array, " n"], y_pred: Float[Array, " n"]) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot, in NumPy (same bits on any CPU count).

    SS_res = sum_i (y_i - y_pred_i)^2, SS_tot = sum_i (y_i - y_bar)^2.

    Parameters
    ----------
    y_true : array, shape (n,)
        Targets.
    y_pred : array, shape (n,)
        Predictions.

    Returns
    -------
    float
        R^2 (1 for a perfect fit, 0 for the mean, negative for worse).
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    ss_res = np.sum((y_true - y_pred) ** 2)
    ss_tot = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - ss_res / ss_tot)


def predictive_interval(
    draws: Float[Array, "draws n"], level: float = 0.95
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Equal-tailed interval of the predictive draws at each input.

    The (1 - level)/2 and (1 + level)/2 quantiles over the draws.

    Parameters
    ----------
    draws : array, shape (draws, n)
        Predictive draws.
    level : float
        Probability content, in (0, 1).

    Returns
    -------
    lower, upper : array, shape (n,)
        The bounds at each input.
    """
    level = check_probability("level", level)
    tail = (1.0 - level) / 2.0
    lo, hi = jnp.quantile(draws, jnp.array([tail, 1.0 - tail]), axis=0)
    return lo, hi
