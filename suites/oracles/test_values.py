"""The oracle's values against independent computations: published constants, SciPy and
NumPy's float64 functions, mpmath's numerical differentiation, and hand-derived limits."""

import math

import mpmath
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st

from actaudit import catalog
from actaudit.catalog import Kind
from actaudit.oracles import FORMATS, Disagreement, evaluate
from actaudit.oracles.backends import MPMATH, plain
from actaudit.oracles.exact import literals, taken

F64 = FORMATS["float64"]


def value(name, x, grad=False, **params):
    return evaluate(catalog.get(name), x, params, grad=grad)


def bits_equal(a, b):
    return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)


def test_float16_sigmoid_in_the_tail_is_representable():
    """jax.nn's float16 sigmoid gives 0 below -11.1; the true value is ~1.5e-5, a float16."""
    x = float(np.float16(-11.0859375))
    exact = value("sigmoid", x)
    assert exact.rounded["float16"] == float(np.float16(sp.expit(x)))
    assert 1.5e-5 < exact.rounded["float16"] < 1.6e-5


def test_gelu_exact_far_left_needs_no_cancellation():
    """gelu(-10.375) = -1.6715e-24; 1 + erf evaluated naively at 53 bits gives 0."""
    with mpmath.workprec(53):
        assert 1 + mpmath.erf(-10.375 / mpmath.sqrt(2)) == 0
    exact = value("gelu", -10.375, approximate=False)
    ref = -10.375 / 2 * sp.erfc(10.375 / math.sqrt(2))
    assert exact.hi == pytest.approx(ref, rel=1e-13)
    assert exact.hi == pytest.approx(-1.6715e-24, rel=1e-4)


def test_sigmoid_derivative_in_the_tail():
    assert value("sigmoid", 30.0, grad=True).hi == pytest.approx(
        math.exp(-30) / (1 + math.exp(-30)) ** 2, rel=1e-15)
    assert value("sigmoid", 30.0, grad=True).rounded["float32"] != 0


@pytest.mark.parametrize(
    ("name", "x", "params", "want"),
    [
        ("softplus", 0.0, {}, math.log(2)),
        ("log_sigmoid", 0.0, {}, -math.log(2)),
        ("sigmoid", 0.0, {}, 0.5),
        ("selu", -math.inf, {}, -1.0507009873554805 * 1.6732632423543772),
        ("selu", 1.0, {}, 1.0507009873554805),
        ("squareplus", 0.0, {}, 1.0),  # sqrt(4)/2
        ("squareplus", 0.0, {"b": 1.0}, 0.5),
        ("gelu", 1.0, {"approximate": False}, 0.8413447460685429),  # Phi(1), published
        ("mish", 1.0, {}, 0.8650983882673103),
        ("log1mexp", math.log(2), {}, -math.log(2)),  # 1 - e^-ln2 = 1/2
        ("hard_sigmoid", 0.0, {}, 0.5),
        ("sparse_plus", 0.0, {}, 0.25),
        ("elu", -math.inf, {"alpha": 2.0}, -2.0),
        ("leaky_relu", -2.0, {"negative_slope": 0.2}, -0.4),
        ("beta_swish", 1.0, {"beta": 2.0}, sp.expit(2.0)),
    ],
)
def test_published_and_hand_derived_values(name, x, params, want):
    assert value(name, x, **params).hi == pytest.approx(want, rel=4e-16)


@pytest.mark.parametrize(
    ("name", "x", "want"),
    [
        ("relu", 2.0, 2.0), ("relu", -3.0, 0.0), ("tanh", 0.0, 0.0), ("tanh", -0.0, -0.0),
        ("silu", -math.inf, -0.0), ("silu", -0.0, -0.0), ("gelu", -math.inf, -0.0),
        ("soft_sign", math.inf, 1.0), ("soft_sign", -math.inf, -1.0),
        ("log1mexp", 0.0, -math.inf), ("log1mexp", -1.0, math.nan),
        ("log1mexp", math.inf, -0.0), ("log_sigmoid", math.inf, -0.0),
        ("sigmoid", math.nan, math.nan), ("celu", -0.0, -0.0), ("relu", -0.0, 0.0),
    ],
)
def test_exact_and_special_values_in_every_format(name, x, want):
    exact = value(name, x)
    for fmt, got in exact.rounded.items():
        assert bits_equal(got, want), (name, x, fmt, got)


@pytest.mark.parametrize(
    ("name", "x", "params", "want"),
    [
        ("relu", 0.0, {}, 0.0),  # documented by jax.nn
        ("relu6", 6.0, {}, 0.0),
        ("elu", 0.0, {"alpha": 0.5}, 0.5),
        ("log1mexp", 0.0, {}, math.inf),
        ("sigmoid", math.inf, {}, 0.0),
        ("silu", math.inf, {}, 1.0),
        ("leaky_relu", -math.inf, {}, 0.01),
        ("selu", 0.0, {}, 1.0507009873554805 * 1.6732632423543772),
    ],
)
def test_derivative_conventions(name, x, params, want):
    assert value(name, x, grad=True, **params).hi == pytest.approx(want, rel=4e-16)


# Stable float64 formulas, written independently of the catalog (accurate to a few ULP).
REFERENCE = {
    "sigmoid": sp.expit,
    "log_sigmoid": sp.log_expit,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "tanh": np.tanh,
    "silu": lambda x: x * sp.expit(x),
    "soft_sign": lambda x: x / (1 + abs(x)),
    "elu": lambda x: x if x > 0 else np.expm1(x),
    "gelu_exact": lambda x: x / 2 * sp.erfc(-x / np.sqrt(2)),
    "mish": lambda x: x * np.tanh(np.logaddexp(0.0, x)),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
@given(x=st.floats(-700, 700, allow_subnormal=False))
def test_float64_value_agrees_with_an_independent_formula(name, x):
    act, params = ("gelu", {"approximate": False}) if name == "gelu_exact" else (name, {})
    want = float(REFERENCE[name](x))
    got = value(act, x, **params).hi
    # x/sqrt(2) rounded in float64 costs erfc up to 2z^2 ULP (z = 4.24: ~17 ULP at x = -6)
    rel = 2**-40 if name == "gelu_exact" else 2**-48
    assert got == pytest.approx(want, rel=rel, abs=1e-300), (name, x)


ELEMENTWISE = [a for a in catalog.CATALOG.values() if a.kind is Kind.ELEMENTWISE and not a.same_as]


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
@pytest.mark.parametrize("x", [-7.25, -2.5, -0.375, 0.3, 1.75, 4.5])
def test_derivative_matches_numerical_differentiation(act, x):
    """The analytic derivative against mpmath.diff of the value formula, at 60 digits."""
    if x in [k.at for k in act.kinks] or x < act.domain[0]:
        pytest.skip("kink or outside the domain")
    for params in act.variants():
        p = act.resolve(params)
        with mpmath.workdps(60):
            lits = literals(act, taken(act, p, "float64"), MPMATH)
            num = mpmath.diff(lambda t, lits=lits: plain(act.value(t, MPMATH, **lits)),
                              mpmath.mpf(x))
        exact = evaluate(act, x, p, grad=True)
        assert exact.hi == pytest.approx(float(num), rel=1e-14, abs=1e-300), (act.name, p, x)


def test_a_wrong_mpmath_evaluation_is_an_error(monkeypatch):
    """Certification: when mpmath's value rounds differently from Arb's ball, the oracle
    raises instead of answering."""
    real = MPMATH.exp
    monkeypatch.setattr(type(MPMATH), "exp", staticmethod(lambda x: real(x) * (1 + 2**-40)))
    with pytest.raises(Disagreement, match="sigmoid"):
        value("sigmoid", 1.0)


def test_exact_ties_are_recognised_by_the_rational_evaluation():
    """hard_sigmoid(x) = (x + 3)/6 is exactly the float16 tie 0.5 + 2**-12 at x = 3·2**-11:
    the rational evaluation decides it (Arb's ball for 1/6 never could), to even."""
    exact = value("hard_sigmoid", 3 * 2.0**-11)
    assert exact.hi == 0.5 + 2.0**-12 and exact.lo == 0.0
    assert exact.rounded["float16"] == 0.5


def test_a_parameter_is_what_the_library_multiplies_by():
    """jax.nn takes negative_slope=0.01 in x's dtype; Flax's PReLU stores it as float32,
    then casts it to x's dtype. Expected values from NumPy: a product of two 11-bit (or
    24-bit) significands is exact in float32 (float64), then rounded once."""
    x = -1000.0
    for dtype, wide in (("float16", np.float32), ("float32", np.float64)):
        slope = np.asarray(0.01, dtype)
        want = float((wide(x) * wide(slope)).astype(dtype))
        assert value("leaky_relu", x).rounded[dtype] == want, dtype
        assert evaluate(catalog.get("leaky_relu"), x, formats=(FORMATS[dtype],)).hi == (
            x * float(slope))
    prelu = evaluate(catalog.get("prelu"), x, formats=(FORMATS["float64"],))
    assert prelu.hi == x * float(np.float32(0.01)) and prelu.lo == 0.0  # exact in float64


def test_hard_cases_decide_by_raising_precision():
    # squareplus at -1e300: x + sqrt(x^2 + 4) cancels 2000 bits in the naive form
    assert value("squareplus", -1e300).hi == pytest.approx(1e-300, rel=1e-15)
    # an exact tie (a float32 input halfway between two float16 values) is recognised
    assert value("identity", 1 + 2**-11).rounded["float16"] == 1.0
    # the derivative of gelu crosses zero near -0.7518: its sign must still be right
    assert value("gelu", -0.75, grad=True, approximate=False).hi > 0
    assert value("gelu", -0.7525, grad=True, approximate=False).hi < 0
