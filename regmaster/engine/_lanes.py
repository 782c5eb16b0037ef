"""Lane layout: how many lanes are vmapped per step, and lanes padded, reordered and put back.

A lane is one (replication, chain) pair. Lanes run ``per_step`` at a time, vmapped, under one
``lax.map``, split evenly over several devices with ``shard_map`` (:func:`over_lanes`); between
segments, lanes of similar cost are moved into the same step (:func:`group_by_cost`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# A vmapped NUTS transition waits for its longest trajectory: 40 lanes per step was fastest on a
# CPU, all lanes in one step on a GPU (benchmarks/README.md#lanes-per-step).
LANES_PER_STEP = 40


def default_driver(platform: str) -> str:
    """The NUTS driver when none is asked for: interleaved. On a CPU it measured as fast as
    lockstep on linear and 1.1-1.7x faster on every other model timed
    (benchmarks/README.md#interleaved-nuts); on a GPU it is unmeasured and the same default."""
    return "interleaved"


def default_lanes_per_step(platform: str, lanes: int) -> int:
    """Lanes vmapped per step when none is asked for: :data:`LANES_PER_STEP` on ``"cpu"``, all
    ``lanes`` on an accelerator (measured in benchmarks/README.md)."""
    return min(LANES_PER_STEP, lanes) if platform == "cpu" else lanes


def _current_platform(devices: list) -> str:
    """The platform the program will run on: the first given device, else the default device
    (``jax.default_device`` included), read off a host value put there (nothing compiles)."""
    if devices:
        return devices[0].platform
    return next(iter(jax.device_put(np.zeros(())).devices())).platform


def over_lanes(fn, per_step: int, devices: list):
    """``fn`` on every lane (leading axis) of its arguments: ``per_step`` lanes vmapped at a time
    under one ``lax.map``, the lanes split evenly over ``devices`` when there are several
    (``shard_map``). The lane count must be a multiple of ``per_step * len(devices)``."""

    def run_share(*lanes):
        return jax.lax.map(lambda lane: fn(*lane), lanes, batch_size=per_step)

    return over_devices(run_share, devices)


def over_devices(fn, devices: list):
    """``fn`` on each device's share of every argument's leading axis (``shard_map``); ``fn``
    itself on one device."""
    if len(devices) <= 1:
        return fn
    mesh = jax.sharding.Mesh(np.array(devices), ("lanes",))
    spec = jax.sharding.PartitionSpec("lanes")
    return jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


def group_by_cost(cost: np.ndarray, num_devices: int = 1) -> np.ndarray:
    """A new order of the lanes (positions to take) that puts lanes of similar ``cost`` (their
    mean leapfrog steps per transition) in the same vmapped step.

    A vmapped NUTS transition lasts as long as its longest trajectory; sorted lanes wait less.
    Ranks are dealt to the devices in turn, so each device's share costs about the same.
    """
    ranked = np.argsort(cost, kind="stable")
    return np.concatenate([ranked[d::num_devices] for d in range(num_devices)])


def _in_lane_order(tree, at_lane: np.ndarray):
    """Host arrays back in lane order (``at_lane[i]``: the position of lane ``i``)."""
    return jax.tree.map(lambda a: a[at_lane], tree)


@jax.jit
def _take(tree, positions):
    """The lanes at ``positions`` (on the device, compiled)."""
    return jax.tree.map(lambda a: a[positions], tree)


def _pad_lanes(tree, multiple: int):
    """Pad the leading axis to a multiple of ``multiple`` with copies of the last lane."""

    def pad(a):
        extra = -(-a.shape[0] // multiple) * multiple - a.shape[0]
        return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)]) if extra else a

    return jax.tree.map(pad, tree)
