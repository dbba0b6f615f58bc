"""Elementwise activations, accurate in every floating dtype.

Each public function has jax.nn's name and signature and keeps its input's dtype. Inside,
the computation runs in the working precision (`_precision.widen`) with formulas that
neither overflow nor cancel: sigmoid from exp(−|x|), softplus as max(x, 0) +
log1p(exp(−|x|)), derivatives written out (`jax.custom_jvp`) where differentiating the
value's formula would lose the tails (tanh'(x) = 1 − tanh² is 0 from x ≈ 9 in float32;
sech² is not) or give NaN (inf · 0 at the infinities, or through a `where` branch).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from ._precision import Array, param, widen

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_CUBIC = 0.044715


def _where_zero(cond: Array, x: Array, y: Array) -> Array:
    """``y``, except a zero with ``x``'s sign where ``cond`` (a product's limit x · 0)."""
    return jnp.where(cond, jnp.copysign(jnp.zeros_like(x), x), y)


@jax.custom_jvp
def _expm1(x: Array) -> Array:
    return jnp.expm1(x)


@_expm1.defjvp
def _expm1_jvp(primals, tangents):
    """exp(x), not JAX's expm1(x) + 1, which is 0 from x ≈ −17 (float32) on."""
    (x,), (t,) = primals, tangents
    return jnp.expm1(x), jnp.exp(x) * t


# sigmoid and friends ---------------------------------------------------------------------

def _sigmoid_parts(x: Array) -> tuple[Array, Array]:
    """e = exp(−|x|) and r = 1 / (1 + e), the pieces of σ(±x) without overflow."""
    e = jnp.exp(-jnp.abs(x))
    return e, 1 / (1 + e)


def _sig(x: Array) -> Array:
    """σ(x) = 1/(1 + e) for x ≥ 0, e/(1 + e) below: no exp of a positive number."""
    e, r = _sigmoid_parts(x)
    return jnp.where(x >= 0, r, e * r)


def _sig_prime(x: Array) -> Array:
    """σ'(x) = σ(x)σ(−x) = e/(1 + e)²: 9.36e-14 at 30, not 1 − 1."""
    e, r = _sigmoid_parts(x)
    return e * r * r


@jax.custom_jvp
def _sigmoid(x: Array) -> Array:
    return _sig(x)


@_sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _sig(x), _sig_prime(x) * t


@jax.custom_jvp
def _softplus(x: Array) -> Array:
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), _sig(x) * t


def _swish(x: Array, z: Array, dz: Array | None = None) -> tuple[Array, Array | None]:
    """x·σ(z) and, given dz = dz/dx, its derivative σ(z) + x·σ(z)σ(−z)·dz, with the
    limits 0 (not inf · 0 = NaN) where σ(z) or σ(−z) vanishes."""
    s, sm = _sig(z), _sig(-z)
    value = _where_zero(s == 0, x, x * s)
    if dz is None:
        return value, None
    inner = jnp.where(sm == 0, 0, x * dz * sm)
    return value, jnp.where(s == 0, 0, s * (1 + inner))


@jax.custom_jvp
def _silu(x: Array) -> Array:
    return _swish(x, x)[0]


@_silu.defjvp
def _silu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    value, d = _swish(x, x, jnp.ones_like(x))
    return value, d * t


@jax.custom_jvp
def _beta_swish(x: Array, beta: Array) -> Array:
    return _swish(x, beta * x)[0]


@_beta_swish.defjvp
def _beta_swish_jvp(primals, tangents):
    (x, beta), (tx, tb) = primals, tangents
    z = beta * x
    value, dx = _swish(x, z, beta)
    q = _sig_prime(z)
    dbeta = jnp.where(q == 0, 0, x * (x * q))  # x²σ(z)σ(−z), no inf · 0
    return value, dx * tx + dbeta * tb


def _gelu_tanh_z(x: Array) -> Array:
    """z = 2√(2/π)(x + 0.044715x³), so that gelu(x) = x·σ(z); written x(1 + cx²) so the
    cube overflows no earlier than the square."""
    k = 2 * math.sqrt(2 / math.pi)
    return k * x * (1 + GELU_CUBIC * (x * x))


def _gelu_tanh_dz(x: Array) -> Array:
    return 2 * math.sqrt(2 / math.pi) * (1 + 3 * GELU_CUBIC * (x * x))


@jax.custom_jvp
def _gelu_tanh(x: Array) -> Array:
    return _swish(x, _gelu_tanh_z(x))[0]


@_gelu_tanh.defjvp
def _gelu_tanh_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    value, d = _swish(x, _gelu_tanh_z(x), _gelu_tanh_dz(x))
    return value, d * t


def _exp_neg_half_square(x: Array) -> Array:
    """exp(−x²/2) without the rounding of x² (which costs x²/2 ulps far in the tail):
    x = h + l with h holding the top half of the significand, so h², hl and l² are exact
    and exp(−x²/2) = exp(−h²/2)·exp(−hl)·exp(−l²/2)."""
    bits = {jnp.dtype(jnp.float32): (jnp.uint32, 0xFFFFF000),
            jnp.dtype(jnp.float64): (jnp.uint64, 0xFFFFFFFFF8000000)}
    utype, mask = bits[jnp.dtype(x.dtype)]
    h = lax.bitcast_convert_type(lax.bitcast_convert_type(x, utype) & utype(mask), x.dtype)
    lo = x - h
    return jnp.exp(-0.5 * (h * h)) * jnp.exp(-(h * lo)) * jnp.exp(-0.5 * (lo * lo))


@jax.custom_jvp
def _gelu_erf(x: Array) -> Array:
    c = lax.erfc(x * -math.sqrt(0.5))
    return _where_zero(c == 0, x, (0.5 * x) * c)


@_gelu_erf.defjvp
def _gelu_erf_jvp(primals, tangents):
    """Φ(x) + x·φ(x)."""
    (x,), (t,) = primals, tangents
    phi = _exp_neg_half_square(x) * (1 / math.sqrt(2 * math.pi))
    cdf = 0.5 * lax.erfc(x * -math.sqrt(0.5))
    d = jnp.where(jnp.isinf(x), jnp.where(x > 0, 1, 0), cdf + jnp.where(phi == 0, 0, x * phi))
    return _gelu_erf(x), d * t


@jax.custom_jvp
def _tanh(x: Array) -> Array:
    return jnp.tanh(x)


@_tanh.defjvp
def _tanh_jvp(primals, tangents):
    """sech²(x) = 4e/(1 + e)², e = exp(−2|x|)."""
    (x,), (t,) = primals, tangents
    e = jnp.exp(-2 * jnp.abs(x))
    r = 1 / (1 + e)
    return jnp.tanh(x), 4 * e * r * r * t


@jax.custom_jvp
def _mish(x: Array) -> Array:
    return _where_zero(jnp.isneginf(x), x, x * jnp.tanh(_softplus(x)))


@_mish.defjvp
def _mish_jvp(primals, tangents):
    """tanh(sp) + x·sech²(sp)·σ(x), sp = softplus(x)."""
    (x,), (t,) = primals, tangents
    sp = _softplus(x)
    e = jnp.exp(-2 * sp)
    r = 1 / (1 + e)
    sech2 = 4 * e * r * r
    s = _sig(x)
    tail = jnp.where((s == 0) | (sech2 == 0), 0, x * sech2 * s)
    return _mish(x), (jnp.tanh(sp) + tail) * t


@jax.custom_jvp
def _soft_sign(x: Array) -> Array:
    return jnp.where(jnp.isinf(x), jnp.sign(x), x / (jnp.abs(x) + 1))


@_soft_sign.defjvp
def _soft_sign_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    r = 1 / (jnp.abs(x) + 1)
    return _soft_sign(x), r * r * t  # squared after the division: no overflow


@jax.custom_jvp
def _squareplus(x: Array, b: Array) -> Array:
    s = jnp.hypot(x, jnp.sqrt(b))  # √(x² + b) without overflowing x²
    # (x + s)/2 for x ≥ 0; b/(2(s − x)) below, which does not cancel. Halved first so
    # that neither sum overflows.
    return jnp.where(x >= 0, 0.5 * x + 0.5 * s, (0.25 * b) / (0.5 * s - 0.5 * x))


@_squareplus.defjvp
def _squareplus_jvp(primals, tangents):
    """d/dx = squareplus(x)/s; d/db = 1/(4s)."""
    (x, b), (tx, tb) = primals, tangents
    s = jnp.hypot(x, jnp.sqrt(b))
    value = _squareplus(x, b)
    dx = jnp.where(jnp.isinf(x), jnp.where(x > 0, 1, 0), value / s)
    return value, dx * tx + (0.25 / s) * tb


@jax.custom_jvp
def _log1mexp(x: Array) -> Array:
    return jnp.where(x < math.log(2), jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


@_log1mexp.defjvp
def _log1mexp_jvp(primals, tangents):
    """1/expm1(x): +inf at ±0, NaN below 0."""
    (x,), (t,) = primals, tangents
    d = jnp.where(x < 0, jnp.nan, 1 / jnp.expm1(jnp.abs(x)))
    return _log1mexp(x), d * t


# the public functions ---------------------------------------------------------------------

def identity(x: ArrayLike) -> Array:
    """x."""
    return jnp.asarray(x)


def relu(x: ArrayLike) -> Array:
    """max(x, 0); relu'(0) = 0 as jax.nn documents."""
    x = jnp.asarray(x)
    return jnp.where(x <= 0, jnp.zeros_like(x), x)  # NaN passes through


def relu6(x: ArrayLike) -> Array:
    """min(max(x, 0), 6); the derivative at 0 and 6 is 0 as jax.nn documents."""
    x = jnp.asarray(x)
    return jnp.where(x <= 0, jnp.zeros_like(x), jnp.where(x >= 6, jnp.full_like(x, 6), x))


def hard_tanh(x: ArrayLike) -> Array:
    """−1 for x < −1, x for |x| ≤ 1, 1 for x > 1."""
    x = jnp.asarray(x)
    return jnp.where(x < -1, -jnp.ones_like(x), jnp.where(x > 1, jnp.ones_like(x), x))


def hard_sigmoid(x: ArrayLike) -> Array:
    """relu6(x + 3)/6."""
    w, dtype = widen(x)
    return (relu6(w + 3) / 6).astype(dtype)


def hard_silu(x: ArrayLike) -> Array:
    """x·relu6(x + 3)/6 (−0 below −3, its limit at −inf)."""
    w, dtype = widen(x)
    mid = jnp.where(jnp.abs(w) < 3, w, 0)  # a safe argument: no inf · 0 in the gradient
    out = jnp.where(w >= 3, w, mid * (mid + 3) / 6)
    return _where_zero(w <= -3, w, out).astype(dtype)


hard_swish = hard_silu


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> Array:
    """x for x ≥ 0, negative_slope·x below."""
    w, dtype = widen(x)
    return jnp.where(w >= 0, w, param(negative_slope, w) * w).astype(dtype)


def prelu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> Array:
    """Flax's PReLU as a function: leaky_relu with a learned negative_slope."""
    return leaky_relu(x, negative_slope)


def sparse_plus(x: ArrayLike) -> Array:
    """0 for x ≤ −1, (x + 1)²/4 for |x| < 1, x for x ≥ 1."""
    w, dtype = widen(x)
    quad = 0.25 * jnp.square(w + 1)
    return jnp.where(w <= -1, 0, jnp.where(w >= 1, w, quad)).astype(dtype)


def sparse_sigmoid(x: ArrayLike) -> Array:
    """clip((x + 1)/2, 0, 1); at ±1 the derivative is jax.nn's 1/4 (clip's tie rule)."""
    w, dtype = widen(x)
    return (0.5 * jnp.clip(w + 1, 0, 2)).astype(dtype)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    """x for x > 0, α·expm1(x) below (expm1 of a safe argument: no inf · 0 in the
    derivative of the branch not taken)."""
    w, dtype = widen(x)
    a = param(alpha, w)
    neg = jnp.where(w > 0, 0, w)
    return _negative(w, a * _expm1(neg), at_zero=a * w).astype(dtype)


def _negative(w: Array, below: Array, above: Array | None = None,
              at_zero: Array | None = None) -> Array:
    """``above`` (default x) for x > 0, ``below`` for x < 0, and at ±0 ``at_zero``
    (default x), a multiple of x: f(−0) = −0 whatever expm1(−0) gives, and the derivative
    at 0 is the left one (jax.nn's α for elu)."""
    zero = w if at_zero is None else at_zero
    return jnp.where(w > 0, w if above is None else above, jnp.where(w == 0, zero, below))


def celu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    """x for x > 0, α·expm1(x/α) below."""
    w, dtype = widen(x)
    a = param(alpha, w)
    neg = jnp.where(w > 0, 0, w)
    return _negative(w, a * _expm1(neg / a)).astype(dtype)


def selu(x: ArrayLike) -> Array:
    """λx for x > 0, λα·expm1(x) below (λα one constant: one rounding, not two)."""
    w, dtype = widen(x)
    neg = jnp.where(w > 0, 0, w)
    scale_alpha = SELU_SCALE * SELU_ALPHA
    return _negative(w, scale_alpha * _expm1(neg), SELU_SCALE * w, scale_alpha * w
                     ).astype(dtype)


def sigmoid(x: ArrayLike) -> Array:
    """1/(1 + exp(−x))."""
    w, dtype = widen(x)
    return _sigmoid(w).astype(dtype)


def log_sigmoid(x: ArrayLike) -> Array:
    """−softplus(−x)."""
    w, dtype = widen(x)
    return (-_softplus(-w)).astype(dtype)


def softplus(x: ArrayLike) -> Array:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(−|x|))."""
    w, dtype = widen(x)
    return _softplus(w).astype(dtype)


def silu(x: ArrayLike) -> Array:
    """x·σ(x)."""
    w, dtype = widen(x)
    return _silu(w).astype(dtype)


swish = silu


def beta_swish(x: ArrayLike, beta: ArrayLike = 1.0) -> Array:
    """x·σ(βx), differentiable in β too."""
    w, dtype = widen(x)
    return _beta_swish(w, param(beta, w)).astype(dtype)


def gelu(x: ArrayLike, approximate: bool = True) -> Array:
    """x/2·erfc(−x/√2); approximate: x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(z)."""
    w, dtype = widen(x)
    return (_gelu_tanh(w) if approximate else _gelu_erf(w)).astype(dtype)


def mish(x: ArrayLike) -> Array:
    """x·tanh(softplus(x))."""
    w, dtype = widen(x)
    return _mish(w).astype(dtype)


def tanh(x: ArrayLike, /) -> Array:
    """tanh(x), its derivative sech²(x) accurate in the tails."""
    w, dtype = widen(x)
    return _tanh(w).astype(dtype)


def soft_sign(x: ArrayLike) -> Array:
    """x/(|x| + 1), ±1 at ±inf."""
    w, dtype = widen(x)
    return _soft_sign(w).astype(dtype)


def squareplus(x: ArrayLike, b: ArrayLike = 4) -> Array:
    """(x + √(x² + b))/2."""
    w, dtype = widen(x)
    return _squareplus(w, param(b, w)).astype(dtype)


def log1mexp(x: ArrayLike) -> Array:
    """log(1 − exp(−x)) for x ≥ 0: log(−expm1(−x)) below log 2, log1p(−exp(−x)) above."""
    w, dtype = widen(x)
    return _log1mexp(w).astype(dtype)
