"""Fits shared by the validation checks: NUTS at validation settings, and the notebook's fits.

Several checks read the same fit (R-hat, ESS, divergences, E-BFMI and tree depth of one run; the
R^2 gates and the coverage check of one notebook fit), so fits are cached per process, keyed by
what determines them, and shared by the xdist workers of a run through a directory
(:func:`shared`). A shared fit's seed comes from its name (:func:`regmaster.seeds.seed_from_name`),
so it draws the same numbers alone, in the full run and under any xdist worker.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.infer import log_likelihood

from .data import NOTEBOOK_SEED, Dataset, make_sinc
from .experiment import FitOutcome, fit_one
from .inference import run_nuts
from .zoo import ModelSpec, get_spec

try:
    import fcntl
except ImportError:  # not POSIX: fits are shared within a process only
    fcntl = None

T = TypeVar("T")

# Fixed inputs at which f is compared across chains (the invariant quantities of the neural models).
INVARIANT_POINTS = (-7.5, -2.5, 0.0, 2.5, 7.5)

# Models whose weights are not identified (hidden-unit permutations and sign flips in the MLP,
# exchangeable inner units in the deep RFF model): only invariant quantities are checked.
NON_IDENTIFIED = frozenset({"bnn", "deep_rff"})


@dataclass(frozen=True)
class NutsSettings:
    """NUTS settings of one validation case (>= 4 chains: R-hat needs several)."""

    num_warmup: int = 500
    num_samples: int = 1000
    num_chains: int = 4
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10

    @property
    def saturated_steps(self) -> int:
        """Leapfrog steps of a transition that hit the tree-depth limit: 2^depth - 1."""
        return 2**self.max_tree_depth - 1


VALIDATION = NutsSettings()


class ConvergenceCase(NamedTuple):
    """A model and the NUTS settings under which its convergence is checked."""

    name: str
    model: str
    settings: NutsSettings


def convergence_case(name: str, model: str | None = None, **overrides) -> ConvergenceCase:
    return ConvergenceCase(name, model or name, replace(VALIDATION, **overrides))


class NutsRun(NamedTuple):
    """Quantities to diagnose, shaped (chain, draw, ...), and the sampler's per-transition stats."""

    draws: dict[str, np.ndarray]
    diverging: np.ndarray
    num_steps: np.ndarray
    energy: np.ndarray
    settings: NutsSettings
    seconds: float


def f_at(spec: ModelSpec, samples: dict[str, jax.Array], x, data: Dataset) -> jax.Array:
    """The deterministic site f at inputs ``x`` for each posterior draw, shaped (draws, len(x)).

    Substitutes each draw of the latent sites into the model and reads f from its trace, under one
    jitted ``vmap`` (NumPyro's ``Predictive`` loops over the draws: ~20x slower on deep_rff).
    """
    kwargs = spec.kwargs(data.model_keys)
    model = handlers.seed(spec.model, rng_seed=0)

    def one(draw):
        tr = handlers.trace(handlers.substitute(model, data=draw)).get_trace(x, None, **kwargs)
        return tr["f"]["value"]

    return jax.jit(jax.vmap(one))(samples)


def checked_quantities(
    spec: ModelSpec, samples: dict[str, jax.Array], data: Dataset, num_chains: int
) -> dict[str, np.ndarray]:
    """The quantities whose convergence is checked, each shaped (chain, draw, ...).

    Every model: f at :data:`INVARIANT_POINTS` and the log-likelihood sum_i log p(y_i | theta).
    Identified models add every latent sample site; the others add sigma only.
    """
    latent = latent_sites(spec, data)
    samples = {k: samples[k] for k in latent}
    points = jnp.asarray(INVARIANT_POINTS, dtype=data.x_train.dtype)
    f = f_at(spec, samples, points, data)
    kwargs = spec.kwargs(data.model_keys)
    loglik = log_likelihood(spec.model, samples, data.x_train, data.y_train, **kwargs)["obs"]
    out = {"f": f, "loglik": loglik.sum(-1)}
    sites = ["sigma"] if spec.name in NON_IDENTIFIED else latent
    out.update({k: samples[k] for k in sites})
    return {k: np.asarray(v).reshape(num_chains, -1, *np.shape(v)[1:]) for k, v in out.items()}


def latent_sites(spec: ModelSpec, data: Dataset) -> list[str]:
    """Names of the model's unobserved sample sites (deterministic sites excluded)."""
    model = handlers.seed(spec.model, rng_seed=0)
    tr = handlers.trace(model).get_trace(data.x_train, data.y_train, **spec.kwargs(data.model_keys))
    return [k for k, site in tr.items() if site["type"] == "sample" and not site["is_observed"]]


def nuts_run(model: str, settings: NutsSettings, seed: int, data: Dataset | None = None) -> NutsRun:
    """NUTS on ``data`` (default: the notebook's) with ``settings``; chains vectorised."""
    spec = get_spec(model)
    data = make_sinc() if data is None else data
    start = time.perf_counter()
    mcmc = run_nuts(
        spec.model,
        jax.random.PRNGKey(seed),
        data.x_train,
        data.y_train,
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
        target_accept_prob=settings.target_accept_prob,
        max_tree_depth=settings.max_tree_depth,
        **spec.kwargs(data.model_keys),
    )
    extra = mcmc.get_extra_fields(group_by_chain=True)
    draws = checked_quantities(spec, mcmc.get_samples(), data, settings.num_chains)
    return NutsRun(
        draws,
        np.asarray(extra["diverging"]),
        np.asarray(extra["num_steps"]),
        np.asarray(extra["energy"]),
        settings,
        time.perf_counter() - start,
    )


_MEMO: dict[str, Any] = {}


def shared(key: str, compute: Callable[[], T], cache_dir: str | os.PathLike | None = None) -> T:
    """``compute()`` once per ``key``: memoised in the process and, with ``cache_dir``, across the
    processes sharing that directory (pytest-xdist workers of one run).

    The first process to ask holds an exclusive lock on ``<key>.lock`` while it computes and
    pickles the result; the others block on the lock, then load it. (xdist's ``loadgroup`` would
    keep a fit's checks on one worker, but xdist 3.8 does not group under pytest 9: it renames
    ``item._nodeid``, which pytest 9 no longer reads.) Without ``cache_dir`` or ``fcntl``: per
    process only.
    """
    if key in _MEMO:
        return _MEMO[key]
    if cache_dir is None or fcntl is None:
        _MEMO[key] = compute()
        return _MEMO[key]
    directory = Path(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}.pkl"
    with open(directory / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                value = pickle.loads(path.read_bytes())
            else:
                value = compute()
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(value))
                tmp.replace(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _MEMO[key] = value
    return value


def shared_cache_dir(tmp_path_factory) -> Path:
    """A directory shared by the xdist workers of one pytest run (the controller's base temp
    directory; each worker's own is ``popen-gw<N>`` below it), or this process's base temp."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "regmaster-fits"


def convergence_run(
    case: ConvergenceCase, seed: int, backend: str, cache_dir: str | os.PathLike | None = None
) -> NutsRun:
    """The validation run of ``case`` on the notebook data, computed once (see :func:`shared`).

    ``backend`` is part of the key only: the caller runs under the device it names.
    """
    key = f"convergence-{case.name}-{seed}-{backend}"
    return shared(key, lambda: nuts_run(case.model, case.settings, seed), cache_dir)


def notebook_fit(
    name: str, seed: int, backend: str, cache_dir: str | os.PathLike | None = None
) -> FitOutcome:
    """``fit_one`` with the notebook's settings on ``make_sinc(seed)``, computed once.

    ``backend`` is part of the key only: the caller runs under the device it names.
    """
    data = make_sinc() if seed == NOTEBOOK_SEED else make_sinc(seed)
    return shared(f"notebook-{name}-{seed}-{backend}", lambda: fit_one(name, data), cache_dir)
