"""A sampler of one's own as an inference of SBC: any function ``(key, inputs, data) -> draws``.

:class:`OwnSampler` wraps it: when the function traces under JAX, every replication runs in one
``vmap``-ed, compiled program; when it does not (NumPy, a Python loop over a C library), the
replications run one after another, with progress. Its draws are ranked as a sampler's: thinned
to the draws ranked, their ESS judged, unless it says they are independent.

BlackJAX plugs in through it: build the kernel inside the function and run it with
``jax.lax.scan``, e.g. with ``blackjax.nuts(logdensity, step_size, inverse_mass_matrix)`` and
the model's log density from ``numpyro.infer.util.initialize_model``; return the draws of every
latent site in the model's constrained space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .calling import check_finite, describe, leading_size
from .settings import Execution, RunLengths


class SamplerFit(NamedTuple):
    """The draws of every replication, shaped (replication, chain, draw, ...)."""

    samples: dict[str, np.ndarray]
    earlier_seconds: float = 0.0
    independent_draws: bool = False


@dataclass(frozen=True)
class OwnSampler:
    """A sampler of one's own: ``fn(key, inputs, data) -> {site: draws}``.

    Attributes
    ----------
    fn : callable
        Called per replication with a key, the model's inputs and one simulated data set (an
        array, or a dict of the observed sites); returns every latent site's draws in the
        constrained space, shaped (chain, draw, ...) with the same chain and draw counts for
        every site.
    name : str
        How the run names the inference.
    independent_draws : bool
        The draws are independent (exact or importance-resampled): ranked without an ESS check.
    """

    fn: Callable[[jax.Array, Any, Any], Mapping[str, Any]]
    name: str = "own sampler"
    independent_draws: bool = False

    @property
    def label(self) -> str:
        """How a run record names this inference: its ``name``."""
        return self.name

    def fit(
        self,
        model,
        key: jax.Array,
        x,
        y_batch,
        lengths: RunLengths | None = None,
        execution: Execution | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> SamplerFit:
        """``fn`` on every row of ``y_batch``: vmapped and compiled when it traces, else looped
        (``execution.on_progress`` called after each replication). ``model``, ``lengths`` and
        ``model_kwargs`` are the sampler's own business: they are not passed on."""
        check_finite("x", x)
        y_batch = jax.tree.map(jnp.asarray, y_batch)
        num_reps = leading_size("y_batch", y_batch)
        keys = jax.random.split(key, num_reps)
        try:
            draws = jax.jit(jax.vmap(self.fn, (0, None, 0)))(keys, x, y_batch)
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
            draws = self._looped(keys, x, y_batch, execution or Execution())
        if not isinstance(draws, Mapping):
            raise ValueError(
                "the sampler must return {site: draws}, a dict of arrays shaped (chain, draw, "
                f"...); got {type(draws).__name__} {describe(draws)}"
            )
        draws = {k: np.asarray(v) for k, v in draws.items()}
        _check_layout(draws, num_reps)
        return SamplerFit(draws, 0.0, self.independent_draws)

    def _looped(self, keys, x, y_batch, execution: Execution) -> dict[str, np.ndarray]:
        from .engine import Progress

        rows = []
        for n in range(keys.shape[0]):
            rows.append(self.fn(keys[n], x, jax.tree.map(lambda a, n=n: a[n], y_batch)))
            if execution.on_progress is not None:
                execution.on_progress(Progress(n + 1, keys.shape[0], 0.0))
        return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}


def _check_layout(draws: dict[str, np.ndarray], num_reps: int) -> None:
    """Refuse draws that are not (replication, chain, draw, ...) with one chain and draw count."""
    if not draws:
        raise ValueError("the sampler returned no draws: it must return {site: draws}")
    layouts = {v.shape[:3] for v in draws.values()}
    if len(layouts) != 1 or len(first := next(iter(layouts))) < 3 or first[0] != num_reps:
        raise ValueError(
            "the sampler must return every site's draws shaped (chain, draw, ...) with the same "
            f"chain and draw counts; got {describe({k: v.shape[1:] for k, v in draws.items()})}"
        )
    bad = [k for k, v in draws.items() if not np.all(np.isfinite(v))]
    if bad:
        raise ValueError(f"the sampler returned NaN or inf draws of {', '.join(bad)}")
