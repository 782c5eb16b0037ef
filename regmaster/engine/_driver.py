"""The batched fit: every (replication, chain) lane of a calibration run, advanced segment by
segment by two compiled programs, with progress, checkpoints and the draws gathered at the end."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..calling import check_finite, leading_size
from ..checks import check_positive_float, check_positive_int, check_probability
from ..settings import Execution, RunLengths
from . import _interleaved
from ._checkpoint import _Checkpoint
from ._kernel import ChainRunner, Draws, Transitions, _uniform_points, chain_runner, host_rng
from ._lanes import (
    _current_platform,
    _in_lane_order,
    _pad_lanes,
    _take,
    default_driver,
    default_lanes_per_step,
    group_by_cost,
    over_lanes,
)
from ._placement import _check_same_progress, _place, _to_host, spans_processes


class BatchedFit(NamedTuple):
    """NUTS output for a batch of replications: arrays shaped (replication, chain, draw, ...)."""

    samples: Draws
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    energy: np.ndarray
    initial_z: Draws
    max_tree_depth: int | None  # None: fixed-length HMC trajectories, nothing to saturate
    earlier_seconds: float = 0.0
    """Seconds spent in earlier sittings on the segments resumed from a checkpoint."""
    leapfrog_steps: tuple[int, int] | None = None
    """Interleaved driver: leapfrog steps computed (slots x ticks, idle slots included) and
    needed (every transition's trajectory, warmup included), this sitting's segments."""

    def transition_health(self) -> dict[str, np.ndarray]:
        """Per-transition health, leading axis the replications: divergent, at the tree-depth
        limit (2^max_tree_depth - 1 leapfrog steps), acceptance probability."""
        health = {"diverging": self.diverging, "accept_prob": self.accept_prob}
        if self.max_tree_depth is not None:
            health["saturated"] = self.num_steps >= 2**self.max_tree_depth - 1
        return health


class Progress(NamedTuple):
    """Where a batched fit stands after a segment: NUTS iterations done of ``total`` per lane.

    ``paced_from`` and ``paced_seconds``: the iterations done when this sitting's first segment
    ended and the seconds since; the pace is read from them, so compilation and the first
    segment's start-up do not inflate the estimate of the time left.
    """

    done: int
    total: int
    seconds: float
    resumed_from: int = 0
    paced_from: int | None = None
    paced_seconds: float = 0.0

    @property
    def fraction(self) -> float:
        """The part of the run done, in [0, 1]."""
        return self.done / self.total if self.total else 1.0

    @property
    def seconds_left(self) -> float:
        """Time left at the pace of this sitting's segments after its first; NaN until then."""
        if self.paced_from is None or self.done <= self.paced_from:
            return float("nan")
        return self.paced_seconds * (self.total - self.done) / (self.done - self.paced_from)


SEGMENTS = 40
"""A batched fit runs in about this many segments of equal length (progress and Ctrl-C between
them: a few seconds apart for the CI-size runs on 2 cores); the draws do not depend on the
segment length."""


class _LaneKernel:
    """What NumPyro's batched HMC-family kernels share: a fit of every lane by
    :func:`fit_batched`; each kernel says how its trajectories end (:meth:`trajectory`)."""

    name: str

    def trajectory(self) -> dict[str, int]:
        raise NotImplementedError

    def fit(
        self,
        model,
        key: jax.Array,
        x,
        y_batch,
        lengths: RunLengths,
        execution: Execution | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> BatchedFit:
        """The kernel on every row of ``y_batch``: :func:`fit_batched` with these settings."""
        return fit_batched(model, key, x, y_batch, lengths, self, execution, model_kwargs)


@dataclass(frozen=True)
class BatchedNUTS(_LaneKernel):
    """NumPyro's NUTS with every (replication, chain) a lane of one compiled program.

    The inference of an SBC run (:func:`regmaster.run_sbc`): its kernel settings and how its
    chains start; run lengths and execution are passed to :meth:`fit` as their own values.

    Attributes
    ----------
    target_accept_prob : float
        Target acceptance probability of the step-size adaptation (Hoffman & Gelman 2014).
    max_tree_depth : int
        Largest tree depth: at most 2^max_tree_depth - 1 leapfrog steps per transition.
    init_radius : float
        Initial points uniform in [-r, r] in the unconstrained space (``init_to_uniform``).
    init_fn : callable, optional
        ``init_fn(key, template)`` overrides the initial points (tests of the harness).
    """

    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    init_radius: float = 2.0
    init_fn: Callable[[jax.Array, Draws], Draws] | None = None

    name = "NUTS"

    @property
    def label(self) -> str:
        """How a run record names this inference."""
        return (
            f"NUTS (target acceptance {self.target_accept_prob:g}, "
            f"max tree depth {self.max_tree_depth})"
        )

    def __post_init__(self):
        check_probability("target_accept_prob", self.target_accept_prob)
        check_positive_int("max_tree_depth", self.max_tree_depth)
        check_positive_float("init_radius", self.init_radius)

    def trajectory(self) -> dict[str, int]:
        """NUTS ends a trajectory at a U-turn or at the tree-depth limit."""
        return {"max_tree_depth": self.max_tree_depth}


@dataclass(frozen=True)
class BatchedHMC(_LaneKernel):
    """NumPyro's HMC with a fixed number of leapfrog steps per trajectory, batched as
    :class:`BatchedNUTS` is: every (replication, chain) a lane of one compiled program.

    Attributes
    ----------
    num_steps : int
        Leapfrog steps per trajectory; the step size and a diagonal mass matrix are adapted
        in warmup (Neal 2011).
    target_accept_prob : float
        Target acceptance probability of the step-size adaptation.
    init_radius : float
        Initial points uniform in [-r, r] in the unconstrained space.
    init_fn : callable, optional
        ``init_fn(key, template)`` overrides the initial points.
    """

    num_steps: int = 10
    target_accept_prob: float = 0.8
    init_radius: float = 2.0
    init_fn: Callable[[jax.Array, Draws], Draws] | None = None

    name = "HMC"
    max_tree_depth = None

    @property
    def label(self) -> str:
        """How a run record names this inference."""
        return f"HMC ({self.num_steps} leapfrog steps)"

    def __post_init__(self):
        check_positive_int("num_steps", self.num_steps)
        check_probability("target_accept_prob", self.target_accept_prob)
        check_positive_float("init_radius", self.init_radius)

    def trajectory(self) -> dict[str, int]:
        """HMC runs a fixed number of leapfrog steps."""
        return {"hmc_steps": self.num_steps}


def fit_batched(
    model,
    key: jax.Array,
    x,
    y_batch,
    lengths: RunLengths,
    nuts: BatchedNUTS | BatchedHMC | None = None,
    execution: Execution | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> BatchedFit:
    """NUTS on every row of ``y_batch``: all replications and chains as lanes of two compiled
    programs, one that initialises every lane and one that advances every lane by a segment.

    Parameters
    ----------
    model : callable
        A NumPyro model called as ``model(x, y, **model_kwargs)`` (:mod:`regmaster.calling`).
    key : jax.Array
        The fit's key: initial points and every lane's key come from it.
    x : pytree of arrays or None
        The model's inputs, shared by every replication.
    y_batch : array or dict of arrays
        The data, leading axis the replications.
    lengths : RunLengths
        Warmup, draws and chains of every replication.
    nuts : BatchedNUTS or BatchedHMC, optional
        Kernel settings and initialisation (default: NUTS with NumPyro's defaults).
    execution : Execution, optional
        Devices, lanes per step, segments, regrouping, checkpoint and progress (default: the
        default device, no checkpoint).
    model_kwargs : mapping, optional
        The model's keyword arguments.

    Returns
    -------
    BatchedFit
        Draws and per-transition statistics shaped (replication, chain, draw, ...).

    Notes
    -----
    Each (replication, chain) starts from its own point drawn uniformly in [-r, r] in the
    unconstrained space (NumPyro's ``init_to_uniform``) and adapts its own step size and diagonal
    mass matrix.

    Lanes run ``execution.lanes_per_step`` at a time, vmapped, under one ``lax.map`` (default:
    :func:`default_lanes_per_step`, 40 on a CPU, all on a GPU); with several devices each runs
    its share. The layout changes the last bits, which a long chain amplifies into other (equally
    valid) draws: a seed gives the same draws for the same layout and device count.

    The run advances in segments (default: about :data:`SEGMENTS`); the draws do not depend on
    their length. After each, ``on_progress`` is called and, with a checkpoint directory, every
    lane's state and draws so far are saved there; a call with the same arguments and an existing
    checkpoint continues from it with the same numbers. Ctrl-C stops the run at the end of the
    current segment. With ``regroup``, lanes with similar trajectory lengths are moved into the
    same vmapped step after each segment (:func:`group_by_cost`); a lane's draws do not depend on
    where it runs.

    Devices of several processes (a ``jax.distributed`` run, :mod:`regmaster.distributed`):
    every process calls this with the same arguments, runs its own devices' lanes and receives
    every lane's draws; the draws are those of one process with as many devices.
    """
    nuts = BatchedNUTS() if nuts is None else nuts
    run = Execution() if execution is None else execution
    y_batch, sizes = _checked(x, y_batch, lengths, run.segment_steps, run.lanes_per_step)
    runner = chain_runner(
        model,
        x,
        jax.tree.map(lambda a: a[0], y_batch),
        num_warmup=sizes.num_warmup,
        num_samples=sizes.num_samples,
        target_accept_prob=nuts.target_accept_prob,
        **nuts.trajectory(),
        **dict(model_kwargs or {}),
    )
    _check_memory(runner.template, sizes)
    initial_z, keys = _initial_points_and_keys(
        key, runner.template, sizes.batch, nuts.init_radius, nuts.init_fn
    )
    devices = list(run.devices) if run.devices is not None else []
    if nuts.name == "NUTS" and driver(run, _current_platform(devices)) == "interleaved":
        walker = _interleaved.nuts_walker(
            model, x, runner, nuts.target_accept_prob, nuts.max_tree_depth, model_kwargs or {}
        )
        transitions, earlier, leapfrog = _run_interleaved(
            runner, walker, (initial_z, y_batch, keys), sizes, run, devices
        )
        return _assembled(
            runner, [transitions], initial_z, sizes, nuts.max_tree_depth, earlier, leapfrog
        )
    # Lockstep: lanes padded to whole steps, the checkpoint named by that layout.
    lanes = _laid_out(initial_z, y_batch, keys, sizes, devices)
    saved = _Checkpoint(
        run.checkpoint,
        (lanes.z0, lanes.y_rows, lanes.keys),
        (sizes.total, sizes.segment_steps, lanes.per_step),
    )
    kept, earlier = _run_segments(
        runner, lanes, sizes, saved, run.checkpoint, run.regroup, run.on_progress
    )
    return _assembled(runner, kept, initial_z, sizes, nuts.max_tree_depth, earlier)


def _check_memory(template, sizes) -> None:
    """Refuse, before compiling, a run whose kept draws (every lane's positions and four
    per-transition figures, 8 bytes each) would not fit in half this machine's memory."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: nothing to compare
        return
    values = sum(int(np.prod(np.shape(v))) for v in jax.tree.leaves(template)) + 4
    needed = sizes.batch * sizes.num_samples * values * 8
    if needed > memory / 2:
        raise ValueError(
            f"the draws of {sizes.batch} lanes x num_samples={sizes.num_samples} x {values} "
            f"values need {needed / 2**30:,.1f} GiB, this machine has {memory / 2**30:,.1f} "
            "GiB: run fewer num_samples or replications"
        )


class _Sizes(NamedTuple):
    """A batched fit's checked sizes; ``lanes_per_step`` ``None``: the platform's default."""

    num_reps: int
    num_chains: int
    num_warmup: int
    num_samples: int
    segment_steps: int
    lanes_per_step: int | None

    @property
    def total(self) -> int:
        """NUTS iterations per lane, warmup included."""
        return self.num_warmup + self.num_samples

    @property
    def batch(self) -> int:
        """Lanes before padding: one per (replication, chain)."""
        return self.num_reps * self.num_chains

    @property
    def num_segments(self) -> int:
        return -(-self.total // self.segment_steps)


def _checked(x, y_batch, lengths: RunLengths, segment_steps, lanes_per_step):
    """``y_batch`` as arrays and the run's :class:`_Sizes`, once the arguments are checked
    (``segment_steps=None``: the run in about :data:`SEGMENTS` parts)."""
    check_finite("x", x)
    y_batch = jax.tree.map(jnp.asarray, y_batch)
    check_finite("y_batch", y_batch)
    num_reps = leading_size("y_batch", y_batch)
    num_chains = check_positive_int("num_chains", lengths.num_chains)
    num_samples = check_positive_int("num_samples", lengths.num_samples)
    num_warmup = check_positive_int("num_warmup", lengths.num_warmup, minimum=0)
    total = num_warmup + num_samples
    if segment_steps is None:
        segment_steps = max(1, -(-total // SEGMENTS))
    segment_steps = check_positive_int("segment_steps", segment_steps)
    if lanes_per_step is not None:
        lanes_per_step = check_positive_int("lanes_per_step", lanes_per_step)
    sizes = _Sizes(num_reps, num_chains, num_warmup, num_samples, segment_steps, lanes_per_step)
    return y_batch, sizes


def _initial_points_and_keys(key, template: Draws, batch: int, init_radius: float, init_fn):
    """Every lane's initial point (uniform in [-init_radius, init_radius], or ``init_fn``'s) and
    its key, checked to be distinct."""
    # Initial points and the lanes' keys (raw threefry keys) come from a host generator seeded
    # by ``key``, so no XLA program is compiled for them.
    rng = host_rng(key)
    if init_fn is None:
        initial_z = _uniform_points(rng, template, batch, init_radius)
    else:
        initial_z = init_fn(key, jax.tree.map(lambda v: jnp.zeros((batch, *v.shape)), template))
    _check_distinct(initial_z)
    keys = jnp.asarray(rng.integers(0, 2**32, (batch, 2), dtype=np.uint32))
    return initial_z, keys


def _check_distinct(initial_z: Draws) -> None:
    """Refuse initial points shared between (replication, chain) pairs: a harness bug."""
    flat = np.concatenate(
        [np.asarray(v).reshape(v.shape[0], -1) for v in initial_z.values()], axis=1
    )
    if flat.shape[0] > 1 and np.unique(flat, axis=0).shape[0] < flat.shape[0]:
        raise RuntimeError(
            f"initial points are shared: {np.unique(flat, axis=0).shape[0]} distinct of "
            f"{flat.shape[0]} (replication, chain) pairs; each needs its own initialisation"
        )


class _Lanes(NamedTuple):
    """Every lane's initial point, data row and key, padded to a multiple of ``per_step`` lanes
    per device; ``devices``: where they run (none given: the default device)."""

    z0: Draws
    y_rows: Draws | jax.Array
    keys: jax.Array
    per_step: int
    devices: list

    @property
    def num_devices(self) -> int:
        return max(len(self.devices), 1)


def _laid_out(initial_z: Draws, y_batch, keys: jax.Array, sizes: _Sizes, devices) -> _Lanes:
    """The lanes (replication-major, a data row per chain) laid out over steps and ``devices``."""
    devices = list(devices) if devices is not None else []
    num_devices = max(len(devices), 1)
    per_step = sizes.lanes_per_step or default_lanes_per_step(
        _current_platform(devices), -(-sizes.batch // num_devices)
    )
    y_rows = jax.tree.map(lambda a: jnp.repeat(a, sizes.num_chains, axis=0), y_batch)
    z0, y_rows, keys = _pad_lanes((initial_z, y_rows, keys), per_step * num_devices)
    return _Lanes(z0, y_rows, keys, per_step, devices)


def _run_segments(
    runner: ChainRunner,
    lanes: _Lanes,
    sizes: _Sizes,
    saved: _Checkpoint,
    checkpoint,
    regroup: bool,
    on_progress,
) -> tuple[list[Transitions], float]:
    """Every lane initialised (or resumed from ``saved``) and advanced segment by segment; each
    segment's post-warmup transitions (real lanes, in lane order) and the seconds of earlier
    sittings."""
    # kept: each finished segment's post-warmup transitions; earlier: the seconds they took
    state, kept, earlier = saved.load()
    _check_same_progress(len(kept), lanes.devices, checkpoint)
    resumed_from = min(len(kept) * sizes.segment_steps, sizes.total)
    start = time.perf_counter()
    # Under jax.distributed the lanes are global arrays split over every process's devices.
    z0, y_rows, keys, state = _place((lanes.z0, lanes.y_rows, lanes.keys, state), lanes.devices)
    init = over_lanes(runner.init, lanes.per_step, lanes.devices)
    if state is None:
        state = jax.block_until_ready(jax.jit(init)(z0, y_rows, keys))
        if on_progress is not None:  # every lane initialised: the run is under way
            on_progress(Progress(0, sizes.total, time.perf_counter() - start))
    else:  # NumPyro's kernel takes its settings from tracing its initialisation
        jax.eval_shape(init, z0, y_rows, keys)
    advance = jax.jit(
        over_lanes(
            lambda s, y: runner.advance(s, y, sizes.segment_steps), lanes.per_step, lanes.devices
        )
    )
    # order[p]: the lane at position p. Regrouping moves lanes, never changes one's arithmetic.
    num_lanes = keys.shape[0]  # padded
    order = np.arange(num_lanes)
    regroup = regroup and not spans_processes(lanes.devices) and num_lanes > lanes.per_step
    paced = None  # (iterations done, time) at the end of this sitting's first segment
    for index in range(len(kept), sizes.num_segments):
        state, transitions = advance(state, y_rows)
        at_lane = np.argsort(order)  # position of each lane
        host = _to_host(transitions, lanes.devices)
        kept.append(_post_warmup(host, at_lane, index, sizes))
        if saved.path is not None:
            saved.save(
                _in_lane_order(_to_host(state, lanes.devices), at_lane),
                index,
                kept[-1],
                earlier + time.perf_counter() - start,
            )
        if regroup and index + 1 < sizes.num_segments:
            moves = group_by_cost(host.num_steps.mean(axis=1), lanes.num_devices)
            state, y_rows = _take((state, y_rows), jnp.asarray(moves))
            order = order[moves]
        done = min(len(kept) * sizes.segment_steps, sizes.total)
        if paced is None:
            paced = (done, time.perf_counter())
        if on_progress is not None:
            now = time.perf_counter()
            elapsed, paced_seconds = now - start, now - paced[1]
            on_progress(Progress(done, sizes.total, elapsed, resumed_from, paced[0], paced_seconds))
    return kept, earlier


def _post_warmup(host: Transitions, at_lane: np.ndarray, index: int, sizes: _Sizes):
    """Segment ``index``'s post-warmup transitions of the real lanes, in lane order."""
    first, stop = index * sizes.segment_steps, min((index + 1) * sizes.segment_steps, sizes.total)
    keep = slice(max(sizes.num_warmup - first, 0), max(stop - first, 0))
    return jax.tree.map(lambda a: a[: sizes.batch, keep], _in_lane_order(host, at_lane))


def _assembled(
    runner: ChainRunner,
    kept: list[Transitions],
    initial_z: Draws,
    sizes: _Sizes,
    max_tree_depth: int,
    earlier: float,
    leapfrog: tuple[int, int] | None = None,
) -> BatchedFit:
    """The segments' transitions joined, constrained and shaped (replication, chain, draw, ...)."""
    draws = jax.tree.map(lambda *parts: np.concatenate(parts, axis=1), *kept)
    to_constrained = jax.jit(lambda z: {name: runner.transforms[name](v) for name, v in z.items()})
    constrained = to_constrained(draws.z)
    num_reps, num_chains = sizes.num_reps, sizes.num_chains

    def unbatch(a):
        return np.asarray(a).reshape(num_reps, num_chains, sizes.num_samples, *a.shape[2:])

    return BatchedFit(
        {name: unbatch(v) for name, v in constrained.items()},
        unbatch(draws.diverging),
        unbatch(draws.num_steps),
        unbatch(draws.accept_prob),
        unbatch(draws.energy),
        {
            name: np.asarray(v).reshape(num_reps, num_chains, *v.shape[1:])
            for name, v in initial_z.items()
        },
        max_tree_depth,
        earlier,
        leapfrog,
    )


def driver(execution: Execution, platform: str) -> str:
    """The NUTS driver of ``execution``: its own, else :func:`default_driver` for ``platform``."""
    return execution.driver or default_driver(platform)


def _run_interleaved(runner, walker, lanes, sizes: _Sizes, run: Execution, devices: list):
    """Every lane's NUTS run by the interleaved driver (:mod:`._interleaved`), segment by
    segment with checkpoints and progress; its post-warmup transitions (lane, draw, ...), the
    seconds of earlier sittings and the leapfrog steps computed and needed."""
    initial_z, y_batch, keys = lanes
    y_rows = jax.tree.map(lambda a: jnp.repeat(a, sizes.num_chains, axis=0), y_batch)
    num_devices = max(len(devices), 1)
    per_device = -(-sizes.batch // num_devices)
    slots = sizes.lanes_per_step or default_lanes_per_step(_current_platform(devices), per_device)
    layout = _interleaved.laid_out(
        initial_z, y_rows, keys, sizes.batch, slots, sizes.segment_steps, num_devices
    )
    saved = _Checkpoint(
        run.checkpoint,
        (initial_z, y_rows, keys),
        ("interleaved", sizes.total, sizes.segment_steps, layout.slots, num_devices),
    )
    state, kept, earlier = saved.load()
    _check_same_progress(len(kept), devices, run.checkpoint)
    out = _interleaved.empty_transitions(
        runner.template,
        sizes.batch,
        sizes.num_samples,
        jnp.result_type(int),
        jnp.result_type(float),
    )
    for records in kept:
        _interleaved.scatter(out, records)
    start = time.perf_counter()
    init, advance = _interleaved.programs(runner, walker, layout, devices)
    jobs, state = _place((layout.jobs, state), devices)
    goal = sizes.total * sizes.batch
    if state is None:
        state = jax.block_until_ready(init(jobs))
        if run.on_progress is not None:
            run.on_progress(Progress(0, sizes.total, time.perf_counter() - start))
    counters = _to_host((state.ticks, state.needed, state.finished), devices)
    first = [int(np.sum(c)) for c in counters]
    resumed_from = first[2] // sizes.batch
    paced = None
    while int(np.sum(counters[2])) < goal:
        state, records = advance(jobs, state)
        host_state, host_records = _to_host((state, records), devices)
        kept.append(_interleaved.compact(host_records))
        _interleaved.scatter(out, kept[-1])
        saved.save(host_state, len(kept) - 1, kept[-1], earlier + time.perf_counter() - start)
        counters = (host_state.ticks, host_state.needed, host_state.finished)
        done = int(np.sum(counters[2])) // sizes.batch
        if paced is None:
            paced = (done, time.perf_counter())
        if run.on_progress is not None:
            now = time.perf_counter()
            run.on_progress(
                Progress(done, sizes.total, now - start, resumed_from, paced[0], now - paced[1])
            )
    ticks, needed, _ = (int(np.sum(c)) - f for c, f in zip(counters, first, strict=True))
    computed = ticks * layout.slots  # summed over devices: each runs ``slots`` slots
    out = out._replace(z=_interleaved.unflattened(out.z, runner.template))
    return out, earlier, (computed, needed)
