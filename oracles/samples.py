"""The inputs an oracle table covers, per format.

float16 and bfloat16: every one of the 65,536 bit patterns. float32 and float64: a
deterministic sample that covers every binade of both signs (its ends and a few points
inside), the subnormals, ±0, ±inf, NaN, the extremes of the format, and the activation's
breakpoints and kinks with their neighbours, where functions change branch.
"""

from __future__ import annotations

import math

import numpy as np

from ..catalog import Activation
from .formats import Format

SAMPLES_VERSION = 1  # bump when the sample set changes: it is part of the cache key
EXHAUSTIVE = ("float16", "bfloat16")
_UINT = {16: np.uint16, 32: np.uint32, 64: np.uint64}


def bits_dtype(fmt: Format) -> type:
    return _UINT[fmt.dtype.itemsize * 8]


def inputs(act: Activation, fmt: Format, per_binade: int = 4, seed: int = 0) -> np.ndarray:
    """The table's inputs as float64, ordered by bit pattern (so by sign, then magnitude)."""
    if fmt.name in EXHAUSTIVE:
        with np.errstate(invalid="ignore"):  # the NaN bit patterns are inputs too
            return np.arange(1 << 16, dtype=np.uint16).view(fmt.dtype).astype(np.float64)
    return _sample(act, fmt, per_binade, seed)


def _sample(act: Activation, fmt: Format, per_binade: int, seed: int) -> np.ndarray:
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
    anchors = [*act.breakpoints, *(k.at for k in act.kinks), *act.domain]
    finite = np.array([a for a in anchors if math.isfinite(a)], dtype=dt)
    near = [finite]
    for direction in (np.inf, -np.inf):
        walk = finite
        for _ in range(3):  # three neighbours on each side, in the format itself
            walk = np.nextafter(walk, np.array(direction, dtype=dt))
            near.append(walk)
    pos = np.concatenate([*points, special]).astype(dt)
    every = np.concatenate([pos, -pos, *near]).astype(dt)
    every_bits = np.unique(every.view(ut))
    with np.errstate(invalid="ignore"):
        return every_bits.view(dt).astype(np.float64)
