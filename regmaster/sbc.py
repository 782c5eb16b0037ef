"""Simulation-based calibration (Talts et al. 2018; Modrak et al. 2023).

For n = 1..N: theta~ ~ p(theta), y~ ~ p(y | theta~), L draws theta_l from the fitted posterior
p(theta | y~), rank r = #{q(theta_l) < q(theta~)} for each test quantity q (ties broken at random).
Exact inference makes every r uniform on {0, ..., L}; :mod:`regmaster.stats` tests that and Holm's
correction over all tests of all quantities keeps the family-wise false-alarm rate <= alpha.
The fits come from the batched NUTS engine (:mod:`regmaster.engine`): all replications and chains
in one compiled program.
"""

from __future__ import annotations

import copy
import functools
import operator
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer import Predictive

from . import diagnostics, stats, zoo
from .calling import check_finite, conditioned, describe, improper_sites, trace
from .checks import check_positive_int, check_probability
from .engine import BatchedNUTS, Draws, host_rng, latent_transforms
from .seeds import MAX_SEED
from .settings import Execution
from .verdicts import RHAT, SBC_ALPHA


class KeptDraws(NamedTuple):
    """What ranking a new quantity needs without refitting: the simulated truths and the L
    thinned draws of every latent site, the data, the inputs (leading axis N)."""

    truth: dict[str, np.ndarray]  # site -> (N, ...)
    draws: dict[str, np.ndarray]  # site -> (N, L, ...)
    data: Any  # as the model takes it, leading axis N
    x: Any

    def take(self, replications) -> KeptDraws:
        """The kept draws of some replications (an index array along the leading axis)."""

        def take(tree):
            return jax.tree.map(lambda a: a[replications], tree)

        return KeptDraws(take(self.truth), take(self.draws), take(self.data), self.x)


class SBCResult(NamedTuple):
    """Ranks, per-quantity p-values, the family verdict and per-fit diagnostics."""

    model: str
    quantities: list[str]
    ranks: np.ndarray  # (replications, quantities), integers in 0..num_draws
    num_draws: int
    pvalues: dict[str, np.ndarray]  # test -> (quantities,)
    adjusted: np.ndarray  # (quantities,): smallest Holm-adjusted p-value over the tests
    alpha: float
    passed: bool
    fit_diagnostics: dict[str, Any]
    seconds: float
    earlier_seconds: float = 0.0  # of ``seconds``: earlier sittings of a resumed run
    truth: np.ndarray | None = None  # (replications, quantities): the simulated truths' values
    thinned: np.ndarray | None = None  # (replications, num_draws, quantities): the ranked draws
    per_replication: dict[str, np.ndarray] | None = None  # health figures, leading axis N
    rank_rng: np.random.Generator | None = None  # the rank tests' generator, as ranking left it
    inference: str | None = None  # the inference calibrated, as a run record names it
    kept: KeptDraws | None = None  # truths, thinned site draws and data: rank_quantities
    # Interleaved NUTS: leapfrog steps computed (slots x ticks) and needed (every trajectory)
    leapfrog_steps: tuple[int, int] | None = None

    @property
    def replications(self) -> int:
        return int(self.ranks.shape[0])

    def split(self, groups: int) -> list[SBCResult]:
        """The batch as ``groups`` independent SBC runs of equal size, in order, each with its own
        rank tests, verdict and fit health: how the calibration measures false-alarm rates and
        power over many seeds at once (one compiled program for all of them).

        The rank tests of group g continue the generator where group g - 1 left it, so a split
        run's p-values do not depend on the verdict of the whole batch.
        """
        groups = check_positive_int("groups", groups)
        if self.per_replication is None or self.rank_rng is None:
            raise ValueError("split needs a result of run_sbc (its per-replication figures)")
        if self.replications % groups or self.replications // groups < 2:
            raise ValueError(
                f"groups must divide the {self.replications} replications into runs of at "
                f"least 2, got {groups}"
            )
        rng = copy.deepcopy(self.rank_rng)
        parts = []
        for group in np.split(np.arange(self.replications), groups):
            ranks = self.ranks[group]
            pvalues, adjusted, passed = verdict(ranks, self.num_draws, self.alpha, rng)
            stats_g = {k: v[group] for k, v in self.per_replication.items()}
            kept = None if self.kept is None else self.kept.take(group)
            parts.append(
                self._replace(
                    ranks=ranks,
                    pvalues=pvalues,
                    adjusted=adjusted,
                    passed=passed,
                    fit_diagnostics=fit_summary(stats_g, self.num_draws),
                    seconds=self.seconds / groups,
                    earlier_seconds=self.earlier_seconds / groups,
                    truth=self.truth[group],
                    thinned=self.thinned[group],
                    per_replication=stats_g,
                    rank_rng=None,
                    leapfrog_steps=None,  # the batch's, not a group's
                    kept=kept,
                )
            )
        return parts

    @property
    def replications_per_second(self) -> float:
        return self.replications / self.seconds if self.seconds > 0 else float("inf")

    def rows(self) -> list[dict[str, Any]]:
        """One row per quantity: raw p-value of each test and the Holm-adjusted p-value."""
        rows = []
        for j, name in enumerate(self.quantities):
            row = {"name": name, "pvalue": float(self.adjusted[j])}
            row.update({f"p_{test}": float(p[j]) for test, p in self.pvalues.items()})
            row["passed"] = bool(self.adjusted[j] > self.alpha)
            rows.append(row)
        return rows

    def figures(self) -> dict[str, Any]:
        """The figures a check records: verdict, smallest and per-quantity Holm-adjusted
        p-values, time and the fits' health."""
        return {
            "replications": self.replications,
            "alpha": self.alpha,
            "passed": self.passed,
            "min_holm_pvalue": float(self.adjusted.min()),
            "quantities": {r["name"]: r["pvalue"] for r in self.rows()},
            "seconds": self.seconds,
            "earlier_seconds": self.earlier_seconds,
            "replications_per_second": self.replications_per_second,
            **self.fit_diagnostics,
            **self._lane_figures(),
        }

    def _lane_figures(self) -> dict[str, Any]:
        """Leapfrog steps computed per step needed (1: no slot ever waited), when known."""
        if self.leapfrog_steps is None:
            return {}
        computed, needed = self.leapfrog_steps
        return {
            "leapfrog_steps_computed": computed,
            "leapfrog_steps_needed": needed,
            "leapfrog_steps_computed_per_needed": computed / needed if needed else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "inference": self.inference,
            "replications": self.replications,
            "num_draws": self.num_draws,
            "passed": self.passed,
            "alpha": self.alpha,
            "quantities": self.rows(),
            "diagnostics": self.fit_diagnostics,
            "seconds": self.seconds,
            "replications_per_second": self.replications_per_second,
        }


def observed_sites(observed) -> tuple[str, ...]:
    """``observed`` as a tuple of site names: one name, or a sequence of names."""
    if observed is None:
        raise ValueError(
            "observed must name the model's observed sample site(s), e.g. observed='y' or "
            "observed=('y1', 'y2'); got None"
        )
    names = (observed,) if isinstance(observed, str) else tuple(observed)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"observed must be a site name or a sequence of them, got {observed!r}")
    return names


def as_data(observed, values: dict):
    """The data as the model takes it (:mod:`regmaster.calling`): one site named by a string is
    the model's second argument, ``model(inputs, y)``; a sequence of names is a site dict that
    conditions those sites."""
    names = observed_sites(observed)
    return values[names[0]] if isinstance(observed, str) else {n: values[n] for n in names}


def simulate(model, key: jax.Array, x, replications: int, *, observed, **model_kwargs):
    """Draw (theta~, y~) from the prior predictive: the latent sites shaped (N, ...) and the
    data, leading axis N, as :func:`as_data` lays it out for ``observed``."""
    draws = Predictive(conditioned(model), num_samples=replications)(key, x, None, **model_kwargs)
    data = as_data(observed, {name: draws.pop(name) for name in observed_sites(observed)})
    row = jax.tree.map(lambda a: a[0], data)
    latent = {name: draws[name] for name in latent_transforms(model, x, row, model_kwargs)}
    return latent, data


def _model_name(model) -> str:
    return getattr(model, "__name__", repr(model))


def _check_simulable(tr, model) -> None:
    """Refuse, before any fitting, what SBC cannot simulate or rank in ``model``'s trace ``tr``:
    a ``numpyro.factor`` term (running the model forward draws the truths, and a factor does not
    enter a forward draw, so a correct sampler would fail) and a latent site with no elements."""
    name = _model_name(model)
    factors = [k for k, site in tr.items() if site["type"] == "sample" and _is_factor(site["fn"])]
    if factors:
        raise ValueError(
            f"model {name} has numpyro.factor term(s) {', '.join(map(repr, factors))}: SBC draws "
            "its truths and data by running the model forward, which a factor does not enter; "
            "write the term as a distribution"
        )
    for k, site in tr.items():
        if site["type"] == "sample" and not site["is_observed"] and jnp.size(site["value"]) == 0:
            raise ValueError(
                f"model {name} has a latent site {k!r} with no elements (shape "
                f"{jnp.shape(site['value'])}): leave it out of the model"
            )


def _is_factor(fn) -> bool:
    """Whether a site's distribution is numpyro.factor's ``Unit`` (possibly masked)."""
    while fn is not None:
        if isinstance(fn, dist.Unit):
            return True
        fn = getattr(fn, "base_dist", None)
    return False


def check_model_call(model, x, observed, model_kwargs) -> dict:
    """Refuse, before any fitting, a model that fails on the inputs ``x`` or lacks a sample site
    that ``observed`` names; the message names the argument and the value. Returns the trace."""
    name = _model_name(model)
    try:
        tr = trace(model, x, None, **model_kwargs)
    except Exception as error:  # the model's own error, reported with what it was called on
        called = (
            "inputs=None (called with no inputs argument)"
            if x is None
            else (f"x of shape {describe(x)}")
        )
        raise ValueError(
            f"model {name} fails on {called}: {type(error).__name__}: {error}"
        ) from None
    sites = [k for k, site in tr.items() if site["type"] == "sample"]
    for site in observed_sites(observed):
        if site not in sites:
            raise ValueError(
                f"observed must name a sample site of model {name}; got {site!r}, its sample "
                f"sites are {', '.join(sites) or 'none'}"
            )
    return tr


def log_likelihood(model, params: Draws, x, y, observed, **model_kwargs) -> jax.Array:
    """log p(y | theta) = sum over the ``observed`` sites s of sum_i log p(y_s,i | theta) at one
    parameter point; ``y`` laid out as :func:`as_data` says (a ``numpyro.factor`` elsewhere in
    the model is not part of it)."""
    names = observed_sites(observed)
    tr = trace(model, x, y, params, **model_kwargs)
    terms = [jnp.sum(tr[n]["fn"].log_prob(tr[n]["value"])) for n in names]
    return functools.reduce(operator.add, terms)


def deterministic_site(model, params: Draws, x, site: str = "f", **model_kwargs) -> jax.Array:
    """The value of a site (default ``f``) at inputs ``x`` and one parameter point."""
    return trace(model, x, None, params, **model_kwargs)[site]["value"]


def probe_names(probe_x, size: int, site: str = "f") -> list[str]:
    """Names of the ``size`` components of ``site`` at the probe inputs: ``f(x=-5)`` for
    scalar probe points of a 1-D input, else ``f[i]``."""
    if probe_x is None:
        return []
    flat = np.ndim(probe_x) == 1 and not isinstance(probe_x, dict)
    if flat and np.size(probe_x) == size:
        return [f"{site}(x={v:.3g})" for v in np.asarray(probe_x)]
    return [f"{site}[{i}]" for i in range(size)]


def quantity_names(
    params: Draws,
    *,
    parameters: Sequence[str] | None,
    probe_x=None,
    probe_size: int | None = None,
    probe_site: str = "f",
    derived: Sequence[str] = (),
) -> list[str]:
    """Names of the scalar test quantities, in the order :func:`quantity_values` returns them
    (``probe_size``: components of the probed site, default one per probe point; ``derived``:
    the names of the settings' own ``quantities``, last)."""
    names = []
    for site in parameters if parameters is not None else sorted(params):
        size = int(np.prod(np.shape(params[site])))
        names.extend([site] if size == 1 else [f"{site}[{i}]" for i in range(size)])
    if probe_x is not None:
        size = len(np.asarray(probe_x)) if probe_size is None else probe_size
        names.extend(probe_names(probe_x, size, probe_site))
    return [*names, "loglik", *derived]


def quantity_values(
    model,
    params: Draws,
    x,
    y,
    *,
    parameters: Sequence[str] | None,
    probe_x=None,
    probe_site: str = "f",
    observed,
    derived=None,
    **model_kwargs,
) -> jax.Array:
    """Scalar test quantities at one parameter point: parameter components, the probed site at
    ``probe_x``, the log-likelihood of every observed site, then each ``derived`` function
    ``fn(params, x, y)``."""
    values = [
        jnp.ravel(params[site])
        for site in (parameters if parameters is not None else sorted(params))
    ]
    if probe_x is not None:
        values.append(
            jnp.ravel(deterministic_site(model, params, probe_x, probe_site, **model_kwargs))
        )
    values.append(
        jnp.atleast_1d(log_likelihood(model, params, x, y, observed=observed, **model_kwargs))
    )
    if derived:
        values.append(derived_values(derived, params, x, y))
    return jnp.concatenate(values)


def derived_values(quantities, params, x, y) -> jax.Array:
    """Each ``fn(params, x, y)`` of ``quantities`` at one parameter point, as a vector: how a
    run and :func:`rank_quantities` both evaluate them (the same numbers, the same ranks)."""
    return jnp.stack([jnp.reshape(fn(params, x, y), ()) for fn in quantities.values()])


def _check_finite_quantities(values, names: Sequence[str], what: str) -> None:
    """Refuse test quantities that are NaN or inf: a rank compares every draw with the truth,
    and a comparison with NaN is false, so such a rank would be wrong without a sign.
    ``values`` is (N, ..., Q), the last axis following ``names``; ``what`` names the values."""
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    for q in np.flatnonzero(bad.reshape(-1, values.shape[-1]).any(axis=0)):
        per_rep = bad[..., q].reshape(values.shape[0], -1)
        reps = np.flatnonzero(per_rep.any(axis=1))
        where = f"{reps.size} of {values.shape[0]} {what}"
        if per_rep.shape[1] > 1:  # draws: several per replication
            where = f"{int(per_rep.sum())} {what} of {reps.size} of {values.shape[0]} replications"
        raise ValueError(
            f"quantity {names[q]!r} is NaN or inf in {where} (the first: replication {reps[0]}): "
            "a rank needs a finite value for every truth and every draw"
        )


def ranks_of(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """r = #{draws < truth} + U{0..#{draws == truth}}: ties broken at random.

    ``truth`` (N, Q), ``draws`` (N, L, Q) -> ranks (N, Q) in 0..L.
    """
    truth = np.asarray(truth)[:, None, :]
    draws = np.asarray(draws)
    below = np.sum(draws < truth, axis=1)
    ties = np.sum(draws == truth, axis=1)
    return below + np.floor(rng.uniform(size=below.shape) * (ties + 1)).astype(int)


def cdf_ranks(ranks, marginals, truth_params, transforms, settings, fitted) -> np.ndarray:
    """``ranks`` with each latent component that has a Gaussian marginal N(m, s^2) in the
    unconstrained space ranked by it: floor(u (L + 1)), u = Phi((T^-1(theta~) - m) / s), where T
    maps the unconstrained space onto the site's support (elementwise transforms only; other
    sites keep their ranks among the draws). Uniform on 0..L when the marginal is the
    posterior's; the columns follow :func:`quantity_names`."""
    from scipy.stats import norm

    ranks = np.array(ranks)
    column = 0
    for site in settings.parameters if settings.parameters is not None else fitted:
        size = int(np.prod(np.shape(truth_params[site])[1:]))
        transform = transforms[site]
        # an elementwise map, possibly declared over an event (``.to_event``): monotone per entry
        elementwise = getattr(transform, "base_transform", transform).domain.event_dim == 0
        if site in marginals and elementwise:
            loc, scale = (np.asarray(a).reshape(len(ranks), size) for a in marginals[site])
            z = np.asarray(transform.inv(truth_params[site])).reshape(len(ranks), size)
            u = norm.cdf((z - loc) / scale)
            ranks[:, column : column + size] = np.minimum(
                np.floor(u * (settings.num_draws + 1)), settings.num_draws
            ).astype(int)
        column += size
    return ranks


def thin(draws: np.ndarray, num_draws: int) -> np.ndarray:
    """``num_draws`` evenly spaced draws per replication from (N, chain, draw, ...) arrays."""
    chains, per_chain = draws.shape[1], draws.shape[2]
    pooled = draws.reshape(draws.shape[0], chains * per_chain, *draws.shape[3:])
    index = np.round(np.linspace(0, chains * per_chain - 1, num_draws)).astype(int)
    return pooled[:, index]


def verdict(
    ranks: np.ndarray, num_draws: int, alpha: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray, bool]:
    """Per-test p-values, the per-quantity smallest Holm-adjusted p-value, and pass/fail.

    Holm runs over every test of every quantity, so the family-wise false-alarm rate of the
    verdict is at most ``alpha`` for exact inference.
    """
    pvalues = stats.uniformity_pvalues(ranks, num_draws, rng)
    stacked = np.stack([pvalues[t] for t in stats.TESTS])  # (tests, quantities)
    adjusted = stats.holm(stacked).min(axis=0)
    return pvalues, adjusted, bool(np.all(adjusted > alpha))


def run_sbc(
    spec: zoo.ModelSpec | str,
    *,
    seed: int = 0,
    replications: int | None = None,
    alpha: float = SBC_ALPHA.value,
    inference: BatchedNUTS | None = None,
    inference_model=None,
    execution: Execution | None = None,
) -> SBCResult:
    """Simulation-based calibration of a model's inference (Talts et al. 2018).

    Parameters
    ----------
    spec : ModelSpec or str
        The model and its :class:`~regmaster.SBCSettings` (inputs, observed sites, test
        quantities, run lengths, CI size): a ``ModelSpec``, a registered name, or an import
        path ``module:attr``.
    seed : int in 0..MAX_SEED
        Simulation, fits and rank tie-breaking all derive from it.
    replications : int, optional
        N, the number of simulated data sets (default: the entry's CI size).
    alpha : float
        Family-wise false-alarm rate of the verdict (Holm over every test of every quantity).
    inference : BatchedNUTS or BatchedSVI, optional
        The inference calibrated (default: the settings' ``inference``, else the entry's NUTS
        settings, ``spec.nuts()``).
    inference_model : callable, optional
        Fit this model to the data simulated from ``spec.model`` (the same sites: a cheaper
        approximation, or a twin with another prior, which should fail).
    execution : Execution, optional
        Devices, checkpoint, progress: where and how the fits run (default: one device).

    Returns
    -------
    SBCResult
        Ranks, p-values, verdict and fit health; :meth:`SBCResult.split` divides it into
        independent runs.

    Notes
    -----
    For n = 1..N: theta~ ~ p(theta), y~ ~ p(y | theta~), L thinned draws theta_l of the fitted
    posterior, and r = #{q(theta_l) < q(theta~)} (ties at random) for each test quantity q:
    every component of the ranked latent sites, the probed site at ``probe_x`` and the
    log-likelihood of every observed site. Under exact inference each r is uniform on 0..L.
    Every quantity is computed on the simulated truths before the first fit, so a run that would
    fail at its end fails at its start.
    """
    spec = spec if isinstance(spec, zoo.ModelSpec) else zoo.resolve(spec)
    if spec.sbc is None:
        raise ValueError(
            "model must have SBC settings (registered: "
            f"{', '.join(zoo.names(calibratable=True))}); got {spec.name!r}"
        )
    settings = spec.sbc
    replications = settings.replications_ci if replications is None else replications
    replications = check_positive_int("replications", replications, minimum=2)
    alpha = check_probability("alpha", alpha)
    seed = check_positive_int("seed", seed, minimum=0)
    if seed > MAX_SEED:
        raise ValueError(f"seed must be at most {MAX_SEED}, got {seed}")
    inference = inference or settings.inference or spec.nuts()
    if not callable(getattr(inference, "fit", None)):
        raise ValueError(
            "inference must be BatchedNUTS, BatchedHMC, BatchedSVI, MCDropout or OwnSampler (an "
            f"object with a fit method), got {inference!r}"
        )
    execution = Execution() if execution is None else execution
    inference_model = spec.model if inference_model is None else inference_model
    probe_x = None if settings.probe_x is None else jax.tree.map(jnp.asarray, settings.probe_x)
    problem = _Problem(
        spec.model, inference_model, settings, spec.fixed_kwargs(), settings.design(), probe_x
    )
    return _calibrate(problem, jr.PRNGKey(seed), replications, alpha, inference, execution, spec)


class _Problem(NamedTuple):
    """What an SBC run simulates from and fits: the models, the settings, the model's keywords."""

    model: Any
    inference_model: Any
    settings: zoo.SBCSettings
    model_kwargs: dict[str, Any]
    x: Any  # the inputs, as arrays
    probe_x: Any  # the probe inputs, as arrays, or None

    def quantities(self, params, data_row, key):
        """The test quantities at one parameter point; ``key`` seeds what the model draws
        beyond its sample sites (a dropout mask from ``numpyro.prng_key()``): each truth and each
        draw gets its own, so such a quantity is ranked over its randomness too."""
        s = self.settings
        return quantity_values(
            handlers.seed(self.inference_model, key),
            params,
            self.x,
            data_row,
            parameters=s.parameters,
            probe_x=self.probe_x,
            probe_site=s.probe_site,
            observed=s.observed,
            derived=s.quantities,
            **self.model_kwargs,
        )


def _calibrate(problem: _Problem, key, replications, alpha, inference, execution, spec):
    """Simulate, check the quantities on the truths, fit every replication in one batch, rank."""
    s, kwargs, x = problem.settings, problem.model_kwargs, problem.x
    check_finite("inputs", x)
    _check_simulable(check_model_call(problem.model, x, s.observed, kwargs), problem.model)
    flat = improper_sites(problem.model, x, None, **kwargs)
    if flat:
        raise ValueError(
            f"model {_model_name(problem.model)} has a flat (improper) prior on "
            f"{', '.join(flat)}: SBC draws its truths from the prior, and this one has none"
        )
    if problem.inference_model is not problem.model:
        check_model_call(problem.inference_model, x, s.observed, kwargs)
    key_sim, key_fit, key_rank = jr.split(key, 3)
    start = time.perf_counter()
    truth_params, y = simulate(
        problem.model, key_sim, x, replications, observed=s.observed, **kwargs
    )
    y_row = jax.tree.map(lambda a: a[0], y)
    transforms = latent_transforms(problem.inference_model, x, y_row, kwargs)
    fitted = sorted(transforms)
    _check_quantities(
        truth_params,
        fitted,
        s.parameters,
        problem.inference_model,
        x,
        s.probe_x,
        s.probe_site,
        kwargs,
    )
    _check_derived(s.quantities, {k: truth_params[k][0] for k in fitted}, x, y_row)
    # Keys for the model's own randomness in the quantities; key_rank itself stays as it was.
    key_truth, key_draws = jr.split(jr.fold_in(key_rank, 1))
    # The truth's quantities before any fit: an error in them costs no fitting.
    truth = jax.jit(jax.vmap(problem.quantities))(
        {k: truth_params[k] for k in fitted}, y, jr.split(key_truth, replications)
    )
    names = _names(truth_params, fitted, s, truth.shape[1])
    _check_finite_quantities(truth, names, "simulated truths")
    fit = inference.fit(problem.inference_model, key_fit, x, y, s.lengths, execution, kwargs)
    missing = sorted(set(fitted) - set(fit.samples))
    if missing:
        raise ValueError(
            f"inference {getattr(inference, 'name', inference)!r} returned no draws of "
            f"{', '.join(missing)}; the model's latent sites are {', '.join(fitted)}"
        )
    for k in fitted:  # (replication, chain, draw, *the site's shape)
        got, site = fit.samples[k].shape, truth_params[k].shape[1:]
        if len(got) < 3 or tuple(got[3:]) != tuple(site):
            raise ValueError(
                f"inference {getattr(inference, 'name', inference)!r} returned draws of {k} "
                f"shaped {tuple(got[1:])} per replication; the site is shaped {tuple(site)}, so "
                f"(chain, draw{''.join(f', {d}' for d in site)}) was expected"
            )
    per_draw = jax.jit(jax.vmap(jax.vmap(problem.quantities, (0, None, 0)), (0, 0, 0)))
    shape = next(iter(fit.samples.values())).shape[:3]  # (N, chains, draws)
    draw_keys = jr.split(key_draws, shape[0] * shape[1] * shape[2])
    all_draws = per_draw(
        {k: v.reshape(shape[0], -1, *v.shape[3:]) for k, v in fit.samples.items()},
        y,
        draw_keys.reshape(shape[0], shape[1] * shape[2], *draw_keys.shape[1:]),
    )
    all_draws = np.asarray(all_draws).reshape(*shape, len(names))
    _check_finite_quantities(all_draws, names, "posterior draws")
    rng = host_rng(key_rank)
    thinned = thin(all_draws, s.num_draws)
    ranks = ranks_of(np.asarray(truth), thinned, rng)
    if getattr(fit, "marginals", None) is not None:  # a Gaussian guide's CDF ranks its sites
        ranks = cdf_ranks(ranks, fit.marginals, truth_params, transforms, s, fitted)
    rank_rng = copy.deepcopy(rng)
    pvalues, adjusted, passed = verdict(ranks, s.num_draws, alpha, rng)
    per_replication = replication_health(fit, all_draws)
    # A run resumed from a checkpoint also counts the seconds its earlier sittings took.
    return SBCResult(
        spec.name,
        names,
        ranks,
        s.num_draws,
        pvalues,
        adjusted,
        alpha,
        passed,
        fit_summary(per_replication, s.num_draws),
        time.perf_counter() - start + fit.earlier_seconds,
        fit.earlier_seconds,
        np.asarray(truth),
        thinned,
        per_replication,
        rank_rng,
        zoo.describe_inference(inference),
        KeptDraws(
            {k: np.asarray(truth_params[k]) for k in fitted},
            {k: thin(np.asarray(v), s.num_draws) for k, v in fit.samples.items() if k in fitted},
            jax.tree.map(np.asarray, y),
            x,
        ),
        getattr(fit, "leapfrog_steps", None),
    )


def rank_quantities(result: SBCResult, quantities) -> SBCResult:
    """``result`` with more test quantities ranked from its kept draws, without refitting.

    Each ``fn(params, inputs, data) -> scalar`` of ``quantities`` is evaluated on every truth
    and every kept (thinned) draw; its ranks are those a run that had the quantity from the start
    gives (same fit, same thinned draws; ties, which only a discrete quantity has, broken at
    random), appended after the result's own columns, and the verdict is recomputed over all of
    them (Holm).

    Parameters
    ----------
    result : SBCResult
        A result of :func:`run_sbc` (or :func:`load_result`), which keeps its draws.
    quantities : mapping
        name -> fn(params, inputs, data), params a site -> value dict of one parameter point.

    Returns
    -------
    SBCResult
        The result with the new quantities' ranks, truths, draws and p-values.
    """
    if result.kept is None:
        raise ValueError(
            "result keeps no draws: rank_quantities needs a result of run_sbc or load_result"
        )
    quantities = dict(quantities)
    clash = sorted(set(quantities) & set(result.quantities))
    if not quantities or clash:
        raise ValueError(
            f"quantities must name new quantities; got {sorted(quantities) or 'none'}"
            + (f", {', '.join(map(repr, clash))} already ranked" if clash else "")
        )
    kept = result.kept
    first = {k: v[0] for k, v in kept.truth.items()}
    _check_derived(quantities, first, kept.x, jax.tree.map(lambda a: a[0], kept.data))

    def values(params, data):
        return derived_values(quantities, params, kept.x, data)

    truth = np.asarray(jax.jit(jax.vmap(values))(kept.truth, kept.data))
    draws = np.asarray(jax.jit(jax.vmap(jax.vmap(values, (0, None))))(kept.draws, kept.data))
    _check_finite_quantities(truth, list(quantities), "simulated truths")
    _check_finite_quantities(draws, list(quantities), "posterior draws")
    rng = (
        copy.deepcopy(result.rank_rng) if result.rank_rng is not None else np.random.default_rng(0)
    )
    ranks = np.concatenate([result.ranks, ranks_of(truth, draws, rng)], axis=1)
    pvalues, adjusted, passed = verdict(ranks, result.num_draws, result.alpha, rng)
    return result._replace(
        quantities=[*result.quantities, *quantities],
        ranks=ranks,
        pvalues=pvalues,
        adjusted=adjusted,
        passed=passed,
        truth=np.concatenate([result.truth, truth], axis=1),
        thinned=np.concatenate([result.thinned, draws], axis=2),
    )


def _flat(prefix: str, tree) -> dict[str, np.ndarray]:
    """A dict of arrays (or one array, or None) as ``prefix`` or ``prefix/key`` entries."""
    if tree is None:
        return {}
    if isinstance(tree, dict):
        return {f"{prefix}/{k}": np.asarray(v) for k, v in tree.items()}
    return {prefix: np.asarray(tree)}


def _unflat(prefix: str, stored) -> Any:
    if prefix in stored:
        return stored[prefix]
    entries = {k.split("/", 1)[1]: stored[k] for k in stored if k.startswith(prefix + "/")}
    return entries or None


def save_result(result: SBCResult, path) -> None:
    """Write what :func:`load_result` and :func:`rank_quantities` need to ``path`` (``.npz``):
    the quantities, ranks, truths and thinned draws of every quantity, the kept site draws,
    truths, data and inputs, and the rank tests' generator."""
    import json

    arrays = {
        "quantities": np.asarray(result.quantities),
        "ranks": result.ranks,
        "truth": result.truth,
        "thinned_draws": result.thinned,
        "num_draws": np.asarray(result.num_draws),
        "alpha": np.asarray(result.alpha),
        "model": np.asarray(result.model),
    }
    if result.rank_rng is not None:
        arrays["rank_rng"] = np.asarray(json.dumps(result.rank_rng.bit_generator.state))
    if result.kept is not None:
        kept = result.kept
        arrays |= _flat("site_truth", kept.truth) | _flat("site_draws", kept.draws)
        arrays |= _flat("data", kept.data) | _flat("x", kept.x)
    np.savez_compressed(path, **arrays)


def load_result(path) -> SBCResult:
    """An :class:`SBCResult` read back from :func:`save_result`'s file (``regmaster sbc --json
    PATH`` writes one beside the record, ``PATH.draws.npz``): its ranks, recomputed p-values
    and kept draws, ready for :func:`rank_quantities`. Fit health and timing are not kept."""
    import json

    loaded = np.load(path)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("an .npy array, not an .npz archive")
    with loaded as stored:
        stored = dict(stored)
    _check_stored(stored)
    rng = None
    if "rank_rng" in stored:
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(stored["rank_rng"]))
    kept = None
    if any(k.startswith("site_draws/") for k in stored):
        kept = KeptDraws(
            _unflat("site_truth", stored),
            _unflat("site_draws", stored),
            _unflat("data", stored),
            _unflat("x", stored),
        )
    return result_from_ranks(
        str(stored["model"]),
        [str(q) for q in stored["quantities"]],
        stored["ranks"],
        int(stored["num_draws"]),
        float(stored["alpha"]),
        rng,
        truth=stored["truth"],
        thinned=stored["thinned_draws"],
        kept=kept,
    )


def _check_stored(stored: dict[str, np.ndarray]) -> None:
    """Refuse a draws file whose arrays disagree: ranks (N, Q) in 0..L, one name per quantity,
    truths (N, Q), thinned draws (N, L, Q), a level in (0, 1)."""
    ranks, names = np.asarray(stored["ranks"]), np.asarray(stored["quantities"])
    num_draws = int(stored["num_draws"])
    check_probability("alpha", float(stored["alpha"]))
    if ranks.ndim != 2 or ranks.shape[0] < 2 or names.shape != (ranks.shape[1],):
        raise ValueError(
            f"ranks shaped {ranks.shape} for {names.size} quantity names: (N >= 2, Q) expected"
        )
    n, q = ranks.shape
    if num_draws < 1 or ranks.min() < 0 or ranks.max() > num_draws:
        raise ValueError(f"ranks outside 0..num_draws = {num_draws}")
    for key, shape in (("truth", (n, q)), ("thinned_draws", (n, num_draws, q))):
        if np.shape(stored[key]) != shape:
            raise ValueError(f"{key} shaped {np.shape(stored[key])}, {shape} expected")
    for key, value in stored.items():  # the kept sites and data: one row per replication
        site = key.partition("/")[2]
        expected = {
            "site_truth": (n,),
            "data": (n,),
            "site_draws": (n, num_draws, *np.shape(stored.get(f"site_truth/{site}", ()))[1:]),
        }.get(key.partition("/")[0])
        if expected is not None and np.shape(value)[: len(expected)] != expected:
            raise ValueError(f"{key} shaped {np.shape(value)}, {expected} + ... expected")


def result_from_ranks(
    model: str, quantities, ranks, num_draws: int, alpha: float, rng=None, **fields
) -> SBCResult:
    """An :class:`SBCResult` from recorded ranks: the verdict recomputed (the rank tests'
    generator ``rng`` as the run left it, else a fixed one), no fit health; ``fields`` are the
    result's other fields (``truth``, ``thinned``, ``kept``, ``inference``)."""
    tests_rng = copy.deepcopy(rng) if rng is not None else np.random.default_rng(0)
    pvalues, adjusted, passed = verdict(ranks, num_draws, alpha, tests_rng)
    return SBCResult(
        model,
        list(quantities),
        np.asarray(ranks),
        num_draws,
        pvalues,
        adjusted,
        alpha,
        passed,
        {},
        0.0,
        rank_rng=rng,
        **fields,
    )


def _names(truth_params, fitted, settings, num_quantities: int) -> list[str]:
    """The test quantities' names; the probed site's size read off the truths' quantities."""
    one = {k: v[0] for k, v in truth_params.items() if k in fitted}
    derived = tuple(settings.quantities or ())
    # components, loglik and the derived quantities; the probed site has the rest
    ranked = len(quantity_names(one, parameters=settings.parameters, derived=derived))
    return quantity_names(
        one,
        parameters=settings.parameters,
        probe_x=settings.probe_x,
        probe_size=num_quantities - ranked,
        probe_site=settings.probe_site,
        derived=derived,
    )


def _check_derived(quantities, params, x, y) -> None:
    """Refuse, before any fit, a quantity of the settings that fails on the first truth or
    does not return a scalar; the message names it."""
    for name, fn in (quantities or {}).items():
        try:
            value = fn(params, x, y)
        except Exception as error:  # the user's function may raise anything
            raise ValueError(
                f"quantities[{name!r}] fails on a parameter point (sites "
                f"{', '.join(sorted(params))}): {type(error).__name__}: {error}"
            ) from None
        if not isinstance(value, (int, float, np.number, np.ndarray, jax.Array)) or not (
            np.issubdtype(np.asarray(value).dtype, np.number)
        ):
            raise ValueError(f"quantities[{name!r}] must return a number, got {value!r}")
        if jnp.size(value) != 1:
            raise ValueError(
                f"quantities[{name!r}] must return a scalar, got shape {jnp.shape(value)}"
            )
        try:  # every quantity runs vmapped and compiled: it must trace
            jax.eval_shape(lambda p, d, fn=fn: fn(p, x, d), params, y)
        except Exception as error:  # the user's function may raise anything under tracing
            raise ValueError(
                f"quantities[{name!r}] fails under JAX tracing ({type(error).__name__}): write "
                "it with jax.numpy, without float(), bool() or NumPy on its arguments"
            ) from None


def _check_quantities(
    truth_params, fitted, parameters, inference_model, x, probe_x, probe_site, model_kwargs
) -> None:
    """Refuse, before any fit, quantities the run cannot compute: parameters that are no latent
    site of both models, a probe site the inference model lacks at ``probe_x``."""
    missing = sorted(set(fitted) - set(truth_params))
    if missing:
        raise ValueError(
            f"inference_model samples {', '.join(map(repr, missing))}, which the generating "
            f"model does not; its latent sites are {', '.join(sorted(truth_params))}"
        )
    unknown = sorted(set(parameters or ()) - set(fitted))
    if unknown:
        raise ValueError(
            f"parameters names no latent sample site: {', '.join(map(repr, unknown))}; "
            f"the model's are {', '.join(fitted)}"
        )
    if probe_x is None:
        return
    name = _model_name(inference_model)
    try:
        tr = trace(inference_model, probe_x, None, **model_kwargs)
    except Exception as error:
        raise ValueError(
            f"probe_x: model {name} fails on probe inputs of shape {describe(probe_x)}: "
            f"{type(error).__name__}: {error}"
        ) from None
    if probe_site not in tr:
        sites = [k for k, site in tr.items() if site["type"] in ("sample", "deterministic")]
        raise ValueError(
            f"probe_site must name a site of model {name} to rank at probe_x; got "
            f"{probe_site!r}, its sites are {', '.join(sites) or 'none'} (probe_x=None ranks "
            "no probe)"
        )


def replication_health(fit, quantity_draws: np.ndarray) -> dict[str, np.ndarray]:
    """Each replication's health figures, leading axis N: the inference's own (a NUTS fit's
    transitions: :meth:`regmaster.engine.BatchedFit.transition_health`) and the bulk ESS and
    R-hat of every test quantity.

    ``quantity_draws`` is (N, chain, draw, Q).
    """
    draws = np.moveaxis(quantity_draws, (1, 2), (0, 1))  # (chain, draw, N, Q)
    own = getattr(fit, "transition_health", None)
    health = dict(own() if own is not None else {})
    if getattr(fit, "independent_draws", False):
        # A guide's draws: no autocorrelation for an ESS to measure, but a point estimate (or a
        # degenerate Laplace approximation) draws one value over and over.
        health["point_quantities"] = point_quantities(quantity_draws)
        return health
    health["ess_bulk"] = diagnostics.ess_bulk(draws)
    if quantity_draws.shape[1] >= 2:
        health["rhat"] = diagnostics.rhat(draws)
    return health


def point_quantities(quantity_draws: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Per replication, how many test quantities have draws with no spread: max - min <=
    ``rtol`` * max(1, |median|). ``quantity_draws`` is (N, chain, draw, Q); returns (N,)."""
    pooled = quantity_draws.reshape(quantity_draws.shape[0], -1, quantity_draws.shape[-1])
    scale = np.maximum(1.0, np.abs(np.median(pooled, axis=1)))
    return np.sum(np.ptp(pooled, axis=1) <= rtol * scale, axis=1)


def fit_summary(health: dict[str, np.ndarray], num_draws: int) -> dict[str, Any]:
    """Divergences, saturated trees, acceptance, ESS and R-hat over the replications of
    :func:`replication_health`. ESS below ``num_draws`` means the thinned draws are not
    near-independent for that replication and quantity."""
    summary: dict[str, Any] = {}
    if "diverging" in health:  # a NUTS fit's transitions
        summary |= {
            "replications_with_divergences": int(np.sum(health["diverging"].any(axis=(1, 2)))),
            "divergent_transitions": int(health["diverging"].sum()),
        }
        if "saturated" in health:  # NUTS: trajectories at the tree-depth limit
            summary["saturated_transitions"] = int(health["saturated"].sum())
        summary["mean_accept_prob"] = float(health["accept_prob"].mean())
    if "grad_norm" in health:  # an optimisation's end
        summary |= {
            "max_final_grad_norm": float(np.max(health["grad_norm"])),
            "max_final_loss_change": float(np.max(np.abs(health["loss_change"]))),
        }
    if "point_quantities" in health:
        summary["replications_with_point_draws"] = int(np.sum(health["point_quantities"] > 0))
    if "ess_bulk" in health:
        ess = health["ess_bulk"]
        summary |= {
            "min_ess_bulk": float(ess.min()),
            "median_ess_bulk": float(np.median(ess)),
            "share_ess_below_num_draws": float(np.mean(ess < num_draws)),
        }
    if "rhat" in health:
        rhat = health["rhat"]
        summary["max_rhat"] = float(np.nanmax(rhat))
        summary["share_rhat_above_1_01"] = float(np.mean(rhat > RHAT.value))
    return summary
