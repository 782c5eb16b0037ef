"""Lanes placed over the devices of several processes (a ``jax.distributed`` run) and back.

With devices of one process these are no-ops or plain copies to the host; with devices of
several (:mod:`regmaster.distributed`), every process holds the whole host value of every lane,
gives each of its devices that device's share, and gathers every lane's results back.
"""

from __future__ import annotations

import jax
import numpy as np


def spans_processes(devices) -> bool:
    """Whether ``devices`` include another process's (a run under ``jax.distributed``)."""
    return any(d.process_index != jax.process_index() for d in devices or ())


def _place(tree, devices: list):
    """Host lanes as global arrays split over ``devices`` along the lane axis; every process
    holds the whole host value and gives each of its devices that device's share."""
    if not spans_processes(devices):
        return tree
    mesh = jax.sharding.Mesh(np.array(devices), ("lanes",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("lanes"))

    def place(a):
        host = np.asarray(a)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(place, tree)


def _to_host(tree, devices: list):
    """Every lane's values in this process: gathered from every process's devices when the
    lanes are split over several processes (each process calls this in the same order)."""
    if spans_processes(devices):
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)


def _check_same_progress(segments: int, devices: list, checkpoint) -> None:
    """Refuse a run whose processes would resume from different segments (a checkpoint
    directory that not every process sees): their collectives would never meet."""
    if not spans_processes(devices):
        return
    from jax.experimental import multihost_utils

    seen = np.asarray(multihost_utils.process_allgather(np.int64(segments))).ravel()
    if len(set(seen.tolist())) > 1:
        raise ValueError(
            f"checkpoint {checkpoint}: the processes would resume from segments "
            f"{seen.tolist()}; every process must see the same checkpoint directory"
        )
