"""Plain descriptions of a run, each in its own value: how long it samples, and where and how it
executes. The inference's own settings (a kernel's target acceptance, a guide) live with the
inference (:class:`regmaster.engine.BatchedNUTS`), the model's keyword arguments with the model
(:class:`regmaster.ModelSpec`); NumPyro separates ``NUTS(...)``, ``MCMC(num_warmup, ...)`` and
``run(*args)`` the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .checks import check_positive_int


@dataclass(frozen=True)
class RunLengths:
    """How long each chain runs.

    Attributes
    ----------
    num_warmup : int
        Warmup (adaptation) iterations per chain, discarded.
    num_samples : int
        Post-warmup draws per chain.
    num_chains : int
        Chains per fit (per SBC replication).
    """

    num_warmup: int = 500
    num_samples: int = 1000
    num_chains: int = 4

    def __post_init__(self):
        check_positive_int("num_warmup", self.num_warmup, minimum=0)
        check_positive_int("num_samples", self.num_samples)
        check_positive_int("num_chains", self.num_chains)

    @property
    def total(self) -> int:
        """Iterations per chain, warmup included."""
        return self.num_warmup + self.num_samples


@dataclass(frozen=True)
class Execution:
    """Where and how a batched fit executes; none of it changes a draw for a given layout.

    Attributes
    ----------
    devices : sequence of jax devices, optional
        Split the lanes over these (several GPUs; the devices of several processes under
        ``jax.distributed``). Default: the default device.
    lanes_per_step : int, optional
        Lanes vmapped together (default: 40 on a CPU, all on an accelerator).
    segment_steps : int, optional
        Iterations per segment: progress, Ctrl-C and checkpoints between segments (default: the
        run in about 40 segments).
    regroup : bool
        Move lanes of similar trajectory length into the same vmapped step between segments.
    checkpoint : path, optional
        A directory that keeps every finished segment; a run with the same arguments resumes there.
    on_progress : callable, optional
        Called with a :class:`regmaster.engine.Progress` after each segment.
    """

    devices: Sequence[Any] | None = None
    lanes_per_step: int | None = None
    segment_steps: int | None = None
    regroup: bool = True
    checkpoint: str | os.PathLike | None = None
    on_progress: Callable[[Any], None] | None = None
