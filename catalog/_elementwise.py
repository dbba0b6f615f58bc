"""Elementwise activations: y = f(x), formula and derivative written once for both backends.

Each formula receives a finite, exact ``x`` and the namespace ``B``; non-finite inputs are
answered by the entry's `Limits`, and derivatives at kinks by its `Kink` conventions, so
the formulas only describe open pieces. See `_spec` for the conventions of a formula.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

from ._spec import (
    IN_X,
    Activation,
    Bend,
    Bounds,
    Identity,
    Kind,
    Kink,
    Limits,
    Monotone,
    Param,
    Saturation,
    ZeroSign,
)

E = Kind.ELEMENTWISE
ODD = ZeroSign.ODD

# SELU's constants, as jax.nn writes them (Klambauer et al. 2017).
SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_SCALE = "1.0507009873554804934193349852946"
GELU_CUBIC = "0.044715"
TINY = Fraction(1, 4096)  # |x| below this: x·(1/2 + …) is given as x/2 plus the rest


def _half_and(x, B, rest):
    """x/2 + rest as ``B.near``: at an odd subnormal x, x/2 is a tie of the format, and
    only the remainder's sign decides the rounding (silu(x) = x/2 + x²/4 rounds up)."""
    return B.near(_exact(x, B) / 2, rest)


def _identity(x, B):
    return x


def _one(x, B):
    return 1


def _relu(x, B):
    return x if x > 0 else 0


def _step(x, B):
    return 1 if x > 0 else 0


def _relu6(x, B):
    return 0 if x <= 0 else (6 if x >= 6 else x)


def _relu6_grad(x, B):
    return 1 if 0 < x < 6 else 0


def _hard_sigmoid(x, B):
    return 0 if x <= -3 else (1 if x >= 3 else (x + 3) / 6)


def _hard_sigmoid_grad(x, B):
    return B.lit(1) / 6 if -3 < x < 3 else 0


def _hard_silu(x, B):
    """x·relu6(x + 3)/6: −0.0 for x ≤ −3 (x·0), as at −inf; at tiny x, x/2 + x²/6."""
    if abs(x) < B.lit(TINY):
        return _half_and(x, B, x * x / 6)
    return -0.0 if x <= -3 else (x if x >= 3 else x * (x + 3) / 6)


def _hard_silu_grad(x, B):
    return 0 if x <= -3 else (1 if x >= 3 else (2 * x + 3) / 6)


def _hard_tanh(x, B):
    return -1 if x < -1 else (1 if x > 1 else x)


def _hard_tanh_grad(x, B):
    return 1 if -1 < x < 1 else 0


def _leaky_relu(x, B, negative_slope):
    return x if x >= 0 else negative_slope * x


def _leaky_relu_grad(x, B, negative_slope):
    return 1 if x > 0 else negative_slope


def _leaky_neg_inf(B, negative_slope):
    return -math.inf if negative_slope > 0 else (math.inf if negative_slope < 0 else 0)


# expm1(x) − x = x²/2 + x³/6 + …: (n, c) for c·xⁿ; for −1 < x < 0 its terms alternate in
# sign and decrease
EXPM1_MINUS_X = tuple((n, Fraction(1, math.factorial(n))) for n in range(2, 7))


def _elu(x, B, alpha):
    """x if x > 0, else α·expm1(x); at tiny x, αx + α(expm1(x) − x) (`_half_and`'s tie at
    α = 1/2), the remainder by its series `EXPM1_MINUS_X`."""
    if x > 0:
        return x
    if -x < B.lit(TINY):
        rest = B.alternating(x, EXPM1_MINUS_X, lambda: B.expm1(x) - x)
        return B.near(B.exact(alpha) * _exact(x, B), alpha * rest)
    return alpha * B.expm1(x)


def _elu_grad(x, B, alpha):
    return 1 if x > 0 else alpha * B.exp(x)


def _celu(x, B, alpha):
    return x if x > 0 else alpha * B.expm1(x / alpha)


def _celu_grad(x, B, alpha):
    return 1 if x > 0 else B.exp(x / alpha)


def _minus_alpha(B, alpha):
    return -alpha


def _alpha(B, alpha):
    return alpha


def _inverse_alpha(B, alpha):
    """celu″ at 0 from the left: e^(x/α)/α."""
    return 1 / alpha


def _selu(x, B):
    return B.lit(SELU_SCALE) * (x if x > 0 else B.lit(SELU_ALPHA) * B.expm1(x))


def _selu_grad(x, B):
    return B.lit(SELU_SCALE) * (1 if x > 0 else B.lit(SELU_ALPHA) * B.exp(x))


def _selu_neg_inf(B):
    return -B.lit(SELU_SCALE) * B.lit(SELU_ALPHA)


def _selu_kink(B):
    return B.lit(SELU_SCALE) * B.lit(SELU_ALPHA)


def _hard_shrink(x, B, lambd):
    return x if abs(x) > lambd else 0


def _outside(x, B, lambd):
    """The derivative of both shrinks: 1 outside [−λ, λ], 0 on it (torch's, at ±λ too)."""
    return 1 if abs(x) > lambd else 0


def _soft_shrink(x, B, lambd):
    return x - lambd if x > lambd else (x + lambd if x < -lambd else 0)


# x − tanh(x) = x³/3 − 2x⁵/15 + 17x⁷/315 − …: (n, c) for c·xⁿ, from tanh's Taylor series
# 2²ᵏ(2²ᵏ − 1)|B₂ₖ|/(2k)! · x²ᵏ⁻¹ with alternating signs; the ratio of successive
# coefficients is below 0.41 (it tends to (2/π)²), so for |x| ≤ 1/8 the terms decrease.
X_MINUS_TANH = ((3, Fraction(1, 3)), (5, Fraction(-2, 15)), (7, Fraction(17, 315)),
                (9, Fraction(-62, 2835)), (11, Fraction(1382, 155925)),
                (13, Fraction(-21844, 6081075)))


def _tanh_shrink(x, B):
    """Beyond ±1, x ∓ 1 ± 2σ(∓2x) (1 − tanh(x) = 2σ(−2x)): an exact base and a remainder
    far smaller, which decides x − tanh(x) beside a tie of x ∓ 1 (x = 9077567998918656).
    Within ±1/8 also the series `X_MINUS_TANH` (x − tanh(x) cancels to about x³/3)."""
    if abs(x) > 1:
        s = 1 if x > 0 else -1
        return B.near(_exact(x, B) - s, s * 2 * B.sigmoid(-2 * s * x))
    if abs(x) <= B.lit(Fraction(1, 8)):
        return B.alternating(x, X_MINUS_TANH, lambda: x - B.tanh(x))
    return x - B.tanh(x)


def _exact(x, B):
    """The exact input (x ∓ 1 may not be exact in the working precision): `B.exact`."""
    return B.exact(x)


def _tanh_shrink_grad(x, B):
    return B.tanh(x) ** 2


def _threshold(x, B, threshold, value):
    return x if x > threshold else value


def _threshold_grad(x, B, threshold, value):
    return 1 if x > threshold else 0


def _value_below(B, threshold, value):
    return value


def _minus(lambd):
    return -lambd


def _plus(lambd):
    return lambd


def _at_threshold(threshold):
    return threshold


def _gelu_u(x, B):
    """u = sqrt(2/pi) (x + 0.044715 x^3), so 1 + tanh(u) = 2 sigmoid(2u)."""
    return B.sqrt(2 / B.pi) * (x + B.lit(GELU_CUBIC) * x**3)


def _gelu(x, B, approximate):
    """For x > 0, x minus x·σ(−2u) (x·erfc(x/√2)/2): the value beside x, however close;
    at tiny x, x/2 + (x/2)·tanh(u) (x/2 + (x/2)·erf(x/√2)), see `_half_and`."""
    if abs(x) < B.lit(TINY):
        odd = B.tanh(_gelu_u(x, B)) if approximate else B.erf(x / B.sqrt(B.lit(2)))
        return _half_and(x, B, x / 2 * odd)
    if approximate:
        if x > 0:
            return B.near(x, -x * B.sigmoid(-2 * _gelu_u(x, B)))
        return x * B.sigmoid(2 * _gelu_u(x, B))
    if x > 0:
        return B.near(x, -x / 2 * B.erfc(x / B.sqrt(B.lit(2))))
    return x / 2 * B.erfc(-x / B.sqrt(B.lit(2)))


def _gelu_scale(x, B, approximate):
    """The size of gelu′'s terms: σ(2u) (Φ(x) in the erf form)."""
    if approximate:
        return B.sigmoid(2 * _gelu_u(x, B))
    return B.erfc(-x / B.sqrt(B.lit(2))) / 2


def _gelu_second_scale(x, B, approximate):
    """The size of gelu″'s terms. Erf form: φ(x)(2 + x²) (gelu″ = φ(x)(2 − x²)).
    Approximate, with S′ = σ′(2u): S′·(4|u′| + 4|x|u′² + 2|x||u″|), the terms of
    4S′u′ + 2x(2σ″(2u)u′² + S′u″)."""
    if not approximate:
        return B.exp(-(x**2) / 2) / B.sqrt(2 * B.pi) * (2 + x**2)
    k = B.sqrt(2 / B.pi)
    du = k * (1 + 3 * B.lit(GELU_CUBIC) * x**2)
    d2u = k * 6 * B.lit(GELU_CUBIC) * abs(x)
    return _sigmoid_grad(2 * _gelu_u(x, B), B) * (4 * du + 4 * abs(x) * du**2
                                                   + 2 * abs(x) * d2u)


def _gelu_grad(x, B, approximate):
    """σ(2u)(1 + 2x·σ(−2u)·u'); erf form Φ(x) + x·φ(x), below −1 as φ(x)(x + Φ(x)/φ(x))
    with Φ/φ = √(π/2)·erfcx(−x/√2). Products, so that far below 0, where φ and σ(2u)
    underflow, the value's sign is still known (it rounds to −0.0)."""
    if approximate:
        u = _gelu_u(x, B)
        du = B.sqrt(2 / B.pi) * (1 + 3 * B.lit(GELU_CUBIC) * x**2)
        return B.sigmoid(2 * u) * (1 + 2 * x * B.sigmoid(-2 * u) * du)
    phi = B.exp(-(x**2) / 2) / B.sqrt(2 * B.pi)
    if x < -1:
        return phi * (x + B.sqrt(B.pi / 2) * B.erfcx(-x / B.sqrt(B.lit(2))))
    return B.erfc(-x / B.sqrt(B.lit(2))) / 2 + x * phi


def _log1mexp(x, B):
    """log(−expm1(−x)) up to 1, log1p(−exp(−x)) above: each without cancellation, and
    certainly negative however small (log1mexp(1000) = −e^−1000)."""
    if x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return B.log(-B.expm1(-x)) if x <= 1 else B.log1p(-B.exp(-x))


def _log1mexp_grad(x, B):
    """1/expm1(x); above 1 as e^−x/(−expm1(−x)), which neither overflows nor, differentiated
    (log1mexp″ = −e^x/expm1(x)²), gives ∞·0."""
    if x < 0:
        return math.nan
    if x == 0:
        return math.inf
    return 1 / B.expm1(x) if x <= 1 else B.exp(-x) / -B.expm1(-x)


def _log_sigmoid(x, B):
    """−log1p(e^−x); x − log1p(e^x) for x < 0, the value beside x however close."""
    if x < 0:
        return B.near(x, -B.log1p(B.exp(x)))
    return -B.log1p(B.exp(-x))


def _log_sigmoid_grad(x, B):
    return B.sigmoid(-x)


def _mish(x, B):
    """x·tanh(softplus(x)); for x > 0, x − 2x·σ(−2·softplus(x)) (1 − tanh s = 2σ(−2s))."""
    if x > 0:
        return B.near(x, -2 * x * B.sigmoid(-2 * B.softplus(x)))
    return x * B.tanh(B.softplus(x))


def _mish_scale(x, B):
    """The size of mish′'s terms: tanh(softplus(x))."""
    return B.tanh(B.softplus(x))


def _mish_second_scale(x, B):
    """The size of mish″'s terms: sech²(s)·(2σ + |x|(σ′ + 2·tanh(s)·σ²)), s = softplus(x),
    σ = σ(x) (mish″ = sech²(s)(2σ + x(σ′ − 2·tanh(s)·σ²)))."""
    sp, sg = B.softplus(x), B.sigmoid(x)
    return B.sech2(sp) * (2 * sg + abs(x) * (_sigmoid_grad(x, B) + 2 * B.tanh(sp) * sg**2))


def _mish_grad(x, B):
    """tanh(s) + x·sech²(s)·σ(x), s = softplus(x). Below 0, with e = eˣ and
    D = (1 + e)² + 1: tanh(s) = e(2 + e)/D, sech²(s) = 4(1 + e)²/D², σ(x) = e/(1 + e), so
    the value is (e/D)(2 + e + 4x(1 + e)/D): a product, whose sign is known where e
    underflows (it rounds to −0.0 there)."""
    if x < 0:
        e = B.exp(x)
        d = (1 + e) ** 2 + 1
        return e / d * (2 + e + 4 * x * (1 + e) / d)
    sp = B.softplus(x)
    return B.tanh(sp) + x * B.sech2(sp) * B.sigmoid(x)


def _sigmoid(x, B):
    return B.sigmoid(x)


def _sigmoid_grad(x, B):
    """σ(x)σ(−x) = sech²(x/2)/4 = e^−|x| / (1 + e^−|x|)²: one exponential, of a
    non-positive argument; differentiated (σ″), sech²'s own derivative
    −2·sech²·tanh, which does not cancel at tiny x as the quotient's would."""
    return B.sech2(x / 2) / 4


def _silu(x, B):
    """x·σ(x); for x > 0, x − x·σ(−x); at tiny x, x/2 + (x/2)·tanh(x/2) (`_half_and`)."""
    if abs(x) < B.lit(TINY):
        return _half_and(x, B, x / 2 * B.tanh(x / 2))
    if x > 0:
        return B.near(x, -x * B.sigmoid(-x))
    return x * B.sigmoid(x)


def _silu_second_scale(x, B):
    """The size of silu″'s terms: σ′(x)(2 + |x|) (silu″ = σ′(x)(2 − x·tanh(x/2)))."""
    return _sigmoid_grad(x, B) * (2 + abs(x))


def _silu_grad(x, B):
    """σ(x)(1 + x·σ(−x)): a product, whose sign is known where σ(x) underflows (far
    below 0 the value is a negative number that rounds to −0.0)."""
    return B.sigmoid(x) * (1 + x * B.sigmoid(-x))


def _beta_swish(x, B, beta):
    """x·σ(βx); where βx > 0, x − x·σ(−βx); at tiny x, x/2 + (x/2)·tanh(βx/2)."""
    if abs(x) < B.lit(TINY):
        return _half_and(x, B, x / 2 * B.tanh(beta * x / 2))
    if beta * x > 0:
        return B.near(x, -x * B.sigmoid(-beta * x))
    return x * B.sigmoid(beta * x)


def _beta_swish_scale(x, B, beta):
    return B.sigmoid(beta * x)


def _beta_swish_second_scale(x, B, beta):
    """|β|·σ′(βx)(2 + |βx|), as silu's."""
    return abs(beta) * _silu_second_scale(beta * x, B)


def _beta_swish_grad(x, B, beta):
    """σ(βx)(1 + βx·σ(−βx)), a product, as silu's."""
    return B.sigmoid(beta * x) * (1 + beta * x * B.sigmoid(-beta * x))


def _beta_swish_neg_inf(B, beta):
    return -0.0 if beta > 0 else -math.inf


def _beta_swish_pos_inf(B, beta):
    return math.inf if beta >= 0 else 0.0


def _beta_swish_grad_neg_inf(B, beta):
    """σ(βx)(1 + βx·σ(−βx)) → −0 for β > 0: (1 + βx) e^(βx) < 0 far out."""
    return -0.0 if beta > 0 else (B.lit(1) / 2 if beta == 0 else 1)


def _beta_swish_grad_pos_inf(B, beta):
    return 1 if beta > 0 else (B.lit(1) / 2 if beta == 0 else -0.0)


def _soft_sign(x, B):
    return x / (abs(x) + 1)


def _soft_sign_grad(x, B):
    return 1 / (abs(x) + 1) ** 2


def _softplus(x, B):
    """log1p(e^x); for x > 0, x + log1p(e^−x), the value beside x however close."""
    if x > 0:
        return B.near(x, B.log1p(B.exp(-x)))
    return B.log1p(B.exp(x))


def _sparse_plus(x, B):
    return 0 if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4)


def _sparse_plus_grad(x, B):
    return 0 if x <= -1 else (1 if x >= 1 else (x + 1) / 2)


def _sparse_sigmoid(x, B):
    return 0 if x <= -1 else (1 if x >= 1 else (x + 1) / 2)


def _sparse_sigmoid_grad(x, B):
    return B.lit(1) / 2 if -1 < x < 1 else 0


def _squareplus(x, B, b):
    s = B.sqrt(x**2 + b)
    return (x + s) / 2 if x >= 0 else b / (2 * (s - x))  # the second form has no cancellation


def _squareplus_grad(x, B, b):
    """(1 + x/s)/2 = squareplus(x)/s, s = √(x² + b); above 0 with x/s = 1/√(1 + b/x²),
    whose derivative b/s³ is a product, where that of x/s, (s − x²/s)/s², cancels."""
    if x > 0:
        return (1 + 1 / B.sqrt(1 + b / x**2)) / 2
    return _squareplus(x, B, b) / B.sqrt(x**2 + b)


def _tanh(x, B):
    return B.tanh(x)


def _tanh_grad(x, B):
    return B.sech2(x)


INF = math.inf
SATURATE = Limits(0.0, 0.0)  # a derivative that vanishes at both ends
RAMP = Limits(0.0, 1.0)  # a derivative going from 0 to 1
# From −0 to 1: the derivative of x·g(x) for a gate g rising from 0 (silu, gelu, mish) is
# g(x) + x·g'(x) < 0 far out on the left (−(|x| − 1)e^x for silu).
DIP = Limits(-0.0, 1.0)

def _interior_zero(root: str, terms: str) -> tuple[str, str]:
    return (f"the derivative crosses zero (x ≈ {root}) as a sum of terms of the size of "
            f"{terms}, which cancel there: its errors count in ulps of the larger of the "
            "derivative and that size (`grad_scale`), as no fixed precision does better "
            "beside the zero",
            "tolerance: float32/float64 gradients get 64 ulps, set when errors beside the "
            "zero counted in their own ulps, and not yet brought back to the default 16")


MONOTONE = Monotone()

# identities between an implementation's own results (`Identity`), shared by the entries
# they hold for at every variant
ODD_SYMMETRY = Identity("odd", "f(−x) = −f(x)", lambda F, x, **_: (F.self(-x), -F.self(x)),
                        exact=True)
SUMS_TO_ONE = Identity("reflection", "f(x) + f(−x) = 1",
                       lambda F, x, **_: (F.self(x) + F.self(-x), 1.0))
DIFFERS_BY_X = Identity("reflection", "f(x) − f(−x) = x",
                        lambda F, x, **_: (F.self(x) - F.self(-x), x))

# jax.nn takes a Python float parameter in x's dtype (JAX's weak typing), and so does the
# truth: a float16 leaky_relu multiplies by float16(0.01) = 0.010002136... (see Param)
_SLOPE = Param("negative_slope", 0.01, (0.2,), "slope for x < 0", taken_as=IN_X)
# torch converts lambd to x's dtype (its kernels' scalar_t); the variants are exact in all
_LAMBD = Param("lambd", 0.5, (0.25, 2.0), "half-width of the band sent to 0", minimum=0.0,
               taken_as=IN_X)
_SHRINK_KINKS = (Kink(_minus, 0.0), Kink(_plus, 0.0))
_ALPHA = Param("alpha", 1.0, (0.5, 2.0), taken_as=IN_X)

ELEMENTWISE: tuple[Activation, ...] = (
    Activation(
        "celu", E, "x if x > 0 else α(exp(x/α) − 1)", _celu, _celu_grad,
        params=(Param("alpha", 1.0, (0.5, 2.0), "as written: XLA divides by it in float32"),),
        limits=Limits(_minus_alpha, INF), grad_limits=RAMP, zero_sign=ODD,
        bends=(Bend(0.0, _inverse_alpha),), breakpoints=(0.0,),
        properties=(MONOTONE,),
    ),
    Activation(
        "elu", E, "x if x > 0 else α(exp(x) − 1)", _elu, _elu_grad,
        params=(_ALPHA,),
        limits=Limits(_minus_alpha, INF), grad_limits=RAMP, zero_sign=ODD,
        kinks=(Kink(0.0, _alpha, second=_alpha),), breakpoints=(0.0,),
        properties=(MONOTONE,),
    ),
    Activation(
        "gelu", E,
        "x/2 · erfc(−x/√2); approximate: x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)))",
        _gelu, _gelu_grad,
        params=(Param("approximate", True, (False,), "tanh approximation", bench=True),),
        limits=Limits(-0.0, INF), grad_limits=DIP, zero_sign=ODD,
        grad_scale=_gelu_scale, second_scale=_gelu_second_scale,
        conventions=(*_interior_zero("−0.75", "Φ(x)"),
                     "tolerance: values 8 ulps in float32 and 24 in float64, since the "
                     "erf form rests on XLA's erfc, up to 16 ulps off between x = −10 and −3 "
                     "(below that a series replaces it)",),
        properties=(DIFFERS_BY_X,),
    ),
    Activation(
        "hard_sigmoid", E, "relu6(x + 3) / 6", _hard_sigmoid, _hard_sigmoid_grad,
        limits=Limits(0.0, 1.0), grad_limits=SATURATE,
        kinks=(Kink(-3.0, 0.0), Kink(3.0, 0.0)), breakpoints=(-3.0, 3.0),
        properties=(SUMS_TO_ONE, MONOTONE, Bounds(0.0, 1.0)),
    ),
    Activation(
        "hard_silu", E, "x · relu6(x + 3) / 6", _hard_silu, _hard_silu_grad,
        limits=Limits(-0.0, INF), grad_limits=RAMP, zero_sign=ODD,
        kinks=(Kink(-3.0, 0.0), Kink(3.0, 1.0)), breakpoints=(-3.0, 3.0),
        properties=(DIFFERS_BY_X,),
    ),
    Activation(
        "hard_tanh", E, "−1 if x < −1, x if |x| ≤ 1, 1 if x > 1", _hard_tanh, _hard_tanh_grad,
        limits=Limits(-1.0, 1.0), grad_limits=SATURATE, zero_sign=ODD,
        kinks=(Kink(-1.0, 1.0), Kink(1.0, 1.0)), breakpoints=(-1.0, 1.0),
        properties=(ODD_SYMMETRY, MONOTONE, Bounds(-1.0, 1.0)),
    ),
    Activation(
        "identity", E, "x", _identity, _one,
        limits=Limits(-INF, INF), grad_limits=Limits(1.0, 1.0), zero_sign=ODD,
        properties=(ODD_SYMMETRY, MONOTONE),
    ),
    Activation(
        "leaky_relu", E, "x if x ≥ 0 else negative_slope · x", _leaky_relu, _leaky_relu_grad,
        params=(_SLOPE,), limits=Limits(_leaky_neg_inf, INF),
        grad_limits=Limits(lambda B, negative_slope: negative_slope, 1.0), zero_sign=ODD,
        kinks=(Kink(0.0, 1.0),), breakpoints=(0.0,),
        properties=(MONOTONE,),
    ),
    Activation(
        "log1mexp", E, "log(1 − exp(−x)), x ≥ 0", _log1mexp, _log1mexp_grad,
        limits=Limits(math.nan, -0.0), grad_limits=Limits(math.nan, 0.0),
        second_limits=Limits(math.nan, -0.0), bends=(Bend(0.0, -INF),),
        domain=(0.0, INF), breakpoints=(0.0, math.log(2)),
        conventions=("undefined (NaN) for x < 0",
                     "log1mexp(0) = −inf, its derivative +inf, its second −inf"),
        properties=(MONOTONE, Bounds(-INF, 0.0),),
    ),
    Activation(
        "log_sigmoid", E, "−log(1 + exp(−x))", _log_sigmoid, _log_sigmoid_grad,
        limits=Limits(-INF, -0.0), grad_limits=Limits(1.0, 0.0),
        properties=(Identity("via_softplus", "log_sigmoid(x) = −softplus(−x)",
                             lambda F, x, **_: (F.self(x), -F.softplus(-x))),
                    MONOTONE, Bounds(-INF, 0.0)),
    ),
    Activation(
        "mish", E, "x · tanh(log(1 + exp(x)))", _mish, _mish_grad,
        limits=Limits(-0.0, INF), grad_limits=DIP, zero_sign=ODD,
        grad_scale=_mish_scale, second_scale=_mish_second_scale,
        conventions=_interior_zero("−1.19", "tanh(softplus(x))"),
    ),
    Activation(
        "relu", E, "max(x, 0)", _relu, _step,
        limits=Limits(0.0, INF), grad_limits=RAMP, zero_sign=ZeroSign.ANY,
        kinks=(Kink(0.0, 0.0, documented=True),), breakpoints=(0.0,),
        properties=(DIFFERS_BY_X, MONOTONE, Bounds(0.0, INF)),
    ),
    Activation(
        "relu6", E, "min(max(x, 0), 6)", _relu6, _relu6_grad,
        limits=Limits(0.0, 6.0), grad_limits=SATURATE, zero_sign=ZeroSign.ANY,
        kinks=(Kink(0.0, 0.0, documented=True), Kink(6.0, 0.0, documented=True)),
        breakpoints=(0.0, 6.0),
        properties=(MONOTONE, Bounds(0.0, 6.0),),
    ),
    Activation(
        "selu", E, f"λ(x if x > 0 else α(exp(x) − 1)), λ = {SELU_SCALE}, α = {SELU_ALPHA}",
        _selu, _selu_grad,
        limits=Limits(_selu_neg_inf, INF), grad_limits=Limits(0.0, lambda B: B.lit(SELU_SCALE)),
        zero_sign=ODD, kinks=(Kink(0.0, _selu_kink, second=_selu_kink),),
        breakpoints=(0.0,),
        properties=(MONOTONE,),
    ),
    Activation(
        "sigmoid", E, "1 / (1 + exp(−x))", _sigmoid, _sigmoid_grad,
        limits=Limits(0.0, 1.0), grad_limits=SATURATE,
        properties=(SUMS_TO_ONE, Saturation((1.0,)), MONOTONE, Bounds(0.0, 1.0)),
    ),
    Activation(
        "silu", E, "x · sigmoid(x)", _silu, _silu_grad,
        limits=Limits(-0.0, INF), grad_limits=DIP, zero_sign=ODD,
        grad_scale=_sigmoid, second_scale=_silu_second_scale,
        conventions=_interior_zero("−1.28", "σ(x)"),
        properties=(DIFFERS_BY_X,
                    Identity("via_sigmoid", "silu(x) = x·σ(x)",
                             lambda F, x, **_: (F.self(x), x * F.sigmoid(x)))),
    ),
    Activation(
        "soft_sign", E, "x / (|x| + 1)", _soft_sign, _soft_sign_grad,
        limits=Limits(-1.0, 1.0), grad_limits=SATURATE, zero_sign=ODD,
        bends=(Bend(0.0, -2.0),),
        conventions=("f″(0) = −2, the piece x ≥ 0's (f″ jumps from 2 to −2 there), as "
                     "jax.grad of x / (|x| + 1) gives it",),
        properties=(ODD_SYMMETRY, MONOTONE, Bounds(-1.0, 1.0)),
    ),
    Activation(
        "softplus", E, "log(1 + exp(x))", _softplus, _sigmoid,
        limits=Limits(0.0, INF), grad_limits=RAMP,
        properties=(DIFFERS_BY_X, MONOTONE, Bounds(0.0, INF)),
    ),
    Activation(
        "sparse_plus", E, "0 if x ≤ −1, (x + 1)²/4 if |x| < 1, x if x ≥ 1",
        _sparse_plus, _sparse_plus_grad,
        limits=Limits(0.0, INF), grad_limits=RAMP, breakpoints=(-1.0, 1.0),
        bends=(Bend(-1.0, 0.0), Bend(1.0, 0.0)),
        properties=(DIFFERS_BY_X, MONOTONE, Bounds(0.0, INF)),
    ),
    Activation(
        "sparse_sigmoid", E, "0 if x ≤ −1, (x + 1)/2 if |x| < 1, 1 if x ≥ 1",
        _sparse_sigmoid, _sparse_sigmoid_grad,
        limits=Limits(0.0, 1.0), grad_limits=SATURATE,
        kinks=(Kink(-1.0, 0.25), Kink(1.0, 0.25)), breakpoints=(-1.0, 1.0),
        properties=(SUMS_TO_ONE, MONOTONE, Bounds(0.0, 1.0)),
    ),
    Activation(
        "squareplus", E, "(x + √(x² + b)) / 2", _squareplus, _squareplus_grad,
        params=(Param("b", 4, (1.0, 0.25), "smoothness, b > 0", taken_as=IN_X),),
        limits=Limits(0.0, INF), grad_limits=RAMP,
        properties=(DIFFERS_BY_X, MONOTONE, Bounds(0.0, INF)),
    ),
    Activation(
        "tanh", E, "tanh(x)", _tanh, _tanh_grad,
        limits=Limits(-1.0, 1.0), grad_limits=SATURATE, zero_sign=ODD, source="jax.numpy",
        properties=(ODD_SYMMETRY, Saturation((-1.0, 1.0)), MONOTONE, Bounds(-1.0, 1.0)),
    ),
    Activation(
        "prelu", E, "x if x ≥ 0 else negative_slope · x (negative_slope learned)",
        _leaky_relu, _leaky_relu_grad,
        params=(Param("negative_slope", 0.01, (0.25,), "Flax's negative_slope_init: a "
                      "float32 parameter, cast to x's dtype", taken_as=("float32", "x")),),
        limits=Limits(_leaky_neg_inf, INF),
        grad_limits=Limits(lambda B, negative_slope: negative_slope, 1.0), zero_sign=ODD,
        kinks=(Kink(0.0, 1.0),), breakpoints=(0.0,),
        source="flax.nnx.PReLU, flax.linen.PReLU", promotes=False,
        properties=(MONOTONE,),
    ),
    Activation(
        "hard_shrink", E, "x if |x| > λ else 0", _hard_shrink, _outside,
        params=(_LAMBD,), limits=Limits(-INF, INF), grad_limits=Limits(1.0, 1.0),
        zero_sign=ZeroSign.ANY, kinks=_SHRINK_KINKS, breakpoints=(_minus, _plus),
        source="torch.nn.functional.hardshrink",
        conventions=("f(±λ) = 0 and f'(±λ) = 0 (torch: the band [−λ, λ] is closed)",
                     "f(−0.0) = +0.0, as on the whole band"),
        properties=(ODD_SYMMETRY, MONOTONE),
    ),
    Activation(
        "soft_shrink", E, "x − λ if x > λ, x + λ if x < −λ, else 0", _soft_shrink, _outside,
        params=(_LAMBD,), limits=Limits(-INF, INF), grad_limits=Limits(1.0, 1.0),
        zero_sign=ZeroSign.ANY, kinks=_SHRINK_KINKS, breakpoints=(_minus, _plus),
        source="torch.nn.functional.softshrink",
        conventions=("f'(±λ) = 0 (torch's subgradient)", "f(−0.0) = +0.0"),
        properties=(ODD_SYMMETRY, MONOTONE),
    ),
    Activation(
        "tanh_shrink", E, "x − tanh(x)", _tanh_shrink, _tanh_shrink_grad,
        limits=Limits(-INF, INF), grad_limits=Limits(1.0, 1.0), zero_sign=ODD,
        source="torch.nn.functional.tanhshrink",
        conventions=("odd: f(−0.0) = −0.0 (torch's x − tanh(x) gives +0.0)",),
        properties=(ODD_SYMMETRY, MONOTONE),
    ),
    Activation(
        "threshold", E, "x if x > threshold else value", _threshold, _threshold_grad,
        params=(Param("threshold", None, (0.5, -1.0), "where x is let through", required=True,
                      type="float", taken_as=IN_X),
                Param("value", None, (0.0, 2.0), "what replaces x at or below the threshold",
                      required=True, type="float", taken_as=IN_X)),
        limits=Limits(_value_below, INF), grad_limits=Limits(0.0, 1.0), zero_sign=ZeroSign.ANY,
        kinks=(Kink(_at_threshold, 0.0),), breakpoints=(_at_threshold,),
        source="torch.nn.functional.threshold",
        conventions=("f(threshold) = value and f'(threshold) = 0 (torch: x > threshold "
                     "passes)",),
    ),
    Activation(
        "beta_swish", E, "x · sigmoid(β·x)", _beta_swish, _beta_swish_grad,
        params=(Param("beta", 1.0, (0.5, 2.0), "slope of the gate"),),
        limits=Limits(_beta_swish_neg_inf, _beta_swish_pos_inf),
        grad_limits=Limits(_beta_swish_grad_neg_inf, _beta_swish_grad_pos_inf), zero_sign=ODD,
        source="Swish-β (Ramachandran et al. 2017)",
        grad_scale=_beta_swish_scale, second_scale=_beta_swish_second_scale,
        conventions=_interior_zero("−1.28/β", "σ(βx)"),
        properties=(DIFFERS_BY_X,),
    ),
)


def _alias(name: str, of: str) -> Activation:
    """``name``, another name for ``of``: the same entry, and the same results bit for bit
    as the implementation's ``of``."""
    target = next(a for a in ELEMENTWISE if a.name == of)
    same = Identity("alias", f"{name}(x) = {of}(x), bit for bit",
                    lambda F, x, **_: (F.self(x), getattr(F, of)(x)), strict=True)
    return replace(target, name=name, same_as=of, signature=target.signature.replace(of, name),
                   properties=(*target.properties, same))


ALIASES = (_alias("swish", "silu"), _alias("hard_swish", "hard_silu"))
