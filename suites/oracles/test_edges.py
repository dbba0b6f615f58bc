"""The oracle at the edges: zero signs, overflow midpoints, special slices and the
libraries' own semantics, each against an expected value found without the oracle (by
hand, by an asymptotic series, or by an independent formula at high precision), then a
sweep of every elementwise variant over every format's edges."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import mpmath
import pytest

from actaudit import catalog, cli
from actaudit.catalog import Kind
from actaudit.oracles import FORMATS, digits, evaluate
from actaudit.oracles.backends import MPMATH, plain
from actaudit.oracles.exact import computation, taken

F64 = FORMATS["float64"]


def exact(name, x, grad=False, **params):
    return evaluate(catalog.get(name), x, params, grad=grad)


def signs(result):
    """Each format's rounding as (value, sign bit), so that -0.0 differs from +0.0."""
    return {k: (v, math.copysign(1, v)) for k, v in result.rounded.items()}


def all_negative_zero(result):
    return signs(result) == {k: (0.0, -1.0) for k in FORMATS}


# -- zero signs ------------------------------------------------------------------------

@pytest.mark.parametrize("x", [900.0, 1000.0, 1181.64, float.fromhex("0x1.fffffffffffffp+1023")])
def test_log1mexp_far_out_is_a_negative_zero(x):
    """log(1 − e^−x) < 0 for every x > 0, however small the value."""
    assert all_negative_zero(exact("log1mexp", x))


def test_log1mexp_digits_far_out_follow_the_series():
    """log(1 − e^−x) = −Σ e^−kx / k: at x = 1000 the first term gives 36 digits."""
    with mpmath.workprec(400):
        want = mpmath.nstr(-mpmath.exp(-1000), 36, strip_zeros=False, min_fixed=-4,
                           max_fixed=16)
    assert digits(catalog.get("log1mexp"), 1000.0) == want


@pytest.mark.parametrize("x", [-1.4e13, -1e14, -1e154, -1.7976931348623157e308])
def test_gelu_erf_derivative_far_left_is_a_negative_zero(x):
    """Φ(x) + xφ(x) = xφ(x)(1 − 1/x² + …) < 0 (the Mills-ratio bound)."""
    assert all_negative_zero(exact("gelu", x, grad=True, approximate=False))


def test_gelu_erf_derivative_digits_follow_the_asymptotic_series():
    t = mpmath.mpf(10) ** 14
    with mpmath.workprec(400):
        phi = mpmath.exp(-t * t / 2) / mpmath.sqrt(2 * mpmath.pi)
        want = mpmath.nstr(-t * phi * (1 - 1 / t**2), 36, strip_zeros=False, min_fixed=-4,
                           max_fixed=16)
    assert digits(catalog.get("gelu"), -1e14, {"approximate": False}, grad=True) == want


@pytest.mark.parametrize("name,params", [
    ("gelu", {}), ("gelu", {"approximate": False}), ("silu", {}), ("swish", {}),
    ("mish", {}), ("beta_swish", {}), ("beta_swish", {"beta": 2.0}),
])
def test_derivatives_at_minus_inf_are_negative_zeros(name, params):
    """x·g(x) for a gate g rising from 0 has the derivative g + x·g' < 0 far left."""
    assert all_negative_zero(exact(name, -math.inf, grad=True, **params))
    assert all_negative_zero(exact(name, -1e300, grad=True, **params))


@pytest.mark.parametrize("x", [-3.0, -5.0, -1e300, -math.inf])
def test_hard_silu_left_of_minus_three_is_a_negative_zero(x):
    """x·relu6(x + 3)/6 = x·0 = −0.0 for x ≤ −3 (jax.nn gives −0.0 too)."""
    assert all_negative_zero(exact("hard_silu", x))


# -- overflow midpoints ----------------------------------------------------------------

def _midpoint(fmt):
    """The overflow threshold: halfway between the largest finite number and 2**(emax+1)."""
    return math.ldexp(2 - 2.0**-fmt.precision, fmt.emax)


BELOW = [("gelu", {}), ("gelu", {"approximate": False}), ("silu", {}), ("swish", {}),
         ("mish", {}), ("beta_swish", {}), ("beta_swish", {"beta": 0.5})]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_overflow_midpoints_are_decided_by_the_remainder(dtype):
    """f(m) = m(1 − tiny) for the gates, so the largest finite number; softplus(m) =
    m + log1p(e^−m), so inf; log_sigmoid(−m) = −m − log1p(e^−m), so −inf."""
    fmt = FORMATS[dtype]
    m = _midpoint(fmt)
    assert m in (65520.0, float.fromhex("0x1.ffp+127"), float.fromhex("0x1.ffffffp+127"))
    cases = [(n, p, m, fmt.max) for n, p in BELOW]
    cases += [("softplus", {}, m, math.inf), ("log_sigmoid", {}, -m, -math.inf)]
    for name, params, x, want in cases:
        start = time.perf_counter()
        got = exact(name, x, **params).rounded[dtype]
        assert got == want, (name, params, dtype)
        assert time.perf_counter() - start < 1, (name, params, dtype)
    assert exact("gelu", 65520.0).rounded["bfloat16"] == 65536.0  # not a midpoint there


def test_logsumexp_beside_the_overflow_midpoint():
    """logsumexp([m, 0]) = m + log1p(e^−m): just above float16's threshold, so inf."""
    assert exact("logsumexp", [65520.0, 0.0])[0].rounded["float16"] == math.inf
    assert exact("logsumexp", [65520.0])[0].rounded["float16"] == math.inf  # a tie: even


# -- vectors ---------------------------------------------------------------------------

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize("xs,params,want", [
    ([-INF, -INF], {}, (-INF, 0.0)),  # the empty sum is exactly 0
    ([1.0, 2.0], {"where": (False, False)}, (-INF, 0.0)),
    ([INF], {"b": (-1.0,)}, (INF, -1.0)),
    ([INF, 1.0], {"b": (-1.0, 0.0)}, (INF, -1.0)),
    ([INF, INF], {"b": (1.0, -1.0)}, (NAN, NAN)),
    ([NAN, 1.0], {}, (NAN, NAN)),
    ([INF, INF], {}, (INF, 1.0)),
    ([0.0, 0.0], {"b": (1.0, -1.0)}, (-INF, 0.0)),  # exact cancellation
])
def test_logsumexp_signs_on_special_slices(xs, params, want):
    """By hand; jax.nn.logsumexp(..., return_sign=True) gives the same."""
    value, sign = exact("logsumexp", xs, return_sign=True, **params)
    got = (value.hi, sign.hi)
    assert all(math.isnan(g) if math.isnan(w) else g == w
               for g, w in zip(got, want, strict=True)), got


def test_logmeanexp_of_equal_entries_is_exact():
    act = catalog.get("logmeanexp")
    assert evaluate(act, [0.0, -0.0])[0].hi == 0.0
    assert evaluate(act, [3.5, 3.5, 3.5])[0].hi == 3.5
    assert digits(act, [0.0, -0.0]) == ["0.0"]


def test_log_softmax_far_below_the_rest():
    """log_softmax([1000, 0, −1000])[0] = −log1p(e^−1000 + e^−2000): −e^−1000 to 36 digits."""
    act = catalog.get("log_softmax")
    with mpmath.workprec(400):
        want = mpmath.nstr(-mpmath.exp(-1000), 36, strip_zeros=False, min_fixed=-4,
                           max_fixed=16)
    got = digits(act, [1000.0, 0.0, -1000.0])
    assert got[0] == want and got[1:] == ["-1000.00000000000000000000000000000000",
                                          "-2000.00000000000000000000000000000000"]
    assert all_negative_zero(evaluate(act, [1000.0, 0.0, -1000.0])[0])


def test_log_softmax_jacobian_row_of_a_minus_inf_entry():
    """d log_softmax_i / dx_j = δ_ij − s_j for x_i = −inf as well (jax.nn agrees)."""
    rows = evaluate(catalog.get("log_softmax"), [-INF, 1.0, 2.0], grad=True,
                    formats=(F64,))
    with mpmath.workprec(200):
        e = mpmath.e
        s = [0, 1 / (1 + e), e / (1 + e)]
        want = [float((1 if j == 0 else 0) - s[j]) for j in range(3)]
    assert [r.hi for r in rows[0]] == want


@pytest.mark.parametrize("algorithm", ["fast", "stable"])
def test_standardize_with_a_given_mean_follows_the_algorithm(algorithm):
    """jax.nn's "fast" variance is mean(x²) − m², "stable" mean((x − m)²): with a given m
    they differ. Exact rationals, then one square root at 200 bits."""
    xs, m, eps = [1.0, 2.0, 3.0], Fraction(1, 2), Fraction(1e-5)  # eps: float64's 1e-5
    if algorithm == "fast":
        v = sum(Fraction(x) ** 2 for x in xs) / 3 - m**2
    else:
        v = sum((Fraction(x) - m) ** 2 for x in xs) / 3
    with mpmath.workprec(200):
        sigma = mpmath.sqrt(mpmath.mpf(v.numerator) / v.denominator
                            + mpmath.mpf(eps.numerator) / eps.denominator)
        want = [float((x - mpmath.mpf(0.5)) / sigma) for x in xs]
    got = evaluate(catalog.get("standardize"), xs, {"mean": 0.5, "algorithm": algorithm},
                   formats=(F64,))
    assert [g.hi for g in got] == want


# -- the double-double and the command line ------------------------------------------

def test_hi_plus_lo_is_a_double_double():
    """log1mexp(15.609375) = −Σ e^−kx/k (the series, at 400 bits): hi + lo within 2**-105."""
    x = 15.609375
    result = evaluate(catalog.get("log1mexp"), x, formats=(FORMATS["float16"],))
    with mpmath.workprec(400):
        want = -mpmath.fsum(mpmath.exp(-k * mpmath.mpf(x)) / k for k in range(1, 30))
        err = abs(mpmath.mpf(result.hi) + mpmath.mpf(result.lo) - want) / abs(want)
    assert err <= mpmath.mpf(2) ** -105


@pytest.mark.parametrize("argv,first", [
    (["squareplus", "--param", "b=1.0", "--", "3"], "3.08113883008418966599944677221635927"),
    (["logmeanexp", "--", "0,-0"], "['0.0']"),
    (["gelu", "--", "-30"], None),
    (["log_softmax", "--", "1000,0,-1000"], None),
])
def test_the_oracle_command_answers(argv, first, capsys):
    start = time.perf_counter()
    assert cli.main(["oracle", *argv]) == 0
    assert time.perf_counter() - start < 1
    value = capsys.readouterr().out.splitlines()[0].split(None, 1)[1]
    if first is not None:
        assert value == first
    assert "-0.0" not in value.split(",")[0]  # a value below float64's range has digits


def test_gelu_minus_30_by_its_asymptotic_series():
    """x·Φ(x) with Φ(−t) = φ(t)/t · Σ (−1)^k (2k−1)!!/t^2k, summed at 400 bits."""
    t = mpmath.mpf(30)
    with mpmath.workprec(400):
        series = mpmath.fsum((-1) ** k * mpmath.fac2(2 * k - 1) / t ** (2 * k)
                             for k in range(80))
        want = -t * mpmath.exp(-t * t / 2) / mpmath.sqrt(2 * mpmath.pi) / t * series
        want = mpmath.nstr(want, 36, strip_zeros=False, min_fixed=-4, max_fixed=16)
    assert digits(catalog.get("gelu"), -30.0, {"approximate": False}) == want


# -- the sweep -------------------------------------------------------------------------

def edges() -> list[float]:
    """Every format's overflow midpoint, largest finite, smallest normal, largest and
    smallest subnormal, both signs, and ±0, ±inf."""
    points = [0.0, -0.0, math.inf, -math.inf]
    for fmt in FORMATS.values():
        for v in (_midpoint(fmt) if fmt is not F64 else fmt.max, fmt.max, fmt.tiny,
                  fmt.tiny - fmt.true_min, fmt.true_min):
            points += [v, -v]
    unique = {(v, math.copysign(1, v)): v for v in points}  # keeps both zeros
    return [unique[k] for k in sorted(unique)]


VARIANTS = [(a, v) for a in catalog.CATALOG.values()
            if a.kind is Kind.ELEMENTWISE and not a.same_as for v in a.variants()]


def _independent_sign(act, params, x, grad):
    """The sign of the formula's value from mpmath alone, at a precision that resolves
    these tails (exp(−2**1024) needs 1,100 bits; erfc of 2**1023, 2,100)."""
    with mpmath.workprec(8192):
        v = plain(computation(act, x, taken(act, act.resolve(params), "float64"),
                              grad)(MPMATH))
    v = mpmath.mpf(v)
    return None if v == 0 or mpmath.isnan(v) else (1 if v > 0 else -1)


@pytest.mark.parametrize("act,params", VARIANTS,
                         ids=[f"{a.name}-{catalog.variant_id(v) or 'default'}"
                              for a, v in VARIANTS])
def test_sweep_every_edge_is_decided_with_the_right_sign(act, params):
    """Value and derivative at every edge: decided in under a second, a zero's sign (and
    any value's) as mpmath finds it at 8,192 bits, and the far tails' zeros of the sign of
    the entry's limit there."""
    for grad in (False, True):
        for x in edges():
            if (grad and x in [k.at for k in act.kinks]) or x < act.domain[0] or (
                    act.name == "log1mexp" and x == 0):
                continue
            start = time.perf_counter()
            result = evaluate(act, x, params, grad=grad)
            took = time.perf_counter() - start
            where = (act.name, params, "grad" if grad else "value", x)
            assert took < 1, (*where, took)
            if not math.isfinite(x) or x == 0 or math.isnan(result.hi):
                continue
            sign = _independent_sign(act, params, x, grad)
            if sign is not None:
                assert math.copysign(1, result.hi) == sign, where
            if result.hi == 0 and abs(x) >= 1e4:  # a far tail: the limit's zero
                limit = evaluate(act, math.copysign(math.inf, x), params, grad=grad).hi
                if limit == 0:
                    assert math.copysign(1, limit) == math.copysign(1, result.hi), where


VECTOR_VARIANTS = [(a, v) for a in catalog.CATALOG.values()
                   if a.kind in (Kind.AXIS, Kind.GATED) and not a.same_as
                   for v in a.variants()
                   if not any(isinstance(p, str) and p in ("random", "with_zeros", "mixed_sign")
                              for p in v.values())]


@pytest.mark.parametrize("act,params", VECTOR_VARIANTS,
                         ids=[f"{a.name}-{catalog.variant_id(v) or 'default'}"
                              for a, v in VECTOR_VARIANTS])
def test_sweep_vectors_at_the_edges_are_decided(act, params):
    """Slices of two entries from the edges (and 0): each value and Jacobian decided in
    under a second."""
    points = [*[v for v in edges() if math.isfinite(v) and v >= 0], math.inf]
    for a in points:
        for xs in ([a, 0.0], [-a, 0.0], [a, -a], [a, a]):
            for grad in (False, True):
                start = time.perf_counter()
                evaluate(act, xs, params, grad=grad)
                assert time.perf_counter() - start < 1, (act.name, params, xs, grad)
