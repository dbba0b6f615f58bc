"""Binary floating-point formats, correct rounding of exact values, and ULP error.

Every rounding here goes from an exact dyadic value ``man * 2**exp`` straight to the target
format, once (round to nearest, ties to even), subnormals and overflow included; nothing
is rounded through float64 on its way to float16, which would round twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import ml_dtypes
import numpy as np

from .backends import Dyadic


@dataclass(frozen=True)
class Format:
    """An IEEE-style binary format: ``precision`` significand bits (the implicit one
    included), normal exponents ``emin..emax``."""

    name: str
    precision: int
    emin: int
    emax: int

    @classmethod
    def of(cls, dtype: str) -> Format:
        info = ml_dtypes.finfo(dtype) if dtype == "bfloat16" else np.finfo(dtype)
        return cls(dtype, int(info.nmant) + 1, int(info.minexp), int(info.maxexp) - 1)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(getattr(ml_dtypes, self.name) if self.name == "bfloat16" else self.name)

    @property
    def max(self) -> float:
        return math.ldexp(2 - 2.0 ** (1 - self.precision), self.emax)

    @property
    def tiny(self) -> float:
        """The smallest positive normal number."""
        return math.ldexp(1.0, self.emin)

    @property
    def true_min(self) -> float:
        """The smallest positive subnormal number."""
        return math.ldexp(1.0, self.emin - self.precision + 1)

    def round(self, d: Dyadic, negative_zero: bool = False) -> float:
        """``man * 2**exp`` rounded to nearest-even in this format, as a Python float.

        An exact zero is +0.0 (-0.0 with ``negative_zero``); a nonzero value that rounds
        to zero keeps its sign; values at or past the overflow threshold give ±inf.
        """
        man, exp = d
        if man == 0:
            return -0.0 if negative_zero else 0.0
        sign = -1.0 if man < 0 else 1.0
        man = abs(man)
        e = exp + man.bit_length() - 1  # the value lies in [2**e, 2**(e+1))
        if e < self.emin - self.precision:  # below half the smallest subnormal
            return sign * 0.0
        if e > self.emax:
            return sign * math.inf
        quantum = max(e, self.emin) - self.precision + 1
        shift = quantum - exp
        if shift > 0:
            q, rem = man >> shift, man & ((1 << shift) - 1)
            half = 1 << (shift - 1)
            if rem > half or (rem == half and q & 1):
                q += 1
        else:
            q = man << -shift
        if q and q.bit_length() + quantum - 1 > self.emax:
            return sign * math.inf
        return sign * math.ldexp(q, quantum) if q else sign * 0.0

    def round_fraction(self, q: Fraction) -> float:
        """An exact rational rounded to nearest-even in this format (+0.0 for zero)."""
        n, d = abs(q.numerator), q.denominator
        if n == 0:
            return 0.0
        sign = -1.0 if q < 0 else 1.0
        e = n.bit_length() - d.bit_length()  # then 2**e <= n/d < 2**(e+1) after the fix-up
        if (n << max(0, -e)) < (d << max(0, e)):
            e -= 1
        if e < self.emin - self.precision:
            return sign * 0.0
        if e > self.emax:
            return sign * math.inf
        quantum = max(e, self.emin) - self.precision + 1
        t, r = divmod(n << max(0, -quantum), d << max(0, quantum))
        den = d << max(0, quantum)
        if 2 * r > den or (2 * r == den and t & 1):
            t += 1
        if t and t.bit_length() + quantum - 1 > self.emax:
            return sign * math.inf
        return sign * math.ldexp(t, quantum) if t else sign * 0.0

    def ulp(self, v: float) -> float:
        """The unit in the last place at |v|: the spacing of the format there (the
        subnormal spacing below the normal range; 2**(emax+1) stands for infinity)."""
        a = abs(v)
        e = math.frexp(a)[1] - 1 if a and math.isfinite(a) else self.emin
        if math.isinf(a):
            e = self.emax + 1
        return math.ldexp(1.0, max(e, self.emin) - self.precision + 1)


FORMATS: dict[str, Format] = {
    n: Format.of(n) for n in ("float16", "bfloat16", "float32", "float64")
}


def float_text(v: float) -> str:
    """A float as a Python literal: repr, with 'inf', '-inf' and 'nan' for the specials."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def dyadic(v: float) -> Dyadic:
    """A finite Python float as an exact dyadic."""
    n, d = v.as_integer_ratio()
    return n, 1 - d.bit_length()


def ulp_error(got: np.ndarray, hi: np.ndarray, lo: np.ndarray, fmt: Format,
              floor: np.ndarray | None = None) -> np.ndarray:
    """|got - exact| / ulp(exact) in ``fmt``, elementwise, as in JAX's accuracy docs; with
    ``floor`` (magnitudes, 0 for none), in ulps of the larger of |exact| and the floor
    (a derivative that is a difference of terms of that size, `Activation.grad_scale`).

    The exact value is the double-double ``hi + lo``. Conventions: a result that is NaN
    exactly where the truth is NaN has error 0, NaN against a number (or a number against
    NaN) is inf; ±0 compare equal (the sign of zero is a `special` finding, not an
    accuracy one). Infinities, and exact values past the format's range, stand at
    ±2**(emax+1): overflowing just past the largest finite number costs a few ULP, not
    infinitely many, and ∞ for a truth far past the range costs none. Infinities of
    opposite signs are infinitely far apart.
    """
    got = np.asarray(got, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        past = _past_range(hi, fmt)
        # the unit is the exact value's: hi a power of two and lo of the other sign put
        # it in the binade below (the second derivative of tanh at 2**-125 is
        # −2**-124·(1 − 4/3·2**-250), whose float64 hi is −2**-124)
        below = (lo != 0) & (np.sign(lo) != np.sign(hi)) & (np.abs(np.frexp(hi)[0]) == 0.5)
        log_ulp = np.where(past, fmt.emax + 2 - fmt.precision,
                           np.maximum(log_ulp_of(hi, fmt) - below,
                                      fmt.emin - fmt.precision + 1))
        if floor is not None:
            log_ulp = np.maximum(log_ulp, log_ulp_of(floor, fmt))

        def in_ulps(v):  # exact: scaling by a power of two; the range edge at 2**(emax+1)
            edge = np.sign(v) * np.ldexp(1.0, fmt.emax + 1 - log_ulp)
            return np.where(_past_range(v, fmt), edge, np.ldexp(v, -log_ulp))

        err = np.abs((in_ulps(got) - in_ulps(hi)) - np.where(past, 0.0, np.ldexp(lo, -log_ulp)))
    nan_got, nan_hi = np.isnan(got), np.isnan(hi)
    err = np.where(nan_got | nan_hi, np.where(nan_got & nan_hi, 0.0, np.inf), err)
    opposite = np.isinf(got) & np.isinf(hi) & (got != hi)
    return np.where(opposite, np.inf, err)


def log_ulp_of(v: np.ndarray, fmt: Format) -> np.ndarray:
    """log2 of the ulp of ``fmt`` at magnitudes ``v`` (0 gives the smallest; a value past
    the range, that of its binade)."""
    with np.errstate(invalid="ignore"):
        exponent = np.where(v == 0, fmt.emin, np.frexp(np.abs(np.nan_to_num(v)))[1] - 1)
    return np.maximum(exponent, fmt.emin) - fmt.precision + 1


def _past_range(v: np.ndarray, fmt: Format) -> np.ndarray:
    """|v| ≥ 2**(emax+1): infinite, or beyond the format's largest binade."""
    return np.isinf(v) | (np.frexp(np.abs(np.nan_to_num(v)))[1] - 1 > fmt.emax)
