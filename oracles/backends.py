"""Two exact-arithmetic namespaces that catalog formulas are written against.

`MPMATH` evaluates a formula with mpmath at a working precision (the oracle's value);
`ARB` evaluates the same formula with python-flint's Arb balls, which enclose the true
value rigorously (the certificate, and what decides when the precision suffices).
Both expose the same names, so a formula is written once::

    def softplus(x, B):
        return B.log1p(B.exp(x))

A formula whose value is an exact number plus a remainder far below it (silu(x) = x − x·σ(−x)
for large x) returns ``B.near(x, remainder)``: the engine adds the two exactly, so that a
value infinitesimally beside a rounding boundary (silu(65520), next to float16's overflow
threshold) is decided by the remainder's sign, which no working precision would reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import flint
import mpmath
from mpmath import mp

Dyadic = tuple[int, int]  # (man, exp): the exact value man * 2**exp, man signed


@dataclass(frozen=True)
class Offset:
    """``base + rest``: ``base`` an exact dyadic `Fraction`, ``rest`` a backend number
    (with Arb a ball) that may be smaller than ``base`` by any factor; see the module doc.
    ``total`` is their sum in the backend, rounded (for digits, never for a rounding)."""

    base: Fraction
    rest: Any
    total: Any


class Binary(float):
    """A float meant as its exact binary value (a parameter rounded as the library rounds
    it), not as the decimal its repr shows; it prints as a float."""


def plain(v: Any) -> Any:
    """A formula's result as one number of its backend (an `Offset` summed at the working
    precision: right for digits and plots, not for deciding a rounding)."""
    return v.total if isinstance(v, Offset) else v


class _Common:
    """Helpers shared by both namespaces, built only from their primitives.

    They exponentiate only non-positive arguments: Arb encloses exp(-1e114) as [0 ± r] but
    exp(1e114) as [±inf], which would never decide.
    """

    def sigmoid(self, x: Any) -> Any:
        """1 / (1 + e^-x) = e^x / (1 + e^x), without cancellation for either sign of x."""
        if x >= 0:
            return 1 / (1 + self.exp(-x))
        e = self.exp(x)
        return e / (1 + e)

    def softplus(self, x: Any) -> Any:
        """log(1 + e^x) = x + log(1 + e^-x)."""
        return x + self.log1p(self.exp(-x)) if x >= 0 else self.log1p(self.exp(x))

    def sech2(self, x: Any) -> Any:
        """sech(x)^2 = 4 e^-2|x| / (1 + e^-2|x|)^2, i.e. 1 - tanh(x)^2 without cancellation."""
        e = self.exp(-2 * abs(x))
        return 4 * e / (1 + e) ** 2

    def alternating(self, x: Any, terms: Sequence[tuple[int, Fraction]],
                    exact: Callable[[], Any]) -> Any:
        """The value ``exact()``, which is also the alternating series Σ c·x^n over
        ``terms`` (n, c), its terms decreasing in magnitude at this ``x``, truncated: the
        last of ``terms`` is the first one omitted, which bounds what is left out. Exact
        backends compute ``exact()`` (Arb's precision takes care of a cancellation); the
        float64 boxes, which cannot, sum the series (see `filter`)."""
        return exact()

    def near(self, base: float | Fraction, rest: Any) -> Any:
        """The value ``base + rest``, ``base`` an exact float or dyadic fraction (an input,
        or the difference of two), kept as an `Offset` (see the module doc); a formula's
        result, never an operand."""
        if not isinstance(base, int | float | Fraction):  # an exact backend number
            (man, exp), hi = self.bounds(base)
            if (man, exp) != hi:
                raise ValueError("the base of an Offset must be exact")
            base = Fraction(man) * Fraction(2) ** exp
        base = Fraction(base)
        return Offset(base, rest, self.frac(base) + rest)

    def exact(self, x: Any) -> Fraction:
        """An exact number (a Python number or an exact backend number) as a Fraction."""
        if isinstance(x, int | float | Fraction):
            return Fraction(x)
        (man, exp), _ = self.bounds(x)
        return Fraction(man) * Fraction(2) ** exp

    def sign(self, v: Any) -> int:
        """-1, 0 or 1; an Arb ball straddling 0 raises ArithmeticError (more precision)."""
        if v > 0:
            return 1
        if v < 0:
            return -1
        if v == 0:
            return 0
        raise ArithmeticError("sign undecided at this precision")

    def lit(self, v: Any) -> Any:
        """A parameter or constant as the exact decimal literal it is written as."""
        if isinstance(v, bool):
            raise TypeError("booleans are not numbers here")
        if isinstance(v, int | Fraction | Binary):
            return self.frac(Fraction(v))
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"non-finite literal {v!r}")
            return self.decimal(repr(v))
        return self.decimal(str(v))


class _Mpmath(_Common):
    name = "mpmath"
    exp = staticmethod(mp.exp)
    expm1 = staticmethod(mp.expm1)
    log = staticmethod(mp.log)
    log1p = staticmethod(mp.log1p)
    sqrt = staticmethod(mp.sqrt)
    tanh = staticmethod(mp.tanh)
    erf = staticmethod(mp.erf)

    @staticmethod
    def erfc(z: Any) -> Any:
        """mpmath's erfc raises OverflowError near z = 1e150; past 2**64 the asymptotic
        series' first term e^(-z^2) / (z sqrt(pi)) has relative error below 2**-128."""
        if z > 2**64:
            return mp.exp(-z * z) / (z * mp.sqrt(mp.pi))
        return mp.erfc(z)

    @staticmethod
    def erfcx(z: Any) -> Any:
        """e^(z²)·erfc(z); past 2**64, 1 / (z sqrt(pi)), as for erfc."""
        if z > 2**64:
            return 1 / (z * mp.sqrt(mp.pi))
        return mp.erfc(z) * mp.exp(z * z)

    @staticmethod
    def num(x: float) -> Any:
        return mpmath.mpf(x)  # exact: working precision is never below 53 bits

    @staticmethod
    def decimal(s: str) -> Any:
        return mpmath.mpf(s)

    @staticmethod
    def frac(q: Fraction) -> Any:
        return mpmath.mpf(q.numerator) / q.denominator

    @property
    def pi(self) -> Any:
        return +mp.pi

    @staticmethod
    @contextmanager
    def precision(bits: int) -> Iterator[None]:
        with mp.workprec(bits):
            yield

    @staticmethod
    def bounds(v: Any) -> tuple[Dyadic, Dyadic]:
        """mpmath has no error bound: its value is both ends."""
        sign, man, exp, _ = v._mpf_
        if not man and exp:  # inf or nan
            raise ArithmeticError(f"mpmath gave {v}")
        d = (-man if sign else man, exp)
        return d, d


class _Arb(_Common):
    name = "arb"

    @staticmethod
    def exp(x: Any) -> Any:
        return x.exp()

    @staticmethod
    def expm1(x: Any) -> Any:
        return x.expm1()

    @staticmethod
    def log(x: Any) -> Any:
        return x.log()

    @staticmethod
    def log1p(x: Any) -> Any:
        return x.log1p()

    @staticmethod
    def sqrt(x: Any) -> Any:
        return x.sqrt()

    @staticmethod
    def erf(x: Any) -> Any:
        return x.erf()

    @staticmethod
    def erfc(x: Any) -> Any:
        """erfc over the ball, from its two ends: Arb bounds erfc of an inexact ball by
        erfc's largest slope, 2/√π, which for x = 1e6 leaves no correct bit, while erfc is
        decreasing, so [erfc(hi), erfc(lo)] encloses it with the ends' relative accuracy."""
        if x.is_exact() or not x.is_finite():
            return x.erfc()
        return flint.arb(x.upper()).erfc().union(flint.arb(x.lower()).erfc())

    @classmethod
    def erfcx(cls, x: Any) -> Any:
        """e^(x²)·erfc(x), erfc as above."""
        return cls.erfc(x) * (x * x).exp()

    @staticmethod
    def tanh(x: Any) -> Any:
        return x.tanh()

    @staticmethod
    def num(x: float) -> Any:
        return flint.arb(x)  # exact

    @staticmethod
    def decimal(s: str) -> Any:
        return flint.arb(s)  # a ball that encloses the decimal exactly

    @staticmethod
    def frac(q: Fraction) -> Any:
        return flint.arb(flint.fmpq(q.numerator, q.denominator))

    @property
    def pi(self) -> Any:
        return flint.arb.pi()

    @staticmethod
    @contextmanager
    def precision(bits: int) -> Iterator[None]:
        old = flint.ctx.prec
        flint.ctx.prec = bits
        try:
            yield
        finally:
            flint.ctx.prec = old

    @staticmethod
    def bounds(v: Any) -> tuple[Dyadic, Dyadic]:
        """The exact ends of the ball."""
        lo, hi = v.lower(), v.upper()
        if not (lo.is_finite() and hi.is_finite()):
            raise ArithmeticError(f"Arb gave {v}")
        lo, hi = lo.man_exp(), hi.man_exp()
        return (int(lo[0]), int(lo[1])), (int(hi[0]), int(hi[1]))


class NotRational(ArithmeticError):
    """The formula left the rationals (exp, log, pi, an irrational square root)."""


class _Rational(_Common):
    """Exact rational arithmetic (`fractions.Fraction`): piecewise-linear and polynomial
    formulas evaluate exactly, which recognises exact results (ties included) that a
    decimal parameter such as 0.01 would keep Arb's balls from ever pinning down."""

    name = "rational"

    @staticmethod
    def _irrational(*_: Any) -> Any:
        raise NotRational

    def near(self, base: float | Fraction, rest: Any) -> Any:
        return Fraction(base) + rest  # exact already

    @staticmethod
    def _at(point: int, value: int) -> Any:
        """A transcendental function, rational only at ``point`` (e^0 = 1, log 1 = 0):
        a slice of equal entries weighs each by e^0, and its softmax, a tie of a
        format's rounding among them (its Hessian along a bfloat16 direction), is exact."""
        def fn(x: Fraction) -> Fraction:
            if x != point:
                raise NotRational
            return Fraction(value)
        return staticmethod(fn)

    exp, expm1, log, log1p = _at(0, 1), _at(0, 0), _at(1, 0), _at(0, 0)
    erf, erfc, erfcx, tanh = _at(0, 0), _at(0, 1), _at(0, 1), _at(0, 0)

    @staticmethod
    def sqrt(x: Fraction) -> Fraction:
        n, d = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if x < 0 or n * n != x.numerator or d * d != x.denominator:
            raise NotRational
        return Fraction(n, d)

    @property
    def pi(self) -> Any:
        raise NotRational

    @staticmethod
    def num(x: float) -> Fraction:
        return Fraction(x)

    @staticmethod
    def decimal(s: str) -> Fraction:
        return Fraction(s)

    @staticmethod
    def frac(q: Fraction) -> Fraction:
        return q

    @staticmethod
    @contextmanager
    def precision(bits: int) -> Iterator[None]:
        yield


MPMATH = _Mpmath()
ARB = _Arb()
RATIONAL = _Rational()
