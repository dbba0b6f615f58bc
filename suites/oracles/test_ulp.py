"""The ULP error against hand-computed cases (docs/README.md's definition)."""

import math

import numpy as np
import pytest

from actaudit.oracles import FORMATS, ulp_error

F16, F32, F64 = FORMATS["float16"], FORMATS["float32"], FORMATS["float64"]
inf, nan = math.inf, math.nan


@pytest.mark.parametrize(
    ("fmt", "got", "hi", "lo", "want"),
    [
        (F16, 1.0, 1.0, 0.0, 0.0),
        (F16, 1.0009765625, 1.0, 0.0, 1.0),  # one float16 step above 1
        (F16, 1.0, 1.0 + 2**-11, 0.0, 0.5),  # the exact value halfway: correctly rounded
        (F16, 1.0, 1.0, 2**-12, 0.25),  # the double-double's low part counts
        (F16, 0.99951171875, 1.0, 0.0, 0.5),  # one step below 1 is half a ULP of 1: the
        # unit is taken at the exact value
        (F16, 0.99951171875, 1.0, -(2.0**-30), 1 - 2.0**-19),  # the exact value just
        # below 1 (its hi is 1): the unit of the binade below
        (F32, 0.0, -(2.0**-124), 2.0**-200, 2.0**24 - 2.0**-52),  # tanh″(2**-125) flushed
        (F32, 2.0**-126, 2.0**-126, -(2.0**-200), 2.0**-51),  # below the least normal:
        # the subnormal spacing, the same unit
        (F16, 2.0**-24, 0.0, 0.0, 1.0),  # at zero the unit is the smallest subnormal
        (F16, -0.0, 0.0, 0.0, 0.0),  # the sign of zero is not an accuracy matter
        (F16, 3 * 2.0**-24, 2.0**-24, 0.0, 2.0),  # subnormal spacing
        (F16, inf, 65504.0, 0.0, 1.0),  # overflow: inf stands at 2^16, 32 = one ULP away
        (F16, 65504.0, inf, 0.0, 0.5),  # an infinite truth stands at 2^16, whose unit is 64
        (F16, inf, 70000.0, 0.0, 0.0),  # a truth past the range: inf is right
        (F16, inf, 65520.0, 0.0, 0.5),  # the overflow threshold itself
        (F16, inf, inf, 0.0, 0.0),
        (F16, -inf, inf, 0.0, inf),
        (F16, nan, nan, 0.0, 0.0),
        (F16, nan, 1.0, 0.0, inf),
        (F16, 1.0, nan, 0.0, inf),
        (F32, 1.0 + 2**-23, 1.0, 0.0, 1.0),
        (F32, 0.0, 2.0**-149, 0.0, 1.0),  # a subnormal flushed to zero costs one ULP here
        (F64, inf, 1.7976931348623157e308, 0.0, 1.0),  # 2^1024 is past float64 itself
        (F64, 1.7976931348623157e308, inf, 0.0, 0.5),
        (F64, 2.0**-1073, 5e-324, 0.0, 1.0),
    ],
)
def test_hand_computed(fmt, got, hi, lo, want):
    assert ulp_error(np.array([got]), np.array([hi]), np.array([lo]), fmt)[0] == want


@pytest.mark.parametrize(
    ("got", "hi", "floor", "want"),
    [
        (-2.3e-8 + 2.0**-26, -2.3e-8, 0.2, 1.0),  # beside a zero: ulps of 0.2 (2**-26)
        (0.75 + 2.0**-23, 0.75, 0.2, 2.0),  # above the floor: its own ulps (2**-24)
        (1e-30, 0.0, 0.5, 1e-30 / 2.0**-24),  # a zero truth, in ulps of the floor
        (0.75 + 2.0**-23, 0.75, 0.0, 2.0),  # no floor
    ],
)
def test_a_floor_counts_errors_in_its_ulps_where_the_value_is_smaller(got, hi, floor, want):
    """A derivative that is a difference of terms of size ``floor`` (`grad_scale`)."""
    err = ulp_error(np.array([got]), np.array([hi]), np.array([0.0]), F32, np.array([floor]))
    assert err[0] == pytest.approx(want, rel=1e-12)
