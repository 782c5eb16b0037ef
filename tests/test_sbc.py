"""Tests of SBC through the NUTS engine: grouped runs, mismatched inference models, refusals.

The statistics on exact conjugate draws (false-alarm rate and power of the verdict, ranks, Holm,
thinning) are checked by the validation suite: ``validation/test_sbc_statistics.py``.
"""

from functools import partial

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from regmaster import ModelSpec, RunLengths, SBCSettings, sbc, stats
from regmaster.engine import BatchedHMC, BatchedNUTS
from regmaster.settings import Execution


def _normal_mean(x, y=None, *, prior_scale=1.0):
    mu = numpyro.sample("mu", dist.Normal(0.0, prior_scale))
    numpyro.sample("obs", dist.Normal(mu * jnp.ones_like(x), 1.0), obs=y)


def _spec(model=_normal_mean, *, warmup=200, samples=200, **settings):
    lengths = RunLengths(num_warmup=warmup, num_samples=samples, num_chains=2)
    settings = {"observed": "obs", "inputs": np.zeros(3), **settings}
    sbc_settings = SBCSettings(lengths=lengths, **settings)
    return ModelSpec(name=model.__name__, title=model.__name__, model=model, sbc=sbc_settings)


def test_nuts_engine_passes_the_correct_model():
    # False-alarm rate <= alpha = 0.01 (Holm over all tests of mu and loglik); fixed key.
    result = sbc.run_sbc(_spec(), seed=1, replications=200)
    assert result.passed, result.rows()
    assert result.fit_diagnostics["divergent_transitions"] == 0


def test_a_split_batch_is_independent_runs_in_order():
    # One batch of 2 x 40 replications: each group's ranks are its slice of the batch's ranks,
    # its verdict and health figures its own (the calibration's seeds as an array axis).
    whole = sbc.run_sbc(_spec(warmup=100, samples=100, num_draws=49), seed=3, replications=80)
    groups = whole.split(2)
    assert [g.ranks.shape for g in groups] == [(40, 2), (40, 2)]
    np.testing.assert_array_equal(np.concatenate([g.ranks for g in groups]), whole.ranks)
    for g in groups:  # the chi-square p-value needs no jitter: it is a function of the ranks
        np.testing.assert_array_equal(g.pvalues["chi2"], stats.chi2_pvalue(g.ranks, 49))
    divergent = sum(g.fit_diagnostics["divergent_transitions"] for g in groups)
    assert divergent == whole.fit_diagnostics["divergent_transitions"]
    ess = np.concatenate([g.per_replication["ess_bulk"] for g in groups])
    np.testing.assert_array_equal(ess, whole.per_replication["ess_bulk"])
    with pytest.raises(ValueError, match="groups must divide the 80 replications"):
        whole.split(3)


def test_a_run_records_the_leapfrog_steps_its_slots_computed_and_its_lanes_needed():
    result = sbc.run_sbc(_spec(warmup=50, samples=50, num_draws=49), seed=2, replications=20)
    figures = result.figures()
    computed, needed = figures["leapfrog_steps_computed"], figures["leapfrog_steps_needed"]
    # 40 lanes in 40 slots: every slot waits only for the longest lane, at the end.
    assert needed > 0 and computed >= needed
    assert figures["leapfrog_steps_computed_per_needed"] == computed / needed
    assert (
        "leapfrog_steps_computed" not in result.split(2)[0].figures()
    )  # the batch's, not a group's


def test_nuts_engine_catches_a_mismatched_inference_model():
    # Data from mu ~ N(0, 1); inference with the prior N(0, 0.3^2): the posterior is too narrow
    # and shrunk towards 0, so mu's ranks pile up at both ends. Fixed key; the power of this
    # detection over keys was not measured (the exact-draw power tests bound the harness).
    narrow = partial(_normal_mean, prior_scale=0.3)
    result = sbc.run_sbc(_spec(), seed=2, replications=200, inference_model=narrow)
    assert not result.passed, result.rows()


def test_run_sbc_hands_the_tree_depth_to_every_lane():
    # At depth 1 a trajectory is one leapfrog step, so (nearly) every transition saturates; at
    # the default depth 10 none of this one-parameter model's transitions do.
    def saturated(depth):
        spec = _spec(warmup=20, samples=20, num_draws=9)
        result = sbc.run_sbc(spec, seed=3, replications=4, inference=BatchedNUTS(0.8, depth))
        return result.fit_diagnostics["saturated_transitions"]

    assert saturated(1) >= 150  # of 4 x 2 x 20 = 160; measured 160 (deterministic: fixed key)
    assert saturated(10) == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"observed": "y"}, "observed must name a sample site of model _normal_mean; got 'y'"),
        ({"parameters": ["nosuch"]}, "parameters names no latent sample site: 'nosuch'"),
        (
            {"probe_x": jnp.zeros(2)},
            "probe_site must name a site of model _normal_mean to rank at probe_x; got 'f'",
        ),
        (
            {"quantities": {"tau": lambda params, x, y: params["tau"]}},
            r"quantities\['tau'\] fails on a parameter point \(sites mu\): KeyError",
        ),
        (
            {"quantities": {"mu and y": lambda params, x, y: params["mu"] + y}},
            r"quantities\['mu and y'\] must return a scalar, got shape \(3,\)",
        ),
        (
            {"quantities": {"log": lambda params, x, y: jnp.log(-jnp.abs(params["mu"]) - 1.0)}},
            r"quantity 'log' is NaN or inf in 4 of 4 simulated truths \(the first: replication 0\)",
        ),
    ],
)
def test_bad_model_description_is_refused_before_fitting(settings, message):
    with pytest.raises(ValueError, match=message):
        sbc.run_sbc(_spec(**settings), replications=4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: sbc.run_sbc(_spec(), seed="a", replications=4),
            "seed must be an integer >= 0, got 'a'",
        ),
        (lambda: sbc.run_sbc(_spec(), alpha="x", replications=4), "alpha must be a number in"),
        (lambda: BatchedNUTS(1.5), r"target_accept_prob must be in \(0, 1\), got 1.5"),
        (lambda: BatchedNUTS(0.8, 0), "max_tree_depth must be >= 1, got 0"),
        (lambda: BatchedHMC(10, 1.0), r"target_accept_prob must be in \(0, 1\), got 1.0"),
    ],
)
def test_bad_run_or_kernel_settings_are_refused_naming_them(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _with_a_factor(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.factor("shrink", -8.0 * mu**2)
    numpyro.sample("obs", dist.Normal(mu + x, 1.0), obs=y)


def _with_an_empty_site(x, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("e", dist.Normal(jnp.zeros(0), 1.0).to_event(1))
    numpyro.sample("obs", dist.Normal(mu + x, 1.0), obs=y)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        # A forward draw leaves the factor out, so a correct sampler would fail (p 2e-7).
        (lambda: sbc.run_sbc(_spec(_with_a_factor), replications=4), "numpyro.factor term"),
        (
            lambda: sbc.run_sbc(_spec(_with_an_empty_site), replications=4),
            r"latent site 'e' with no elements \(shape \(0,\)\)",
        ),
        (lambda: sbc.run_sbc(_spec(), inference="nuts", replications=4), "inference must be"),
        (lambda: Execution(devices=[]), "devices must name at least one device"),
        (lambda: Execution(on_progress=5), "on_progress must be callable, got 5"),
        (lambda: Execution(checkpoint=__file__), "checkpoint must be a directory"),
        (lambda: SBCSettings(observed="obs", parameters="mu"), r"write \('mu',\)"),
        (lambda: sbc.run_sbc(_spec(samples=10**12), replications=4), "GiB, this machine has"),
    ],
)
def test_what_sbc_cannot_simulate_fit_or_rank_is_refused_before_fitting(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_settings_without_an_observed_site_are_refused():
    with pytest.raises(ValueError, match="SBCSettings needs observed="):
        SBCSettings(observed=None)


def test_a_model_that_fails_on_its_inputs_is_refused_naming_their_shape():
    def two_inputs(x, y=None):
        numpyro.sample("obs", dist.Normal(x @ jnp.ones(2), 1.0), obs=y)

    with pytest.raises(ValueError, match=r"fails on x of shape \(3,\)"):
        sbc.run_sbc(_spec(two_inputs), replications=4)


def test_a_model_that_wants_inputs_given_none_is_refused_saying_how_it_was_called():
    with pytest.raises(
        ValueError, match=r"fails on inputs=None \(called with no inputs argument\)"
    ):
        sbc.run_sbc(_spec(inputs=None), replications=4)


def test_a_discrete_latent_site_is_refused_naming_it_before_fitting():
    def with_a_switch(x, y=None):
        on = numpyro.sample("on", dist.Bernoulli(0.5))
        numpyro.sample("obs", dist.Normal(on * x, 1.0), obs=y)

    with pytest.raises(ValueError, match=r"discrete latent site 'on' \(BernoulliProbs\)"):
        sbc.run_sbc(_spec(with_a_switch), replications=4)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nosuchpackage.models:SPEC", "cannot import 'nosuchpackage.models'"),
        ("examples.eight_schools:nothing", "module 'examples.eight_schools' has no 'nothing'"),
        ("tests.data.raises_on_import:SPEC", r"cannot import .*\(ZeroDivisionError: "),
        ("examples.eight_schools:SIGMA", "found tuple"),
    ],
)
def test_an_import_path_that_does_not_name_a_model_spec_is_refused(path, message):
    from regmaster import zoo

    with pytest.raises(ValueError, match=message):
        zoo.resolve(path)


def test_hmc_with_fixed_trajectories_is_calibrated_and_reports_no_saturation():
    # NumPyro's HMC kernel, 10 leapfrog steps, batched like NUTS; false alarm <= 0.01 (Holm).
    result = sbc.run_sbc(_spec(), seed=6, replications=100, inference=BatchedHMC(num_steps=10))
    assert result.passed, result.rows()
    assert "saturated_transitions" not in result.fit_diagnostics


def test_a_quantity_of_ones_own_is_ranked_after_the_log_likelihood():
    # mu + mean(y) under the exact NUTS posterior: calibrated like any quantity (false alarm
    # <= 0.01, Holm); the columns before it are those of a run without it, rank for rank.
    spec = _spec(quantities={"mu+ybar": lambda params, x, y: params["mu"] + jnp.mean(y)})
    with_it = sbc.run_sbc(spec, seed=3, replications=20)
    without = sbc.run_sbc(_spec(), seed=3, replications=20)
    assert with_it.quantities == ["mu", "loglik", "mu+ybar"]
    np.testing.assert_array_equal(with_it.ranks[:, :2], without.ranks)
    assert with_it.passed, with_it.rows()


def test_a_quantity_added_after_the_fact_has_the_ranks_of_a_run_that_had_it():
    # Same seed, same fit: ranking mu + mean(y) from the kept draws gives the fresh run's ranks
    # (a deterministic comparison of two computations of the same numbers).
    def mu_plus_ybar(params, x, y):
        return params["mu"] + jnp.mean(y)

    fresh = sbc.run_sbc(_spec(quantities={"mu+ybar": mu_plus_ybar}), seed=4, replications=20)
    later = sbc.rank_quantities(
        sbc.run_sbc(_spec(), seed=4, replications=20), {"mu+ybar": mu_plus_ybar}
    )
    assert later.quantities == fresh.quantities
    np.testing.assert_array_equal(later.ranks, fresh.ranks)
    np.testing.assert_allclose(later.thinned, fresh.thinned)
    # and split runs keep theirs: each half ranks the quantity on its own replications
    halves = sbc.run_sbc(_spec(), seed=4, replications=20).split(2)
    np.testing.assert_array_equal(
        sbc.rank_quantities(halves[1], {"mu+ybar": mu_plus_ybar}).ranks, fresh.ranks[10:]
    )


def test_ranking_a_quantity_twice_or_without_kept_draws_is_refused():
    result = sbc.run_sbc(_spec(), seed=4, replications=4)
    with pytest.raises(ValueError, match="'mu' already ranked"):
        sbc.rank_quantities(result, {"mu": lambda params, x, y: params["mu"]})
    with pytest.raises(ValueError, match="result keeps no draws"):
        sbc.rank_quantities(result._replace(kept=None), {"q": lambda params, x, y: params["mu"]})


def test_a_saved_run_ranks_a_new_quantity_as_the_run_in_memory_does(tmp_path):
    # The file beside a run record (regmaster sbc --json) holds the kept draws and the rank
    # tests' generator: loaded back, its p-values and a new quantity's ranks are the run's.
    result = sbc.run_sbc(_spec(), seed=5, replications=12)
    sbc.save_result(result, tmp_path / "run.npz")
    loaded = sbc.load_result(tmp_path / "run.npz")
    np.testing.assert_array_equal(loaded.adjusted, result.adjusted)

    def doubled(params, x, y):
        return 2.0 * params["mu"]

    np.testing.assert_array_equal(
        sbc.rank_quantities(loaded, {"2mu": doubled}).adjusted,
        sbc.rank_quantities(result, {"2mu": doubled}).adjusted,
    )


def test_a_draws_file_whose_arrays_disagree_or_a_quantity_that_cannot_trace_is_refused(tmp_path):
    result = sbc.run_sbc(_spec(), seed=5, replications=12)
    sbc.save_result(result, tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz") as stored:
        arrays = dict(stored)
    damaged = {
        "quantities": (arrays["quantities"][:1], r"ranks shaped \(12, 2\) for 1 quantity names"),
        "ranks": (arrays["ranks"] + 1000, "ranks outside 0..num_draws = 99"),
        "site_draws/mu": (arrays["site_draws/mu"][:5], r"site_draws/mu shaped \(5, 99\)"),
        "alpha": (np.array(5.0), r"alpha must be in \(0, 1\), got 5.0"),
    }
    for key, (value, message) in damaged.items():
        np.savez(tmp_path / "bad.npz", **{**arrays, key: value})
        with pytest.raises(ValueError, match=message):
            sbc.load_result(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="fails under JAX tracing"):
        sbc.rank_quantities(result, {"q": lambda params, x, y: float(params["mu"])})
    with pytest.raises(ValueError, match="must return a number, got 'mu'"):
        sbc.rank_quantities(result, {"q": lambda params, x, y: "mu"})


def test_sequential_sbc_stops_at_the_first_look_that_rejects_and_runs_on_otherwise():
    from regmaster.sequential import sequential_sbc

    # Inference with the prior N(0, 0.3^2) on data from N(0, 1): rejected at the first look.
    narrow = partial(_normal_mean, prior_scale=0.3)
    stopped = sequential_sbc(_spec(), seed=2, stages=(100, 200), inference_model=narrow)
    assert stopped.stopped_early and [n for n, _ in stopped.looks] == [100]
    assert stopped.level == 0.005 and not stopped.result.passed
    # Exact NUTS runs every stage (false alarm <= 0.01 over both looks, Bonferroni); stage 0
    # is the plain run at the same seed.
    full = sequential_sbc(_spec(), seed=3, stages=(20, 40))
    assert not full.stopped_early and full.result.passed and full.result.replications == 40
    plain = sbc.run_sbc(_spec(), seed=3, replications=20)
    np.testing.assert_array_equal(full.result.ranks[:20], plain.ranks)


def test_sequential_stages_must_increase():
    from regmaster.sequential import sequential_sbc

    with pytest.raises(ValueError, match=r"stages must increase from at least 2, got \[100, 50\]"):
        sequential_sbc(_spec(), stages=(100, 50))


def test_the_command_runs_sbc_in_stages_and_prints_each_look(capsys):
    from regmaster.cli import main

    assert main(["sbc", "--model", "linear", "--sequential", "20,40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "look at 20 replications" in out and "look at 40 replications" in out
    assert "2 of 2 looks, each at alpha 0.005, family-wise alpha 0.01" in out
    assert main(["sbc", "--model", "linear", "--sequential", "20,40", "--replications", "9"]) == 2
    assert "drop --replications" in capsys.readouterr().err
