import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from regmaster import make_sinc
from regmaster.data import latent


def test_default_dataset_is_the_notebooks_key_scheme():
    # The notebook: k_data, *k_models = split(PRNGKey(666), 16); k1, k2 = split(k_data).
    k_data, *k_models = jr.split(jr.PRNGKey(666), 16)
    k1, k2 = jr.split(k_data)
    x = jr.uniform(k1, (100,), minval=-10.0, maxval=10.0)
    y = jnp.sin(x) / x + 0.05 * jr.normal(k2, (100,))
    data = make_sinc()
    np.testing.assert_array_equal(data.x_train, x)
    np.testing.assert_allclose(data.y_train, y, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(data.x_test, jnp.linspace(-10.0, 10.0, 400))
    assert len(data.model_keys) == 15
    for ours, theirs in zip(data.model_keys, k_models, strict=True):
        np.testing.assert_array_equal(jr.key_data(ours), jr.key_data(theirs))


def test_latent_is_sin_x_over_x():
    x = jnp.array([-3.0, -0.5, 0.25, 7.0])
    np.testing.assert_allclose(latent(x), jnp.sin(x) / x, rtol=1e-14)
    assert float(latent(jnp.array([0.0]))[0]) == 1.0


def test_seeded_variants_differ_and_repeat():
    a, b, a_again = make_sinc(1), make_sinc(2), make_sinc(1)
    assert not np.allclose(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, a_again.y_train)


def test_variant_sizes_noise_and_range():
    data = make_sinc(3, n_train=17, noise=0.2, low=-2.0, high=5.0, n_test=11)
    assert data.x_train.shape == (17,) and data.x_test.shape == (11,)
    assert float(data.x_train.min()) >= -2.0 and float(data.x_train.max()) <= 5.0
    np.testing.assert_allclose(data.y_test, latent(data.x_test))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_train": 0}, "n_train"),
        ({"noise": 0.0}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"low": 1.0, "high": 1.0}, "low"),
        ({"n_test": -1}, "n_test"),
    ],
)
def test_bad_dataset_arguments_raise_naming_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        make_sinc(0, **kwargs)


def test_negative_seed_raises():
    with pytest.raises(ValueError, match="seed"):
        make_sinc(-1)
