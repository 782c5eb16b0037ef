"""A sampler of one's own through SBC: the exact posterior passes, a narrow one is flagged, and a
sampler JAX cannot trace runs in a loop to the same ranks.

Normal mean: y_i ~ N(mu, 1), i = 1..5, mu ~ N(0, 1); posterior N(sum(y) / 6, 1 / 6).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from regmaster import ModelSpec, RunLengths, SBCSettings, run_sbc
from regmaster.sampler import OwnSampler


def _normal_mean(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("y", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)


SPEC = ModelSpec(
    name="normal_mean",
    title="normal mean",
    model=_normal_mean,
    sbc=SBCSettings(
        inputs=np.zeros(5), observed="y", lengths=RunLengths(0, 100, 2), replications_ci=200
    ),
)


def _posterior_draws(scale: float):
    def sample(key, x, y):
        n = y.shape[0]
        mean, sd = jnp.sum(y) / (n + 1), scale / jnp.sqrt(n + 1.0)
        return {"mu": mean + sd * jax.random.normal(key, (2, 100))}

    return sample


def _untraceable(key, x, y):
    total = float(np.sum(np.asarray(y)))  # NumPy on the data: no tracing
    draws = total / 6 + jax.random.normal(key, (2, 100)) / np.sqrt(6.0)
    return {"mu": np.asarray(draws)}


def test_a_sampler_of_the_exact_posterior_passes():
    # False alarm <= 0.01 (Holm); fixed seed.
    exact = OwnSampler(_posterior_draws(1.0), independent_draws=True)
    result = run_sbc(SPEC, seed=1, inference=exact)
    assert result.passed, result.rows()


def test_a_sampler_20_percent_too_narrow_is_flagged():
    result = run_sbc(SPEC, seed=2, inference=OwnSampler(_posterior_draws(0.8)))
    assert not result.passed, result.rows()


def test_a_sampler_jax_cannot_trace_runs_in_a_loop_to_the_same_ranks():
    seen = []
    from regmaster.settings import Execution

    looped = run_sbc(
        SPEC,
        seed=3,
        replications=20,
        inference=OwnSampler(_untraceable),
        execution=Execution(on_progress=seen.append),
    )
    traced = run_sbc(SPEC, seed=3, replications=20, inference=OwnSampler(_posterior_draws(1.0)))
    np.testing.assert_array_equal(looped.ranks, traced.ranks)
    assert [p.done for p in seen] == list(range(1, 21))


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda key, x, y: {"nu": jnp.zeros((2, 100))}, "returned no draws of mu"),
        (lambda key, x, y: {"mu": jnp.zeros(100)}, r"shaped \(chain, draw, ...\)"),
        (lambda key, x, y: {"mu": jnp.full((2, 100), jnp.nan)}, "NaN or inf draws of mu"),
        (lambda key, x, y: jnp.zeros((2, 100)), r"must return \{site: draws\}.* got ArrayImpl"),
        (
            lambda key, x, y: {"mu": jnp.zeros((2, 100, 3))},
            r"draws of mu shaped \(2, 100, 3\) per replication; the site is shaped \(\), so "
            r"\(chain, draw\) was expected",
        ),
    ],
)
def test_draws_a_run_cannot_rank_are_refused_naming_the_site(fn, message):
    with pytest.raises(ValueError, match=message):
        run_sbc(SPEC, replications=4, inference=OwnSampler(fn))


def test_a_quantity_that_is_nan_on_some_draws_is_refused_naming_it():
    # Finite on every truth (|mu| < 50 under N(0, 1)), NaN on the sampler's draws at 100.
    far = jnp.full((2, 100), 100.0)
    spec = dataclasses.replace(
        SPEC,
        sbc=dataclasses.replace(
            SPEC.sbc, quantities={"near": lambda p, x, y: jnp.where(p["mu"] > 50, jnp.nan, p["mu"])}
        ),
    )
    with pytest.raises(ValueError, match=r"'near' is NaN or inf in 800 posterior draws of 4 of 4"):
        run_sbc(spec, replications=4, inference=OwnSampler(lambda key, x, y: {"mu": far}))
