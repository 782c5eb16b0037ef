"""Batched NUTS: every (replication, chain) lane of a calibration run in one compiled program.

Two drivers run NumPyro's NUTS (``numpyro.infer.hmc.hmc``) on the lanes. Interleaved (the
default): a fixed number of slots per device, each running one lane at a time from a queue, all
advanced by one leapfrog step per tick of one compiled loop, so no lane waits for another's
trajectory. Lockstep: one chain's warmup and sampling in one ``lax.scan``, ``vmap``-ed over lanes a
few dozen at a time under one ``lax.map``, each transition waiting for its group's longest
trajectory (kept for HMC's fixed-length trajectories and by request). Either splits the lanes
over several devices with ``shard_map``. Every lane has its own initial point, key and warmup
adaptation.

Modules, bottom up: ``_kernel`` (NumPyro's NUTS kernel as one chain's pure functions, initial
points), ``_walk`` (NumPyro's NUTS transition as a per-lane state machine), ``_interleaved`` (slots,
queue and ticks), ``_lanes`` (lockstep layout: lanes per step, padding, regrouping),
``_placement`` (lanes over the devices of several processes), ``_checkpoint`` (saved segments),
``_driver`` (:func:`fit_batched`).
"""

from __future__ import annotations

from ._checkpoint import clear_checkpoint as clear_checkpoint
from ._checkpoint import has_checkpoint as has_checkpoint
from ._driver import SEGMENTS as SEGMENTS
from ._driver import BatchedFit as BatchedFit
from ._driver import BatchedHMC as BatchedHMC
from ._driver import BatchedNUTS as BatchedNUTS
from ._driver import Progress as Progress
from ._driver import fit_batched as fit_batched
from ._kernel import ChainRunner as ChainRunner
from ._kernel import Draws as Draws
from ._kernel import Transitions as Transitions
from ._kernel import chain_runner as chain_runner
from ._kernel import host_rng as host_rng
from ._kernel import latent_transforms as latent_transforms
from ._lanes import LANES_PER_STEP as LANES_PER_STEP
from ._lanes import default_driver as default_driver
from ._lanes import default_lanes_per_step as default_lanes_per_step
from ._lanes import group_by_cost as group_by_cost
from ._lanes import over_lanes as over_lanes
from ._placement import spans_processes as spans_processes

# Checkpoints pickle Transitions: by this package's name, so files do not depend on the layout.
Transitions.__module__ = __name__
