"""Fits shared by the validation checks, computed once per run.

Several checks read the same fit (R-hat, ESS, divergences, E-BFMI and tree depth of one run; the
R^2 gates and the coverage check of one notebook fit; the two claims of one SBC run), so a fit is
memoised in the process and shared by the xdist workers of a run through a directory
(:func:`shared`). Its seed comes from its name: the same numbers alone, in a full run, on any
worker.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from regmaster.convergence import MultiChainRun, multi_chain_run
from regmaster.data import NOTEBOOK_SEED, make_sinc
from regmaster.experiment import FitOutcome, fit_one

try:
    import fcntl
except ImportError:  # not POSIX: fits are shared within a process only
    fcntl = None

T = TypeVar("T")

_MEMO: dict[str, Any] = {}


def shared(key: str, compute: Callable[[], T], cache_dir: str | os.PathLike | None = None) -> T:
    """``compute()`` once per ``key``: memoised in the process and, with ``cache_dir``, across the
    processes sharing that directory (the xdist workers of one run).

    The first process to ask holds an exclusive lock on ``<key>.lock`` while it computes and
    pickles the result; the others block on the lock, then load it. Without ``cache_dir`` or
    ``fcntl``: per process only.
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


def convergence_run(
    name: str, seed: int, backend: str, cache_dir: str | os.PathLike | None = None
) -> MultiChainRun:
    """The convergence run of registry entry ``name`` on the notebook data, computed once.

    ``backend`` is part of the key only: the caller runs under the device it names.
    """
    key = f"convergence-{name}-{seed}-{backend}"
    return shared(key, lambda: multi_chain_run(name, seed), cache_dir)


def notebook_fit(
    name: str, seed: int, backend: str, cache_dir: str | os.PathLike | None = None
) -> FitOutcome:
    """``fit_one`` with the notebook's settings on ``make_sinc(seed)``, computed once.

    ``backend`` is part of the key only: the caller runs under the device it names.
    """
    data = make_sinc() if seed == NOTEBOOK_SEED else make_sinc(seed)
    return shared(f"notebook-{name}-{seed}-{backend}", lambda: fit_one(name, data), cache_dir)
