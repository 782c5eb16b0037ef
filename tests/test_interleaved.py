"""The interleaved NUTS driver is NumPyro's NUTS, lane for lane, whatever the layout."""

from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.hmc import hmc
from numpyro.infer.util import potential_energy

from regmaster import engine, sbc, zoo
from regmaster.calling import conditioned
from regmaster.engine import _driver, _interleaved, _kernel
from regmaster.settings import Execution, RunLengths

# 40 warmup transitions cross all three of NumPyro's adaptation windows (ends at 5, 35, 39).
_WARMUP, _SAMPLES = 40, 20


def _problem(name: str):
    spec = zoo.REGISTRY[name]
    settings, kwargs = spec.sbc, spec.fixed_kwargs()
    x = settings.design()
    _, y = sbc.simulate(spec.model, jr.PRNGKey(0), x, 3, observed=settings.observed, **kwargs)
    return spec.model, x, y, kwargs


def _numpyro_states(model, x, y, kwargs, z0, key, num_warmup: int, length: int):
    """NumPyro's own NUTS kernel (``hmc(algo="NUTS")``) from ``z0``: its initial state and the
    states after each of ``length`` transitions."""

    def potential_fn_gen(*args, **kw):
        return partial(potential_energy, conditioned(model), args, kw)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def run(z0, key):
        state = init_kernel(z0, num_warmup, model_args=(x, y), model_kwargs=kwargs, rng_key=key)

        def step(s, _):
            new = sample_kernel(s, model_args=(x, y), model_kwargs=kwargs)
            return new, new

        return state, jax.lax.scan(step, state, None, length=length)[1]

    return jax.jit(run)(z0, key)


def _lane_start(model, x, y, kwargs, lanes: int):
    """The initial points and keys :func:`regmaster.engine.fit_batched` gives its lanes."""
    runner = _kernel.chain_runner(model, x, y, num_warmup=_WARMUP, num_samples=_SAMPLES, **kwargs)
    return runner, _driver._initial_points_and_keys(
        jr.PRNGKey(1), runner.template, lanes, 2.0, None
    )


@pytest.mark.parametrize("name", ["linear", "bnn"])
def test_every_transition_from_a_numpyro_state_is_numpyros(name):
    # Teacher-forced: from each state of NumPyro's chain (warmup, its three adaptation windows,
    # and draws), one transition of the state machine equals NumPyro's next state. Rounding
    # cannot accumulate, so every transition is compared, not only those before the chains part.
    model, x, y_batch, kwargs = _problem(name)
    y = jax.tree.map(lambda a: a[0], y_batch)
    runner, (z0, keys) = _lane_start(model, x, y, kwargs, 1)
    first, states = _numpyro_states(
        model, x, y, kwargs, jax.tree.map(lambda a: a[0], z0), keys[0], _WARMUP,
        _WARMUP + _SAMPLES,
    )  # fmt: skip
    before = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b[:-1]]), first, states)
    walker = _interleaved.nuts_walker(model, x, runner, 0.8, 10, kwargs)
    before = jax.vmap(walker.flat)(before)
    mine, _ = jax.jit(jax.vmap(walker.transition, in_axes=(0, None)))(before, y)
    mine = mine._replace(z=jax.vmap(walker.unravel)(mine.z))
    np.testing.assert_array_equal(mine.num_steps, states.num_steps)
    np.testing.assert_array_equal(mine.diverging, states.diverging)
    np.testing.assert_array_equal(mine.rng_key, states.rng_key)
    np.testing.assert_array_equal(mine.i, states.i)
    assert len(np.unique(np.asarray(states.num_steps))) > 3  # trajectories of several lengths
    # One trajectory's rounding, measured: linear 2.2e-16; bnn 8.5e-12 absolute (511-step
    # trajectories amplify the last bit), within this tolerance by less than a factor of two.
    tolerance = {"rtol": 1e-9, "atol": 1e-12}
    for field in ("z", "potential_energy", "energy", "accept_prob", "mean_accept_prob"):
        jax.tree.map(
            partial(np.testing.assert_allclose, **tolerance),
            getattr(mine, field),
            getattr(states, field),
        )
    for field in ("step_size", "inverse_mass_matrix"):
        np.testing.assert_allclose(
            getattr(mine.adapt_state, field), getattr(states.adapt_state, field), **tolerance
        )


def test_a_lane_of_the_driver_follows_numpyros_chain():
    # End to end (queue, slots, records): six linear lanes in two slots; every lane's 30
    # transitions have NumPyro's trajectory lengths and its draws to rounding (largest difference
    # measured 1.4e-12). Over longer runs rounding grows until a trajectory parts: 60 transitions
    # part one lane of these six in its warmup (docs/findings.md#interleaved-nuts).
    model, x, y_batch, kwargs = _problem("linear")
    lengths = RunLengths(10, 20, 2)
    fit = zoo.REGISTRY["linear"].nuts().fit(
        model, jr.PRNGKey(1), x, y_batch, lengths,
        Execution(driver="interleaved", lanes_per_step=2), kwargs,
    )  # fmt: skip
    runner, (z0, keys) = _lane_start(model, x, jax.tree.map(lambda a: a[0], y_batch), kwargs, 6)
    for lane in range(6):
        y = jax.tree.map(lambda a, i=lane // 2: a[i], y_batch)
        _, states = _numpyro_states(
            model, x, y, kwargs, jax.tree.map(lambda a, i=lane: a[i], z0), keys[lane],
            lengths.num_warmup, lengths.total,
        )  # fmt: skip
        rep, chain = divmod(lane, 2)
        np.testing.assert_array_equal(fit.num_steps[rep, chain], states.num_steps[10:])
        for name, draws in fit.samples.items():
            numpyro_draws = runner.transforms[name](states.z[name][10:])
            np.testing.assert_allclose(draws[rep, chain], numpyro_draws, rtol=1e-9, atol=1e-10)


def _normal_mean(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("obs", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)


def _fit(**execution):
    y = jr.normal(jr.PRNGKey(5), (3, 4))
    lengths = RunLengths(num_warmup=30, num_samples=20, num_chains=2)
    return engine.fit_batched(
        _normal_mean, jr.PRNGKey(1), jnp.zeros(4), y, lengths,
        execution=Execution(driver="interleaved", **execution),
    )  # fmt: skip


def test_the_number_of_slots_changes_no_lanes_draws():
    # Six lanes in six slots, in two (the queue refills them), in one.
    together = _fit(lanes_per_step=6)
    assert together.samples["mu"].shape == (3, 2, 20)
    for slots in (2, 1):
        np.testing.assert_allclose(
            _fit(lanes_per_step=slots).samples["mu"], together.samples["mu"], rtol=1e-12, atol=1e-12
        )


def test_the_interleaved_driver_draws_what_the_lockstep_driver_draws():
    lockstep = engine.fit_batched(
        _normal_mean, jr.PRNGKey(1), jnp.zeros(4), jr.normal(jr.PRNGKey(5), (3, 4)),
        RunLengths(30, 20, 2), execution=Execution(driver="lockstep"),
    )  # fmt: skip
    interleaved = _fit()
    np.testing.assert_array_equal(interleaved.num_steps, lockstep.num_steps)
    np.testing.assert_allclose(interleaved.samples["mu"], lockstep.samples["mu"], atol=1e-12)


def test_segment_length_changes_no_draw():
    whole = _fit(segment_steps=50)
    for steps in (3, 13):
        part = _fit(segment_steps=steps)
        np.testing.assert_array_equal(part.samples["mu"], whole.samples["mu"])
        np.testing.assert_array_equal(part.num_steps, whole.num_steps)


def test_leapfrog_steps_computed_cover_those_needed_and_idle_slots_are_counted():
    fit = _fit(lanes_per_step=4)
    computed, needed = fit.leapfrog_steps
    # Needed: every trajectory, warmup included; the draws' own are part of it.
    assert needed > fit.num_steps.sum()
    # Four slots for six lanes: the last two lanes run while two slots idle.
    assert needed < computed < 2 * needed


class _Stop(Exception):
    pass


def test_a_stopped_interleaved_run_resumes_to_the_same_draws(tmp_path):
    path = tmp_path / "run"

    def stop_after_two(progress):
        if progress.done >= 20:
            raise _Stop

    with pytest.raises(_Stop):
        _fit(segment_steps=10, lanes_per_step=2, checkpoint=path, on_progress=stop_after_two)
    assert engine.has_checkpoint(path)
    seen = []
    resumed = _fit(segment_steps=10, lanes_per_step=2, checkpoint=path, on_progress=seen.append)
    assert seen[0].resumed_from >= 20 and seen[-1].done == 50
    assert all(p.total == 50 for p in seen)
    uninterrupted = _fit(segment_steps=10, lanes_per_step=2)
    np.testing.assert_array_equal(resumed.samples["mu"], uninterrupted.samples["mu"])
    assert resumed.earlier_seconds > 0


def test_a_checkpoint_of_the_lockstep_driver_is_refused(tmp_path):
    path = tmp_path / "run"
    engine.fit_batched(
        _normal_mean, jr.PRNGKey(1), jnp.zeros(4), jr.normal(jr.PRNGKey(5), (3, 4)),
        RunLengths(30, 20, 2), execution=Execution(driver="lockstep", checkpoint=path),
    )  # fmt: skip
    with pytest.raises(ValueError, match="belongs to another run"):
        _fit(checkpoint=path)


def test_an_unknown_driver_is_refused_by_name():
    with pytest.raises(ValueError, match="driver must be one of .* got 'fast'"):
        Execution(driver="fast")
