"""Correct rounding of exact values to each format, against hand-derived cases and NumPy's
own (single, correctly rounded) float64 -> float16/float32 conversion."""

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actaudit.oracles import FORMATS
from actaudit.oracles.formats import dyadic

F16, BF16, F32, F64 = (FORMATS[n] for n in ("float16", "bfloat16", "float32", "float64"))
EPS16 = 2.0**-10


@pytest.mark.parametrize(
    ("fmt", "exact", "want"),
    [
        # ties go to even
        (F16, (2**11 + 1, -11), 1.0),  # 1 + 2^-11 lies halfway between 1 and 1 + 2^-10
        (F16, (2**11 + 3, -11), 1 + 2 * EPS16),  # halfway, the even neighbour is above
        (BF16, (2**8 + 1, -8), 1.0),
        (F32, (2**24 + 1, -24), 1.0),
        # just off a tie: decided by a bit far below float64's precision
        (F16, ((2**11 + 1) * 2**60 + 1, -71), 1 + EPS16),
        (F16, ((2**11 + 1) * 2**60 - 1, -71), 1.0),
        # the subnormal range and the underflow to zero
        (F16, (1, -24), 2.0**-24),  # the smallest subnormal is exact
        (F16, (1, -25), 0.0),  # half of it ties to the even zero
        (F16, (3, -26), 2.0**-24),  # three quarters of it rounds up
        (F16, (-1, -25), -0.0),  # a negative value rounding to zero keeps its sign
        (F16, (1, -1000), 0.0),
        (F16, (3, -25), 2.0**-23),  # 1.5 quanta ties to the even 2 quanta
        (F32, (1, -150), 0.0),
        (F32, (3, -150), 2.0**-148),
        (F64, (1, -1075), 0.0),
        (F64, (3, -1076), 2.0**-1074),
        # overflow: the threshold is the midpoint between max and 2^(emax+1)
        (F16, (65519, 0), 65504.0),
        (F16, (65520, 0), math.inf),
        (F16, (-65520, 0), -math.inf),
        (BF16, (2**8 - 1, 120), float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)),
        (F16, (1, 10**6), math.inf),
        # exact zero has no sign: +0
        (F16, (0, 0), 0.0),
    ],
)
def test_hand_derived_cases(fmt, exact, want):
    got = fmt.round(exact)
    assert got == want and math.copysign(1, got) == math.copysign(1, want), (exact, got, want)


def test_rounding_once_differs_from_rounding_through_float64():
    """1 + 2^-11 + 2^-60 rounds up in float16; through float64 it first becomes the tie
    1 + 2^-11 and then rounds down: the oracle must never take that path."""
    exact = ((2**11 + 1) * 2**49 + 1, -60)
    assert F16.round(exact) == 1 + EPS16
    through_f64 = np.float16(F64.round(exact))
    assert float(through_f64) == 1.0


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_matches_numpy_conversion_from_float64(x):
    """NumPy converts a float64 to float16 and float32 with one correct rounding."""
    for fmt, dt in ((F16, np.float16), (F32, np.float32)):
        with np.errstate(over="ignore"):
            want = float(np.float64(x).astype(dt))
        got = fmt.round(dyadic(x), negative_zero=math.copysign(1, x) < 0)
        assert got == want and math.copysign(1, got) == math.copysign(1, want), (x, fmt.name)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_bfloat16_matches_ml_dtypes_from_float32(x):
    """ml_dtypes converts float32 to bfloat16 by rounding to nearest even."""
    want = float(np.float32(x).astype(ml_dtypes.bfloat16))
    got = BF16.round(dyadic(x), negative_zero=math.copysign(1, x) < 0)
    assert got == want and math.copysign(1, got) == math.copysign(1, want), x


def test_formats_match_finfo():
    assert (F16.max, F16.tiny, F16.true_min) == (65504.0, 2.0**-14, 2.0**-24)
    info = ml_dtypes.finfo(ml_dtypes.bfloat16)
    assert (BF16.max, BF16.tiny) == (float(info.max), float(info.tiny))
    assert (F64.max, F64.true_min) == (np.finfo(np.float64).max, 5e-324)
