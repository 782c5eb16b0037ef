"""Shapes, the tree_at bridges, and every einsum against the plain matmul it spells out."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from regmaster import MLP, DeepRFFRegressor, LinearRegressor, MLPDropout, RFFFeatureMap
from regmaster.models import deep_rff_leaves, linear_leaves, mlp_leaves

X = jnp.linspace(-3.0, 3.0, 7)


def _leaves_equal(a, b) -> bool:
    return all(
        bool(jnp.array_equal(u, v))
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_linear_regressor_einsum_is_the_matmul():
    net = eqx.tree_at(linear_leaves, LinearRegressor(degree=3), jnp.array([1.0, -2, 0.5, 0.1]))
    features = np.stack([np.asarray(X) ** p for p in range(4)], axis=-1)
    assert net.features(X).shape == (7, 4)
    np.testing.assert_allclose(net(X), features @ np.asarray(net.weight), rtol=1e-14)


def test_mlp_einsums_are_the_matmuls():
    net = MLP(hidden_dim=5, key=jr.PRNGKey(1))
    W1, b1, W2, b2 = map(np.asarray, (net.W1, net.b1, net.W2, net.b2))
    hidden = np.tanh(np.asarray(X)[:, None] @ W1 + b1)
    assert net.hidden(X).shape == (7, 5)
    np.testing.assert_allclose(net(X), (hidden @ W2)[:, 0] + b2, rtol=1e-13)


def test_mlp_dropout_with_all_ones_mask_is_the_mlp():
    mlp = MLP(hidden_dim=5, key=jr.PRNGKey(2))
    dropout = MLPDropout(hidden_dim=5, dropout_rate=0.0, key=jr.PRNGKey(2))
    np.testing.assert_array_equal(dropout(X, jnp.ones((7, 5))), mlp(X))


def test_rff_feature_map_einsum_is_the_outer_product():
    rff = RFFFeatureMap(n_features=6, lengthscale=0.7, key=jr.PRNGKey(3))
    omega, bias = np.asarray(rff.omega), np.asarray(rff.bias)
    expected = np.sqrt(2 / 6) * np.cos(np.outer(np.asarray(X), omega) + bias)
    assert rff(X).shape == (7, 6)
    np.testing.assert_allclose(rff(X), expected, rtol=1e-13, atol=1e-15)


def test_rff_features_are_the_same_under_jit():
    rff = RFFFeatureMap(n_features=6, lengthscale=0.7, key=jr.PRNGKey(3))
    np.testing.assert_allclose(jax.jit(lambda m, x: m(x))(rff, X), rff(X), rtol=0, atol=1e-15)


def _deep_with_weights(key) -> DeepRFFRegressor:
    net = DeepRFFRegressor(n_features_1=5, n_features_2=4, inner_dim=3, key=key)
    W1 = jr.normal(jr.PRNGKey(10), (5, 3))
    w2 = jr.normal(jr.PRNGKey(11), (4,))
    return eqx.tree_at(deep_rff_leaves, net, (W1, w2))


def _deep_as_notebook(net: DeepRFFRegressor, x):
    """The notebook's forward pass: a Python loop over inner units, then stack and mean."""
    h = net.rff1(x) @ net.W1
    Phi2 = jnp.mean(jnp.stack([net.rff2(h[:, j]) for j in range(net.inner_dim)], axis=0), axis=0)
    return Phi2 @ net.w2


def test_deep_rff_vmap_is_numerically_the_notebook_loop():
    net = _deep_with_weights(jr.PRNGKey(4))
    # Eagerly the two are the same floating-point operations: bit for bit.
    np.testing.assert_array_equal(net(X), _deep_as_notebook(net, X))
    # Compiled, XLA may fuse differently: at most a few ulp apart.
    np.testing.assert_allclose(
        jax.jit(lambda m: m(X))(net),
        jax.jit(lambda m: _deep_as_notebook(m, X))(net),
        rtol=0,
        atol=4e-16 * 8,
    )


# The bridges below are the models' own leaf selectors (regmaster.models), not copies of them.


def test_linear_bridge_replaces_only_the_weight():
    net = LinearRegressor(degree=2)
    w = jnp.array([0.3, -1.0, 2.0])
    new = eqx.tree_at(linear_leaves, net, w)
    np.testing.assert_array_equal(new.weight, w)
    assert new.degree == net.degree


def test_mlp_bridge_replaces_the_four_selected_leaves():
    net = MLP(hidden_dim=4, key=jr.PRNGKey(5))
    values = (jnp.ones((1, 4)), 2 * jnp.ones(4), 3 * jnp.ones((4, 1)), jnp.array(4.0))
    new = eqx.tree_at(mlp_leaves, net, values)
    for got, want in zip((new.W1, new.b1, new.W2, new.b2), values, strict=True):
        np.testing.assert_array_equal(got, want)
    assert new.hidden_dim == 4


def test_deep_rff_bridge_leaves_the_feature_maps_untouched():
    net = DeepRFFRegressor(n_features_1=5, n_features_2=4, inner_dim=3, key=jr.PRNGKey(6))
    W1, w2 = jnp.full((5, 3), 0.5), jnp.full((4,), -0.25)
    new = eqx.tree_at(deep_rff_leaves, net, (W1, w2))
    np.testing.assert_array_equal(new.W1, W1)
    np.testing.assert_array_equal(new.w2, w2)
    assert _leaves_equal(new.rff1, net.rff1) and _leaves_equal(new.rff2, net.rff2)


def test_deep_rff_shapes():
    net = DeepRFFRegressor(n_features_1=5, n_features_2=4, inner_dim=3, key=jr.PRNGKey(7))
    assert net.inner(X).shape == (7, 3)
    assert net(X).shape == (7,)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: LinearRegressor(degree=-1), "degree"),
        (lambda: MLP(hidden_dim=0, key=jr.PRNGKey(0)), "hidden_dim"),
        (lambda: MLPDropout(hidden_dim=3, dropout_rate=1.0, key=jr.PRNGKey(0)), "dropout_rate"),
        (lambda: MLPDropout(hidden_dim=3, dropout_rate=-0.1, key=jr.PRNGKey(0)), "dropout_rate"),
        (lambda: RFFFeatureMap(n_features=0, lengthscale=1.0, key=jr.PRNGKey(0)), "n_features"),
        (lambda: RFFFeatureMap(n_features=4, lengthscale=0.0, key=jr.PRNGKey(0)), "lengthscale"),
        (lambda: RFFFeatureMap(n_features=4, lengthscale=-2.0, key=jr.PRNGKey(0)), "lengthscale"),
        (lambda: DeepRFFRegressor(4, 4, inner_dim=0, key=jr.PRNGKey(0)), "inner_dim"),
    ],
)
def test_bad_module_arguments_raise_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=argument):
        build()
