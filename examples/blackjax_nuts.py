"""Auditing a sampler of one's own: BlackJAX's NUTS with its window adaptation, plugged in
through :class:`regmaster.OwnSampler`, on the conjugate regression of ``examples/svi_guides.py``
(``examples/test_blackjax_nuts.py``).

NumPyro turns the model into a log density on the unconstrained space and back
(``initialize_model``); BlackJAX adapts a step size and a diagonal mass matrix over 500 steps and
draws 500; ``OwnSampler`` vmaps the whole function over the replications, so every replication's
warmup and sampling is one compiled program.

    pip install blackjax
    regmaster sbc --model examples.blackjax_nuts:BLACKJAX_NUTS
"""

from __future__ import annotations

import dataclasses

import blackjax
import jax
from numpyro.infer.util import initialize_model

from examples.svi_guides import FULL_RANK, correlated_regression
from regmaster import OwnSampler, RunLengths

NUM_WARMUP, NUM_SAMPLES = 500, 500


def target(key, x, y):
    """NumPyro's view of ``correlated_regression`` given ``(x, y)``: an initial unconstrained
    point, the log density there (minus NumPyro's potential energy) and the map back to the
    constrained sites."""
    init, potential, constrain, _ = initialize_model(
        key, correlated_regression, model_args=(x, y), dynamic_args=True
    )
    return init.z, (lambda z: -potential(x, y)(z)), constrain(x, y)


def latent_draws(position, positions, constrain):
    """The latent sites' draws in the constrained space, shaped (chain = 1, draw, ...)."""
    draws = jax.vmap(constrain)(positions)
    return {site: draws[site][None] for site in position}


def nuts_positions(position, log_density, key_warmup, draw_keys):
    """BlackJAX's NUTS from ``position``: a dense mass matrix and step size adapted over
    ``NUM_WARMUP`` steps (Stan's windows), then one transition per key of ``draw_keys``; the
    positions, shaped (draw, ...)."""
    warmup = blackjax.window_adaptation(blackjax.nuts, log_density, is_mass_matrix_diagonal=False)
    (state, parameters), _ = warmup.run(key_warmup, position, num_steps=NUM_WARMUP)
    step = blackjax.nuts(log_density, **parameters).step

    def draw(state, key):
        state, _ = step(key, state)
        return state, state.position

    return jax.lax.scan(draw, state, draw_keys)[1]


def blackjax_nuts(key, x, y):
    """One chain of BlackJAX's NUTS on ``correlated_regression`` given ``(x, y)``:
    ``NUM_SAMPLES`` draws after ``NUM_WARMUP`` adaptation steps."""
    key_init, key_warmup, key_draws = jax.random.split(key, 3)
    position, log_density, constrain = target(key_init, x, y)
    draw_keys = jax.random.split(key_draws, NUM_SAMPLES)
    positions = nuts_positions(position, log_density, key_warmup, draw_keys)
    return latent_draws(position, positions, constrain)


BLACKJAX_NUTS = dataclasses.replace(
    FULL_RANK,
    name="correlated_regression_blackjax_nuts",
    title="Conjugate regression with correlated weights, BlackJAX NUTS",
    sbc=dataclasses.replace(
        FULL_RANK.sbc,
        lengths=RunLengths(num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES, num_chains=1),
        inference=OwnSampler(blackjax_nuts, name="BlackJAX NUTS (window adaptation, 500 + 500)"),
    ),
)
