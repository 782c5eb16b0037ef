"""Interleaved NUTS: every slot takes one leapfrog step per tick, whatever its trajectory.

A run's lanes (one per replication and chain) are jobs in a queue; each device runs a fixed
number of slots, vmapped. A tick advances every slot's :class:`~._walk.Walk` by one leapfrog step
and then, only where a slot needs it, closes a subtree, ends a transition (recording it when past
warmup) or starts the slot's next job. No slot waits for another's trajectory; slots idle only
when the queue is empty. Lockstep work is the sum over transitions of the longest trajectory of a
group; interleaved work approaches the sum of every lane's trajectories divided by the slots
(benchmarks/README.md#interleaved-nuts).

A segment runs ticks until the slots have finished their share of transitions (progress,
checkpoints and Ctrl-C between segments, as in the lockstep driver); which tick a segment ends on
does not change any draw.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import potential_energy

from ..calling import conditioned
from ._kernel import ChainRunner, Transitions
from ._lanes import over_devices
from ._walk import NutsWalker, Walk, where

_INT = jnp.int32


class _Run(NamedTuple):
    """Every slot's walk, data row and job (-1: idle), and per-device counters (shape (1,) per
    device): the queue's next job, ticks, leapfrog steps needed and transitions finished."""

    walk: Walk
    y: Any
    job: jax.Array
    next_job: jax.Array
    ticks: jax.Array
    needed: jax.Array
    finished: jax.Array
    pending: jax.Array  # (slots,) the transition ended, waiting to be finished


class _Records(NamedTuple):
    """A segment's post-warmup transitions, per slot in the order finished: ``count`` of ``C``
    entries used, each naming its job and draw index."""

    transitions: Transitions
    job: jax.Array
    draw: jax.Array
    count: jax.Array


class _Jobs(NamedTuple):
    """A device's queue: initial points, data rows, keys and lane indices (-1: padding)."""

    z0: Any
    y: Any
    keys: jax.Array
    ids: jax.Array


def nuts_walker(model, x, runner: ChainRunner, target_accept_prob, max_tree_depth, model_kwargs):
    """The :class:`~._walk.NutsWalker` of ``runner``'s NUTS kernel (same potential, settings)."""
    model = conditioned(model)

    def potential_fn_gen(*args):
        return partial(potential_energy, model, args, model_kwargs)

    zeros = jax.tree.map(lambda v: jnp.zeros(v.shape, v.dtype), runner.template)
    return NutsWalker(
        potential_fn_gen,
        lambda y: (x, y),
        runner.num_warmup,
        target_accept_prob,
        max_tree_depth,
        ravel_pytree(zeros)[1],
    )


def _select(pred, new, old):
    """Per slot: ``new`` where ``pred`` (shape (slots,)) else ``old``."""
    return jax.vmap(where)(pred, new, old)


def _begun(runner: ChainRunner, walker: NutsWalker, z0, y, key) -> Walk:
    """A job's walk: its chain initialised as NumPyro initialises one (``init_kernel``), its
    first transition begun."""
    return walker.begin(walker.flat(runner.init(z0, y, key)))


def _started(runner: ChainRunner, walker: NutsWalker, jobs: _Jobs, positions):
    """The walks and data rows of the jobs at ``positions`` of the queue."""
    take = partial(jax.tree.map, lambda a: a[positions])
    z0, y, keys = take(jobs.z0), take(jobs.y), jobs.keys[positions]
    return jax.vmap(partial(_begun, runner, walker))(z0, y, keys), y


def start(runner: ChainRunner, walker: NutsWalker, jobs: _Jobs, slots: int) -> _Run:
    """One device's slots given the queue's first ``slots`` jobs."""
    positions = jnp.arange(slots)
    walk, y = _started(runner, walker, jobs, positions)
    one = partial(jnp.full, (1,), dtype=_INT)
    return _Run(
        walk, y, jobs.ids[positions], one(slots), one(0), one(0), one(0), jnp.zeros(slots, bool)
    )


def finishing_batch(slots: int) -> int:
    """Slots whose transitions end that one tick finishes together (the others wait a tick): an
    eighth of the slots, at least 4. Ending and beginning a transition costs two to three leapfrog
    steps of the slots it is computed for, and most ticks end few transitions
    (benchmarks/README.md#interleaved-nuts)."""
    return min(slots, max(4, slots // 8))


def segment(
    runner: ChainRunner,
    walker: NutsWalker,
    jobs: _Jobs,
    run: _Run,
    quota: int,
    capacity: int,
    until=None,
) -> tuple[_Run, _Records]:
    """One device's slots ticked until they have finished ``quota`` transitions, a slot has
    recorded ``capacity`` transitions, the queue is done, or (benchmarks) the tick count is
    ``until``."""
    slots = run.job.shape[0]
    num_jobs = jobs.ids.shape[0]
    total = runner.num_warmup + runner.num_samples
    prototype = jax.tree.map(lambda a: a[0], run.walk)
    size, float_type = prototype.state.z.shape[0], prototype.state.z.dtype
    records = _Records(
        Transitions(
            jnp.zeros((slots, capacity, size), float_type),
            jnp.zeros((slots, capacity), bool),
            jnp.zeros((slots, capacity), prototype.tree.num_proposals.dtype),
            jnp.zeros((slots, capacity), float_type),
            jnp.zeros((slots, capacity), float_type),
        ),
        jnp.full((slots, capacity), -1, _INT),
        jnp.zeros((slots, capacity), _INT),
        jnp.zeros((slots,), _INT),
    )

    batch = finishing_batch(slots)

    def at(rows, tree):
        return jax.tree.map(lambda a: a[rows], tree)

    def put(tree, where_from, values):
        # A select over every slot, not a scatter: XLA's CPU scatter copies the whole array.
        hit, source = where_from
        return _select(hit, at(source, values), tree)

    def put_walk(walk: Walk, where_from, new: Walk) -> Walk:
        # A begun transition's subtree is empty: its arrays and the checkpoints are not read
        # before they are written (_walk.NutsWalker._double), so only its count is put.
        kept = ("subtree", "r_ckpts", "r_sum_ckpts")
        fields = {n: put(getattr(walk, n), where_from, getattr(new, n))
                  for n in Walk._fields if n not in kept}  # fmt: skip
        count = put(walk.subtree.num_proposals, where_from, new.subtree.num_proposals)
        return walk._replace(subtree=walk.subtree._replace(num_proposals=count), **fields)

    def finish_some(run: _Run, records: _Records):
        """Up to ``batch`` of the slots whose transition ended: NumPyro's end of a transition,
        its record, the next transition (or the queue's next job) begun."""
        pending = run.pending
        rows = jnp.nonzero(pending, size=batch, fill_value=slots)[0]  # slots: none, dropped
        real = rows < slots
        taken = jnp.minimum(rows, slots - 1)
        walk = at(taken, run.walk)
        state, item = jax.vmap(walker.finish)(walk)
        before = walk.state.i
        written = jnp.where(real & (before >= runner.num_warmup), rows, slots)
        count = records.count[taken]
        records = _Records(
            jax.tree.map(
                lambda a, v: a.at[written, count].set(v, mode="drop"), records.transitions, item
            ),
            records.job.at[written, count].set(run.job[taken], mode="drop"),
            records.draw.at[written, count].set(
                (before - runner.num_warmup).astype(_INT), mode="drop"
            ),
            records.count.at[written].add(1, mode="drop"),
        )
        walk = jax.vmap(walker.begin)(state)
        job = run.job[taken]
        y = at(taken, run.y)
        ended = real & (state.i >= total)

        def next_jobs(walk, y, job, next_job):
            positions = next_job + jnp.cumsum(ended) - 1
            fresh = ended & (positions < num_jobs)
            positions = jnp.clip(positions, 0, num_jobs - 1)
            started, y_new = _started(runner, walker, jobs, positions)
            job = jnp.where(ended, jnp.where(fresh, jobs.ids[positions], -1), job)
            return _select(fresh, started, walk), _select(fresh, y_new, y), job

        walk, y, job = jax.lax.cond(
            jnp.any(ended), next_jobs, lambda w, y, j, _: (w, y, j), walk, y, job, run.next_job[0]
        )
        # Per slot: whether one of ``rows`` is it, and which.
        match = rows[None, :] == jnp.arange(slots)[:, None]
        where_from = (jnp.any(match, axis=1), jnp.argmax(match, axis=1))
        run = run._replace(
            walk=put_walk(run.walk, where_from, walk),
            y=put(run.y, where_from, y),
            job=run.job.at[rows].set(job, mode="drop"),
            next_job=run.next_job + jnp.sum(ended, dtype=_INT),
            needed=run.needed + jnp.sum(jnp.where(real, item.num_steps, 0), dtype=_INT),
            finished=run.finished + jnp.sum(real, dtype=_INT),
            pending=pending.at[rows].set(False, mode="drop"),
        )
        return run, records

    leaf, merge = jax.vmap(walker.leaf), jax.vmap(walker.merge)

    def tick(carry):
        run, records = carry
        # Idle slots (queue done) step too, on garbage that nothing reads: cheaper than a mask.
        # A slot whose transition ended waits (pending) for a pass of ``finish_some``; its
        # leaves meanwhile touch only the subtree, which the next transition does not read.
        walk, closed = leaf(run.walk, run.y)
        closed = closed & (run.job >= 0) & ~run.pending
        walk, ended = jax.lax.cond(
            jnp.any(closed), merge, lambda w, c: (w, jnp.zeros_like(c)), walk, closed
        )
        run = run._replace(walk=walk, ticks=run.ticks + 1, pending=run.pending | ended)
        return jax.lax.cond(jnp.any(run.pending), finish_some, lambda r, c: (r, c), run, records)

    start_finished = run.finished[0]

    def going(carry):
        run, records = carry
        going = (
            (run.finished[0] - start_finished < quota)
            & jnp.all(records.count < capacity)
            & jnp.any(run.job >= 0)
        )
        return going if until is None else going & (run.ticks[0] < until[0])

    return jax.lax.while_loop(going, tick, (run, records))


class Interleaved(NamedTuple):
    """A run's queue laid out over devices: per device ``slots`` slots and ``per_device`` jobs
    (lanes, padded with index -1), ``quota`` transitions per segment, ``capacity`` records per
    slot and segment."""

    jobs: _Jobs
    slots: int
    per_device: int
    quota: int
    capacity: int


def laid_out(z0, y_rows, keys, batch: int, slots: int, segment_steps: int, num_devices: int):
    """The lanes (``batch`` of them, in order) as the devices' queues: contiguous blocks of
    ``per_device`` lanes, the last padded."""
    per_device = -(-batch // num_devices)
    padded = per_device * num_devices
    ids = np.where(np.arange(padded) < batch, np.arange(padded), -1).astype(np.int32)

    def pad(a):
        extra = padded - a.shape[0]
        return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)]) if extra else a

    jobs = _Jobs(*jax.tree.map(pad, (z0, y_rows, keys)), jnp.asarray(ids))
    slots = min(slots, per_device)
    quota = segment_steps * per_device
    # A slot finishing transitions twice as fast as the mean still fits its records.
    capacity = 2 * -(-quota // slots) + 16
    return Interleaved(jobs, slots, per_device, quota, capacity)


def programs(runner: ChainRunner, walker: NutsWalker, layout: Interleaved, devices: list):
    """The two compiled programs: every device's slots started, and a segment."""
    init = jax.jit(over_devices(lambda jobs: start(runner, walker, jobs, layout.slots), devices))

    def one_segment(jobs, run):
        return segment(runner, walker, jobs, run, layout.quota, layout.capacity)

    return init, jax.jit(over_devices(one_segment, devices))


def compact(records: _Records):
    """A segment's records as flat host arrays: ``(job, draw, transitions)``."""
    capacity = records.job.shape[1]
    used = np.arange(capacity)[None, :] < np.asarray(records.count)[:, None]
    return jax.tree.map(lambda a: np.asarray(a)[used], (records.job, records.draw,
                                                        records.transitions))  # fmt: skip


def empty_transitions(template, batch: int, num_samples: int, int_dtype, float_dtype):
    """Host arrays (lane, draw, ...) to scatter records into; positions flat."""
    size = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(template))
    dtype = jnp.result_type(*jax.tree.leaves(template))
    return Transitions(
        np.zeros((batch, num_samples, size), dtype),
        np.zeros((batch, num_samples), bool),
        np.zeros((batch, num_samples), int_dtype),
        np.zeros((batch, num_samples), float_dtype),
        np.zeros((batch, num_samples), float_dtype),
    )


def scatter(into: Transitions, flat) -> None:
    """Put compacted records at their (lane, draw)."""
    job, draw, transitions = flat

    def put(target, values):
        target[job, draw] = values

    jax.tree.map(put, into, transitions)


def unflattened(flat: np.ndarray, template) -> dict:
    """Flat positions (..., size) in ``ravel_pytree`` order back to the site dict."""
    leaves, treedef = jax.tree.flatten(template)
    parts, start = [], 0
    for leaf in leaves:
        size = int(np.prod(leaf.shape))
        part = flat[..., start : start + size]
        parts.append(part.reshape(*flat.shape[:-1], *leaf.shape).astype(leaf.dtype))
        start += size
    return jax.tree.unflatten(treedef, parts)
