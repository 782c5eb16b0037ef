"""Tests of the batched NUTS engine: its own initial points, lanes independent of the layout.

The lockstep driver's layout (lanes per step, segments, regrouping, checkpoints) is tested here;
the interleaved driver's in tests/test_interleaved.py.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from regmaster import engine
from regmaster.engine import BatchedNUTS, _driver, _lanes
from regmaster.settings import Execution, RunLengths


def _normal_mean(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("obs", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)


def test_shared_initialisation_is_refused():
    def shared(key, template):
        return {name: jnp.full_like(v, 0.5) for name, v in template.items()}

    with pytest.raises(RuntimeError, match="initial points are shared"):
        engine.fit_batched(
            _normal_mean,
            jr.PRNGKey(0),
            jnp.zeros(3),
            jnp.zeros((4, 3)),
            RunLengths(num_warmup=5, num_samples=5, num_chains=2),
            nuts=BatchedNUTS(init_fn=shared),
        )


def test_each_replication_and_chain_gets_its_own_initial_point():
    fit = engine.fit_batched(
        _normal_mean,
        jr.PRNGKey(0),
        jnp.zeros(3),
        jnp.zeros((4, 3)),
        RunLengths(num_warmup=5, num_samples=5, num_chains=2),
    )
    starts = fit.initial_z["mu"].ravel()
    assert len(np.unique(starts)) == 8


def test_running_lanes_in_steps_does_not_change_any_lanes_draws():
    # 3 replications x 2 chains = 6 lanes: in one step, in steps of 4 (padded to 8), and of 1.
    y = jr.normal(jr.PRNGKey(5), (3, 4))

    def fit(lanes_per_step):
        return engine.fit_batched(
            _normal_mean,
            jr.PRNGKey(1),
            jnp.zeros(4),
            y,
            RunLengths(num_warmup=30, num_samples=20, num_chains=2),
            execution=Execution(lanes_per_step=lanes_per_step, driver="lockstep"),
        ).samples["mu"]

    together = fit(6)
    assert together.shape == (3, 2, 20)
    np.testing.assert_allclose(fit(4), together, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fit(1), together, rtol=1e-12, atol=1e-12)


def test_lanes_per_step_defaults_to_forty_on_a_cpu_and_every_lane_on_an_accelerator():
    # The layouts measured fastest (regmaster/engine/_lanes.py, beside LANES_PER_STEP): on a CPU
    # 40 lanes per step, never more than there are lanes; on a GPU every lane in one vmap.
    assert engine.default_lanes_per_step("cpu", 400) == 40
    assert engine.default_lanes_per_step("cpu", 6) == 6
    assert engine.default_lanes_per_step("gpu", 400) == 400
    with jax.default_device(jax.devices("cpu")[0]):
        assert _lanes._current_platform([]) == "cpu"


_TWO_CPU_DEVICES = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, jax.numpy as jnp, jax.random as jr, numpy as np
jax.config.update("jax_enable_x64", True)
import numpyro, numpyro.distributions as dist
from regmaster import engine
from regmaster.settings import Execution, RunLengths

def model(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("obs", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)

y = jr.normal(jr.PRNGKey(5), (3, 4))
def fit(devices, driver):
    return engine.fit_batched(model, jr.PRNGKey(1), jnp.zeros(4), y, RunLengths(30, 20, 2),
                           execution=Execution(lanes_per_step=2, devices=devices, driver=driver))
assert len(jax.devices("cpu")) == 2
for driver in ("lockstep", "interleaved"):
    one, two = fit(None, driver), fit(jax.devices("cpu"), driver)
    assert two.samples["mu"].shape == (3, 2, 20)
    assert (one.num_steps == two.num_steps).all()
    print(float(np.abs(one.samples["mu"] - two.samples["mu"]).max()))
"""


def test_splitting_lanes_over_two_devices_gives_the_single_device_draws():
    # 6 lanes, 2 per step (lockstep) or 2 slots (interleaved) on each of 2 devices: lockstep pads
    # to 8 lanes, interleaved queues 3 per device. Fresh process: the device count is fixed when
    # JAX starts.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _TWO_CPU_DEVICES], capture_output=True, text=True, check=True
    )
    # Measured 5.5e-13 in lockstep (deterministic for these pinned versions): the two compiled
    # programs round differently in the last bits, which 50 iterations do not amplify.
    for line in done.stdout.strip().splitlines()[-2:]:
        assert float(line) <= 1e-12


def _fit(num_chains: int = 2, **execution):
    y = jr.normal(jr.PRNGKey(5), (3, 4))
    lengths = RunLengths(num_warmup=30, num_samples=20, num_chains=num_chains)
    execution = Execution(driver="lockstep", **execution)
    return engine.fit_batched(
        _normal_mean, jr.PRNGKey(1), jnp.zeros(4), y, lengths, execution=execution
    )


def test_segment_length_does_not_change_any_draw():
    whole = _fit(segment_steps=50)
    for steps in (7, 13):
        np.testing.assert_array_equal(_fit(segment_steps=steps).samples["mu"], whole.samples["mu"])
        np.testing.assert_array_equal(_fit(segment_steps=steps).num_steps, whole.num_steps)


def test_progress_is_reported_after_every_segment():
    seen = []
    _fit(segment_steps=20, on_progress=seen.append)
    assert [p.done for p in seen] == [0, 20, 40, 50] and all(p.total == 50 for p in seen)


class _Stop(Exception):
    pass


# lanes_per_step=2: 3 steps of 2 lanes, regrouped after each segment; None: one step of 6.
@pytest.mark.parametrize("lanes_per_step", [None, 2])
def test_a_run_stopped_after_a_segment_resumes_to_the_same_draws(tmp_path, lanes_per_step):
    path = tmp_path / "run"

    def stop_after_two(progress):
        if progress.done >= 20:
            raise _Stop

    def fit(**kwargs):
        return _fit(segment_steps=10, lanes_per_step=lanes_per_step, **kwargs)

    with pytest.raises(_Stop):
        fit(checkpoint=path, on_progress=stop_after_two)
    assert engine.has_checkpoint(path)
    seen = []
    resumed = fit(checkpoint=path, on_progress=seen.append)
    assert [p.done for p in seen] == [30, 40, 50] and seen[0].resumed_from == 20
    uninterrupted = fit()
    np.testing.assert_array_equal(resumed.samples["mu"], uninterrupted.samples["mu"])
    # The resumed fit knows the seconds its first two segments took; a fresh one took none.
    assert resumed.earlier_seconds > 0 and uninterrupted.earlier_seconds == 0


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    path = tmp_path / "run"
    _fit(segment_steps=10, checkpoint=path)
    with pytest.raises(ValueError, match="belongs to another run"):
        _fit(segment_steps=10, checkpoint=path, num_chains=3)


def test_group_by_cost_sorts_lanes_into_steps_and_deals_them_over_devices():
    cost = np.array([9.0, 1.0, 5.0, 3.0, 7.0, 2.0, 8.0, 4.0])
    np.testing.assert_array_equal(engine.group_by_cost(cost), [1, 5, 3, 7, 2, 4, 6, 0])
    # Two devices: ranks 0, 2, 4, 6 to the first, 1, 3, 5, 7 to the second.
    two = engine.group_by_cost(cost, num_devices=2)
    np.testing.assert_array_equal(two, [1, 3, 2, 6, 5, 7, 4, 0])
    assert cost[two[:4]].sum() < cost[two[4:]].sum() <= cost[two[:4]].sum() + 4 * 2.0


def test_regrouping_lanes_by_trajectory_length_changes_no_draw(monkeypatch):
    moves = []
    grouped = engine.group_by_cost
    monkeypatch.setattr(  # the driver's reference: where the segment loop looks it up
        _driver, "group_by_cost", lambda *a, **k: moves.append(grouped(*a, **k)) or moves[-1]
    )
    together = _fit(lanes_per_step=2, segment_steps=10, regroup=False)
    regrouped = _fit(lanes_per_step=2, segment_steps=10, regroup=True)
    assert len(moves) == 4 and any((m != np.arange(6)).any() for m in moves)
    np.testing.assert_array_equal(regrouped.samples["mu"], together.samples["mu"])
    np.testing.assert_array_equal(regrouped.num_steps, together.num_steps)
