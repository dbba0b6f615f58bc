"""Deciding correctly rounded values: Ziv's strategy with a rigorous error bound.

A formula is evaluated with Arb at ``prec`` bits. The ball encloses the true value, so
when both of its ends round to the same number in every requested format the rounding is
decided; when they do not, the true value lies too close to a rounding boundary for this
precision and ``prec`` doubles. An exact ball (radius 0: relu(2), tanh(0), a tie) decides
at once, so exact cases never loop.

Exact cases are recognised first: the formula is evaluated in rational arithmetic, and if
it stays rational (relu, leaky_relu's x/100, hard_sigmoid's (x+3)/6) the exact value is
rounded directly, and certified by Arb's ball containing it; mpmath, whose decimal
constants are binary approximations, has nothing to add there.

The same formula is then evaluated with mpmath at the deciding precision, and its value
must round to the same numbers. mpmath carries no error bound of its own, so a mismatch is
retried at higher precision before it is reported as a `Disagreement`: an oracle error is
raised, never silently accepted.

One case Arb cannot settle by itself: far in a tail (erfc(1e30), exp(-1e76)) it encloses
the value as [0 ± r] with r below half the smallest float64 subnormal. That certifies that
every format rounds it to zero, but not the zero's sign, which is then mpmath's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import flint
import mpmath

from .backends import ARB, MPMATH, RATIONAL, Dyadic, NotRational
from .formats import FORMATS, Format

START_PREC = 80  # bits: decides float64 rounding for all but ~1 input in 2**25
MAX_PREC = 1 << 15  # past this the oracle reports the input rather than loop on it
MPMATH_RETRIES = 3

F64 = FORMATS["float64"]


class OracleError(ArithmeticError):
    """The oracle could not certify a value; the message names the input."""


class Undecided(OracleError):
    pass


class Disagreement(OracleError):
    pass


@dataclass(frozen=True)
class Exact:
    """The exact value as the double-double ``hi + lo`` (``hi`` is the correctly rounded
    float64), and its correct rounding in each requested format."""

    hi: float
    lo: float
    rounded: dict[str, float]

    @classmethod
    def special(cls, v: float, formats: Sequence[Format]) -> Exact:
        """An exact Python number (nan, ±inf, ±0, or any finite float)."""
        if math.isnan(v) or math.isinf(v):
            return cls(v, 0.0, {f.name: v for f in formats})
        if v == 0:
            return cls(v, 0.0, {f.name: v for f in formats})
        return _exact_from_ball(_dyadic_of(v), _dyadic_of(v), formats)  # type: ignore[return-value]

    @property
    def unsigned_zero(self) -> bool:
        """Certainly rounds to zero everywhere, the sign not yet known (see the module doc)."""
        return math.isnan(self.lo)

    def negated_zero(self) -> Exact:
        return Exact(-self.hi, self.lo, {k: -v for k, v in self.rounded.items()})


def same(a: float, b: float) -> bool:
    """Bitwise equality of two floats: NaN is NaN, -0.0 is not +0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _dyadic_of(v: Any) -> Dyadic:
    n, d = (v if isinstance(v, int) else float(v)).as_integer_ratio()
    return n, 1 - d.bit_length()


def _sub(a: Dyadic, b: Dyadic) -> Dyadic:
    e = min(a[1], b[1])
    return (a[0] << (a[1] - e)) - (b[0] << (b[1] - e)), e


def _exact_from_ball(lo: Dyadic, hi: Dyadic, formats: Sequence[Format]) -> Exact | None:
    """The decided roundings of a ball [lo, hi], or None where any is undecided."""
    rounded, unsigned = {}, False
    for fmt in (*formats, F64):
        a, b = fmt.round(lo), fmt.round(hi)
        if a == b == 0:
            unsigned |= not same(a, b)
        elif not same(a, b):
            return None
        rounded[fmt.name] = a
    if unsigned:
        return Exact(0.0, math.nan, {f.name: 0.0 for f in formats})
    top = rounded.pop(F64.name)
    if F64 in formats:
        rounded[F64.name] = top
    residual = 0.0
    if math.isfinite(top) and top != 0:
        mid = lo if lo == hi else _midpoint(lo, hi)
        residual = F64.round(_sub(mid, _dyadic_of(top)))
    return Exact(top, residual, rounded)


def _midpoint(lo: Dyadic, hi: Dyadic) -> Dyadic:
    s = _sub(hi, (-lo[0], lo[1]))  # lo + hi
    return s[0], s[1] - 1


def _as_list(v: Any) -> list[Any]:
    """A result as a flat list (a Jacobian's rows joined)."""
    if not isinstance(v, list | tuple):
        return [v]
    return [e for row in v for e in (row if isinstance(row, list | tuple) else [row])]


def _nest(flat: list[Any], like: Any) -> Any:
    """``flat`` in the shape of the result ``like`` (a number, a list or a list of rows)."""
    if not isinstance(like, list | tuple):
        return flat[0]
    if like and isinstance(like[0], list | tuple):
        it = iter(flat)
        return [[next(it) for _ in row] for row in like]
    return flat


def _decide_one(v: Any, backend: Any, formats: Sequence[Format]) -> Exact | None:
    if isinstance(v, int | float):  # formulas return exact Python numbers (0, 1, inf)
        return Exact.special(float(v), formats)
    try:
        lo, hi = backend.bounds(v)
    except ArithmeticError:
        return None
    return _exact_from_ball(lo, hi, formats)


def decide(
    compute: Callable[[Any], Any],
    formats: Sequence[Format],
    *,
    what: Callable[[], str],
    prec: int = START_PREC,
) -> Any:
    """Correctly rounded values of ``compute(B)``: a number, a list, or a list of rows,
    answered in the same shape.

    ``what()`` names the computation in error messages (activation, parameters, input).
    """
    exact = _rational(compute, formats, what)
    if exact is not None:
        return exact
    while True:
        with ARB.precision(prec):
            try:
                shape = compute(ARB)
                balls = _as_list(shape)
            except ArithmeticError:  # a comparison the ball cannot decide yet
                balls = [None]
            results = [_decide_one(v, ARB, formats) if v is not None else None for v in balls]
        if all(r is not None for r in results):
            break
        if prec >= MAX_PREC:
            raise Undecided(f"{what()}: rounding undecided at {MAX_PREC} bits")
        prec = min(2 * prec, MAX_PREC)  # the last try is at MAX_PREC itself
    results = _cross_check(compute, formats, results, prec, what)  # type: ignore[arg-type]
    return _nest(results, shape)


def _rational(compute: Callable[[Any], Any], formats: Sequence[Format],
              what: Callable[[], str]) -> Any:
    """The exact results of a formula that stays rational, certified by Arb; else None."""
    try:
        shape = compute(RATIONAL)
    except NotRational:
        return None
    values = _as_list(shape)
    results = [_from_fraction(v, formats) for v in values]
    with ARB.precision(START_PREC):  # the rational, enclosed at this precision, must meet
        for q, ball in zip(values, _as_list(compute(ARB)), strict=True):  # Arb's ball
            if isinstance(q, Fraction) and not ball.overlaps(
                    flint.arb(flint.fmpq(q.numerator, q.denominator))):
                raise Disagreement(f"{what()}: exact value {q} lies outside Arb's ball {ball}")
    return _nest(results, shape)


def _from_fraction(q: Any, formats: Sequence[Format]) -> Exact:
    if not isinstance(q, Fraction):
        return Exact.special(float(q), formats)
    top = F64.round_fraction(q)
    lo = F64.round_fraction(q - Fraction(top)) if math.isfinite(top) else 0.0
    return Exact(top, lo, {f.name: f.round_fraction(q) for f in formats})


def _cross_check(
    compute: Callable[[Any], Any], formats: Sequence[Format], decided: list[Exact],
    prec: int, what: Callable[[], str],
) -> list[Exact]:
    """``decided``, once mpmath's values round the same way (and sign the unsigned zeros)."""
    for attempt in range(MPMATH_RETRIES):
        with MPMATH.precision(prec << attempt):
            values = _as_list(compute(MPMATH))
            decided = [_signed(d, v) for d, v in zip(decided, values, strict=True)]
            mismatch = [
                (i, fmt.name, got)
                for i, (v, want) in enumerate(zip(values, decided, strict=True))
                for fmt in formats
                if not same(got := _mpmath_rounding(v, fmt), want.rounded[fmt.name])
            ]
        if not mismatch:
            return decided
    i, name, got = mismatch[0]
    raise Disagreement(
        f"{what()}: mpmath rounds component {i} to {got!r} in {name}, "
        f"Arb certifies {decided[i].rounded[name]!r}"
    )


def _signed(d: Exact, v: Any) -> Exact:
    if not d.unsigned_zero:
        return d
    negative = (v < 0) if not isinstance(v, int | float) else math.copysign(1, v) < 0
    zero = -0.0 if negative else 0.0
    return Exact(zero, 0.0, {k: zero for k in d.rounded})


def _mpmath_rounding(v: Any, fmt: Format) -> float:
    if isinstance(v, int | float):
        return Exact.special(float(v), (fmt,)).rounded[fmt.name]
    if not mpmath.isfinite(v):
        return float(v)
    return fmt.round(MPMATH.bounds(v)[0])


def decimal(compute: Callable[[Any], Any], digits: int = 36) -> Any:
    """``digits`` significant decimal digits of each component, from mpmath at a precision
    where Arb's ball is narrower than the last digit and encloses mpmath's value."""
    need = int(digits * 3.33) + 16
    prec = need + 32
    while prec <= MAX_PREC:
        with ARB.precision(prec):
            balls = _as_list(compute(ARB))
        with MPMATH.precision(prec):
            shape = compute(MPMATH)
            values = _as_list(shape)
            if all(_narrow(b, v, need) for b, v in zip(balls, values, strict=True)):
                return _nest([_digits(v, digits) for v in values], shape)
        prec *= 2
    raise Undecided(f"cannot certify {digits} digits")


def _narrow(ball: Any, value: Any, bits: int) -> bool:
    if isinstance(ball, int | float) or isinstance(value, int | float):
        return True
    return ball.is_finite() and (ball.is_exact() or ball.rel_accuracy_bits() >= bits) and (
        ball.overlaps(ARB.decimal(mpmath.nstr(value, 60))) or ball.is_zero())


def _digits(v: Any, digits: int) -> str:
    if isinstance(v, int | float):
        v = float(v)
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else (
            _nstr(mpmath.mpf(v), digits))
    return _nstr(v, digits)


def _nstr(v: Any, digits: int) -> str:
    """Like Python's repr: scientific notation below 1e-4 and from 1e16 on."""
    return mpmath.nstr(v, digits, strip_zeros=False, min_fixed=-4, max_fixed=16)
