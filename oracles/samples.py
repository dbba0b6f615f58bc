"""The inputs an oracle table covers, per format.

float16 and bfloat16: every one of the 65,536 bit patterns. float32 and float64: a
deterministic sample that covers every binade of both signs (its ends and a few points
inside), the subnormals, ±0, ±inf, NaN, the extremes of the format, the activation's
breakpoints and kinks with their neighbours, where functions change branch, and its
thresholds: the inputs where the value or the derivative, rounded to the format, starts
to overflow, to be subnormal, or to be zero (found by bisection, with their neighbours).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import numpy as np

from ..catalog import Activation
from .backends import MPMATH, plain
from .exact import computation
from .formats import Format

SAMPLES_VERSION = 3  # bump when the sample set changes: it is part of the cache key
NEIGHBOURS = 3  # inputs kept on each side of a breakpoint, kink or threshold
EXHAUSTIVE = ("float16", "bfloat16")
_UINT = {16: np.uint16, 32: np.uint32, 64: np.uint64}


def bits_dtype(fmt: Format) -> type:
    return _UINT[fmt.dtype.itemsize * 8]


def version(fmt: Format) -> int:
    """The version of ``fmt``'s input set, for cache keys (exhaustive sets never change)."""
    return 1 if fmt.name in EXHAUSTIVE else SAMPLES_VERSION


def inputs(act: Activation, fmt: Format, params: Mapping[str, Any] | None = None,
           per_binade: int = 4, seed: int = 0) -> np.ndarray:
    """The table's inputs as float64, ordered by bit pattern (so by sign, then magnitude)."""
    if fmt.name in EXHAUSTIVE:
        with np.errstate(invalid="ignore"):  # the NaN bit patterns are inputs too
            return np.arange(1 << 16, dtype=np.uint16).view(fmt.dtype).astype(np.float64)
    return _sample(act, fmt, act.resolve(params or {}), per_binade, seed)


def _sample(act: Activation, fmt: Format, params: Mapping[str, Any], per_binade: int,
            seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt, ut = fmt.dtype, bits_dtype(fmt)
    mant = fmt.precision - 1
    points: list[np.ndarray] = []
    # Every binade, subnormal ones included (their leading bit plays the exponent's part).
    for e in range(fmt.emin - mant, fmt.emax + 1):
        lo = math.ldexp(1.0, e)
        step = fmt.ulp(lo) if e >= fmt.emin else math.ldexp(1.0, fmt.emin - mant)
        count = int(lo / step)  # representable numbers in [2**e, 2**(e+1))
        offsets = rng.integers(0, count, size=min(per_binade, count), endpoint=False)
        inside = lo + offsets.astype(np.float64) * step
        points.append(np.concatenate([[lo, lo + (count - 1) * step], inside]))
    special = [0.0, fmt.max, fmt.tiny, fmt.true_min, math.inf, math.nan]
    anchors = [*act.breakpoints_at(params), *(at for at, _ in act.kinks_at(params)),
               *act.domain,
               *thresholds(act, params, fmt)]
    finite = np.array([a for a in anchors if math.isfinite(a)], dtype=dt)
    near = [finite]
    for direction in (np.inf, -np.inf):
        walk = finite
        for _ in range(NEIGHBOURS):  # neighbours on each side, in the format itself
            walk = np.nextafter(walk, np.array(direction, dtype=dt))
            near.append(walk)
    pos = np.concatenate([*points, special]).astype(dt)
    every = np.concatenate([pos, -pos, *near]).astype(dt)
    every_bits = np.unique(every.view(ut))
    with np.errstate(invalid="ignore"):
        return every_bits.view(dt).astype(np.float64)


def thresholds(act: Activation, params: Mapping[str, Any], fmt: Format) -> list[float]:
    """Inputs where the rounded value or derivative changes class (overflow, normal,
    subnormal, zero, NaN): each side of every change between the starts of consecutive
    binades, by bisection over the format's bit patterns. Classes come from mpmath at 64
    bits, exact enough to land within an ulp of the threshold (its neighbours are kept
    too, and every table entry is then decided by the oracle proper)."""
    ut = bits_dtype(fmt)
    found: list[float] = []
    for grad in (False, True) if act.grad is not None else (False,):
        def cls(bits: int, grad: bool = grad) -> tuple:
            x = float(np.array(bits, ut).view(fmt.dtype))
            return _class(act, params, x, grad, fmt)
        for sign in (0, 1):
            starts = [_bits(math.ldexp(1.0, e), sign, fmt) for e in
                      range(fmt.emin - fmt.precision + 1, fmt.emax + 1)]
            starts.append(_bits(fmt.max, sign, fmt))
            classes = [cls(b) for b in starts]
            for i in range(len(starts) - 1):
                (a, ca), (b, cb) = (starts[i], classes[i]), (starts[i + 1], classes[i + 1])
                while ca != cb:  # every change in [a, b], one bisection each
                    lo, a = _bisect(cls, a, b, ca)
                    found += [float(np.array(v, ut).view(fmt.dtype)) for v in (lo, a)]
                    ca = cls(a)
    return found


def _bits(v: float, sign: int, fmt: Format) -> int:
    x = np.array(-v if sign else v, fmt.dtype)
    return int(x.view(bits_dtype(fmt)))


def _bisect(cls: Callable[[int], tuple], a: int, b: int, ca: tuple) -> tuple[int, int]:
    """Adjacent bit patterns lo, hi in [a, b] with cls(lo) = ca and cls(hi) != ca."""
    while b - a > 1:
        mid = (a + b) // 2
        if cls(mid) == ca:
            a = mid
        else:
            b = mid
    return a, b


def _class(act: Activation, params: Mapping[str, Any], x: float, grad: bool,
           fmt: Format) -> tuple:
    """(sign, kind) of f(x) (or f'(x)) rounded to ``fmt``: kind one of inf, normal,
    subnormal, zero, nan (the sign of normal results left out)."""
    try:
        with MPMATH.precision(64):
            v = plain(computation(act, x, params, grad)(MPMATH))
    except (ArithmeticError, ValueError):
        return (0, "nan")
    if not isinstance(v, int | float) and not hasattr(v, "_mpf_"):
        return (0, "nan")
    if v != v:
        return (0, "nan")
    a, sign = abs(mpmath.mpf(v)), int(v < 0)
    if a >= mpmath.ldexp(2 - mpmath.ldexp(1, -fmt.precision), fmt.emax):  # rounds to inf
        return (sign, "inf")
    if a >= fmt.tiny:  # a sign change among normal numbers (a root) is no threshold
        return (0, "normal")
    if a > mpmath.ldexp(1, fmt.emin - fmt.precision):  # half the smallest subnormal
        return (sign, "subnormal")
    return (sign, "zero")
