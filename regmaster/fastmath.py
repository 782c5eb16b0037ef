"""Float64 sine and cosine from plain elementwise arithmetic, so that XLA fuses and vectorises them.

XLA lowers float64 ``jnp.sin``/``jnp.cos`` on CPU to a scalar libm call per element (about 9 ns
each); :func:`cos`, :func:`sin` and :func:`sincos` here compute the same values with a few dozen
fused, SIMD-vectorised multiplies and adds instead.

Method (the "medium" path of fdlibm's ``__ieee754_rem_pio2``, made branch-free):

1. Range reduction (Cody & Waite 1980): ``n = round(x * 2/pi)`` and ``x - n pi/2`` evaluated with
   pi/2 split into three constants of 31, 32 and 28 significant bits plus a tail, so that
   ``n * part`` is exact while ``|n| < 2**21``. The two subtractions carry their rounding errors
   (Dekker's Fast2Sum), giving the reduced argument as a double-double ``y0 + y1`` accurate to
   far more than 53 bits, even for the doubles that lie closest to a multiple of pi/2.
2. Kernels: the minimax polynomials of fdlibm's ``__kernel_sin`` and ``__kernel_cos`` (Sun
   Microsystems, 1993; as in FreeBSD's msun), which take the tail ``y1`` and are accurate to
   within 1 ulp on ``[-pi/4, pi/4]``.
3. Both kernels are always evaluated; the quadrant ``n mod 4`` selects and negates them with
   ``jnp.where`` and a sign-bit XOR. So sine and cosine come from one evaluation, and the
   derivative rules (``d sin = cos``, ``d cos = -sin``, a ``jax.custom_jvp`` on :func:`sincos`)
   use these same fast values: gradients are exactly as accurate as the values. (XLA may still
   emit separate fused loops for a value and its derivative when they feed different consumers.)

The error-free steps rely on XLA's default IEEE semantics (no reassociation); XLA's CPU fast-math
flags would void them. Fused multiply-adds, where the compiler contracts to them, only help.

Accuracy (float64): within one representable step of libm for ``|x| <= 2**20 * pi/2``; below one
ulp of ``x`` up to ``2**51``; finite but meaningless beyond; ``inf``/``nan`` give ``nan``. The
measurements: docs/fastmath.md.

Inputs that are not float64 (float32, float16, complex) go to ``jnp.sin``/``jnp.cos`` unchanged;
integers are promoted to JAX's default float type first.

References: W. J. Cody and W. Waite, *Software Manual for the Elementary Functions*, Prentice-Hall,
1980; fdlibm 5.3 ``k_sin.c``, ``k_cos.c``, ``e_rem_pio2.c`` (Sun Microsystems, 1993); T. J. Dekker,
"A floating-point technique for extending the available precision", Numer. Math. 18 (1971).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike

__all__ = ["cos", "sin", "sincos"]

# Cody-Waite reduction by pi/2 (fdlibm e_rem_pio2.c).
_INV_PIO2 = 6.36619772367581382433e-01  # 2/pi
_PIO2_1 = 1.57079632673412561417e00  # first 31 bits of pi/2
_PIO2_2 = 6.07710050630396597660e-11  # next 32 bits
_PIO2_3 = 2.02226624871116645580e-21  # next 28 bits
_PIO2_3T = 8.47842766036889956997e-32  # pi/2 - (_PIO2_1 + _PIO2_2 + _PIO2_3)
# 1.5 * 2**52: adding it to an integer-valued double |n| < 2**51 leaves n mod 4 in the low bits.
_QUADRANT_SHIFTER = 6755399441055744.0
# |y0| <= pi/4 (+ rounding; < 1.2 for |x| < 2**51) and |y1| <= ulp(y0) / 2 wherever the reduction is
# meaningful; the clamps only keep the polynomials in [-1, 1] (and away from inf - inf) beyond.
_REDUCED_BOUND = 1.5
_TAIL_BOUND = 2.0**-50
# Below this, sin(x) rounds to x (fdlibm's threshold); also keeps -0.0 and subnormals intact.
_SIN_TINY = 2.0**-27

# fdlibm k_sin.c: sin(x) ~ x + S1 x^3 + ... + S6 x^13 on [-pi/4, pi/4].
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
# fdlibm k_cos.c: cos(x) ~ 1 - x^2/2 + C1 x^4 + ... + C6 x^14 on [-pi/4, pi/4].
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11


def _flip_sign(v: Array, bit: Array) -> Array:
    """Negate ``v`` where the int64 ``bit`` is 2 (and leave it where 0), by XOR on the sign bit."""
    bits = lax.bitcast_convert_type(v, jnp.int64)
    return lax.bitcast_convert_type(bits ^ (bit << 62), jnp.float64)


def _sincos_f64(x: Array) -> tuple[Array, Array]:
    """Branch-free sin and cos of a float64 array (see the module docstring)."""
    # Quadrant n = round(x * 2/pi); n mod 4 read off the mantissa of n + 1.5 * 2**52.
    fn = jnp.round(x * _INV_PIO2)
    n = lax.bitcast_convert_type(fn + _QUADRANT_SHIFTER, jnp.int64)

    # x - n pi/2 as y0 + y1. x - fn * _PIO2_1 is exact (Sterbenz); each later product is exact
    # for |n| < 2**21 and Fast2Sum keeps the rounding error of each subtraction.
    a = x - fn * _PIO2_1
    b = fn * _PIO2_2
    r1 = a - b
    e1 = (a - r1) - b
    c = fn * _PIO2_3
    r2 = r1 - c
    e2 = (r1 - r2) - c
    tail = (e1 + e2) - fn * _PIO2_3T
    y0 = r2 + tail
    y1 = (r2 - y0) + tail
    y0 = jnp.clip(y0, -_REDUCED_BOUND, _REDUCED_BOUND)
    y1 = jnp.clip(y1, -_TAIL_BOUND, _TAIL_BOUND)

    # fdlibm __kernel_sin(y0, y1, 1).
    z = y0 * y0
    v = z * y0
    poly_s = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    ksin = y0 - ((z * (0.5 * y1 - v * poly_s) - y1) - v * _S1)

    # fdlibm __kernel_cos(y0, y1) (the FreeBSD form with the exact 1 - z/2 correction).
    w = z * z
    poly_c = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    kcos = w + (((1.0 - w) - hz) + (z * poly_c - y0 * y1))

    # Quadrant n mod 4 = 0, 1, 2, 3: sin = ks, kc, -ks, -kc; cos = kc, -ks, -kc, ks.
    odd = (n & 1) == 1
    s = _flip_sign(jnp.where(odd, kcos, ksin), n & 2)
    c = _flip_sign(jnp.where(odd, ksin, kcos), (n + 1) & 2)
    s = jnp.where(jnp.abs(x) < _SIN_TINY, x, s)
    return s, c


@jax.custom_jvp
def _sincos(x: Array) -> tuple[Array, Array]:
    return _sincos_f64(x)


@_sincos.defjvp
def _sincos_jvp(
    primals: tuple[Array], tangents: tuple[Array]
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    (x,), (dx,) = primals, tangents
    s, c = _sincos(x)  # one reduction for value and derivative; recursive for higher orders
    return (s, c), (c * dx, -s * dx)


def _as_float(x: ArrayLike) -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def sincos(x: ArrayLike) -> tuple[Array, Array]:
    """``(sin(x), cos(x))`` elementwise from one shared range reduction."""
    x = _as_float(x)
    if x.dtype != jnp.float64:
        return jnp.sin(x), jnp.cos(x)
    return _sincos(x)


def sin(x: ArrayLike) -> Array:
    """Elementwise sine; float64 within one step of libm for ``|x| <= 2**20 pi/2``."""
    x = _as_float(x)
    if x.dtype != jnp.float64:
        return jnp.sin(x)
    return _sincos(x)[0]


def cos(x: ArrayLike) -> Array:
    """Elementwise cosine; float64 within one step of libm for ``|x| <= 2**20 pi/2``."""
    x = _as_float(x)
    if x.dtype != jnp.float64:
        return jnp.cos(x)
    return _sincos(x)[1]
