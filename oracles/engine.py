"""Deciding correctly rounded values: Ziv's strategy with a rigorous error bound.

A formula is evaluated with Arb at ``prec`` bits. The ball encloses the true value; the
rounding is decided when both of its ends round to the same number in every requested
format, the sign of a zero included (a ball [0 ± r] straddling zero decides nothing, even
where every format would round it to zero), and when the ball is narrow enough for the
double-double ``hi + lo`` (below). Otherwise ``prec`` doubles. An exact ball (radius 0:
relu(2), tanh(0), a tie) decides at once, so exact cases never loop. A formula whose
value is an exact number plus a far smaller remainder returns it as an `Offset`, and the
two are added exactly (`_ends`), so that a value beside a rounding boundary by less than
any working precision resolves (silu(65520) = 65520 − 65520·σ(−65520), next to float16's
overflow threshold, is decided by the remainder's sign).

Exact cases are recognised first: the formula is evaluated in rational arithmetic, and if
it stays rational (relu, leaky_relu's x/100, hard_sigmoid's (x+3)/6) the exact value is
rounded directly, and certified by Arb's ball containing it; mpmath, whose decimal
constants are binary approximations, has nothing to add there.

The same formula is then evaluated with mpmath (at 80 bits, then at the deciding precision
and above), and its value must round to the same numbers, zeros with the same sign.
mpmath carries no error bound of its own, so a mismatch is retried at higher precision
before it is reported as a `Disagreement`: an oracle error is raised, never silently
accepted. A caller that already holds those roundings from another independent evaluation
(a ``witness``: the filter's float64 boxes, which run the formula on numpy's and SciPy's
functions, `oracles.filter`) is spared mpmath where Arb's roundings are the witness's: two
backends of independent code then agree on every number the cross-check compares. Where
they differ, mpmath is run and must agree with Arb, and then the witness is in error: a
`Disagreement` either way.

``hi`` is the correctly rounded float64 value and ``lo`` the float64 nearest to the exact
remainder as the ball gives it: ``hi + lo`` is within 2**-105 of the value, relative (the
ball's relative radius is at most 2**-107 before it decides), or within the float64
subnormal spacing where ``hi`` is subnormal or zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import flint
import mpmath

from .backends import ARB, MPMATH, RATIONAL, Dyadic, NotRational, Offset, plain
from .formats import FORMATS, Format

START_PREC = 128  # bits: enough for the double-double of most values at the first try
MAX_PREC = 1 << 15  # past this the oracle reports the input rather than loop on it
MPMATH_RETRIES = 3
MPMATH_FIRST = 80  # bits: mpmath's first try (see `_cross_check`)
DD_BITS = 107  # the ball's relative radius at most 2**-DD_BITS: hi + lo is a double-double
OFFSET_GAP = 120  # an Offset's remainder below 2**-OFFSET_GAP of its base stands in as that

F64 = FORMATS["float64"]


class OracleError(ArithmeticError):
    """The oracle could not certify a value; the message names the input."""


class Undecided(OracleError):
    pass


class Disagreement(OracleError):
    pass


@dataclass(frozen=True)
class Exact:
    """The value as the double-double ``hi + lo`` (``hi`` the correctly rounded float64;
    see the module doc for how close), and its correct rounding in each requested format."""

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

    def negated_zero(self) -> Exact:
        return Exact(-self.hi, self.lo, {k: -v for k, v in self.rounded.items()})


def same(a: float, b: float) -> bool:
    """Bitwise equality of two floats: NaN is NaN, -0.0 is not +0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _dyadic_of(v: Any) -> Dyadic:
    """An int, a float or a dyadic Fraction, exactly."""
    n, d = (v if isinstance(v, int | Fraction) else float(v)).as_integer_ratio()
    if d & (d - 1):
        raise ValueError(f"{v} is not dyadic")
    return n, 1 - d.bit_length()


def _sub(a: Dyadic, b: Dyadic) -> Dyadic:
    e = min(a[1], b[1])
    return (a[0] << (a[1] - e)) - (b[0] << (b[1] - e)), e


def _exact_from_ball(lo: Dyadic, hi: Dyadic, formats: Sequence[Format]) -> Exact | None:
    """The decided roundings of a ball [lo, hi], or None where any is undecided: a rounding,
    the sign of a zero, or ``hi + lo`` (the ball wider than 2**-DD_BITS, relative)."""
    if lo[0] <= 0 <= hi[0] and (lo[0] or hi[0]):
        return None  # [0 ± r]: the sign is not known yet
    rounded = {}
    for fmt in (*formats, F64):
        a, b = fmt.round(lo), fmt.round(hi)
        if not same(a, b):
            return None
        rounded[fmt.name] = a
    top = rounded.pop(F64.name)
    if F64 in formats:
        rounded[F64.name] = top
    residual = 0.0
    if math.isfinite(top) and top != 0 and lo != hi:
        width = _sub(hi, lo)
        if abs(top) >= F64.tiny and (
                width[1] + width[0].bit_length() > math.frexp(top)[1] - 1 - DD_BITS):
            return None
        residual = F64.round(_sub(_midpoint(lo, hi), _dyadic_of(top)))
    elif math.isfinite(top) and top != 0:
        residual = F64.round(_sub(lo, _dyadic_of(top)))
    return Exact(top, residual, rounded)


def _midpoint(lo: Dyadic, hi: Dyadic) -> Dyadic:
    s = _sub(hi, (-lo[0], lo[1]))  # lo + hi
    return s[0], s[1] - 1


def _as_list(v: Any) -> list[Any]:
    """A result as a flat list (a Jacobian's rows, a second derivative's matrices, joined)."""
    if not isinstance(v, list | tuple):
        return [v]
    return [e for row in v for e in _as_list(row)]


def _nest(flat: list[Any], like: Any) -> Any:
    """``flat`` in the shape of the result ``like`` (a number, or lists nested to any
    depth: a list, a list of rows, a list of matrices)."""
    it = iter(flat)

    def shaped(v: Any) -> Any:
        return [shaped(e) for e in v] if isinstance(v, list | tuple) else next(it)
    return shaped(like)


def _ends(v: Any, backend: Any) -> tuple[Dyadic, Dyadic]:
    """The exact ends of ``v``'s enclosure (mpmath's value is both ends). An `Offset` adds
    its base exactly; a remainder below 2**-OFFSET_GAP of the base, of a known sign, stands
    in as that bound: every rounding boundary of a format of at most 53 bits, and hi + lo,
    lie farther from the base, so the stand-in is on the same side of each as the value."""
    if not isinstance(v, Offset):
        return backend.bounds(v)
    base = _dyadic_of(v.base)
    rlo, rhi = backend.bounds(v.rest) if not isinstance(v.rest, int) else (
        (v.rest, 0), (v.rest, 0))
    if base[0] == 0 or rlo[0] == rhi[0] == 0:
        return _add(base, rlo), _add(base, rhi)
    top = base[1] + abs(base[0]).bit_length()
    for end in (rlo, rhi):
        if end[0] and end[1] + abs(end[0]).bit_length() > top - OFFSET_GAP:
            return _add(base, rlo), _add(base, rhi)
    if rlo[0] <= 0 <= rhi[0]:
        return (-1, top), (1, top)  # the sign is not known yet: undecided
    stand_in = (1 if rlo[0] > 0 else -1, top - OFFSET_GAP)
    return _add(base, stand_in), _add(base, stand_in)


def _add(a: Dyadic, b: Dyadic) -> Dyadic:
    return _sub(a, (-b[0], b[1]))


def _decide_one(v: Any, backend: Any, formats: Sequence[Format]) -> Exact | None:
    if isinstance(v, int | float):  # formulas return exact Python numbers (0, 1, inf)
        return Exact.special(float(v), formats)
    try:
        lo, hi = _ends(v, backend)
    except ArithmeticError:
        return None
    return _exact_from_ball(lo, hi, formats)


def decide(
    compute: Callable[[Any], Any],
    formats: Sequence[Format],
    *,
    what: Callable[[], str],
    prec: int = START_PREC,
    witness: Mapping[str, float] | None = None,
) -> Any:
    """Correctly rounded values of ``compute(B)``: a number, a list, or a list of rows,
    answered in the same shape.

    ``what()`` names the computation in error messages (activation, parameters, input).
    ``witness``: for a single number, its correct rounding in each of ``formats`` as an
    independent evaluation decided it; where Arb's are the same, mpmath is not run (see
    the module doc).
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
    if witness is None or len(results) != 1 or not _agrees(results[0], formats, witness,
                                                           what):
        results = _cross_check(compute, formats, results, prec, what)  # type: ignore[arg-type]
        if witness is not None and len(results) == 1:  # mpmath agrees with Arb
            _agrees(results[0], formats, witness, what, strict=True)
    return _nest(results, shape)


def _agrees(decided: Exact, formats: Sequence[Format], witness: Mapping[str, float],
            what: Callable[[], str], strict: bool = False) -> bool:
    """Whether the ``witness`` rounds as Arb decided in every format (a format it does not
    hold is not witnessed); with ``strict`` (Arb and mpmath having agreed), a
    `Disagreement` where it rounds otherwise."""
    for fmt in formats:
        w, want = witness.get(fmt.name), decided.rounded[fmt.name]
        if w is None:
            return False
        if not same(w, want):
            if strict:
                raise Disagreement(f"{what()}: the witness (the filter) rounds to {w!r} in "
                                   f"{fmt.name}, Arb and mpmath certify {want!r}")
            return False
    return True


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
            if not isinstance(q, Fraction):
                continue
            if isinstance(ball, Offset):  # base + rest: q − base must meet the remainder
                q, ball = q - ball.base, ball.rest
            if isinstance(ball, int | float):  # exact in both: the same number
                if Fraction(ball) != q:
                    raise Disagreement(f"{what()}: exact value {q}, but Arb's formula gave "
                                       f"{ball}")
                continue
            if not ball.overlaps(flint.arb(flint.fmpq(q.numerator, q.denominator))):
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
    """``decided``, once mpmath's values round the same way, zeros with the same sign.

    mpmath is tried at MPMATH_FIRST bits first: it adds the guard bits a huge argument
    needs by itself (exp(−1e300) is right at 80 bits), and costs 100 times as much at the
    4,096 bits Arb needs there; then at the deciding precision, and above."""
    tries = dict.fromkeys([min(prec, MPMATH_FIRST),
                           *(prec << k for k in range(MPMATH_RETRIES))])
    for p in tries:
        with MPMATH.precision(p):
            values = _as_list(compute(MPMATH))
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


def _mpmath_rounding(v: Any, fmt: Format) -> float:
    if isinstance(v, int | float):
        return Exact.special(float(v), (fmt,)).rounded[fmt.name]
    if not isinstance(v, Offset) and not mpmath.isfinite(v):
        return float(v)
    return fmt.round(_ends(v, MPMATH)[0])


def decimal(compute: Callable[[Any], Any], digits: int = 36) -> Any:
    """``digits`` significant decimal digits of each component (the exact value's, whatever
    its exponent), from mpmath at a precision where Arb's ball is narrower than the last
    digit and encloses mpmath's value. A component that is exactly zero is "0.0"."""
    need = int(digits * 3.33) + 16
    prec = need + 32
    while prec <= MAX_PREC:
        with ARB.precision(prec):
            balls = [plain(b) for b in _as_list(compute(ARB))]
        with MPMATH.precision(prec):
            shape = compute(MPMATH)
            values = [plain(v) for v in _as_list(shape)]
            if all(_narrow(b, v, need) for b, v in zip(balls, values, strict=True)):
                return _nest([_digits(b, v, digits) for b, v in zip(balls, values, strict=True)],
                             shape)
        prec *= 2
    raise Undecided(f"cannot certify {digits} digits")


def _narrow(ball: Any, value: Any, bits: int) -> bool:
    if isinstance(ball, int | float) or isinstance(value, int | float):
        return True
    if ball.is_exact():
        return ball.is_zero() or ball.overlaps(_arb_of(value))
    return (ball.is_finite() and ball.rel_accuracy_bits() >= bits
            and ball.overlaps(_arb_of(value)))


def _arb_of(v: Any) -> Any:
    """mpmath's number as an exact Arb ball."""
    return flint.arb(flint.arf(MPMATH.bounds(v)[0]))


def _digits(ball: Any, v: Any, digits: int) -> str:
    if isinstance(v, int | float) or isinstance(ball, int | float):
        v = float(v if isinstance(v, int | float) else ball)
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else (
            _nstr(mpmath.mpf(v), digits))
    if ball.is_exact() and ball.is_zero():
        return "0.0"
    return _nstr(v, digits)


def _nstr(v: Any, digits: int) -> str:
    """Like Python's repr: scientific notation below 1e-4 and from 1e16 on."""
    return mpmath.nstr(v, digits, strip_zeros=False, min_fixed=-4, max_fixed=16)
