"""The engine's chain runner outside the engine, for the benchmarks: one chain in one program,
initial points for a loop, and every lane in one compiled program without segments.

Imported by the scripts beside it (``python benchmarks/bench_sbc.py`` puts this folder on the
path).
"""

from __future__ import annotations

import jax

from regmaster.checks import check_positive_int
from regmaster.engine import (
    ChainRunner,
    Draws,
    Transitions,
    default_lanes_per_step,
    host_rng,
    over_lanes,
)
from regmaster.engine._kernel import _uniform_points
from regmaster.engine._lanes import _current_platform, _pad_lanes


def one_chain(runner: ChainRunner, z0, y, rng_key) -> Transitions:
    """Warmup and sampling of one chain of ``runner`` in one program; the post-warmup
    transitions."""
    _, collected = runner.advance(
        runner.init(z0, y, rng_key), y, runner.num_warmup + runner.num_samples
    )
    return jax.tree.map(lambda a: a[runner.num_warmup :], collected)


def uniform_initial_points(key: jax.Array, template: Draws, batch: int, radius: float = 2.0):
    """``batch`` independent points uniform in [-radius, radius] per unconstrained coordinate."""
    return _uniform_points(host_rng(key), template, batch, radius)


def batched_chains(chain, lanes_per_step: int | None = None, devices=None):
    """``run(z0, y_rows, keys)``, compiled: ``chain(z0, y, key)`` (e.g. :func:`one_chain`
    with its runner given) on every lane, laid out as :func:`regmaster.engine.over_lanes` says
    (``lanes_per_step=None``: :func:`regmaster.engine.default_lanes_per_step` for the platform).
    A batch that the layout does not divide is padded with copies of its last lane, which are
    then dropped."""
    if lanes_per_step is not None:
        lanes_per_step = check_positive_int("lanes_per_step", lanes_per_step)
    devices = list(devices) if devices is not None else []
    platform = _current_platform(devices)
    num_devices = max(len(devices), 1)

    def run(z0, y_rows, keys):
        batch = keys.shape[0]
        per_step = lanes_per_step or default_lanes_per_step(platform, -(-batch // num_devices))
        lanes = _pad_lanes((z0, y_rows, keys), per_step * num_devices)
        out = over_lanes(chain, per_step, devices)(*lanes)
        return jax.tree.map(lambda a: a[:batch], out)

    return jax.jit(run)
