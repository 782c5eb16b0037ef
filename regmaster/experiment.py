"""The notebook's experiment: fit each registered model with its notebook settings and score it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import ExitStack
from multiprocessing import get_context
from typing import NamedTuple

import numpy as np

from .data import NOTEBOOK_SEED, Dataset, make_sinc
from .inference import predict, predictive_interval, r2, run_map, run_nuts
from .runtime import configure
from .zoo import ModelSpec, get_spec, notebook_spec


class FitOutcome(NamedTuple):
    """One model's fit on the sinc data: its score against the notebook's threshold, and bands.

    Attributes
    ----------
    name : str
        The registry entry.
    title : str
        Its display title.
    inference : str
        ``"NUTS"`` or ``"SVI+Delta"``.
    r2 : float
        R^2 of the predictive mean on the noise-free test grid.
    threshold : float
        The notebook's R^2 threshold.
    direction : {">", "<"}
        How ``r2`` must stand to ``threshold``.
    passed : bool
        Whether it does.
    seconds : float
        Wall time of fit, prediction and scoring.
    mean : ndarray, shape (m,)
        Mean of the predictive draws on the test grid.
    lower, upper : ndarray, shape (m,)
        The equal-tailed 95% predictive interval there.
    """

    name: str
    title: str
    inference: str
    r2: float
    threshold: float
    direction: str
    passed: bool
    seconds: float
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def as_row(self) -> dict:
        """The scalar fields, for a table or JSON.

        Returns
        -------
        dict
            ``name``, ``inference``, ``r2``, ``threshold``, ``direction``, ``passed``, ``seconds``.
        """
        return {
            "name": self.name,
            "inference": self.inference,
            "r2": self.r2,
            "threshold": self.threshold,
            "direction": self.direction,
            "passed": self.passed,
            "seconds": self.seconds,
        }


def predictive_draws(spec: ModelSpec, data: Dataset):
    """Fit ``spec`` on ``data.x_train`` with the notebook's settings; draws of y at ``x_test``.

    NUTS (:func:`~regmaster.inference.run_nuts`) or MAP (:func:`~regmaster.inference.run_map`) as
    the entry says, with the keys its :class:`~regmaster.zoo.Notebook` names.

    Parameters
    ----------
    spec : ModelSpec
        An entry with notebook settings.
    data : Dataset
        The data and its model keys.

    Returns
    -------
    array, shape (draws, m)
        Posterior-predictive draws of ``obs`` on ``data.x_test``.
    """
    keys, nb = data.model_keys, spec.notebook
    kwargs = spec.kwargs(keys)
    if spec.inference == "nuts":
        mcmc = run_nuts(
            spec.model,
            keys[nb.fit_key],
            data.x_train,
            data.y_train,
            num_warmup=nb.num_warmup,
            num_samples=nb.num_samples,
            target_accept_prob=spec.target_accept_prob,
            max_tree_depth=spec.max_tree_depth,
            **kwargs,
        )
        return predict(
            spec.model, keys[nb.predict_key], data.x_test, samples=mcmc.get_samples(), **kwargs
        )
    fit = run_map(
        spec.model,
        keys[nb.fit_key],
        data.x_train,
        data.y_train,
        num_steps=nb.svi_steps,
        learning_rate=nb.learning_rate,
        **kwargs,
    )
    return predict(
        spec.model,
        keys[nb.predict_key],
        data.x_test,
        map_fit=fit,
        num_samples=nb.num_predictive,
        **kwargs,
    )


def fit_one(name: str, data: Dataset | None = None) -> FitOutcome:
    """Fit and score one model as the notebook does (R^2 of the predictive mean on the grid).

    Parameters
    ----------
    name : str
        A registry entry with notebook settings (``names(fittable=True)``).
    data : Dataset, optional
        Default :func:`~regmaster.data.make_sinc` with its defaults (the notebook's data).

    Returns
    -------
    FitOutcome
        Score, verdict against the notebook's threshold, timing, mean and 95% band.
    """
    spec = notebook_spec(name)
    data = make_sinc() if data is None else data
    start = time.perf_counter()
    draws = predictive_draws(spec, data)
    # NumPy: XLA splits a reduction by the number of CPUs it sees, which moves the last bit.
    mean = np.asarray(draws).mean(0)
    lower, upper = predictive_interval(draws)
    score = r2(data.y_test, mean)
    seconds = time.perf_counter() - start
    return FitOutcome(
        spec.name,
        spec.title,
        spec.inference_label,
        score,
        spec.notebook.r2_threshold,
        spec.notebook.r2_direction,
        spec.notebook.passes(score),
        seconds,
        np.asarray(mean),
        np.asarray(lower),
        np.asarray(upper),
    )


def _fit_in_worker(name: str, seed: int, cache_dir: str | None, data_kwargs: dict) -> FitOutcome:
    configure(cache_dir=cache_dir)
    return fit_one(name, make_sinc(seed, **data_kwargs))


def fit_many(
    names: Sequence[str],
    *,
    seed: int = NOTEBOOK_SEED,
    jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    on_done: Callable[[FitOutcome], None] | None = None,
    **data_kwargs,
) -> list[FitOutcome]:
    """Fit several models, in ``jobs`` processes when ``jobs > 1``; results in ``names`` order.

    Each model uses only its own keys, so the numbers do not depend on ``jobs`` or on the order.
    ``data_kwargs`` (``n_train``, ``noise``, ...) go to :func:`make_sinc`.

    Parameters
    ----------
    names : sequence of str
        Registry entries with notebook settings.
    seed : int
        Seed of the data set (:func:`make_sinc`).
    jobs : int
        Worker processes; each is pinned to a CPU of its own when there are enough.
    cache_dir : path, optional
        JAX's persistent compilation cache.
    on_done : callable, optional
        Called with each :class:`FitOutcome` as it finishes.
    **data_kwargs
        Passed to :func:`make_sinc`.

    Returns
    -------
    list of FitOutcome
        One per name, in ``names`` order.
    """
    for name in names:
        notebook_spec(name)
    make_sinc(seed, **data_kwargs)  # bad data arguments fail here, before any worker starts
    cache = None if cache_dir is None else str(cache_dir)
    outcomes: dict[str, FitOutcome] = {}
    for outcome in _run(names, seed, jobs, cache, data_kwargs):
        outcomes[outcome.name] = outcome
        if on_done is not None:
            on_done(outcome)
    return [outcomes[name] for name in names]


def _run(names, seed, jobs, cache, data_kwargs) -> Iterator[FitOutcome]:
    # The slowest first keeps the workers evenly loaded.
    ordered = sorted(names, key=lambda n: get_spec(n).notebook.fit_order)
    if jobs <= 1 or len(names) == 1:
        configure(cache_dir=cache)
        data = make_sinc(seed, **data_kwargs)
        for name in ordered:
            yield fit_one(name, data)
        return
    pending = list(ordered)
    with ExitStack() as stack:
        workers = [stack.enter_context(pool) for pool in _single_worker_pools(jobs)]

        running: dict = {}

        def start_next(worker: ProcessPoolExecutor) -> None:
            future = worker.submit(_fit_in_worker, pending.pop(0), seed, cache, data_kwargs)
            running[future] = worker

        for worker in workers[: len(pending)]:
            start_next(worker)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                worker = running.pop(future)
                if pending:
                    start_next(worker)
                yield future.result()


def _single_worker_pools(jobs: int) -> list[ProcessPoolExecutor]:
    """``jobs`` one-process pools, each pinned to a CPU of its own when there are enough CPUs.

    The CPU is set before the worker imports JAX, which then starts with one core in view.
    Unpinned, two workers on two cores fit 1.5x slower (deep_rff 16.7 s against 11.2 s beside bnn,
    measured side by side); pinning after JAX is imported does not help.
    """
    context = get_context("spawn")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if jobs > len(cpus):
        return [ProcessPoolExecutor(1, mp_context=context) for _ in range(jobs)]
    return [
        ProcessPoolExecutor(
            1, mp_context=context, initializer=os.sched_setaffinity, initargs=(0, {cpu})
        )
        for cpu in cpus[:jobs]
    ]
