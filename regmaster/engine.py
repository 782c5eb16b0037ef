"""Batched NUTS: every (replication, chain) lane of a calibration run in one compiled program.

NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) runs warmup and sampling of one chain
in one ``lax.scan``; that chain is ``vmap``-ed over lanes, a few dozen at a time under one
``lax.map`` on a CPU and all at once on an accelerator, and optionally split over several devices
with ``shard_map``. Every lane has its own initial point, key and warmup adaptation.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from numpyro import handlers
from numpyro.distributions.transforms import biject_to
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model, potential_energy

from .calling import check_finite, conditioned, leading_size
from .checks import check_positive_int

Draws = dict[str, jax.Array]


class BatchedFit(NamedTuple):
    """NUTS output for a batch of replications: arrays shaped (replication, chain, draw, ...)."""

    samples: Draws
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    energy: np.ndarray
    initial_z: Draws
    max_tree_depth: int
    earlier_seconds: float = 0.0
    """Seconds spent in earlier sittings on the segments resumed from a checkpoint."""


def latent_transforms(model, x, y, model_kwargs):
    """Bijections to the support of every latent sample site of ``model`` on inputs ``x`` with
    data ``y`` observed (:mod:`regmaster.calling`)."""
    trace = handlers.trace(handlers.seed(conditioned(model), 0)).get_trace(x, y, **model_kwargs)
    return {
        name: biject_to(site["fn"].support)
        for name, site in trace.items()
        if site["type"] == "sample" and not site["is_observed"]
    }


class Transitions(NamedTuple):
    """What one NUTS transition records, per lane: position and sampler statistics."""

    z: Draws
    diverging: jax.Array
    num_steps: jax.Array
    accept_prob: jax.Array
    energy: jax.Array


class ChainRunner(NamedTuple):
    """One NUTS chain as pure functions of a lane's arrays, to be vmapped and compiled.

    ``init(z0, y, key)`` is the kernel's state after NumPyro's initialisation (step-size search,
    adaptation set up for ``num_warmup`` steps); ``advance(state, y, length)`` runs ``length``
    transitions in one ``lax.scan`` and returns the new state and their :class:`Transitions`.
    Warmup is the state's first ``num_warmup`` transitions, so a chain advanced in segments of
    any length draws the same numbers. ``template``: unconstrained shapes and dtypes;
    ``transforms``: per-site bijections to the constrained space.
    """

    init: Callable
    advance: Callable
    template: Draws
    transforms: dict
    num_warmup: int
    num_samples: int

    def one_chain(self, z0, y, rng_key) -> Transitions:
        """Warmup and sampling of one chain in one program; the post-warmup transitions."""
        _, collected = self.advance(
            self.init(z0, y, rng_key), y, self.num_warmup + self.num_samples
        )
        return jax.tree.map(lambda a: a[self.num_warmup :], collected)


def chain_runner(
    model,
    x,
    y_template,
    *,
    num_warmup: int,
    num_samples: int,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    **model_kwargs,
) -> ChainRunner:
    """NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) for ``model`` on inputs ``x``,
    as a :class:`ChainRunner` whose functions take the data ``y`` (a site dict or an array,
    :mod:`regmaster.calling`) as an argument."""
    transforms = latent_transforms(model, x, y_template, model_kwargs)
    model = conditioned(model)
    # Shapes only: initialize_model run eagerly would compile ~90 tiny programs, one per op.
    template = jax.eval_shape(
        lambda: (
            initialize_model(
                jr.PRNGKey(0), model, model_args=(x, y_template), model_kwargs=model_kwargs
            ).param_info.z
        )
    )

    def potential_fn_gen(*args, **kwargs):  # initialize_model's, with dynamic_args=True
        return partial(potential_energy, model, args, kwargs)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def init(z0, y, rng_key):
        return init_kernel(
            z0,
            num_warmup,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
            model_args=(x, y),
            model_kwargs=model_kwargs,
            rng_key=rng_key,
        )

    def advance(state, y, length: int):
        def step(carry, _):
            new = sample_kernel(carry, model_args=(x, y), model_kwargs=model_kwargs)
            return new, Transitions(
                new.z, new.diverging, new.num_steps, new.accept_prob, new.energy
            )

        return jax.lax.scan(step, state, None, length=length)

    return ChainRunner(init, advance, template, transforms, num_warmup, num_samples)


def host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key's bits (no XLA program is compiled for it)."""
    return np.random.default_rng(np.asarray(jr.key_data(key)).astype(np.uint32).ravel().tolist())


def uniform_initial_points(key: jax.Array, template: Draws, batch: int, radius: float = 2.0):
    """``batch`` independent points uniform in [-radius, radius] per unconstrained coordinate."""
    return _uniform_points(host_rng(key), template, batch, radius)


def _uniform_points(rng: np.random.Generator, template: Draws, batch: int, radius: float):
    # Drawn on the host: no XLA program is compiled for them (benchmarks/README.md#fixed-cost).
    return jax.tree.map(
        lambda leaf: jnp.asarray(rng.uniform(-radius, radius, (batch, *leaf.shape)), leaf.dtype),
        template,
    )


# A vmapped NUTS transition waits for its longest trajectory: 40 lanes per step was fastest on a
# CPU, all lanes in one step on a GPU (benchmarks/README.md#lanes-per-step).
LANES_PER_STEP = 40


def default_lanes_per_step(platform: str, lanes: int) -> int:
    """Lanes vmapped per step when none is asked for: :data:`LANES_PER_STEP` on ``"cpu"``, all
    ``lanes`` on an accelerator (measured in benchmarks/README.md)."""
    return min(LANES_PER_STEP, lanes) if platform == "cpu" else lanes


def _current_platform(devices: list) -> str:
    # The platform the program will run on: the first given device, else the default device
    # (``jax.default_device`` included), read off a host value put there (nothing compiles).
    if devices:
        return devices[0].platform
    return next(iter(jax.device_put(np.zeros(())).devices())).platform


def over_lanes(fn, per_step: int, devices: list):
    """``fn`` on every lane (leading axis) of its arguments: ``per_step`` lanes vmapped at a time
    under one ``lax.map``, the lanes split evenly over ``devices`` when there are several
    (``shard_map``). The lane count must be a multiple of ``per_step * len(devices)``."""

    def run_share(*lanes):
        return jax.lax.map(lambda lane: fn(*lane), lanes, batch_size=per_step)

    if len(devices) <= 1:
        return run_share
    mesh = jax.sharding.Mesh(np.array(devices), ("lanes",))
    spec = jax.sharding.PartitionSpec("lanes")
    return jax.shard_map(run_share, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


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
    return jax.tree.map(lambda a: a[positions], tree)


def _pad_lanes(tree, multiple: int):
    """Pad the leading axis to a multiple of ``multiple`` with copies of the last lane."""

    def pad(a):
        extra = -(-a.shape[0] // multiple) * multiple - a.shape[0]
        return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)]) if extra else a

    return jax.tree.map(pad, tree)


def batched_chains(one_chain, lanes_per_step: int | None = None, devices=None):
    """``run(z0, y_rows, keys)``, compiled: ``one_chain(z0, y, key)`` (e.g.
    :meth:`ChainRunner.one_chain`) on every lane, laid out as :func:`over_lanes` says
    (``lanes_per_step=None``: :func:`default_lanes_per_step` for the platform). A batch that the
    layout does not divide is padded with copies of its last lane, which are then dropped."""
    if lanes_per_step is not None:
        lanes_per_step = check_positive_int("lanes_per_step", lanes_per_step)
    devices = list(devices) if devices is not None else []
    platform = _current_platform(devices)
    num_devices = max(len(devices), 1)

    def run(z0, y_rows, keys):
        batch = keys.shape[0]
        per_step = lanes_per_step or default_lanes_per_step(platform, -(-batch // num_devices))
        lanes = _pad_lanes((z0, y_rows, keys), per_step * num_devices)
        out = over_lanes(one_chain, per_step, devices)(*lanes)
        return jax.tree.map(lambda a: a[:batch], out)

    return jax.jit(run)


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


def fit_batched(
    model,
    key: jax.Array,
    x,
    y_batch,
    *,
    num_warmup: int,
    num_samples: int,
    num_chains: int = 2,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    init_radius: float = 2.0,
    init_fn: Callable[[jax.Array, Draws], Draws] | None = None,
    lanes_per_step: int | None = None,
    devices=None,
    segment_steps: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    regroup: bool = True,
    **model_kwargs,
) -> BatchedFit:
    """NUTS on every row of ``y_batch``: all replications and chains as lanes of two compiled
    programs, one that initialises every lane and one that advances every lane by a segment.

    Each (replication, chain) starts from its own point drawn uniformly in [-r, r] in the
    unconstrained space (NumPyro's ``init_to_uniform``) and adapts its own step size and diagonal
    mass matrix. ``init_fn(key, template)`` overrides the initial points (for tests of the harness).

    Lanes run ``lanes_per_step`` at a time, vmapped, under one ``lax.map`` (default:
    :func:`default_lanes_per_step`, 40 on a CPU, all on a GPU); with several ``devices`` each runs
    its share. The layout changes the last bits, which a long chain amplifies into other (equally
    valid) draws: a seed gives the same draws for the same layout and device count.

    The run advances in segments of ``segment_steps`` iterations (default: the run in about
    :data:`SEGMENTS` parts); the draws do not depend on it. After each, ``on_progress`` is called
    and, with ``checkpoint`` (a directory), every lane's state and draws so far are saved there; a
    call with the same arguments and an existing checkpoint continues from it with the same
    numbers.
    Ctrl-C stops the run at the end of the current segment.

    ``regroup``: after each segment, lanes with similar trajectory lengths are moved into the same
    vmapped step (:func:`group_by_cost`); a lane's draws do not depend on where it runs.

    ``devices`` of several processes (a ``jax.distributed`` run, :mod:`regmaster.distributed`):
    every process calls this with the same arguments, runs its own devices' lanes and receives
    every lane's draws; the draws are those of one process with as many devices.
    """
    check_finite("x", x)
    y_batch = jax.tree.map(jnp.asarray, y_batch)
    check_finite("y_batch", y_batch)
    num_reps = leading_size("y_batch", y_batch)
    num_chains = check_positive_int("num_chains", num_chains)
    num_samples = check_positive_int("num_samples", num_samples)
    num_warmup = check_positive_int("num_warmup", num_warmup, minimum=0)
    total = num_warmup + num_samples
    if segment_steps is None:
        segment_steps = max(1, -(-total // SEGMENTS))
    segment_steps = check_positive_int("segment_steps", segment_steps)
    if lanes_per_step is not None:
        lanes_per_step = check_positive_int("lanes_per_step", lanes_per_step)
    batch = num_reps * num_chains

    runner = chain_runner(
        model,
        x,
        jax.tree.map(lambda a: a[0], y_batch),
        num_warmup=num_warmup,
        num_samples=num_samples,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
        **model_kwargs,
    )

    # Initial points and the lanes' keys (raw threefry keys) come from a host generator seeded
    # by ``key``, so no XLA program is compiled for them.
    rng = host_rng(key)
    if init_fn is None:
        initial_z = _uniform_points(rng, runner.template, batch, init_radius)
    else:
        initial_z = init_fn(
            key, jax.tree.map(lambda v: jnp.zeros((batch, *v.shape)), runner.template)
        )
    _check_distinct(initial_z)
    keys = jnp.asarray(rng.integers(0, 2**32, (batch, 2), dtype=np.uint32))

    devices = list(devices) if devices is not None else []
    num_devices = max(len(devices), 1)
    per_step = lanes_per_step or default_lanes_per_step(
        _current_platform(devices), -(-batch // num_devices)
    )
    y_rows = jax.tree.map(lambda a: jnp.repeat(a, num_chains, axis=0), y_batch)
    z0, y_rows, keys = _pad_lanes((initial_z, y_rows, keys), per_step * num_devices)
    num_segments = -(-total // segment_steps)

    saved = _Checkpoint(checkpoint, (z0, y_rows, keys), (total, segment_steps, per_step))
    # kept: each finished segment's post-warmup transitions; earlier: the seconds they took
    state, kept, earlier = saved.load()
    _check_same_progress(len(kept), devices, checkpoint)
    resumed_from = min(len(kept) * segment_steps, total)
    start = time.perf_counter()
    # Under jax.distributed the lanes are global arrays split over every process's devices.
    z0, y_rows, keys, state = _place((z0, y_rows, keys, state), devices)
    init = over_lanes(runner.init, per_step, devices)
    if state is None:
        state = jax.block_until_ready(jax.jit(init)(z0, y_rows, keys))
        if on_progress is not None:  # every lane initialised: the run is under way
            on_progress(Progress(0, total, time.perf_counter() - start))
    else:  # NumPyro's kernel takes its settings from tracing its initialisation
        jax.eval_shape(init, z0, y_rows, keys)
    advance = jax.jit(
        over_lanes(lambda s, y: runner.advance(s, y, segment_steps), per_step, devices)
    )
    # order[p]: the lane at position p. Regrouping moves lanes, never changes one's arithmetic.
    num_lanes = keys.shape[0]  # padded
    order = np.arange(num_lanes)
    regroup = regroup and not spans_processes(devices) and num_lanes > per_step
    paced = None  # (iterations done, time) at the end of this sitting's first segment
    for index in range(len(kept), num_segments):
        state, transitions = advance(state, y_rows)
        at_lane = np.argsort(order)  # position of each lane
        # Post-warmup iterations of this segment only, real lanes only, in lane order.
        first, stop = index * segment_steps, min((index + 1) * segment_steps, total)
        keep = slice(max(num_warmup - first, 0), max(stop - first, 0))
        host = _to_host(transitions, devices)
        kept.append(jax.tree.map(lambda a, k=keep: a[:batch, k], _in_lane_order(host, at_lane)))
        if saved.path is not None:
            saved.save(
                _in_lane_order(_to_host(state, devices), at_lane),
                index,
                kept[-1],
                earlier + time.perf_counter() - start,
            )
        if regroup and index + 1 < num_segments:
            moves = group_by_cost(host.num_steps.mean(axis=1), num_devices)
            state, y_rows = _take((state, y_rows), jnp.asarray(moves))
            order = order[moves]
        done = min(len(kept) * segment_steps, total)
        if paced is None:
            paced = (done, time.perf_counter())
        if on_progress is not None:
            now = time.perf_counter()
            on_progress(Progress(done, total, now - start, resumed_from, paced[0], now - paced[1]))

    draws = jax.tree.map(lambda *parts: np.concatenate(parts, axis=1), *kept)
    to_constrained = jax.jit(lambda z: {name: runner.transforms[name](v) for name, v in z.items()})
    constrained = to_constrained(draws.z)

    def unbatch(a):
        return np.asarray(a).reshape(num_reps, num_chains, num_samples, *a.shape[2:])

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
    )


def clear_checkpoint(path: str | os.PathLike) -> None:
    """Delete a checkpoint's files (``state.pkl``, ``segment-N.pkl``) and, if then empty, its
    directory; nothing else in it is touched."""
    path = Path(path)
    if not path.is_dir():
        return
    for child in [*path.glob("state.pkl*"), *path.glob("segment-*.pkl*")]:
        child.unlink()
    try:
        path.rmdir()
    except OSError:
        pass


def has_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a checkpoint of a batched fit."""
    return (Path(path) / "state.pkl").is_file()


class _Checkpoint:
    """A directory holding every lane's NUTS state after the last finished segment
    (``state.pkl``, with the seconds spent so far) and each finished segment's post-warmup
    transitions (``segment-N.pkl``).

    The state file names what it belongs to (a hash of the lanes' initial points, data and keys
    and of the run's lengths and layout) and the SHA-256 of every segment file; a directory of
    another run, or a segment file that is damaged or swapped, is refused naming the file.
    """

    def __init__(self, path, lanes, settings):
        self.path = None if path is None else Path(path)
        digest = hashlib.sha256(repr(settings).encode())
        for leaf in jax.tree.leaves(lanes):
            digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
        self.fingerprint = digest.hexdigest()
        self.checksums: list[str] = []

    def _refuse(self, file: Path, why: str):
        return ValueError(
            f"checkpoint file {file} {why}; delete {self.path} to start the run afresh, or run "
            "without --resume"
        )

    def load(self):
        if self.path is None or not (self.path / "state.pkl").exists():
            return None, [], 0.0
        state_file = self.path / "state.pkl"
        try:
            saved = pickle.loads(state_file.read_bytes())
            segments, state = saved["segments"], saved["state"]
        except Exception as error:  # any unpickling failure means a damaged file
            why = f"cannot be read ({type(error).__name__}: {error})"
            raise self._refuse(state_file, why) from None
        if saved.get("fingerprint") != self.fingerprint:
            raise self._refuse(state_file, "belongs to another run (other data, seed or settings)")
        checksums = saved.get("checksums")
        kept = []
        for i in range(segments):
            file = self.path / f"segment-{i}.pkl"
            try:
                raw = file.read_bytes()
            except OSError as error:
                raise self._refuse(file, f"cannot be read ({error.strerror or error})") from None
            if checksums is not None and hashlib.sha256(raw).hexdigest() != checksums[i]:
                raise self._refuse(file, "does not match its checksum: damaged or from another run")
            try:
                kept.append(pickle.loads(raw))
            except Exception as error:
                why = f"cannot be read ({type(error).__name__}: {error})"
                raise self._refuse(file, why) from None
        self.checksums = list(checksums or [])
        # Checkpoints written before the seconds were kept count as 0 s.
        return jax.tree.map(jnp.asarray, state), kept, float(saved.get("seconds", 0.0))

    def save(self, state, index: int, segment, seconds: float) -> None:
        # Under jax.distributed every process holds the whole state; the first writes it.
        if self.path is None or jax.process_index() != 0:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        raw = self._write(f"segment-{index}.pkl", segment)
        self.checksums = [*self.checksums[:index], hashlib.sha256(raw).hexdigest()]
        state = jax.tree.map(np.asarray, state)
        self._write(
            "state.pkl",
            {
                "fingerprint": self.fingerprint,
                "segments": index + 1,
                "state": state,
                "seconds": seconds,
                "checksums": self.checksums,
            },
        )

    def _write(self, name: str, value) -> bytes:
        raw = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = self.path / f"{name}.tmp"
        tmp.write_bytes(raw)
        tmp.replace(self.path / name)
        return raw


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
