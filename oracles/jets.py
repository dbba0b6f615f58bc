"""Forward-mode differentiation of a catalog formula in any of the oracle's namespaces.

A `Jet` is ``v + d·ε`` with ε² = 0: a number of the namespace it wraps (an mpmath number,
an Arb ball, a filter `Box`) and its derivative. `Jets` is a namespace with the same names
as the one it wraps (see `backends`), whose input is a jet of derivative 1: a catalog
derivative formula run on it gives the derivative's value and, in ``d``, the second
derivative — no third formula per entry. Each operation applies its calculus rule in the
wrapped arithmetic, so with Arb every ``d`` is again a ball that encloses the exact
derivative (forward-mode differentiation over ball arithmetic is as rigorous as the
arithmetic), and with the filter's boxes an enclosure under the same assumptions as the
values'. Comparisons (a formula's branches) compare ``v``; a branch is one piece of the
definition on an open set, whose derivative is that piece's, and the points where the
pieces meet are the catalog's (`Kink`, `Bend`), answered from its data, not from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .backends import _Common


class Jet:
    """``v + d·ε``: a value and its derivative, numbers of one namespace (or Python
    numbers, for a constant)."""

    __slots__ = ("d", "v")

    def __init__(self, v: Any, d: Any = 0):
        self.v, self.d = v, d

    def __neg__(self) -> Jet:
        return Jet(-self.v, -self.d)

    def __add__(self, o: Any) -> Jet:
        o = lift(o)
        return Jet(self.v + o.v, self.d + o.d)

    __radd__ = __add__

    def __sub__(self, o: Any) -> Jet:
        return self + -lift(o)

    def __rsub__(self, o: Any) -> Jet:
        return lift(o) + -self

    def __mul__(self, o: Any) -> Jet:
        o = lift(o)
        return Jet(self.v * o.v, _plus(_times(self.d, o.v), _times(self.v, o.d)))

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> Jet:
        """(u/w)′ = (u′ − (u/w)·w′)/w."""
        o = lift(o)
        q = self.v / o.v
        return Jet(q, _over(_plus(self.d, -_times(q, o.d)), o.v))

    def __rtruediv__(self, o: Any) -> Jet:
        return lift(o) / self

    def __pow__(self, n: int) -> Jet:
        if not isinstance(n, int) or n < 1:
            raise TypeError("jets take positive integer powers only")
        out = self
        for _ in range(n - 1):
            out = out * self
        return out

    def __abs__(self) -> Jet:
        """|u| = ±u on either side of 0; at 0 (a `Bend` of any formula that uses it
        where its derivative is nonzero) the derivative taken is 0."""
        if self.v > 0:
            return self
        if self.v < 0:
            return -self
        return Jet(abs(self.v), 0)

    def __gt__(self, o: Any) -> Any:
        return self.v > lift(o).v

    def __ge__(self, o: Any) -> Any:
        return self.v >= lift(o).v

    def __lt__(self, o: Any) -> Any:
        return self.v < lift(o).v

    def __le__(self, o: Any) -> Any:
        return self.v <= lift(o).v

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self.v == lift(o).v

    __hash__ = None  # type: ignore[assignment]

    def take(self, mask: Any) -> Jet:
        """The filter's inputs where ``mask`` holds (`filter._Taking`)."""
        return Jet(_take(self.v, mask), _take(self.d, mask))


def _take(v: Any, mask: Any) -> Any:
    return v.take(mask) if hasattr(v, "take") else v


def lift(v: Any) -> Jet:
    """An operand as a jet: a constant's derivative is 0."""
    return v if isinstance(v, Jet) else Jet(v, 0)


def _zero(v: Any) -> bool:
    return isinstance(v, int) and v == 0


def _plus(a: Any, b: Any) -> Any:
    return b if _zero(a) else (a if _zero(b) else a + b)


def _times(a: Any, b: Any) -> Any:
    """A product that stays an exact 0 where a factor is a constant's derivative."""
    return 0 if _zero(a) or _zero(b) else a * b


def _over(a: Any, b: Any) -> Any:
    return 0 if _zero(a) else a / b


def derivative(v: Any) -> Any:
    """The derivative part of a formula's result: 0 for a finite constant it returned,
    NaN for a NaN or an infinite one (a derivative that is ±inf by a formula's rule, as
    standardize's at an infinite entry, has no derivative of its own)."""
    if isinstance(v, Jet):
        return v.d
    if isinstance(v, float) and not math.isfinite(v):
        return math.nan
    return 0


class Tangent(float):
    """An entry of a slice with its tangent: the entry's component of the direction a
    vector formula is differentiated along (`Jets` with ``seed=0`` reads it in `num`). It
    is a float everywhere else, so a formula's branches (``math.isinf(x)``, ``max``) see
    the entry; negating it negates the tangent too (softmin is softmax of −x)."""

    tangent: float

    def __new__(cls, x: float, tangent: float) -> Tangent:
        made = super().__new__(cls, x)
        made.tangent = tangent
        return made

    def __neg__(self) -> Tangent:
        return Tangent(-float(self), -self.tangent)


class Jets(_Common):
    """The namespace of jets over ``inner`` (`backends.MPMATH`, `ARB`, `filter.BOXES`):
    ``num(x)`` is the input, of derivative ``seed`` (1: an elementwise formula's one
    input; 0: a vector formula's, whose entries carry their own as a `Tangent`, and
    whose other numbers, b's factors, are constants); constants (`lit`, `frac`, `pi`) are
    the inner namespace's numbers; the helpers (sigmoid, softplus, sech2) are the common
    ones on the primitives below."""

    def __init__(self, inner: Any, seed: int = 1):
        self.inner, self.seed = inner, seed
        self.name = f"jets over {inner.name}"

    def num(self, x: Any) -> Jet:
        if isinstance(x, Tangent):
            return Jet(self.inner.num(float(x)), x.tangent)
        return Jet(self.inner.num(x), self.seed)

    def lit(self, v: Any) -> Any:
        return self.inner.lit(v)

    def decimal(self, s: str) -> Any:
        return self.inner.decimal(s)

    def frac(self, q: Any) -> Any:
        return self.inner.frac(q)

    @property
    def pi(self) -> Any:
        return self.inner.pi

    @contextmanager
    def precision(self, bits: int) -> Iterator[None]:
        with self.inner.precision(bits):
            yield

    def near(self, base: Any, rest: Any) -> Any:
        return rest + base  # the base is exact: an Offset only matters to a value

    def exact(self, x: Any) -> Any:
        return x

    def _chain(self, u: Any, value: Any, slope: Any) -> Any:
        """f(u) with f′(u) = ``slope()``."""
        if not isinstance(u, Jet):
            return value(u)
        return Jet(value(u.v), _times(slope(u.v), u.d))

    def exp(self, u: Any) -> Any:
        e = self.inner.exp(u.v if isinstance(u, Jet) else u)
        return Jet(e, _times(e, u.d)) if isinstance(u, Jet) else e

    def expm1(self, u: Any) -> Any:
        return self._chain(u, self.inner.expm1, self.inner.exp)

    def log(self, u: Any) -> Any:
        return self._chain(u, self.inner.log, lambda v: 1 / v)

    def log1p(self, u: Any) -> Any:
        return self._chain(u, self.inner.log1p, lambda v: 1 / (1 + v))

    def sqrt(self, u: Any) -> Any:
        if not isinstance(u, Jet):
            return self.inner.sqrt(u)
        s = self.inner.sqrt(u.v)
        return Jet(s, _over(u.d, 2 * s))

    def tanh(self, u: Any) -> Any:
        return self._chain(u, self.inner.tanh, self.inner.sech2)

    # The helpers by their own derivatives, not through their formulas: differentiated,
    # sech²'s 4e/(1 + e)² cancels to nothing where e ≈ 1 (a box of tanh″ at tiny x holds
    # zero), and σ's e/(1 + e) gives e′ − σ·e′, whose box has no sign where e underflows

    def sigmoid(self, u: Any) -> Any:
        """σ′ = σ(v)·σ(−v)."""
        if not isinstance(u, Jet):
            return self.inner.sigmoid(u)
        s = self.inner.sigmoid(u.v)
        return Jet(s, _times(s * self.inner.sigmoid(-u.v), u.d))

    def softplus(self, u: Any) -> Any:
        """softplus′ = σ."""
        return self._chain(u, self.inner.softplus, self.inner.sigmoid)

    def sech2(self, u: Any) -> Any:
        """(sech²)′ = −2·sech²(v)·tanh(v)."""
        if not isinstance(u, Jet):
            return self.inner.sech2(u)
        s = self.inner.sech2(u.v)
        return Jet(s, _times(-2 * s * self.inner.tanh(u.v), u.d))

    def _gauss(self, v: Any) -> Any:
        """2/√π · e^(−v²): erf′."""
        return 2 / self.inner.sqrt(self.inner.pi) * self.inner.exp(-(v * v))

    def erf(self, u: Any) -> Any:
        return self._chain(u, self.inner.erf, self._gauss)

    def erfc(self, u: Any) -> Any:
        return self._chain(u, self.inner.erfc, lambda v: -self._gauss(v))

    def erfcx(self, u: Any) -> Any:
        """erfcx′(v) = 2v·erfcx(v) − 2/√π."""
        return self._chain(u, self.inner.erfcx, lambda v: 2 * v * self.inner.erfcx(v)
                           - 2 / self.inner.sqrt(self.inner.pi))
