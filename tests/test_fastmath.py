"""regmaster.fastmath: float64 sin/cos against libm (numpy) and an extended-precision reference.

Errors are counted in representable doubles between the result and the reference ("steps"), which
is the ulp distance without the factor-of-two ambiguity at powers of two. The measured errors:
docs/fastmath.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from regmaster import fastmath

jax.config.update("jax_enable_x64", True)

LIBM_STEPS = 1  # measured 1 (differences from libm are single steps)
TRUE_ULP = 0.85  # measured 0.78 against long double (fdlibm's kernels are below 1 ulp)
ACCURATE_RANGE = 2.0**20 * np.pi / 2  # the documented <= 1-step range
HAS_LONG_DOUBLE = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant

_sincos = jax.jit(fastmath.sincos)


def steps(a, b) -> np.ndarray:
    """Representable float64 values between ``a`` and ``b`` (0 if equal, signed zeros equal)."""
    ia = np.asarray(a, np.float64).view(np.int64)
    ib = np.asarray(b, np.float64).view(np.int64)
    # Map the sign-magnitude bit patterns onto a monotone integer line.
    ia = np.where(ia < 0, np.int64(np.iinfo(np.int64).min) - ia, ia)
    ib = np.where(ib < 0, np.int64(np.iinfo(np.int64).min) - ib, ib)
    return np.abs(ia - ib)


def true_ulp(got, x: np.ndarray, fn) -> np.ndarray:
    """|got - fn(x)| in ulps of the float64 result, with ``fn`` evaluated in long double."""
    ref = fn(x.astype(np.longdouble))
    ulp = np.spacing(np.abs(ref.astype(np.float64))).astype(np.longdouble)
    return (np.abs(np.asarray(got, np.longdouble) - ref) / ulp).astype(np.float64)


def nearest_to_multiples_of_pio2(k: np.ndarray, offsets: int) -> np.ndarray:
    """The doubles nearest to k pi/2 (via long double) and +-``offsets`` steps around them."""
    pio2 = np.longdouble("1.57079632679489661923132169163975144")
    base = (k.astype(np.longdouble) * pio2).astype(np.float64)
    around = base[:, None] + np.arange(-offsets, offsets + 1) * np.spacing(base)[:, None]
    return around.ravel()


def accuracy_sets() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    tiny = 10.0 ** rng.uniform(-308, -1, 100_000)
    return {
        "uniform |x| <= 1e4": rng.uniform(-1e4, 1e4, 1_000_000),
        "uniform |x| <= 4": rng.uniform(-4.0, 4.0, 200_000),
        "near k pi/2, |k| <= 6400": np.concatenate(
            [
                nearest_to_multiples_of_pio2(np.arange(1, 6400), 8),
                -nearest_to_multiples_of_pio2(np.arange(1, 6400), 8),
            ]
        ),
        "near k pi/2, k < 2**20": nearest_to_multiples_of_pio2(rng.integers(6400, 2**20, 5000), 8),
        "tiny": np.concatenate([tiny, -tiny]),
        "uniform |x| <= 2**20 pi/2": rng.uniform(-ACCURATE_RANGE, ACCURATE_RANGE, 200_000),
    }


SETS = accuracy_sets()


@pytest.mark.parametrize("name", list(SETS))
def test_values_match_libm(name: str) -> None:
    x = SETS[name]
    s, c = _sincos(x)
    assert steps(s, np.sin(x)).max() <= LIBM_STEPS
    assert steps(c, np.cos(x)).max() <= LIBM_STEPS


@pytest.mark.skipif(not HAS_LONG_DOUBLE, reason="long double is float64 on this platform")
@pytest.mark.parametrize(
    "name", ["uniform |x| <= 1e4", "uniform |x| <= 4", "near k pi/2, |k| <= 6400"]
)
def test_values_against_long_double(name: str) -> None:
    x = SETS[name]
    s, c = _sincos(x)
    assert true_ulp(s, x, np.sin).max() < TRUE_ULP
    assert true_ulp(c, x, np.cos).max() < TRUE_ULP


@pytest.mark.parametrize("name", ["uniform |x| <= 1e4", "near k pi/2, |k| <= 6400", "tiny"])
def test_gradients_match_libm(name: str) -> None:
    x = jnp.asarray(SETS[name][:200_000])
    dcos = jax.jit(jax.vmap(jax.grad(fastmath.cos)))(x)
    dsin = jax.jit(jax.vmap(jax.grad(fastmath.sin)))(x)
    assert steps(dcos, -np.sin(np.asarray(x))).max() <= LIBM_STEPS
    assert steps(dsin, np.cos(np.asarray(x))).max() <= LIBM_STEPS
    # The derivative rules reuse the fast values themselves.
    s, c = _sincos(x)
    np.testing.assert_array_equal(dcos, -np.asarray(s))
    np.testing.assert_array_equal(dsin, np.asarray(c))


def test_exact_at_zero_and_tiny() -> None:
    x = jnp.array([0.0, -0.0, 1e-300, -1e-20, 2.0**-28, 5e-324, -2.2e-310])
    s, c = _sincos(x)
    np.testing.assert_array_equal(c, np.ones(7))
    np.testing.assert_array_equal(s, np.asarray(x))  # sin x == x below 2**-27, subnormals too
    assert np.signbit(s[1]) and not np.signbit(s[0])
    assert fastmath.cos(0.0) == 1.0 and fastmath.sin(0.0) == 0.0


def test_nan_for_inf_and_nan() -> None:
    x = jnp.array([np.inf, -np.inf, np.nan])
    s, c = _sincos(x)
    assert np.isnan(s).all() and np.isnan(c).all()
    assert np.isnan(jax.grad(fastmath.cos)(np.inf))


def test_large_arguments_within_an_ulp_of_x() -> None:
    """Beyond 2**20 pi/2 the result is that of an argument within 1 ulp of x."""
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.uniform(ACCURATE_RANGE, 1e9, 50_000),
            10.0 ** rng.uniform(9, np.log10(2.0**51), 50_000),
        ]
    )
    x = np.concatenate([x, -x])
    s, c = _sincos(x)
    assert (np.abs(np.asarray(s) - np.sin(x)) <= np.spacing(np.abs(x))).all()
    assert (np.abs(np.asarray(c) - np.cos(x)) <= np.spacing(np.abs(x))).all()


def test_huge_arguments_finite_and_bounded() -> None:
    rng = np.random.default_rng(8)
    x = 10.0 ** rng.uniform(np.log10(2.0**51), 308, 100_000)
    x = np.concatenate([x, -x, [np.finfo(np.float64).max, -np.finfo(np.float64).max]])
    s, c = _sincos(x)
    for v in (np.asarray(s), np.asarray(c)):
        assert np.isfinite(v).all()
        assert (np.abs(v) <= 1.0).all()


def test_jit_vmap_grad_compose() -> None:
    x = jnp.linspace(-50.0, 50.0, 24).reshape(4, 6)
    jitted = jax.jit(fastmath.cos)(x)
    np.testing.assert_array_equal(fastmath.cos(x), jitted)  # eager, op by op
    np.testing.assert_array_equal(jax.jit(jax.vmap(fastmath.cos))(x), jitted)
    np.testing.assert_array_equal(jax.jit(jax.vmap(jax.vmap(fastmath.sin)))(x), _sincos(x)[0])

    # value_and_grad of sum(cos(a x + b)), against the closed form.
    def loss(p):
        return jnp.sum(fastmath.cos(p[0] * x + p[1]))

    p = jnp.array([1.3, 0.2])
    value, grad = jax.jit(jax.value_and_grad(loss))(p)
    u = 1.3 * np.asarray(x) + 0.2
    np.testing.assert_allclose(value, np.cos(u).sum(), rtol=1e-14, atol=1e-13)
    np.testing.assert_allclose(grad[0], -(np.sin(u) * np.asarray(x)).sum(), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(grad[1], -np.sin(u).sum(), rtol=1e-13, atol=1e-13)

    # Higher derivatives go through the same rules (d2 cos = -cos, d3 sin = -cos); forward mode.
    t = jnp.linspace(-7.0, 7.0, 57)
    s, c = _sincos(t)
    d2cos = jax.jit(jax.vmap(jax.grad(jax.grad(fastmath.cos))))(t)
    d3sin = jax.jit(jax.vmap(jax.grad(jax.grad(jax.grad(fastmath.sin)))))(t)
    tangent = jax.jit(lambda t: jax.jvp(fastmath.cos, (t,), (jnp.ones_like(t),))[1])(t)
    np.testing.assert_array_equal(d2cos, -c)
    np.testing.assert_array_equal(d3sin, -c)
    np.testing.assert_array_equal(tangent, -s)


def test_float32_and_integer_inputs() -> None:
    x32 = jnp.linspace(-10.0, 10.0, 101, dtype=jnp.float32)
    c32 = fastmath.cos(x32)
    assert c32.dtype == jnp.float32
    np.testing.assert_array_equal(c32, jnp.cos(x32))
    np.testing.assert_array_equal(fastmath.sin(x32), jnp.sin(x32))
    g = jax.jit(jax.grad(lambda v: fastmath.cos(v).sum()))(x32)
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, -np.sin(np.asarray(x32)), rtol=1e-6, atol=1e-6)
    s, c = fastmath.sincos(x32)
    assert s.dtype == c.dtype == jnp.float32

    ints = jnp.arange(-5, 6)
    assert fastmath.cos(ints).dtype == jnp.float64
    assert steps(fastmath.cos(ints), np.cos(np.arange(-5.0, 6.0))).max() <= LIBM_STEPS
