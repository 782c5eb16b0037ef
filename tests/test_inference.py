import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS

from regmaster import (
    make_sinc,
    model_linear,
    model_mlp,
    predict,
    predictive_interval,
    r2,
    run_map,
    run_nuts,
)
from regmaster.diagnostics import to_inference_data

DATA = make_sinc(7, n_train=30)


def test_one_chain_run_nuts_is_the_notebooks_mcmc_call():
    ours = run_nuts(
        model_linear,
        jr.PRNGKey(0),
        DATA.x_train,
        DATA.y_train,
        num_warmup=50,
        num_samples=40,
        degree=1,
    )
    theirs = MCMC(NUTS(model_linear), num_warmup=50, num_samples=40, progress_bar=False)
    theirs.run(jr.PRNGKey(0), DATA.x_train, DATA.y_train, degree=1)
    np.testing.assert_array_equal(ours.get_samples()["w"], theirs.get_samples()["w"])


def test_chains_are_one_vectorised_run_with_chain_axis():
    mcmc = run_nuts(
        model_linear,
        jr.PRNGKey(1),
        DATA.x_train,
        DATA.y_train,
        num_warmup=50,
        num_samples=30,
        num_chains=3,
        degree=1,
    )
    w = mcmc.get_samples(group_by_chain=True)["w"]
    assert w.shape == (3, 30, 2)
    assert not np.allclose(w[0], w[1])
    fields = mcmc.get_extra_fields(group_by_chain=True)
    assert fields["diverging"].shape == (3, 30) and fields["energy"].shape == (3, 30)


def test_nuts_result_converts_to_inference_data():
    mcmc = run_nuts(
        model_linear,
        jr.PRNGKey(2),
        DATA.x_train,
        DATA.y_train,
        num_warmup=30,
        num_samples=20,
        num_chains=2,
        degree=1,
    )
    idata = to_inference_data(mcmc)
    assert idata.posterior["w"].shape == (2, 20, 2)
    assert "diverging" in idata.sample_stats


def test_map_fit_returns_constrained_point_and_decreasing_loss():
    fit = run_map(model_mlp, jr.PRNGKey(3), DATA.x_train, DATA.y_train, num_steps=300, hidden_dim=5)
    point = fit.point()
    assert set(point) == {"W1", "b1", "W2", "b2", "sigma"}
    assert float(point["sigma"]) > 0
    assert float(fit.losses[-1]) < float(fit.losses[0])


def test_predict_needs_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one"):
        predict(model_linear, jr.PRNGKey(0), DATA.x_test, degree=1)


def test_predict_from_samples_has_one_row_per_draw():
    samples = {"w": jnp.zeros((4, 2)), "sigma": jnp.full((4,), 0.1)}
    draws = predict(model_linear, jr.PRNGKey(0), DATA.x_test, samples=samples, degree=1)
    assert draws.shape == (4, DATA.x_test.shape[0])


@pytest.mark.parametrize("argument", ["num_samples", "num_chains"])
def test_bad_nuts_sizes_raise_naming_the_argument(argument):
    sizes = {"num_warmup": 10, "num_samples": 10, argument: 0}
    with pytest.raises(ValueError, match=argument):
        run_nuts(model_linear, jr.PRNGKey(0), DATA.x_train, DATA.y_train, degree=1, **sizes)


def test_nan_data_is_refused_before_sampling():
    y = DATA.y_train.at[3].set(jnp.nan)
    with pytest.raises(ValueError, match="y must be finite"):
        run_nuts(
            model_linear, jr.PRNGKey(0), DATA.x_train, y, num_warmup=5, num_samples=5, degree=1
        )


def test_r2_is_one_for_perfect_and_zero_for_the_mean():
    y = jnp.array([1.0, 2.0, 4.0, 8.0])
    assert r2(y, y) == 1.0
    assert abs(r2(y, jnp.full(4, y.mean()))) < 1e-15


def test_predictive_interval_matches_numpy_quantiles():
    draws = jr.normal(jr.PRNGKey(0), (1000, 3))
    lo, hi = predictive_interval(draws, level=0.9)
    np.testing.assert_allclose(lo, np.quantile(np.asarray(draws), 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(hi, np.quantile(np.asarray(draws), 0.95, axis=0), rtol=1e-12)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5])
def test_bad_interval_level_raises(level):
    with pytest.raises(ValueError, match="level"):
        predictive_interval(jnp.zeros((5, 2)), level=level)
