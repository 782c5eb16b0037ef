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


DRIVERS = ("interleaved", "lockstep")
"""How NUTS lanes share a vmapped program (:attr:`Execution.driver`)."""


@dataclass(frozen=True)
class Execution:
    """Where and how a batched fit executes; none of it changes a draw for a given layout.

    Attributes
    ----------
    devices : sequence of jax devices, optional
        Split the lanes over these (several GPUs; the devices of several processes under
        ``jax.distributed``). Default: the default device.
    driver : {"interleaved", "lockstep"}, optional
        How NUTS lanes share a vmapped program: ``"interleaved"``, every lane one leapfrog step
        per tick, none waiting for another's trajectory; ``"lockstep"``, one transition per step,
        each waiting for its group's longest trajectory. Default: the faster as measured for the
        platform (:func:`regmaster.engine.default_driver`). HMC always runs in lockstep.
    lanes_per_step : int, optional
        Lanes vmapped together: per step in lockstep, slots per device interleaved (default:
        :func:`regmaster.engine.default_lanes_per_step`).
    segment_steps : int, optional
        Iterations per segment: progress, Ctrl-C and checkpoints between segments (default: the
        run in about 40 segments).
    regroup : bool
        Lockstep: move lanes of similar trajectory length into the same vmapped step between
        segments (interleaved slots wait for nobody: nothing to regroup).
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
    driver: str | None = None

    def __post_init__(self):
        if self.driver is not None and self.driver not in DRIVERS:
            raise ValueError(f"driver must be one of {DRIVERS} or None, got {self.driver!r}")
        if self.devices is not None and len(self.devices) == 0:
            raise ValueError("devices must name at least one device, or be None for the default")
        if self.on_progress is not None and not callable(self.on_progress):
            raise ValueError(f"on_progress must be callable, got {self.on_progress!r}")
        if self.checkpoint is not None and os.path.isfile(self.checkpoint):
            raise ValueError(f"checkpoint must be a directory, got the file {self.checkpoint!r}")
