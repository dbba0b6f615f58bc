"""Elementwise activations, accurate in every floating dtype.

Each public function has jax.nn's name and signature and keeps its input's dtype. Inside,
the computation runs in the working precision (`_precision.widen`) with formulas that
neither overflow nor cancel: sigmoid from exp(−|x|), softplus as max(x, 0) +
log1p(exp(−|x|)), derivatives written out (`jax.custom_jvp`) where differentiating the
value's formula would lose the tails (tanh'(x) = 1 − tanh² is 0 from x ≈ 9 in float32;
sech² is not) or give NaN (inf · 0 at the infinities, or through a `where` branch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from fractions import Fraction

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
from jax import dtypes, lax
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from . import _doubleword as dw
from ._doubleword import constant
from ._precision import _NARROW, Array, drop_in, param, widen

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123  # the exact product, rounded once


_DEEP = -64.0  # below it σ(z) = e^z in every format (e^z < 2^−92)


def _where_zero(cond: Array, x: Array, y: Array) -> Array:
    """``y``, except a zero with ``x``'s sign where ``cond`` (a product's limit x · 0)."""
    return jnp.where(cond, jnp.copysign(jnp.zeros_like(x), x), y)


def _expm1_series(x: Array) -> tuple[Array, Array]:
    """(|x| < ln 2, p) with e^x − 1 = x + x²·p there: p = 1/2! + x/3! + … (to the last
    bit of the format); exp(x) − 1 cancels in that range."""
    terms = 11 if jnp.finfo(x.dtype).bits <= 32 else 19
    small = jnp.abs(x) < math.log(2)
    y = jnp.where(small, x, 0)
    p = jnp.zeros_like(x)
    for k in range(terms, 1, -1):
        p = p * y + 1 / math.factorial(k)
    return small, p


def _expm1_value(x: Array) -> Array:
    """e^x − 1 (XLA's float32 expm1 is 4.7 ulps off near −0.0019)."""
    small, p = _expm1_series(x)
    return jnp.where(small, x + (x * x) * p, jnp.exp(x) - 1)


def _deep_edge(dtype: jnp.dtype) -> tuple[float, float, float]:
    """(edge, hi, lo): below ``edge`` e^y is (nearly) subnormal, and e^y = e^(y + hi)·
    e^lo·2^−64 with hi + lo = 64 ln 2, hi on the grid of such y (so y + hi is exact)."""
    info = jnp.finfo(dtype)
    edge = math.log(float(info.tiny)) + 8
    grid = 2.0 ** (math.floor(math.log2(-edge)) - info.nmant)  # the spacing of y there
    return edge, *dw.on_grid("ln2_64", grid)


def _times_exp(k: Array, y: Array) -> Array:
    """k·e^y, accurate wherever the product is normal, even where e^y alone is subnormal
    (XLA flushes it to 0): deep in the tail it is k·e^(y + 64 ln 2)·2^−64 (`_deep_edge`),
    with e^lo = 1 + lo."""
    edge, hi, lo = _deep_edge(y.dtype)
    deep = y < edge
    e = jnp.exp(jnp.where(deep, y + hi, y))  # one exp for both branches
    scaled = jnp.where(e == 0, 0, (k + k * lo) * e * 2.0**-64)  # 0, not inf · 0, far out
    return jnp.where(deep, scaled, k * e)


def _finite_slope(fn=None, *, second=None):
    """``fn`` (a derivative, of x and parameters), differentiated at finite inputs only:
    at x = ±inf its own derivative is 0, the limit of every second derivative here, where
    differentiating its formula would give inf · 0 = NaN (a `where` takes the branch's
    derivative at a finite stand-in, as it does its value). ``second(x, *params)``: its
    derivative in x written out (where differentiating the formula cancels, or loses a
    tail); in the parameters it is differentiated as written."""
    if fn is None:
        return lambda f: _finite_slope(f, second=second)

    @jax.custom_jvp
    def slope(x, *args):
        return fn(x, *args)

    @slope.defjvp
    def slope_jvp(primals, tangents):
        (x, *args), (t, *targs) = primals, tangents
        inf = jnp.isinf(x)
        safe = jnp.where(inf, 0, x)
        if second is None:
            _, d = jax.jvp(fn, (safe, *args), (t, *targs))
        else:
            d = second(safe, *args) * t
            if args:
                d = d + jax.jvp(lambda *a: fn(safe, *a), tuple(args), tuple(targs))[1]
        return fn(x, *args), jnp.where(inf, 0, d)
    return slope


@jax.custom_jvp
def _log1p(u: Array) -> Array:
    """log(1 + u) as log(w)·u/(w − 1), w = 1 + u rounded (Goldberg): as accurate as log,
    where XLA's float64 log1p is up to 127 ulps off (at u ≈ −0.41). The barrier keeps
    XLA's jit from simplifying w − 1 back to u."""
    w = lax.optimization_barrier(1 + u)
    ratio = u / jnp.where(w == 1, 1, w - 1)
    return jnp.where((w == 1) | jnp.isposinf(u), u, jnp.log(w) * ratio)


@_log1p.defjvp
def _log1p_jvp(primals, tangents):
    (u,), (t,) = primals, tangents
    return _log1p(u), t / (1 + u)


@jax.custom_jvp
def _expm1_times(y: Array, k: Array) -> Array:
    """k·(e^y − 1) (elu, selu), whose derivative k·e^y keeps the tail."""
    return k * _expm1_value(y)


@_expm1_times.defjvp
def _expm1_times_jvp(primals, tangents):
    (y, k), (ty, tk) = primals, tangents
    return _expm1_times(y, k), _times_exp(k, y) * ty + _expm1_value(y) * tk


# sigmoid and friends ---------------------------------------------------------------------

def _sigmoid_parts(x: Array) -> tuple[Array, Array]:
    """e = exp(−|x|) and r = 1 / (1 + e), the pieces of σ(±x) without overflow."""
    e = jnp.exp(-jnp.abs(x))
    return e, 1 / (1 + e)


def _sig(x: Array) -> Array:
    """σ(x) = r = 1/(1 + e) for x ≥ 0, e·r below: no exp of a positive number, and one
    division (e/(1 + e) would be a second)."""
    e, r = _sigmoid_parts(x)
    return jnp.where(x >= 0, r, e * r)


@jax.custom_jvp
def _sig_prime(x: Array) -> Array:
    """σ'(x) = σ(x)σ(−x) = e/(1 + e)²: 9.36e-14 at 30, not 1 − 1. Divided once by the
    rounded (1 + e)², not multiplied twice by the rounded r: one rounding fewer, and in
    float32 at x = 2^-23 the exact 1/4, where e·r·r gives 1/4 + 2^-25 (2 ULP)."""
    e = jnp.exp(-jnp.abs(x))
    d = 1 + e
    return e / (d * d)


@_sig_prime.defjvp
def _sig_prime_jvp(primals, tangents):
    """σ''(x) = σ'(x)(1 − 2σ(x)) = −sign(x)·σ'(x)·(1 − e)/(1 + e), with 1 − e =
    −expm1(−|x|): a product, where the derivative of e/(1 + e)² is a difference that
    cancels near 0 (σ''(x) ≈ −x/8 there)."""
    (x,), (t,) = primals, tangents
    e = jnp.exp(-jnp.abs(x))
    q = _sig_prime(x)
    return q, -jnp.sign(x) * (q * (-_expm1_value(-jnp.abs(x)) / (1 + e))) * t


@jax.custom_jvp
def _sigmoid(x: Array) -> Array:
    return _sig(x)


@_sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _sig(x), _sig_prime(x) * t


@jax.custom_jvp
def _softplus(x: Array) -> Array:
    return jnp.maximum(x, 0) + _log1p(jnp.exp(-jnp.abs(x)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    """σ(x), itself differentiable accurately (`_sigmoid`)."""
    (x,), (t,) = primals, tangents
    return _softplus(x), _sigmoid(x) * t


def _swish(x: Array, z: Array, z_lo: Array | None = None, dz: Array | None = None
           ) -> tuple[Array, Array | None]:
    """x·σ(z) and, given dz = dz/dx, its derivative σ(z) + x·σ(z)σ(−z)·dz, with the
    limits 0 (not inf · 0 = NaN) where σ(z) or σ(−z) vanishes. ``z_lo`` is the low part
    of a double-word z: σ(z + z_lo) = σ(z)(1 + σ(−z)·z_lo). One exp serves every branch:
    e^−|z| for σ, and deep in the negative tail, where e^z alone would be flushed while
    x·e^z is still normal, e = e^(z + 64 ln 2) with the factor c = 2^−64·e^lo applied
    last (as `_scaled_exp`; e < 2^−50 there, so 1/(1 + e) is 1 and one formula serves)."""
    edge, hi, lo = _deep_edge(z.dtype)
    deep = z < edge
    e = jnp.exp(jnp.where(deep, z + hi, -jnp.abs(z)))
    c = jnp.where(deep, 2.0**-64 * (1 + lo), 1)
    r = 1 / (1 + e)
    pos = z >= 0
    s, sm = jnp.where(pos, r, e * r), jnp.where(pos, e * r, r)
    base = x * s
    if z_lo is None:
        near = base
    else:  # the low part as a factor 1 + c, not v + v·c: v·c would flush for v near tiny
        near = jnp.where(jnp.isfinite(base), base * (1 + sm * z_lo), base)
        s, sm = s + s * (sm * z_lo), sm - sm * (s * z_lo)
    value = _where_zero(jnp.isneginf(z), x, near * c)
    if dz is None:
        return value, None
    inner = jnp.where(sm == 0, 0, x * dz * sm)
    return value, jnp.where(jnp.isneginf(z) | (s == 0), 0, s * (1 + inner) * c)  # no 0·inf


@jax.custom_jvp
def _silu(x: Array) -> Array:
    return _swish(x, x)[0]


def _silu_second(x: Array) -> Array:
    """silu″ = σ′(x)(2 − x·tanh(x/2)), σ′ = e/(1 + e)², e = e^−|x|: the product taken
    with e^−|x| scaled (`_times_exp`), normal wherever the result is (at 90.5, where
    e^−90.5 alone is flushed in float32, the truth −4.4e-38 is not)."""
    a = jnp.abs(x)
    return _times_exp(2 - x * jnp.tanh(0.5 * x), -a) / jnp.square(1 + jnp.exp(-a))


@_finite_slope(second=_silu_second)
def _silu_prime(x: Array) -> Array:
    return _swish(x, x, dz=jnp.ones_like(x))[1]


@_silu.defjvp
def _silu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _silu(x), _silu_prime(x) * t


@jax.custom_jvp
def _beta_swish(x: Array, beta: Array) -> Array:
    return _swish(x, beta * x)[0]


@_beta_swish.defjvp
def _beta_swish_jvp(primals, tangents):
    (x, beta), (tx, tb) = primals, tangents
    z = beta * x
    value, dx = _beta_swish(x, beta), _beta_swish_prime(x, beta)
    q = _sig_prime(z)
    dbeta = jnp.where(q == 0, 0, x * (x * q))  # x²σ(z)σ(−z), no inf · 0
    return value, dx * tx + dbeta * tb


@_finite_slope(second=lambda x, beta: beta * _silu_second(beta * x))
def _beta_swish_prime(x: Array, beta: Array) -> Array:
    return _swish(x, beta * x, dz=beta)[1]


def _gelu_tanh_z(x: Array) -> tuple[Array, Array]:
    """z = 2√(2/π)·x(1 + 0.044715x²) as hi + lo (gelu(x) = x·σ(z)): σ(z) ≈ e^z far in the
    tail, where a rounded z would cost |z|/2 ulps. Beyond |x| = 64 (σ saturated) plain."""
    kh, kl = constant("gelu_k", x.dtype)
    ch, cl = constant("gelu_c", x.dtype)
    safe = jnp.where(jnp.abs(x) < 64, x, 0)
    sq, sq_e = dw.two_prod(safe, safe)
    m, m_e = dw.two_prod(jnp.asarray(ch, x.dtype), sq)
    u, u_e = dw.two_sum(jnp.ones_like(x), m)
    u_e = u_e + (m_e + ch * sq_e + cl * sq)
    v, v_e = dw.two_prod(jnp.asarray(kh, x.dtype), safe)
    v_e = v_e + kl * safe
    z, z_e = dw.two_prod(v, u)
    z_e = z_e + (v * u_e + v_e * u)
    plain = kh * x * (1 + ch * (x * x))  # x(1 + cx²): the cube overflows no sooner
    inside = jnp.abs(x) < 64
    return jnp.where(inside, z, plain), jnp.where(inside, z_e, 0)


def _gelu_tanh_dz(x: Array) -> Array:
    """dz/dx = 2√(2/π)(1 + 3·0.044715x²)."""
    k, c = constant("gelu_k", x.dtype)[0], constant("gelu_c", x.dtype)[0]
    return k * (1 + 3 * c * (x * x))


def _gelu_tanh_second(x: Array) -> Array:
    """x·σ(z)″ = σ′(z)·(2z′ + x·z″ − x·z′²·tanh(z/2)) (σ″ = −σ′·tanh(z/2)), σ′(z)
    scaled as in `_silu_second`, with z's low part: e^−|z + z_lo| = e^−|z|(1 ∓ z_lo).
    Beyond |x| = 64, 0: σ′(z) is below every format's range."""
    inside = jnp.abs(x) < 64
    x = jnp.where(inside, x, 0)
    z, z_lo = _gelu_tanh_z(x)
    k, c = constant("gelu_k", x.dtype)[0], constant("gelu_c", x.dtype)[0]
    dz, d2z = _gelu_tanh_dz(x), 6 * k * c * x
    a = jnp.abs(z)
    bracket = (2 * dz + x * d2z - x * (dz * dz) * jnp.tanh(0.5 * z)) * (1 - jnp.sign(z) * z_lo)
    return jnp.where(inside, _times_exp(bracket, -a) / jnp.square(1 + jnp.exp(-a)), 0)


def _gelu_tanh_z_narrow(x: Array) -> tuple[Array, None]:
    """z rounded, for a 16-bit input in float32: its error, at most 3|z|·2^−24, moves σ(z)
    by 2^−7 of a float16 ulp (|z| < 20 wherever gelu is a float16 number) and of a
    bfloat16 one (|z| < 110)."""
    k, c = constant("gelu_k", x.dtype)[0], constant("gelu_c", x.dtype)[0]
    return k * x * (1 + c * (x * x)), None


def _gelu_tanh_with(z_of: Callable[[Array], tuple[Array, Array | None]]) -> Callable:
    """gelu(x) = x·σ(z) with z = ``z_of(x)`` (hi and lo, or None), as a custom_jvp whose
    derivative is `_swish`'s (the second `_gelu_tanh_second`)."""

    @_finite_slope(second=_gelu_tanh_second)
    def prime(x: Array) -> Array:
        return _swish(x, *z_of(x), _gelu_tanh_dz(x))[1]

    @jax.custom_jvp
    def value(x: Array) -> Array:
        return _swish(x, *z_of(x))[0]

    @value.defjvp
    def value_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return value(x), prime(x) * t

    return value


_gelu_tanh = _gelu_tanh_with(_gelu_tanh_z)
_gelu_tanh_narrow = _gelu_tanh_with(_gelu_tanh_z_narrow)


def _scaled_exp(y: Array) -> tuple[Array, Array]:
    """(e, c) with e·c = e^y: c = 1, but below `_deep_edge`, where e^y would be flushed,
    e = e^(y + hi) and c = 2^−64·(1 + lo). A product k·e·c taken with c last is normal
    wherever it is, and one exp serves every use of e^y. (`_times_exp` takes k·lo whole;
    here 1 + lo is rounded, half an ulp more, deep in the tail only.)"""
    edge, hi, lo = _deep_edge(y.dtype)
    deep = y < edge
    return jnp.exp(jnp.where(deep, y + hi, y)), jnp.where(deep, 2.0**-64 * (1 + lo), 1)


def _gauss(x: Array) -> tuple[Array, Array]:
    """(g, c) with g·c = exp(−x²/2) (`_scaled_exp`), without the rounding of x² (which
    costs x²/2 ulps far in the tail): x = h + l with h² exact, exp(−x²/2) =
    exp(−h²/2)·(1 − δ·q), δ = hl + l²/2 and q from expm1's series. δ is at most
    2^−11·x² (2^−25·x² in float64): below 0.11 wherever φ is a float32 number, and 2^−15
    in float64, so six terms take it to the last bit. (Not exp(a)·exp(b): XLA's jit
    rewrites that as exp(a + b).)"""
    h, lo = dw.halves(x)
    g, c = _scaled_exp(-0.5 * (h * h))
    d = jnp.minimum(h * lo + 0.5 * (lo * lo), 1)  # (beyond, g is 0: no 0·inf from q)
    q = jnp.ones_like(d)
    for n in range(6, 1, -1):
        q = 1 - d * (1 / n) * q
    return g * (1 - d * q), c


def _times_gauss(k: Array, x: Array) -> Array:
    """k·exp(−x²/2) (`_gauss`), normal wherever the product is."""
    g, c = _gauss(x)
    return (k * g) * c


def _mills(x: Array, terms: int) -> Array:
    """M with Φ(x) = φ(x)·M/|x| for x ≪ 0: the asymptotic series Σ (−1)ⁿ(2n−1)!!/x²ⁿ to
    ``terms`` terms (at float64's threshold in `_gelu_erf_parts` the error is below
    2⁻⁶⁰)."""
    inv = 1 / (x * x)
    m, term = jnp.ones_like(x), jnp.ones_like(x)
    for n in range(1, terms):
        term = term * (-(2 * n - 1)) * inv
        m = m + term
    return m


@functools.cache
def _mills_chebyshev() -> tuple[float, ...]:
    """Chebyshev coefficients of M = |x|·Φ(x)/φ(x) = √π·t·e^(t²)·erfc(t), t = −x/√2, as a
    function of u = 1/(1 + t) on [0, 2/3] (t from 1/2 to ∞), at 15 nodes from mpmath:
    2⁻³⁰ relative, for float32."""
    deg = 14
    nodes = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))
    with mpmath.workdps(30):
        def m(s: float) -> float:
            t = 1 / (mpmath.mpf(s + 1) / 3) - 1
            return float(mpmath.sqrt(mpmath.pi) * t * mpmath.exp(t * t) * mpmath.erfc(t))
        values = [m(float(s)) for s in nodes]
    return tuple(float(c) for c in np.polynomial.chebyshev.chebfit(nodes, values, deg))


def _mills_fit(x: Array) -> Array:
    """M (`_mills_chebyshev`) at x ≤ −1/√2, by Clenshaw's recurrence in s = 3u − 1."""
    u = 1 / (1 - x * math.sqrt(0.5))
    s = 3 * u - 1
    c = _mills_chebyshev()
    b1, b2 = jnp.zeros_like(x), jnp.zeros_like(x)
    for k in c[:0:-1]:
        b1, b2 = k + 2 * s * b1 - b2, b1
    return c[0] + s * b1 - b2


_SQRT_2PI = math.sqrt(2 * math.pi)


def _gelu_erf_single(x: Array) -> tuple[Array, Array]:
    """gelu(x) = x·Φ(x) and its derivative Φ(x) + x·φ(x), in float32. From |x| = 1/√2 on,
    Φ(−|x|) = φ·M/|x|, with the Mills factor M from a Chebyshev fit (`_mills_fit`), and
    Φ(|x|) = 1 − that; between, Φ = 1/2 + erf(x/√2)/2 from erf's series. No XLA erfc,
    which is 7 to 65 float32 ulps off for t = |x|/√2 beyond 1/2, and one exp (φ's).
    Beyond 1/√2 the value is −φ·M (x < 0) or x − φ·M, and the derivative φ·(x − M/x)
    (x < 0) or 1 + φ·(x − M/x): each a term plus a multiple of φ, so that φ and M are each
    used once (XLA then fuses it all into one loop, not four)."""
    a = jnp.abs(x)
    far, neg = a > math.sqrt(0.5), x < 0
    g, c = _gauss(x)
    m = _mills_fit(-jnp.where(far, a, 1))
    near = 0.5 + 0.5 * _erf_series(x)
    value = jnp.where(far, jnp.where(neg, 0, x), x * near) + (
        (jnp.where(far, -m, 0) * (1 / _SQRT_2PI) * g) * c)
    slope = jnp.where(far, x - m / jnp.where(far, x, 1), x)  # times φ
    prime = jnp.where(far, jnp.where(neg, 0, 1), near) + ((slope * (1 / _SQRT_2PI) * g) * c)
    return value, jnp.where(jnp.isinf(x), jnp.where(x > 0, 1, 0), prime)


def _gelu_erf_double(x: Array) -> tuple[Array, Array]:
    """`_gelu_erf_single`'s pair in float64: Φ(x) = erfc(t)/2 at t = −x/√2, t carried as
    hi + lo, erfc(t_h)/2 − √2·φ(x)·t_lo; deep in the tail (x < −10), where XLA's erfc
    loses 20 to 50 ulps, Φ = φ·M/|x| with M from its series (`_mills`)."""
    g, c = _gauss(x)
    rh, rl = constant("sqrt_half", x.dtype)
    finite = jnp.isfinite(x)
    t, t_e = dw.two_prod(jnp.where(finite, x, 0), jnp.asarray(-rh, x.dtype))
    t_e = t_e - rl * jnp.where(finite, x, 0)
    cdf = 0.5 * lax.erfc(jnp.where(finite, t, -x)) - math.sqrt(2) * ((g / _SQRT_2PI) * c) * t_e
    deep = x < -10
    return _gelu_erf_from(x, cdf, deep, _mills(jnp.where(deep, x, -20), 30), g, c)


def _gelu_erf_narrow_pair(x: Array) -> tuple[Array, Array]:
    """`_gelu_erf_single`'s pair for a 16-bit input in float32, where rounding x/√2 and x²
    moves Φ by at most x²·2^−24 relative (2^−8 of a bfloat16 ulp at x = −13, and of a
    float16 one at −5.5): XLA's erfc (up to 65 float32 ulps off, 2^−10 of a bfloat16
    ulp), and below x = −10, where Φ nears the end of float32's normal range but not of
    bfloat16's, five terms of M's series (`_mills`, within 2^−23 there)."""
    g, c = _scaled_exp(-0.5 * (x * x))
    deep = x < -10
    return _gelu_erf_from(x, 0.5 * lax.erfc(x * -math.sqrt(0.5)), deep,
                          _mills(jnp.where(deep, x, -20), 5), g, c)


def _gelu_erf_from(x: Array, cdf: Array, deep: Array, m: Array, g: Array, c: Array
                   ) -> tuple[Array, Array]:
    """x·Φ(x) and Φ(x) + x·φ(x) from Φ (``cdf``) and φ = g·c/√(2π) (`_gauss`); deep in the
    tail, where Φ = φ·M/|x|, −φ·M and φ·(x − M/x), normal wherever they are."""
    phi = (g / _SQRT_2PI) * c
    value = jnp.where(deep, -((m / _SQRT_2PI * g) * c), x * cdf)
    tail = (((x - m / jnp.where(deep, x, -20)) / _SQRT_2PI) * g) * c
    prime = jnp.where(deep, tail, cdf + jnp.where(phi == 0, 0, x * phi))
    return value, jnp.where(jnp.isinf(x), jnp.where(x > 0, 1, 0), prime)


_ERF = tuple((-1) ** n * 2 / (math.sqrt(math.pi) * math.factorial(n) * (2 * n + 1))
             for n in range(8))


def _erf_series(x: Array) -> Array:
    """erf(x/√2) for |x| ≤ 1/√2 (t = x/√2 ≤ 1/2): Σ (−1)ⁿ·2t^(2n+1)/(√π·n!·(2n + 1)) to
    8 terms, the rest below 2^−36 (float32 only)."""
    t = x * math.sqrt(0.5)
    y = t * t
    p = jnp.zeros_like(x)
    for k in reversed(_ERF):
        p = p * y + k
    return t * p


def _gelu_erf_second(x: Array) -> Array:
    """φ(x)(2 − x²), φ by `_times_gauss` (normal wherever the product is); 0 beyond
    |x| = 40, where φ is below every format's range."""
    inside = jnp.abs(x) < 40
    x = jnp.where(inside, x, 0)
    return jnp.where(inside, _times_gauss((2 - x * x) / _SQRT_2PI, x), 0)


def _gelu_erf_with(pair: Callable[[Array], tuple[Array, Array]]) -> Callable:
    """gelu(x) = x·Φ(x) as a custom_jvp from ``pair`` (its value and derivative, of which
    XLA keeps what is used); ±inf's limits, +inf and −0; the second derivative
    `_gelu_erf_second`."""

    @_finite_slope(second=_gelu_erf_second)
    def prime(x: Array) -> Array:
        return pair(x)[1]

    @jax.custom_jvp
    def value(x: Array) -> Array:
        v = jnp.where(jnp.isposinf(x), x, pair(x)[0])
        return _where_zero(jnp.isneginf(x) | (v == 0), x, v)

    @value.defjvp
    def value_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return value(x), prime(x) * t

    return value


def _gelu_erf_32_or_64(x: Array) -> tuple[Array, Array]:
    return (_gelu_erf_single if jnp.finfo(x.dtype).bits <= 32 else _gelu_erf_double)(x)


_gelu_erf = _gelu_erf_with(_gelu_erf_32_or_64)
_gelu_erf_narrow = _gelu_erf_with(_gelu_erf_narrow_pair)


@functools.cache
def _tanh_coefficients(terms: int) -> tuple[Fraction, ...]:
    """t_k with tanh(x) = Σ_{k≥0} t_k x^(2k+1), exactly: from tanh' = 1 − tanh², they obey
    (2k+1)·t_k = −Σ_{i+j=k−1} t_i t_j."""
    t = [Fraction(1)]
    for k in range(1, terms):
        t.append(-sum((t[i] * t[k - 1 - i] for i in range(k)), Fraction(0)) / (2 * k + 1))
    return tuple(t)


@functools.cache
def _tanh_taylor(bits: int) -> tuple[float, ...]:
    """t_1, t_2, … (`_tanh_coefficients`), as many as make the rest below 2^−(p + 2) of x
    at |x| = 0.55: 8 for float32, 18 for float64."""
    p = 24 if bits <= 32 else 53
    t = _tanh_coefficients(40)
    n = next(k for k in range(1, len(t)) if abs(t[k]) * Fraction(0.55) ** (2 * k)
             < Fraction(2) ** -(p + 2))
    return tuple(float(c) for c in t[1:n])


@jax.custom_jvp
def _tanh(x: Array) -> Array:
    """x + x³·P(x²), tanh's Taylor series, below |x| = 0.55 (its terms shrink by 8 there);
    above, sign(x)·(1 − 2e/(1 + e)), e = e^−2|x|, whose one subtraction is of a term at
    most 1/2. XLA's tanh is up to 4.7 ulps off in float32 (at 0.0154 and at 5.74) and
    7 in float64 near saturation (−0.9999999999999992 at x = −19.04, where the truth
    rounds to −0.9999999999999999)."""
    a = jnp.abs(x)
    near = a < 0.55
    y = jnp.where(near, x * x, 0)
    p = jnp.zeros_like(x)
    for c in reversed(_tanh_taylor(jnp.finfo(x.dtype).bits)):
        p = p * y + c
    e = _scaled_exp(-2 * a)[0]  # (deep in the tail e^−2|x| scaled up, 1 − 2e/(1 + e) still 1)
    value = jnp.where(near, x + x * (y * p), jnp.copysign(1 - 2 * e / (1 + e), x))
    # x itself below the normal range (±0 and subnormals: arithmetic would flush them)
    return jnp.where(a < jnp.finfo(x.dtype).tiny, x, value)


@jax.custom_jvp
def _sech2(x: Array) -> Array:
    """sech²(x) = 4e/(1 + e)², e = e^−2|x| (`_scaled_exp`, the exp `_tanh` takes: one for a
    value and its derivative; sech²(43.75) = 4e−38 is normal where e^−87.5 is not, and
    1 + e is 1 there). Near 0, where e ≈ 1 − 2|x|, an error in e moves sech² by |x| times
    as much: no loss there."""
    e, c = _scaled_exp(-2 * jnp.abs(x))
    return 4 * e * c / jnp.square(1 + e)


@_sech2.defjvp
def _sech2_jvp(primals, tangents):
    """(sech²)′ = −2·tanh(x)·sech²(x): a product, where differentiating `_sech` gives
    a difference (1 − e²) that cancels near 0, where the truth is about −2x."""
    (x,), (t,) = primals, tangents
    s2 = _sech2(x)
    return s2, -2 * (jnp.tanh(x) * s2) * t


@_tanh.defjvp
def _tanh_jvp(primals, tangents):
    """sech²(x), itself differentiable accurately (`_sech2`)."""
    (x,), (t,) = primals, tangents
    return _tanh(x), _sech2(x) * t


@jax.custom_jvp
def _tanh_narrow(x: Array) -> Array:
    """tanh of a float16 or bfloat16 input, in float32: XLA's tanh, whose error (at most
    4.7 float32 ulps) is under 2^−13 of a bfloat16 ulp and 2^−10 of a float16 one, so that
    it rounds as the exact value does but within that distance of a rounding boundary."""
    return jnp.tanh(x)


@_tanh_narrow.defjvp
def _tanh_narrow_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _tanh_narrow(x), _sech2(x) * t


def _mish_pair(x: Array) -> tuple[Array, Array]:
    """mish(x) = x·T and its derivative T + x·σ(x)·sech²(s), s = softplus(x), T = tanh(s),
    all from one exp, e = e^−|x| (`_scaled_exp`: deep in the negative tail, x·e^x is
    normal wherever it is), and without the rounding of s (which costs up to 8 ulps
    through XLA's tanh in float32). Below 0, with h = e + e²/2: T = h/(1 + h) (h − h·T for
    h < 1/2, where the rounding of 1 + h would cost its ulp relative to T), sech²(s) =
    (1 + 2h)/(1 + h)², σ = e/(1 + e). Above 0: T = 1 − e²/(1/2 + e + e²), which neither
    overflows nor cancels (the subtracted term is at most 2/5), and σ·sech²(s) =
    4e²(1 + e)/(1 + 2e + 2e²)². (One loop: XLA made five of exp(x), exp(−|x|) and
    softplus's exp.)"""
    e, c = _scaled_exp(-jnp.abs(x))
    neg = x <= 0
    ee = e * e
    h = e + 0.5 * ee
    g = h / (1 + h)
    t = jnp.where(neg, jnp.where(h < 0.5, h - h * g, g), 1 - ee / (0.5 + e + ee))
    q = 1 + 2 * e + 2 * ee
    slope = jnp.where(neg, e / (1 + e) * ((1 + 2 * h) / jnp.square(1 + h)),
                      4 * ee * (1 + e) / (q * q))
    c = jnp.where(neg, c, 1)
    value = (x * t) * c
    prime = (t + jnp.where(slope == 0, 0, x * slope)) * c
    return _where_zero(jnp.isneginf(x), x, value), jnp.where(jnp.isneginf(x), 0, prime)


@jax.custom_jvp
def _mish(x: Array) -> Array:
    """x·tanh(softplus(x)) (`_mish_pair`)."""
    return _mish_pair(x)[0]


def _mish_second(x: Array) -> Array:
    """sech²(s)·(2σ + x(σ′ − 2·tanh(s)·σ²)), s = softplus(x), σ = σ(x), from q = e^−s
    = σ(−x) (exact where a rounded s is not: e^−s would cost s/2 ulps): sech(s) =
    2q/(1 + q²), tanh(s) = (1 − q²)/(1 + q²); sech·(sech·B), so that sech² (4e-39 at
    x = 45) is never formed where the result is normal. Deep below 0, (2 + x)e^x."""
    q = _sigmoid(-x)
    qq = q * q
    sech = 2 * q / (1 + qq)
    sg = _sigmoid(x)
    near = jnp.minimum(x, 1e4)  # beyond, sech = 0: no 0 · inf from a bracket overflowing
    bracket = 2 * sg + near * (_sig_prime(x) - 2 * ((1 - qq) / (1 + qq)) * (sg * sg))
    deep = x < _DEEP
    return jnp.where(deep, _times_exp(2 + x, jnp.where(deep, x, _DEEP)), sech * (sech * bracket))


@_finite_slope(second=_mish_second)
def _mish_prime(x: Array) -> Array:
    return _mish_pair(x)[1]


@_mish.defjvp
def _mish_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _mish(x), _mish_prime(x) * t


@jax.custom_jvp
def _soft_sign(x: Array) -> Array:
    return jnp.where(jnp.isinf(x), jnp.sign(x), x / (jnp.abs(x) + 1))


@_soft_sign.defjvp
def _soft_sign_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    r = 1 / (jnp.abs(x) + 1)
    return _soft_sign(x), r * r * t  # squared after the division: no overflow


def _root(x: Array, b: Array) -> Array:
    """√(x² + b), and |x| where x² overflows (there b/x² is below an ulp for any b under
    the square root of the format's largest number): hypot's scaling costs a division."""
    sq = x * x
    return jnp.where(jnp.isinf(sq), jnp.abs(x), jnp.sqrt(sq + b))


@jax.custom_jvp
def _squareplus(x: Array, b: Array) -> Array:
    s = _root(x, b)
    # (x + s)/2 = x + q for x ≥ 0, q below, q = b/(2(s + |x|)): neither cancels, one
    # division serves both sides, and where s + |x| overflows q is the limit 0 (XLA
    # rewrites 0.5x + 0.5s as 0.5(x + s), so halving first does not keep x + s finite)
    q = (0.5 * b) / (s + jnp.abs(x))
    return jnp.where(x >= 0, x + q, q)


@_finite_slope(second=lambda x, b: (0.5 * b / _root(x, b)) / _root(x, b) / _root(x, b))
def _squareplus_prime(x: Array, b: Array) -> Array:
    """d/dx = squareplus(x)/s."""
    return jnp.where(jnp.isinf(x), jnp.where(x > 0, 1, 0), _squareplus(x, b) / _root(x, b))


@_squareplus.defjvp
def _squareplus_jvp(primals, tangents):
    """d/dx = squareplus(x)/s; d/db = 1/(4s)."""
    (x, b), (tx, tb) = primals, tangents
    return _squareplus(x, b), _squareplus_prime(x, b) * tx + (0.25 / _root(x, b)) * tb


@jax.custom_jvp
def _log1mexp(x: Array) -> Array:
    return jnp.where(x < math.log(2), jnp.log(-_expm1_value(-x)), _log1p(-jnp.exp(-x)))


@_log1mexp.defjvp
def _log1mexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _log1mexp(x), _log1mexp_prime(x) * t


@jax.custom_jvp
def _log1mexp_prime(x: Array) -> Array:
    """1/expm1(x): +inf at ±0, NaN below 0."""
    return jnp.where(x < 0, jnp.nan, 1 / _expm1_value(jnp.abs(x)))


@_log1mexp_prime.defjvp
def _log1mexp_prime_jvp(primals, tangents):
    """−e^x/expm1(x)² = −(1/expm1(x))·(1/(1 − e^−x)): two quotients, no product of two
    small numbers to underflow (−1/x² near 0); −inf at 0, −0 at +inf, NaN below 0."""
    (x,), (t,) = primals, tangents
    a = jnp.abs(x)
    d = -(1 / _expm1_value(a)) * (1 / -_expm1_value(-a))
    d = jnp.where(x < 0, jnp.nan, jnp.where(x == 0, -jnp.inf, d))
    return _log1mexp_prime(x), d * t


# the public functions ---------------------------------------------------------------------

@drop_in("identity")
def identity(x: ArrayLike) -> Array:
    """x."""
    return jnp.asarray(x)


@drop_in("relu", diagonal=True)
def relu(x: ArrayLike) -> Array:
    """max(x, 0); relu'(0) = 0 as jax.nn documents."""
    x = jnp.asarray(x)
    return jnp.where(x <= 0, jnp.zeros_like(x), x)  # NaN passes through


@drop_in("relu6", ints_weak=True, diagonal=True)
def relu6(x: ArrayLike) -> Array:
    """min(max(x, 0), 6); the derivative at 0 and 6 is 0 as jax.nn documents. An integer
    input gives a float, as jax.nn's min(·, 6.) does."""
    x = jnp.asarray(x)
    if not dtypes.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(dtypes.canonicalize_dtype(jnp.float64))
    return jnp.where(x <= 0, jnp.zeros_like(x), jnp.where(x >= 6, jnp.full_like(x, 6), x))


@drop_in("hard_tanh", diagonal=True)
def hard_tanh(x: ArrayLike) -> Array:
    """−1 for x < −1, x for |x| ≤ 1, 1 for x > 1."""
    x = jnp.asarray(x)
    return jnp.where(x < -1, -jnp.ones_like(x), jnp.where(x > 1, jnp.ones_like(x), x))


@drop_in("hard_sigmoid", ints_weak=True, diagonal=True)
def hard_sigmoid(x: ArrayLike) -> Array:
    """relu6(x + 3)/6: 0 for x ≤ −3, 1 for x ≥ 3, (x + 3)/6 between; the derivative is 0
    at ±3 (relu6's) and 1/6 inside, also where x + 3 rounds to 6."""
    w, dtype = widen(x)
    out = jnp.where(w <= -3, 0, jnp.where(w >= 3, 1, (w + 3) / 6))
    return out.astype(dtype)


@drop_in("hard_silu", ints_weak=True, diagonal=True)
def hard_silu(x: ArrayLike) -> Array:
    """x·relu6(x + 3)/6 (−0 below −3, its limit at −inf)."""
    w, dtype = widen(x)
    return _hard_silu(w).astype(dtype)


@jax.custom_jvp
def _hard_silu(w: Array) -> Array:
    mid = jnp.where(jnp.abs(w) < 3, w, 0)  # a safe argument: no inf · 0 in the gradient
    out = _where_zero(w <= -3, w, jnp.where(w >= 3, w, mid * (mid + 3) / 6))
    return jnp.where(jnp.isnan(w), w, out)


@_hard_silu.defjvp
def _hard_silu_jvp(primals, tangents):
    """(2x + 3)/6 inside, exactly 0 at −1.5; 0 at −3 and 1 at 3 (relu6's at its kinks)."""
    (w,), (t,) = primals, tangents
    d = jnp.where(w <= -3, 0, jnp.where(w >= 3, 1, (2 * w + 3) / 6))
    return _hard_silu(w), jnp.where(jnp.isnan(w), w, d) * t


hard_swish = hard_silu


@drop_in("leaky_relu", ints_weak=True, diagonal=True)
def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> Array:
    """x for x ≥ 0, negative_slope·x below."""
    w, dtype = widen(x, negative_slope)
    return _leaky_relu(w, param(negative_slope, w, dtype)).astype(dtype)


@jax.custom_jvp
def _leaky_relu(w: Array, a: Array) -> Array:
    """a·x unless x > 0: where(x ≥ 0, x, a·x) returns a subnormal negative x as it is,
    since XLA's CPU code compares it as −0 (flushed) but selects it unflushed."""
    return jnp.where(w > 0, w, a * w)


def _leaky_relu_jvp(primals, tangents):
    """1 for x ≥ 0 (jax.nn's at 0), a below; d/da = x below 0 (left out when a is not
    differentiated: at x = −inf it is −inf, times a zero tangent NaN)."""
    (w, a), (tw, ta) = primals, tangents
    below = w < 0
    value = _leaky_relu(w, a)
    out = jnp.zeros_like(value)
    if not isinstance(tw, SymbolicZero):
        out = out + jnp.where(below, a, 1) * tw
    if not isinstance(ta, SymbolicZero):
        out = out + jnp.where(below, w, 0) * ta
    return value, out


_leaky_relu.defjvp(_leaky_relu_jvp, symbolic_zeros=True)


@drop_in("prelu", diagonal=True)
def prelu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> Array:
    """Flax's PReLU as a function: leaky_relu with a learned negative_slope, which Flax
    stores as a float32 parameter and casts to x's dtype."""
    x = jnp.asarray(x)
    return leaky_relu(x, jnp.asarray(jnp.asarray(negative_slope, jnp.float32), x.dtype))


@drop_in("sparse_plus", ints_weak=True, diagonal=True)
def sparse_plus(x: ArrayLike) -> Array:
    """0 for x ≤ −1, (x + 1)²/4 for |x| < 1, x for x ≥ 1."""
    w, dtype = widen(x)
    mid = jnp.where(jnp.abs(w) >= 1, 0, w)  # a safe argument (no inf · 0 in the
    # gradient) that keeps NaN
    quad = 0.25 * jnp.square(mid + 1)
    return jnp.where(w <= -1, 0, jnp.where(w >= 1, w, quad)).astype(dtype)


@drop_in("sparse_sigmoid", ints_weak=True, diagonal=True)
def sparse_sigmoid(x: ArrayLike) -> Array:
    """clip((x + 1)/2, 0, 1) as (clip(x, −1, 1) + 1)/2: at ±1 the derivative is jax.nn's
    1/4 (clip's tie rule), and 1/2 just inside, where x + 1 may round to 2."""
    w, dtype = widen(x)
    return (0.5 * jnp.clip(w, -1, 1) + 0.5).astype(dtype)


@drop_in("elu", ints_weak=True, diagonal=True)
def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    """x for x > 0, α·expm1(x) below (expm1 of a safe argument: no inf · 0 in the
    derivative of the branch not taken)."""
    w, dtype = widen(x, alpha)
    a = param(alpha, w, dtype)
    neg = jnp.where(w > 0, 0, w)
    return _negative(w, _expm1_times(neg, a), at_zero=_bend(w, a)).astype(dtype)


def _negative(w: Array, below: Array, above: Array | None = None,
              at_zero: Array | None = None) -> Array:
    """``above`` (default x) for x > 0, ``below`` for x < 0, and at ±0 ``at_zero``
    (default x), a multiple of x: f(−0) = −0 whatever expm1(−0) gives, and the derivative
    at 0 is the left one (jax.nn's α for elu; `_bend`)."""
    zero = w if at_zero is None else at_zero
    return jnp.where(w > 0, w if above is None else above, jnp.where(w == 0, zero, below))


def _bend(w: Array, k: Array, c: Array | None = None) -> Array:
    """k·w·(1 + c·w/2) at w = ±0: ±0, its derivative k and its second k·c (c = 1 by
    default), those of the piece k·expm1(c·w)/c the catalog's convention takes at 0.
    (w·w of the w ≠ 0 it is not taken at would overflow, and 0 · inf is a NaN in the
    derivative of the branch not taken.)"""
    z = jnp.where(w == 0, w, 0)
    return k * w * (1 + (z if c is None else c * z) * 0.5)


@drop_in("celu", ints_weak=True, diagonal=True)
def celu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    """x for x > 0, α·expm1(x/α) below."""
    w, dtype = widen(x, alpha)
    a = param(alpha, w)
    neg = jnp.where(w > 0, 0, w)
    return _negative(w, _celu_negative(neg, a), at_zero=_bend(w, 1, 1 / a)).astype(dtype)


@jax.custom_jvp
def _celu_negative(x: Array, a: Array) -> Array:
    """α·(e^(x/α) − 1), as x + x·(x/α)·p near 0, where x/α may be subnormal (flushed)
    while the result is not; d/dx = e^(x/α) taken whole (α·e^(x/α)·(1/α) can flush)."""
    y = x / a
    small, p = _expm1_series(y)
    return jnp.where(small, x + (x * y) * p, a * (jnp.exp(y) - 1))


@_celu_negative.defjvp
def _celu_negative_jvp(primals, tangents):
    """d/dα = e^(x/α) − 1 − (x/α)e^(x/α)."""
    (x, a), (tx, ta) = primals, tangents
    y = x / a
    e = jnp.exp(y)
    y_e = jnp.where(jnp.isneginf(y), 0, _times_exp(y, y))  # y·e^y → 0 at −inf
    return _celu_negative(x, a), e * tx + (_expm1_value(y) - y_e) * ta


@drop_in("selu", ints_weak=True, diagonal=True)
def selu(x: ArrayLike) -> Array:
    """λx for x > 0, λα·expm1(x) below (λα one constant: one rounding, not two)."""
    w, dtype = widen(x)
    neg = jnp.where(w > 0, 0, w)
    scale_alpha = SELU_SCALE_ALPHA
    return _negative(w, _expm1_times(neg, jnp.asarray(scale_alpha, w.dtype)),
                     SELU_SCALE * w, _bend(w, scale_alpha)).astype(dtype)


@drop_in("sigmoid", floating=True, diagonal=True)
def sigmoid(x: ArrayLike) -> Array:
    """1/(1 + exp(−x))."""
    w, dtype = widen(x)
    return _sigmoid(w).astype(dtype)


@drop_in("log_sigmoid", diagonal=True)
def log_sigmoid(x: ArrayLike) -> Array:
    """−softplus(−x)."""
    w, dtype = widen(x)
    return (-_softplus(-w)).astype(dtype)


@drop_in("softplus", diagonal=True)
def softplus(x: ArrayLike) -> Array:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(−|x|))."""
    w, dtype = widen(x)
    return _softplus(w).astype(dtype)


@drop_in("silu", floating=True, diagonal=True)
def silu(x: ArrayLike) -> Array:
    """x·σ(x)."""
    w, dtype = widen(x)
    return _silu(w).astype(dtype)


swish = silu


@drop_in("beta_swish", diagonal=True)
def beta_swish(x: ArrayLike, beta: ArrayLike = 1.0) -> Array:
    """x·σ(βx), differentiable in β too."""
    w, dtype = widen(x, beta)
    return _beta_swish(w, param(beta, w)).astype(dtype)


@drop_in("gelu", weak=False, diagonal=True)
def gelu(x: ArrayLike, approximate: bool = True) -> Array:
    """x/2·erfc(−x/√2); approximate: x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(z)."""
    w, dtype = widen(x)
    narrow = dtype in _NARROW
    if approximate:
        return (_gelu_tanh_narrow if narrow else _gelu_tanh)(w).astype(dtype)
    return (_gelu_erf_narrow if narrow else _gelu_erf)(w).astype(dtype)


@drop_in("mish", diagonal=True)
def mish(x: ArrayLike) -> Array:
    """x·tanh(softplus(x))."""
    w, dtype = widen(x)
    return _mish(w).astype(dtype)


@drop_in("tanh", diagonal=True)
def tanh(x: ArrayLike, /) -> Array:
    """tanh(x), its derivative sech²(x) accurate in the tails."""
    w, dtype = widen(x)
    return (_tanh_narrow if dtype in _NARROW else _tanh)(w).astype(dtype)


@drop_in("soft_sign", diagonal=True)
def soft_sign(x: ArrayLike) -> Array:
    """x/(|x| + 1), ±1 at ±inf."""
    w, dtype = widen(x)
    return _soft_sign(w).astype(dtype)


@drop_in("squareplus", diagonal=True)
def squareplus(x: ArrayLike, b: ArrayLike = 4) -> Array:
    """(x + √(x² + b))/2."""
    w, dtype = widen(x, b)
    return _squareplus(w, param(b, w, dtype)).astype(dtype)


@drop_in("log1mexp", diagonal=True)
def log1mexp(x: ArrayLike) -> Array:
    """log(1 − exp(−x)) for x ≥ 0: log(−expm1(−x)) below log 2, log1p(−exp(−x)) above."""
    w, dtype = widen(x)
    return _log1mexp(w).astype(dtype)


# the activations PyTorch has and jax.nn lacks -------------------------------------------

@drop_in("hard_shrink", diagonal=True)
def hard_shrink(x: ArrayLike, lambd: ArrayLike = 0.5) -> Array:
    """x for |x| > λ, 0 on the closed band [−λ, λ] (torch's hardshrink; NaN passes)."""
    w, dtype = widen(x, lambd)
    lam = param(lambd, w, dtype)
    return jnp.where((w >= -lam) & (w <= lam), 0, w).astype(dtype)


@drop_in("soft_shrink", diagonal=True)
def soft_shrink(x: ArrayLike, lambd: ArrayLike = 0.5) -> Array:
    """x − λ above λ, x + λ below −λ, 0 on [−λ, λ] (torch's softshrink): one rounding."""
    w, dtype = widen(x, lambd)
    lam = param(lambd, w, dtype)
    band = (w >= -lam) & (w <= lam)
    return jnp.where(band, 0, jnp.where(w > 0, w - lam, w + lam)).astype(dtype)


def _tanh_shrink_coefficients(terms: int) -> list[float]:
    """c_k with x − tanh(x) = Σ_{k≥1} c_k x^(2k+1): −t_k (`_tanh_coefficients`)."""
    return [float(-c) for c in _tanh_coefficients(terms + 1)[1:]]


@drop_in("tanh_shrink", diagonal=True)
def tanh_shrink(x: ArrayLike) -> Array:
    """x − tanh(x), odd: for |x| < 1 its Taylor series (x − tanh(x) cancels there: x³/3 at
    small x), for |x| ≥ 1 (|x| − 1) + 2/(e^(2|x|) + 1), two terms of one sign."""
    w, dtype = widen(x)
    return _tanh_shrink(w).astype(dtype)


@jax.custom_jvp
def _tanh_shrink(w: Array) -> Array:
    a = jnp.abs(w)
    small = a < 1
    y = jnp.where(small, a, 0)
    terms = 20 if jnp.finfo(w.dtype).bits <= 32 else 42  # the series' ratio at 1: 0.405
    p = jnp.zeros_like(w)
    for c in reversed(_tanh_shrink_coefficients(terms)):
        p = p * (y * y) + c
    series = y * (y * (y * p))
    far = (a - 1) + 2 / (jnp.exp(2 * jnp.where(small, 1, a)) + 1)
    return jnp.copysign(jnp.where(small, series, far), w)


@_tanh_shrink.defjvp
def _tanh_shrink_jvp(primals, tangents):
    """tanh²(x): 1 at ±inf, no inf/inf."""
    (w,), (t,) = primals, tangents
    th = _tanh(w)
    return _tanh_shrink(w), th * th * t


@drop_in("threshold", diagonal=True)
def threshold(x: ArrayLike, threshold: ArrayLike, value: ArrayLike) -> Array:
    """x above the threshold, ``value`` at or below it (torch's threshold; NaN passes)."""
    w, dtype = widen(x, threshold, value)
    th, v = param(threshold, w, dtype), param(value, w, dtype)
    return jnp.where(w <= th, v, w).astype(dtype)
