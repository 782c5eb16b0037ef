"""The model functions: sampled values reach the module, priors and sites are the notebook's."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer.util import log_density

from regmaster import (
    DeepRFFRegressor,
    RFFFeatureMap,
    model_bnn,
    model_deep_rff,
    model_linear,
    model_mlp,
    model_mlp_dropout,
    model_rff_gp,
    model_rff_gp_noncentred,
    model_rff_svr,
)

X = jnp.linspace(-4.0, 4.0, 9)
Y = jnp.sin(X)
RFF = RFFFeatureMap(n_features=6, lengthscale=1.3, key=jr.PRNGKey(1))
DEEP = DeepRFFRegressor(n_features_1=5, n_features_2=4, inner_dim=3, key=jr.PRNGKey(2))


def _trace(model, seed=0, **kwargs):
    return handlers.trace(handlers.seed(model, seed)).get_trace(X, **kwargs)


def _value(tr, name):
    return np.asarray(tr[name]["value"])


def test_linear_model_f_uses_the_sampled_weights():
    tr = _trace(model_linear, degree=2)
    w = _value(tr, "w")
    features = np.stack([np.asarray(X) ** p for p in range(3)], axis=-1)
    np.testing.assert_allclose(_value(tr, "f"), features @ w, rtol=1e-13)


@pytest.mark.parametrize("model", [model_mlp, model_bnn])
def test_mlp_models_f_uses_the_sampled_weights(model):
    tr = _trace(model, hidden_dim=4)
    W1, b1, W2, b2 = (_value(tr, n) for n in ("W1", "b1", "W2", "b2"))
    expected = (np.tanh(np.asarray(X)[:, None] @ W1 + b1) @ W2)[:, 0] + b2
    np.testing.assert_allclose(_value(tr, "f"), expected, rtol=1e-12)


def test_bnn_prior_scale_scales_the_weight_prior():
    tr = _trace(model_bnn, hidden_dim=3, prior_scale=2.5)
    assert float(tr["W1"]["fn"].scale.max()) == 2.5
    assert float(tr["sigma"]["fn"].scale) == 1.0


def test_rff_svr_f_uses_the_sampled_weights_and_fixed_features():
    tr = _trace(model_rff_svr, rff=RFF)
    np.testing.assert_allclose(_value(tr, "f"), np.asarray(RFF(X)) @ _value(tr, "w"), rtol=1e-12)


def test_rff_gp_weight_prior_scale_is_the_sampled_amplitude():
    tr = _trace(model_rff_gp, rff=RFF)
    np.testing.assert_allclose(np.asarray(tr["w"]["fn"].scale), _value(tr, "amplitude"))
    assert float(tr["sigma"]["fn"].scale) == 0.1


def test_noncentred_rff_gp_has_the_centred_joint_density():
    # Same joint law: p(a) N(w; 0, a^2 I) = p(a) N(w_raw; 0, I) / a^D with w = a w_raw.
    amplitude, w_raw, sigma = 0.7, jnp.linspace(-1, 1, 6), 0.05
    w = amplitude * w_raw
    centred, _ = log_density(
        model_rff_gp, (X, Y), {"rff": RFF}, {"amplitude": amplitude, "w": w, "sigma": sigma}
    )
    noncentred, _ = log_density(
        model_rff_gp_noncentred,
        (X, Y),
        {"rff": RFF},
        {"amplitude": amplitude, "w_raw": w_raw, "sigma": sigma},
    )
    np.testing.assert_allclose(centred, noncentred - 6 * np.log(amplitude), rtol=1e-12)


def test_deep_rff_f_uses_sampled_weights_and_leaves_feature_maps_alone():
    tr = _trace(model_deep_rff, deep_rff=DEEP)
    W1, w2 = _value(tr, "W1"), _value(tr, "w2")
    h = np.asarray(DEEP.rff1(X)) @ W1
    Phi2 = np.mean([np.asarray(DEEP.rff2(jnp.asarray(h[:, j]))) for j in range(3)], axis=0)
    np.testing.assert_allclose(_value(tr, "f"), Phi2 @ w2, rtol=1e-12, atol=1e-14)


def test_mlp_dropout_at_rate_zero_is_exactly_the_mlp_model():
    tr = _trace(model_mlp, hidden_dim=4)
    params = {n: tr[n]["value"] for n in ("W1", "b1", "W2", "b2", "sigma")}
    lp_mlp, _ = log_density(model_mlp, (X, Y), {"hidden_dim": 4}, params)
    seeded = handlers.seed(model_mlp_dropout, 3)
    lp_drop, tr_drop = log_density(seeded, (X, Y), {"hidden_dim": 4, "dropout_rate": 0.0}, params)
    assert float(lp_mlp) == float(lp_drop)
    np.testing.assert_array_equal(tr_drop["f"]["value"], tr["f"]["value"])


def test_dropout_mask_changes_with_each_trace():
    f1 = _value(_trace(model_mlp_dropout, seed=1, hidden_dim=8, dropout_rate=0.5), "f")
    substituted = handlers.substitute(
        model_mlp_dropout,
        data={
            n: _trace(model_mlp_dropout, seed=1, hidden_dim=8, dropout_rate=0.5)[n]["value"]
            for n in ("W1", "b1", "W2", "b2", "sigma")
        },
    )
    f2 = np.asarray(
        handlers.trace(handlers.seed(substituted, 2)).get_trace(X, hidden_dim=8, dropout_rate=0.5)[
            "f"
        ]["value"]
    )
    assert not np.allclose(f1, f2)


def test_inverted_dropout_keeps_the_expected_hidden_activation(seed=20261126):
    # E[z / (1 - p)] = 1 for z ~ Bernoulli(1 - p). Over M = 20000 masks the mean of h z / (1 - p)
    # has sd |h| sqrt(p / ((1 - p) M)); |error| <= 5 sd has false-alarm rate 5.7e-7 per element,
    # < 1e-4 over the 9 x 8 elements here (union bound).
    p, masks = 0.3, 20000
    hidden = jnp.tanh(jnp.outer(X, jnp.linspace(-1, 1, 8)))
    z = jr.bernoulli(jr.PRNGKey(seed), 1.0 - p, (masks, *hidden.shape))
    mean = jnp.mean(hidden * z / (1.0 - p), axis=0)
    sd = jnp.abs(hidden) * np.sqrt(p / ((1 - p) * masks))
    assert bool(jnp.all(jnp.abs(mean - hidden) <= 5 * sd + 1e-15))


BAD_XY = [
    (jnp.array([0.0, jnp.nan, 1.0]), jnp.zeros(3), "x must be finite"),
    (jnp.array([0.0, jnp.inf, 1.0]), jnp.zeros(3), "x must be finite"),
    (jnp.zeros(3), jnp.array([0.0, 1.0, jnp.nan]), "y must be finite"),
    (jnp.zeros(3), jnp.array([0.0, -jnp.inf, 1.0]), "y must be finite"),
    (jnp.zeros(3), jnp.zeros(4), "y must have the shape of x"),
    (jnp.zeros((3, 1)), jnp.zeros(3), "x must be 1-D"),
]
MODELS = [
    (model_linear, {"degree": 1}),
    (model_mlp, {"hidden_dim": 3}),
    (model_mlp_dropout, {"hidden_dim": 3, "dropout_rate": 0.1}),
    (model_bnn, {"hidden_dim": 3}),
    (model_rff_svr, {"rff": RFF}),
    (model_rff_gp, {"rff": RFF}),
    (model_deep_rff, {"deep_rff": DEEP}),
]


@pytest.mark.parametrize(("x", "y", "message"), BAD_XY)
@pytest.mark.parametrize(("model", "kwargs"), MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_bad_data_raises_value_error_naming_it(model, kwargs, x, y, message):
    with pytest.raises(ValueError, match=message):
        handlers.seed(model, 0)(x, y, **kwargs)


@pytest.mark.parametrize(
    ("model", "kwargs", "argument"),
    [
        (model_linear, {"degree": -1}, "degree"),
        (model_mlp, {"hidden_dim": 0}, "hidden_dim"),
        (model_mlp_dropout, {"hidden_dim": 3, "dropout_rate": 1.0}, "dropout_rate"),
        (model_mlp_dropout, {"hidden_dim": 3, "dropout_rate": -0.5}, "dropout_rate"),
        (model_mlp_dropout, {"hidden_dim": 0, "dropout_rate": 0.1}, "hidden_dim"),
        (model_bnn, {"hidden_dim": 3, "prior_scale": 0.0}, "prior_scale"),
        (model_deep_rff, {"deep_rff": DEEP, "sigma_scale": -0.5}, "sigma_scale"),
    ],
)
def test_bad_model_arguments_raise_naming_the_argument(model, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        handlers.seed(model, 0)(X, Y, **kwargs)


def test_models_trace_under_jit():
    # Shape checks are static; the finiteness check skips tracers instead of failing on them.
    def f_of(x):
        return handlers.trace(handlers.seed(model_rff_svr, 0)).get_trace(x, rff=RFF)["f"]["value"]

    np.testing.assert_allclose(jax.jit(f_of)(X), f_of(X), rtol=1e-12)
