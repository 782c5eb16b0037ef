"""Inference on a posterior, held against its reference draws (posteriordb's or one's own).

:func:`nuts_draws` runs NumPyro's NUTS (default settings, chains vectorised) on a
:class:`~regmaster.posteriordb.Posterior`, several independent runs as one batch of chains;
:func:`check` compares one run with the reference (:func:`regmaster.reference_draws.compare`) and
judges it (:func:`regmaster.verdicts.against_reference_draws`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import calling, reference_draws, verdicts
from .inference import run_nuts
from .posteriordb import Posterior
from .settings import RunLengths

CI = RunLengths(num_warmup=1000, num_samples=2000, num_chains=4)
"""The suite's run at CI size: 4 chains of 1,000 warmup and 2,000 draws (8,000 draws against the
reference's 10,000)."""
RELEASE = RunLengths(num_warmup=1000, num_samples=10_000, num_chains=4)
"""At release size: 40,000 draws, our MCSEs about 2.2x smaller than at CI size."""


GUIDE_DRAWS = RunLengths(num_warmup=0, num_samples=1000, num_chains=4)
"""Draws of an approximation compared with a reference: 4,000 independent draws."""


class Runs(NamedTuple):
    """Draws of ``runs`` independent NUTS runs of ``lengths.num_chains`` chains each.

    Attributes
    ----------
    draws : dict
        Site -> (runs x chains, draw, ...): run r holds chains ``r * chains .. (r + 1) * chains``.
    divergences : ndarray, shape (runs x chains,)
        Divergent post-warmup transitions per chain.
    chains : int
        Chains per run.
    """

    draws: dict[str, np.ndarray]
    divergences: np.ndarray
    chains: int

    def run(self, index: int) -> tuple[dict[str, np.ndarray], int]:
        """The draws and the divergence count of run ``index``."""
        part = slice(index * self.chains, (index + 1) * self.chains)
        return {k: v[part] for k, v in self.draws.items()}, int(self.divergences[part].sum())

    @property
    def count(self) -> int:
        return len(self.divergences) // self.chains


def nuts_draws(
    posterior: Posterior,
    seed: int,
    lengths: RunLengths = CI,
    runs: int = 1,
    model=None,
    target_accept_prob: float | None = None,
) -> Runs:
    """``runs`` independent NUTS runs on ``posterior`` (NumPyro's defaults, tree depth 10 and a
    diagonal mass matrix, at the posterior's target acceptance), fitted as one vectorised batch
    of chains.

    Parameters
    ----------
    posterior : Posterior
        The posterior: its model, inputs and data.
    seed : int
        The batch's key; run r's chains are the batch's chains r * chains onwards.
    lengths : RunLengths
        Warmup, draws and chains per run.
    runs : int
        Independent runs in the batch.
    model : callable, optional
        A model to fit in place of the posterior's (a variant, or a model with a bug).
    target_accept_prob : float, optional
        In place of the posterior's.

    Returns
    -------
    Runs
        The draws of every site (deterministic sites included) and the divergences.
    """
    inputs, data = posterior.inputs_and_data()
    mcmc = run_nuts(
        model or posterior.model,
        jax.random.PRNGKey(seed),
        inputs,
        data,
        num_warmup=lengths.num_warmup,
        num_samples=lengths.num_samples,
        num_chains=lengths.num_chains * runs,
        target_accept_prob=target_accept_prob or posterior.target_accept_prob,
    )
    draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    diverging = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"])
    return Runs(draws, diverging.sum(axis=1), lengths.num_chains)


def check(
    posterior: Posterior,
    draws: dict[str, np.ndarray],
    divergences: int = 0,
    reference: dict[str, np.ndarray] | None = None,
) -> tuple[dict, list[verdicts.Verdict]]:
    """One run against the reference draws: the figures and the verdicts.

    Parameters
    ----------
    posterior : Posterior
        Whose reference (unless ``reference`` is given) and name.
    draws : dict
        Site -> (chain, draw, ...) draws of one run.
    divergences : int
        Divergent transitions of the run.
    reference : dict, optional
        Reference draws in place of the posterior's (a shifted or widened one, for power).
    """
    figures = reference_draws.compare(
        draws, reference if reference is not None else posterior.reference_draws(), divergences
    )
    return figures, verdicts.against_reference_draws(figures, posterior.name)


def fit_draws(model, key, inputs, data, inference, lengths: RunLengths, names=(), **kwargs):
    """One fit of ``model`` on ``inputs`` with ``data`` observed by ``inference`` (an object of
    the batched interface: :class:`~regmaster.BatchedNUTS`, :class:`~regmaster.BatchedSVI`, ...),
    with the sites ``names`` the inference does not return (deterministic ones) computed at
    every draw.

    Returns
    -------
    draws : dict
        Site -> (chain, draw, ...).
    health : dict
        The inference's own per-transition or per-fit figures (divergences for NUTS).
    """
    one = jax.tree.map(lambda a: jnp.asarray(a)[None], data)  # a batch of one data set
    fit = inference.fit(model, key, inputs, one, lengths, None, kwargs)
    draws = {k: np.asarray(v[0]) for k, v in fit.samples.items()}
    own = getattr(fit, "transition_health", None)
    health = {k: np.asarray(v[0]) for k, v in own().items()} if own else {}
    missing = [n for n in names if n not in draws]
    if missing:
        draws |= site_values(model, inputs, data, draws, missing, **kwargs)
    return draws, health


def site_values(model, inputs, data, draws: dict, names, **kwargs) -> dict[str, np.ndarray]:
    """The values of sites ``names`` (deterministic ones) at every draw, (chain, draw, ...)."""
    flat = {k: jnp.asarray(v.reshape(-1, *v.shape[2:])) for k, v in draws.items()}

    def one(point):
        tr = calling.trace(model, inputs, data, point, **kwargs)
        return {n: tr[n]["value"] for n in names}

    chains = next(iter(draws.values())).shape[0]
    values = jax.jit(jax.vmap(one))(flat)
    return {k: np.asarray(v).reshape(chains, -1, *v.shape[1:]) for k, v in values.items()}


def distances(draws: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict:
    """How far draws land from the reference, per element: the mean's gap in reference sds,
    (mean - mean_ref) / sd_ref, and the sd's ratio, sd / sd_ref (the figures that say "how wrong
    is mean-field here"; no Monte Carlo error is taken out).

    Returns
    -------
    dict
        ``mean_gap_sd`` and ``sd_ratio``: ``{site: list of floats}``; ``max_abs_mean_gap_sd``,
        ``min_sd_ratio`` and ``max_sd_ratio`` over every element.
    """
    gap, ratio = {}, {}
    for site, ref in reference.items():
        ours = np.asarray(draws[site], dtype=float)
        ours, ref = ours.reshape(-1, *ours.shape[2:]), np.asarray(ref).reshape(-1, *ref.shape[2:])
        sd_ref = ref.std(0, ddof=1)
        gap[site] = np.ravel((ours.mean(0) - ref.mean(0)) / sd_ref).tolist()
        ratio[site] = np.ravel(ours.std(0, ddof=1) / sd_ref).tolist()
    every_gap = np.concatenate([np.abs(v) for v in gap.values()])
    every_ratio = np.concatenate([v for v in ratio.values()])
    return {
        "mean_gap_sd": gap,
        "sd_ratio": ratio,
        "max_abs_mean_gap_sd": float(every_gap.max()),
        "min_sd_ratio": float(every_ratio.min()),
        "max_sd_ratio": float(every_ratio.max()),
    }
