"""The filter: the catalog's own formulas evaluated over whole arrays in float64 interval
arithmetic, fast enough for every float32 input, with a rigorous enclosure of each value.

`enclose` runs an entry's formula (or derivative) on a numpy array of inputs with the
namespace `BOXES`, whose numbers are `Box`es: a lower and an upper float64 array that
enclose the exact value at each input. A formula's branches (``if x > 0``) are taken per
input: a comparison that is true for some inputs and false for others splits the array
and runs the formula again on each part; a comparison a box cannot decide (an interval
straddling the threshold) leaves those inputs undecided. `decide` then rounds both ends
to the target format: where they agree, that is the correctly rounded value, and
elsewhere (beside a rounding boundary, a zero of unknown sign, an undecided branch) the
input goes to the certified oracle (`engine.decide`), which is then the answer.

Why the enclosure holds, operation by operation:

* ``+ − × ÷`` are IEEE float64 operations, rounded to nearest: the exact result of the
  operation on the ends lies within half an ulp of the rounded one, and every end is moved
  outward by ``|r|·2**-52 + 2**-1074`` (at least one ulp of ``r``, and the subnormal
  spacing below the normal range), which then encloses it. Multiplication and division
  take the extremes of the four products or quotients of the ends; a divisor interval
  holding 0 encloses nothing (undecided). Negation and ``abs`` are exact, and so is an
  operation on exact numbers that rounds nothing: a sum whose error (TwoSum's) is 0, a
  product whose error (Dekker's) is 0, a quotient that times the divisor is the
  dividend, each well inside float64's range. Those stay exact numbers: x + 1/2 at a
  tie of float32 (soft_shrink), or (x + 3)/6 at one (hard_sigmoid), is decided as the
  tie it is.
* ``exp, expm1, log, log1p, sqrt, tanh`` are numpy's (the platform's libm, or numpy's own
  SIMD loops), and ``erfc``, ``erfcx`` SciPy's. None of them is correctly rounded, and
  none carries a proof; their published maximum errors are at most 4 ulps (glibc's table
  of known maximum errors; numpy's accuracy tests for its SIMD loops) and below 4e-15
  relative for SciPy's erfc (Cephes' stated peak error; erfcx, from the Faddeeva package,
  claims about 1e-15 for x >= 0, and below 0 encloses nothing here). Each end is moved
  outward by `LIBM_ULPS` (`ERFC_ULPS` for both) times ``|r|·2**-52`` plus as many
  subnormal spacings: twice the claims and more. The functions are monotonic, so the
  image of an interval is the interval of its ends' images (erfc and erfcx decrease). An
  end that overflows (inf) only says the value is beyond the largest number.
* constants (a decimal literal, a parameter, π) are enclosed by the two float64 numbers
  around their exact value.
* a value given as an exact base plus a remainder (``B.near``: silu(x) = x/2 + (x/2)·tanh(x/2)
  at tiny x) keeps the base, and the side of it the remainder's sign puts the value on:
  where the base is a tie of the format (x/2 at an odd subnormal x), that side decides
  the rounding, which no box around the sum could (`decide`).
* where float64 would cancel (x − tanh(x) near 0), a formula gives the value also as a
  truncated alternating series (`_Common.alternating`), whose terms decrease there: the
  first omitted term bounds the rest, and widens the box on both sides.
* the sign of a product or quotient is that of its factors wherever its box touches 0
  (an underflow: 1/expm1(1e34) is positive, and rounds to +0.0).

That rests on the libraries meeting their claims, which nothing proves here; so the claim
is tested instead, every time: against the oracle's certified values on every float16 and
bfloat16 input and every float32 sample (suites/oracles/test_filter.py), and by the
exhaustive audit on every input it escalates, where a certified value outside the
filter's box is an error (`FilterError`), never accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import scipy.special

from ..catalog import Activation
from .backends import _Common
from .exact import computation, taken
from .formats import Format

LIBM_ULPS = 8  # each end of a libm result moved out by this many of its ulps
ERFC_ULPS = 64
_C = 2.0**-52  # |r|·_C is at least one ulp of r
_T = 2.0**-1074  # the smallest subnormal: the spacing below the normal range
_MAX = np.finfo(np.float64).max


class FilterError(ArithmeticError):
    """A certified value outside the filter's enclosure: a library missed its claim."""


class Undecided(Exception):
    """A comparison that splits the inputs: raised inside a formula, and handled by
    `enclose`, which runs the formula again on each side."""

    def __init__(self, true: np.ndarray, false: np.ndarray):
        super().__init__("split")
        self.true, self.false = true, false


def _out(lo: np.ndarray, hi: np.ndarray, k: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Both ends moved outward by ``k`` of their ulps and subnormal spacings."""
    with np.errstate(over="ignore", invalid="ignore"):
        return (lo - (np.abs(lo) * (k * _C) + k * _T), hi + (np.abs(hi) * (k * _C) + k * _T))


def _defers(op: Callable[[Box, Any], Any]) -> Callable[[Box, Any], Any]:
    """A binary operation that leaves an operand of another arithmetic (a `jets.Jet` of
    boxes) to that operand's reflected operation."""
    def apply(self: Box, other: Any) -> Any:
        if not isinstance(other, Box | int | float | Fraction | np.floating):
            return NotImplemented
        return op(self, other)
    apply.__doc__ = op.__doc__
    return apply


class Box:
    """Enclosures ``[lo, hi]`` of exact values, one per input (or one for a constant), and
    the sign of each value where it is known to be nonzero (``sign``: 1, -1, or 0 for not
    known), which the box alone may not show: e^-1e16 is positive, though its box is
    [0, 2**-1022], and so the value rounds to +0.0 in float32, not to -0.0."""

    __slots__ = ("exact", "hi", "lo", "sign")
    __array_priority__ = 100  # numpy scalars defer to Box's operators

    def __init__(self, lo: Any, hi: Any = None, exact: bool = False, sign: Any = 0):
        self.lo = np.asarray(lo, np.float64)
        self.hi = self.lo if hi is None else np.asarray(hi, np.float64)
        self.exact = exact  # lo is hi, an exact number: no rounding yet
        self.sign = sign  # what is known beyond the box (0 where nothing), see `signs`

    def signs(self) -> Any:
        """Each value's sign where known to be nonzero (1, -1), else 0."""
        if self.lo.ndim == 0 and np.isscalar(self.sign):
            lo, hi = float(self.lo), float(self.hi)
            return 1 if lo > 0 else (-1 if hi < 0 else int(self.sign))
        with np.errstate(invalid="ignore"):
            return np.where(self.lo > 0, 1, np.where(self.hi < 0, -1, self.sign)).astype(np.int8)

    # arithmetic ---------------------------------------------------------------------
    def __neg__(self) -> Box:
        return Box(-self.hi, -self.lo, self.exact, -self.sign)

    def __abs__(self) -> Box:
        lo, hi = self.lo, self.hi
        if _nonnegative(self):
            return self
        with np.errstate(invalid="ignore"):
            a = np.where(lo >= 0, lo, np.where(hi <= 0, -hi, 0.0))
        return Box(a, np.maximum(np.abs(lo), np.abs(hi)), self.exact,
                   np.abs(self.sign) if _informed(self) else 0)

    @_defers
    def __add__(self, other: Any) -> Box:
        o = box(other)
        with np.errstate(over="ignore", invalid="ignore"):
            s = self.lo + o.lo
            lo, hi = _out(s, self.hi + o.hi)

            def sign() -> Any:
                sa, sb = self.signs(), o.signs()
                return np.where(sa == sb, sa, 0)
            known = _signed(lo, hi, sign) if _informed(self, o) else 0
            if self.exact and o.exact:  # exact where the sum rounds nothing (its TwoSum
                b = s - self.lo  # error is 0): x + 1/2 at a tie of float32 stays one
                held = ((self.lo - (s - b)) + (o.lo - b) == 0) & np.isfinite(s)
                return _kept(s, held, lo, hi, known)
            return Box(lo, hi, sign=known)

    __radd__ = __add__

    @_defers
    def __sub__(self, other: Any) -> Box:
        return self + -box(other)

    @_defers
    def __rsub__(self, other: Any) -> Box:
        return box(other) + -self

    @_defers
    def __mul__(self, other: Any) -> Box:
        o = box(other)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.exact and o.exact:  # exact where the product rounds nothing
                p, err = _two_product(self.lo, o.lo)
                sign = _signed(p, p, lambda: self.signs() * o.signs())
                return _kept(p, err == 0, *_out(p, p), sign)
            if o.exact and o.lo.ndim == 0:  # a constant: two products
                c = float(o.lo)
                if c == 0:
                    return Box(np.zeros_like(self.lo), exact=True)
                a, b = self.lo * c, self.hi * c
                lo, hi = (a, b) if c > 0 else (b, a)
                sign = self.sign if c > 0 else -self.sign
                return Box(*_out(lo, hi), sign=sign)
            if self.exact and self.lo.ndim == 0:
                return o * self
            if _nonnegative(self) and _nonnegative(o):  # the common case: two products
                lo, hi = _out(self.lo * o.lo, self.hi * o.hi)
                sign = _signed(lo, hi, lambda: self.signs() * o.signs())
                return Box(lo, hi, sign=sign)
            p = (self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi)
            lo, hi = _out(np.minimum(np.minimum(p[0], p[1]), np.minimum(p[2], p[3])),
                          np.maximum(np.maximum(p[0], p[1]), np.maximum(p[2], p[3])))
            sign = _signed(lo, hi, lambda: self.signs() * o.signs())
            return Box(lo, hi, sign=sign)

    __rmul__ = __mul__

    @_defers
    def __truediv__(self, other: Any) -> Box:
        o = box(other)

        def sign() -> Any:
            return self.signs() * o.signs()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.exact and o.exact:  # exact where the quotient times the divisor is
                q = self.lo / o.lo  # the dividend, exactly ((x + 3)/6 at a tie)
                p, err = _two_product(q, o.lo)
                held = (p == self.lo) & (err == 0)
                lo, hi = _out(q, q)
                lo, hi = np.where(o.lo == 0, np.nan, lo), np.where(o.lo == 0, np.nan, hi)
                return _kept(q, held, lo, hi, _signed(lo, hi, sign))
            if self.exact and self.lo.ndim == 0 and np.all(o.lo > 0):  # c / a positive box
                c = float(self.lo)
                lo, hi = _out(*((c / o.hi, c / o.lo) if c >= 0 else (c / o.lo, c / o.hi)))
                return Box(lo, hi, sign=_signed(lo, hi, sign))
            if _nonnegative(self) and np.all(o.lo > 0):  # the common case: two quotients
                lo, hi = _out(self.lo / o.hi, self.hi / o.lo)
                return Box(lo, hi, sign=_signed(lo, hi, sign))
            straddles = (o.lo <= 0) & (o.hi >= 0)
            q = (self.lo / o.lo, self.lo / o.hi, self.hi / o.lo, self.hi / o.hi)
            lo = np.minimum(np.minimum(q[0], q[1]), np.minimum(q[2], q[3]))
            hi = np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3]))
            lo, hi = _out(lo, hi)
            return Box(np.where(straddles, np.nan, lo), np.where(straddles, np.nan, hi),
                       sign=_signed(lo, hi, sign))

    @_defers
    def __rtruediv__(self, other: Any) -> Box:
        return box(other) / self

    def __pow__(self, n: int) -> Box:
        if not isinstance(n, int) or n < 1:
            raise TypeError("boxes take positive integer powers only")
        base = abs(self) if n % 2 == 0 else self  # even powers: of |x|, monotonic there
        out = base
        for _ in range(n - 1):
            out = out * base
        return out

    # comparisons: a `Truth` per input --------------------------------------------------
    @_defers
    def __gt__(self, other: Any) -> Truth:
        o = box(other)
        return Truth(self.lo > o.hi, self.hi <= o.lo)

    @_defers
    def __ge__(self, other: Any) -> Truth:
        o = box(other)
        return Truth(self.lo >= o.hi, self.hi < o.lo)

    @_defers
    def __lt__(self, other: Any) -> Truth:
        return box(other) > self

    @_defers
    def __le__(self, other: Any) -> Truth:
        return box(other) >= self

    @_defers
    def __eq__(self, other: Any) -> Truth:  # type: ignore[override]
        o = box(other)
        return Truth((self.lo == self.hi) & (o.lo == o.hi) & (self.lo == o.lo),
                     (self.hi < o.lo) | (self.lo > o.hi))

    __hash__ = None  # type: ignore[assignment]

    def take(self, mask: np.ndarray) -> Box:
        """The inputs where ``mask`` holds (a constant stays one)."""
        if self.lo.ndim == 0:
            return self
        return Box(self.lo[mask], self.hi[mask], self.exact,
                   self.sign if np.isscalar(self.sign) else self.sign[mask])


class Near(Box):
    """A formula's result ``base + rest`` (`_Boxes.near`): the box of the sum, the exact
    base, and ``side``, the remainder's sign where known (1, -1; 0 for not known)."""

    __slots__ = ("base", "side")

    def __init__(self, total: Box, base: Box, rest: Box):
        super().__init__(total.lo, total.hi, total.exact, total.sign)
        self.base, self.side = base.lo, rest.signs()


def _nonnegative(b: Box) -> bool:
    """Whether every value of ``b`` is known to be >= 0 (a NaN end is not)."""
    with np.errstate(invalid="ignore"):
        return bool(np.all(b.lo >= 0))


def _informed(*boxes: Box) -> bool:
    """Whether any of ``boxes`` knows a sign its box does not show."""
    return any(not (np.isscalar(b.sign) and b.sign == 0) for b in boxes)


def _signed(lo: np.ndarray, hi: np.ndarray, sign: Any) -> Any:
    """What a result's box does not show of its sign: ``sign()`` where the box touches 0,
    and nothing (0) where no box does, without computing it."""
    with np.errstate(invalid="ignore"):
        if not np.any((lo <= 0) & (hi >= 0)):
            return 0
    return sign()


def _kept(v: np.ndarray, held: np.ndarray, lo: np.ndarray, hi: np.ndarray, sign: Any) -> Box:
    """The exact numbers ``v`` where ``held`` (an operation that rounded nothing), else
    the box [lo, hi]; an exact box where every one is held."""
    if np.all(held):
        return Box(v, exact=True, sign=sign)
    return Box(np.where(held, v, lo), np.where(held, v, hi), sign=sign)


def _plain(v: np.ndarray) -> np.ndarray:
    """0, or between 2**-900 and 2**996: where `_two_product`'s partial products neither
    underflow nor overflow, so that its error is exact."""
    a = np.abs(v)
    return (a == 0) | ((a >= 2.0**-900) & (a <= 2.0**996))


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a·b rounded, and its rounding error exactly): Dekker's product, each factor split
    in halves of 26 bits (Veltkamp); NaN for the error unless the factors and the product
    are `_plain`."""
    def split(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = v * 134217729.0  # 2**27 + 1
        hi = t - (t - v)
        return hi, v - hi

    p = a * b
    (ah, al), (bh, bl) = split(a), split(b)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, np.where(_plain(a) & _plain(b) & _plain(p), err, np.nan)


def box(v: Any) -> Box:
    """A Box for an operand: a Box, or an exact Python number."""
    if isinstance(v, Box):
        return v
    if isinstance(v, bool):
        raise TypeError("booleans are not numbers here")
    if isinstance(v, Fraction):
        return _fraction(v)
    return Box(float(v), exact=True)


def _fraction(q: Fraction) -> Box:
    f = float(q)  # correctly rounded
    if Fraction(f) == q:
        return Box(f, exact=True)
    return Box(np.nextafter(f, -np.inf) if Fraction(f) > q else f,
               np.nextafter(f, np.inf) if Fraction(f) < q else f)


class Truth:
    """A comparison's outcome per input: ``true``, ``false``, or neither (undecided)."""

    def __init__(self, true: np.ndarray, false: np.ndarray):
        self.true, self.false = np.asarray(true), np.asarray(false)

    def __bool__(self) -> bool:
        if np.all(self.true):
            return True
        if np.all(self.false):
            return False
        raise Undecided(np.broadcast_to(self.true, np.broadcast_shapes(
            self.true.shape, self.false.shape)), np.broadcast_to(self.false, np.broadcast_shapes(
                self.true.shape, self.false.shape)))


def _erfcx_of_nonnegative(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, scipy.special.erfcx(np.maximum(x, 0.0)), np.nan)


_NORMAL = 2.0**-1022  # libm results below this (subnormal) are only known to be below it


def _monotone(fn: Callable[[np.ndarray], np.ndarray], k: float, increasing: bool = True,
              sign: str = "") -> Callable[[Any], Box]:
    """A monotonic libm function over boxes: its ends' images, moved out by ``k`` ulps. A
    subnormal result is only known to be below the normal range (libraries make no claim
    of ulps there: SciPy's erfc is off by 2**-1030 at 26.65), and an overflowed one only
    above the largest number. The result's sign: ``"positive"`` always, ``"same"`` as
    the argument's (tanh, expm1, log1p), else from its box."""
    def apply(v: Any) -> Box:
        b = box(v)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            a = fn(b.lo)
            c = a if b.exact else fn(b.hi)
            raw_lo, raw_hi = (a, c) if increasing else (c, a)
            lo, hi = _out(raw_lo, raw_hi, k)
            lo = np.where(np.abs(lo) < _NORMAL, -_NORMAL, lo)
            hi = np.where(np.abs(hi) < _NORMAL, _NORMAL, hi)
            if sign == "positive":
                lo = np.maximum(lo, 0.0)
            # an overflowed end (inf, which moving out made NaN): beyond the range
            lo = np.where(raw_lo == np.inf, _MAX, lo)
            hi = np.where(raw_hi == -np.inf, -_MAX, hi)
        known = 1 if sign == "positive" else (
            _signed(lo, hi, b.signs) if sign == "same" else 0)
        return Box(lo, hi, sign=known)
    return apply


class _Boxes(_Common):
    """The namespace formulas are written against (see `backends`), over `Box`es: the
    helpers (sigmoid, softplus, sech2, lit) are the common ones, on these primitives."""

    name = "boxes"
    exp = staticmethod(_monotone(np.exp, LIBM_ULPS, sign="positive"))
    expm1 = staticmethod(_monotone(np.expm1, LIBM_ULPS, sign="same"))
    log = staticmethod(_monotone(np.log, LIBM_ULPS))
    log1p = staticmethod(_monotone(np.log1p, LIBM_ULPS, sign="same"))
    sqrt = staticmethod(_monotone(np.sqrt, LIBM_ULPS, sign="same"))
    tanh = staticmethod(_monotone(np.tanh, LIBM_ULPS, sign="same"))
    erfc = staticmethod(_monotone(scipy.special.erfc, ERFC_ULPS, increasing=False,
                                  sign="positive"))
    erf = staticmethod(_monotone(scipy.special.erf, ERFC_ULPS, sign="same"))
    # for x >= 0 only: below, SciPy computes 2e^(x²) − erfcx(−x), hundreds of ulps off
    erfcx = staticmethod(_monotone(_erfcx_of_nonnegative, ERFC_ULPS, increasing=False,
                                   sign="positive"))

    def near(self, base: Any, rest: Any) -> Any:
        b, r = box(base), box(rest)
        return Near(b + r, b, r) if b.exact else b + r

    def sech2(self, x: Any) -> Any:
        """Within ±1/8, 1 − tanh(x)² (tanh(x)² < 1/64 cancels nothing): beside 1 its box
        is several times narrower than the quotient's (`_Common.sech2`), and tells
        1 − x² from 1 for every float32 x above 1.5e-8."""
        if abs(x) <= self.frac(Fraction(1, 8)):
            return 1 - self.tanh(x) ** 2
        return super().sech2(x)

    def alternating(self, x: Any, terms: Sequence[tuple[int, Fraction]],
                    exact: Callable[[], Any]) -> Box:
        """The series' kept terms summed, widened by the first omitted one's magnitude
        (an alternating series whose terms decrease leaves out less than that)."""
        *kept, (n, c) = terms
        total = sum((self.frac(k) * x**m for m, k in kept), start=box(0))
        rest = abs(self.frac(c) * x**n).hi
        return total + Box(-rest, rest)

    def exact(self, x: Any) -> Any:
        return x  # a box of the input is exact already

    @staticmethod
    def num(x: Any) -> Box:
        return Box(x, exact=True)

    decimal = staticmethod(lambda s: _fraction(Fraction(s)))
    frac = staticmethod(_fraction)

    @property
    def pi(self) -> Box:
        return Box(math.pi, np.nextafter(math.pi, np.inf))  # math.pi < π

    @staticmethod
    @contextmanager
    def precision(bits: int) -> Iterator[None]:
        yield


BOXES = _Boxes()


class Enclosure(NamedTuple):
    """What the filter knows of a formula's value at each input (float64 arrays).

    ``lo <= value <= hi``; ``known``: 0 where the filter encloses nothing (an undecided
    branch, a divisor around 0), else 2 plus the value's sign where known to be nonzero
    (1, -1; 0 for not known); ``base``: where the formula gives the value as an exact
    base plus a remainder (`Near`), that base, else NaN; ``side``: the remainder's sign
    there (1, -1), 0 where not known or no base."""

    lo: np.ndarray
    hi: np.ndarray
    known: np.ndarray
    base: np.ndarray
    side: np.ndarray


def enclose(act: Activation, x: np.ndarray, params: Mapping[str, Any], dtype: str,
            grad: bool = False, where: np.ndarray | None = None,
            formula: Any = None, order: int | None = None) -> Enclosure:
    """The `Enclosure` of f(x) (or f'(x), or f''(x) with ``order=2``, its derivative
    formula run on `jets.Jet`s of boxes; or ``formula``: another of the entry's) at each
    finite ``x`` (float64 array), the parameters taken as the library takes them for
    ``dtype``; only ``where`` (a mask), if given, the other inputs enclosed by nothing. A
    value the formula gives as an exact number (0, 1, NaN by a domain convention) is that
    number at both ends."""
    params = taken(act, act.resolve(params), dtype)
    x = np.asarray(x, np.float64)
    out = Enclosure(np.full(x.shape, np.nan), np.full(x.shape, np.nan),
                    np.zeros(x.shape, np.int8), np.full(x.shape, np.nan),
                    np.zeros(x.shape, np.int8))
    at = np.arange(len(x)) if where is None else np.flatnonzero(where)
    _run(computation(act, x, params, grad, formula, order), at, out)
    return out


def grad_scale(act: Activation, x: np.ndarray, params: Mapping[str, Any], dtype: str,
               order: int = 1) -> np.ndarray:
    """A lower bound of the entry's `grad_scale` (its ``second_scale`` for ``order=2``)
    at each finite ``x`` (0 where it has none, or where the filter encloses nothing): the
    size its derivative's errors count in ulps of, at least."""
    scale = act.second_scale if order == 2 else act.grad_scale
    if scale is None:
        return np.zeros(len(x))
    lo = enclose(act, x, params, dtype, where=np.isfinite(x), formula=scale).lo
    with np.errstate(invalid="ignore"):
        return np.where(lo > 0, lo, 0.0)


def _run(compute: Callable[[Any], Any], where: np.ndarray, out: Enclosure,
         depth: int = 0) -> None:
    """``compute`` on the inputs ``where`` (indices into the whole input), into ``out``;
    split at each branch the inputs take differently."""
    if not len(where):
        return
    lo, hi, known = out.lo, out.hi, out.known
    full = len(where) == len(lo)
    try:
        value = compute(BOXES if full else _Taking(BOXES, where))
    except Undecided as split:
        if depth > 16:  # formulas branch a few times; more means a loop: leave undecided
            return
        for mask in (split.true, split.false):
            part = np.flatnonzero(mask)
            if len(part):
                _run(compute, where[part], out, depth + 1)
        return
    b = value if isinstance(value, Box) else box(value)
    at = slice(None) if full else where  # the whole input: no gathers and scatters
    b_lo, b_hi = np.broadcast_to(b.lo, where.shape), np.broadcast_to(b.hi, where.shape)
    lo[at], hi[at] = b_lo, b_hi
    sign = 2 + np.broadcast_to(b.signs(), where.shape)
    known[at] = sign if b.exact else np.where(np.isnan(b_lo) | np.isnan(b_hi), 0, sign)
    if isinstance(b, Near):
        out.base[at] = np.broadcast_to(b.base, where.shape)
        out.side[at] = np.broadcast_to(b.side, where.shape)


class _Taking:
    """The namespace, its ``num`` (the input) narrowed to the inputs ``part``."""

    def __init__(self, inner: Any, part: np.ndarray):
        self._inner, self._part = inner, part

    def num(self, x: Any) -> Box:
        return self._inner.num(x).take(self._part)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def decide(enc: Enclosure, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """(rounded, decided): the correct rounding to ``fmt`` (as float64) where both ends
    of an enclosing box round alike, a zero's sign included (a box around 0 decides
    nothing, unless the value's sign is known), NaN where the value is NaN; or where the
    value lies on a known side of an exact base, between it and the box's far end, and
    the two round alike (`_beside`); and where that decides it."""
    rounded, decided = _decide_box(enc.lo, enc.hi, enc.known, fmt)
    near = np.flatnonzero(~decided & (enc.side != 0) & (enc.known > 0) & (enc.base != 0)
                          & np.isfinite(enc.base))
    if len(near):
        far = np.where(enc.side[near] > 0, enc.hi[near], enc.lo[near])
        r, ok = _beside(enc.base[near], enc.side[near], far, fmt)
        rounded[near[ok]], decided[near[ok]] = r[ok], True
    return rounded, decided


def _beside(base: np.ndarray, side: np.ndarray, far: np.ndarray, fmt: Format,
            ) -> tuple[np.ndarray, np.ndarray]:
    """(rounded, decided) for values strictly on ``side`` of the exact float64 ``base``, up
    to ``far``. Values just beside ``base`` round as it does, except where it is a tie:
    then to the neighbour on ``side``. Every boundary of the format's rounding is a
    float64 number, so none lies strictly between ``base`` and the next float64: "just
    beside" holds for every real number there. With ``f`` the rounding of ``base``, its
    difference ``d`` is exact, and ``base`` is a tie exactly where ``f + 2d`` (the
    neighbour on its side) is a number of the format. Decided where that rounding and
    ``far``'s agree, finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        f = round_to(base, fmt)
        d = base - f
        g = f + 2 * d
        tie = (d != 0) & (round_to(g, fmt) == g)
        r = np.where(tie & (np.sign(d) == side), g, f)
        end = round_to(far, fmt)
        ok = (r == end) & (np.signbit(r) == np.signbit(end)) & np.isfinite(r) & np.isfinite(g)
    return r, ok


def _decide_box(lo: np.ndarray, hi: np.ndarray, known: np.ndarray, fmt: Format,
                ) -> tuple[np.ndarray, np.ndarray]:
    """`decide` from the box alone."""
    sign = known.astype(np.int64) - 2
    with np.errstate(invalid="ignore", over="ignore"):
        if fmt.name == "bfloat16":
            a, b = round_to(lo, fmt), round_to(hi, fmt)
        else:  # compared in the format itself, one cast back at the end
            a, b = lo.astype(fmt.dtype), hi.astype(fmt.dtype)
        exact_zero = (lo == 0) & (hi == 0) & (np.signbit(lo) == np.signbit(hi))
        zero_box = (lo <= 0) & (hi >= 0) & ~exact_zero
        same = ((a == b) & (np.signbit(a) == np.signbit(b)) & ~zero_box) | (
            np.isnan(lo) & np.isnan(hi))
        signed_zero = (a == 0) & (b == 0) & (sign != 0)  # rounds to 0, of a known sign
        a = np.where(signed_zero, np.where(sign > 0, 0.0, -0.0), a.astype(np.float64))
    return a, (same | signed_zero) & (known > 0)


def round_to(v: np.ndarray, fmt: Format) -> np.ndarray:
    """float64 values correctly rounded to ``fmt`` (as float64). numpy's casts to float32
    and float16 round once; ml_dtypes' to bfloat16 goes through float32, which would round
    twice, so the float32 step rounds to odd (truncate, and set the last bit where
    inexact), which makes the second rounding the correct one."""
    if fmt.name != "bfloat16":
        return v.astype(fmt.dtype).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        f = v.astype(np.float32)
        back = f.astype(np.float64)
        over = np.abs(back) > np.abs(v)
        f = np.where(over & np.isfinite(v), np.nextafter(f, np.float32(0)), f)
        bits = f.view(np.uint32) | (f.astype(np.float64) != v).astype(np.uint32)
        f = np.where(np.isfinite(v) & np.isfinite(f), bits.view(np.float32), f)
    return f.astype(fmt.dtype).astype(np.float64)


def contains(lo: np.ndarray, hi: np.ndarray, known: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Whether each enclosing box holds the certified value (``exact``: its correctly
    rounded float64, which lies in the box whenever the exact value does), with the
    sign the filter claims for it; True where the filter claims nothing."""
    sign = known.astype(np.int64) - 2
    with np.errstate(invalid="ignore"):
        inside = (lo <= exact) & (exact <= hi) & (
            (sign == 0) | (np.sign(exact) == sign)
            | ((exact == 0) & (np.signbit(exact) == (sign < 0))))
        nan = np.isnan(exact) & np.isnan(lo) & np.isnan(hi)
    return (known == 0) | inside | nan
