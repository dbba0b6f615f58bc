"""The filter (oracles.filter): its boxes hold the certified truth, and what it decides is
the correct rounding, on every input of the 16-bit tables and every float32 sample."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actaudit import catalog
from actaudit.oracles import FORMATS, evaluate, tables
from actaudit.oracles import filter as boxes
from actaudit.oracles.formats import dyadic

VARIANTS = [(act, params) for act, params in tables.elementwise_variants()]


def _id(v):
    act, params = v
    return f"{act.name}-{catalog.variant_id(params) or 'default'}"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_boxes_hold_the_certified_values_and_decide_their_rounding(variant, dtype,
                                                                   oracle_cache):
    act, params = variant
    table = tables.table(act.name, params, dtype, cache_dir=oracle_cache)
    x = table["x"].to_numpy()
    kinks = [at for at, _ in act.kinks_at(act.resolve(params))]
    fmt = FORMATS[dtype]
    for grad, col in ((False, "value"), (True, "grad")):
        keep = np.isfinite(x) & (x != 0)
        if grad:
            keep &= ~np.isin(x, kinks)
        enc = boxes.enclose(act, x[keep], params, dtype, grad)
        rounded, decided = boxes.decide(enc, fmt)
        lo, hi, known = enc.lo, enc.hi, enc.known
        exact, want = table[f"{col}_hi"].to_numpy()[keep], table[col].to_numpy()[keep]
        held = boxes.contains(lo, hi, known, exact)
        assert held.all(), f"{col}: x = {x[keep][~held][:3]}, boxes {lo[~held][:3]} .. " \
                           f"{hi[~held][:3]}, certified {exact[~held][:3]}"
        agree = (rounded == want) & (np.signbit(rounded) == np.signbit(want)) | (
            np.isnan(rounded) & np.isnan(want))
        wrong = decided & ~agree
        assert not wrong.any(), f"{col}: x = {x[keep][wrong][:3]} decided as " \
                                f"{rounded[wrong][:3]}, not {want[wrong][:3]}"
        assert decided.mean() > 0.75, f"{col}: only {decided.mean():.1%} decided"


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_second_derivative_boxes_hold_the_certified_values(variant):
    """The second derivative's boxes (the derivative formula on jets of boxes) at 256
    float32 inputs drawn over every binade of both signs: each holds the certified
    value, and what it decides is the correct rounding."""
    act, params = variant
    bits = np.random.default_rng(2).integers(0, 0x7F800000, 256).astype(np.uint32)
    x = bits.view(np.float32).astype(np.float64) * np.resize([1.0, -1.0], 256)
    bends = [at for at, _ in act.bends_at(act.resolve(params))]
    x = x[~np.isin(x, bends) & (x != 0)]
    enc = boxes.enclose(act, x, params, "float32", order=2)
    rounded, decided = boxes.decide(enc, F32)
    exact = [evaluate(act, float(v), params, order=2, formats=(F32,)) for v in x]
    hi = np.array([e.hi for e in exact])
    want = np.array([e.rounded["float32"] for e in exact])
    held = boxes.contains(enc.lo, enc.hi, enc.known, hi)
    assert held.all(), f"x = {x[~held][:3]}: boxes {enc.lo[~held][:3]} .. " \
                       f"{enc.hi[~held][:3]}, certified {hi[~held][:3]}"
    agree = (rounded == want) & (np.signbit(rounded) == np.signbit(want)) | (
        np.isnan(rounded) & np.isnan(want))
    assert not (decided & ~agree).any(), x[decided & ~agree][:3]


F32 = FORMATS["float32"]
FAR = [  # (activation, params, derivative?, inputs): float64 underflows or cancels there
    ("silu", {}, True, [-200.0, -131072.0, -1e34]),
    ("beta_swish", {"beta": 0.5}, True, [-2000.0, -1e30]),
    ("gelu", {}, True, [-30.0, -1e4, -1e34]),
    ("gelu", {"approximate": False}, True, [-40.0, -1e4, -1e34]),
    ("mish", {}, True, [-800.0, -1e34]),
    ("log1mexp", {}, True, [1000.0, 1e34]),
    ("tanh_shrink", {}, False, [1e-40, -1e-30, 3.0517578125e-05, -0.1, 0.125]),
]


@pytest.mark.parametrize("name,params,grad,xs", FAR,
                         ids=[f"{n}-{catalog.variant_id(p) or 'default'}-{'grad' if g else 'value'}"
                              for n, p, g, _ in FAR])
def test_far_tails_and_cancellations_are_decided_without_the_oracle(name, params, grad, xs):
    """Where float64 underflows (a product whose sign is still known: far below 0 these
    round to −0.0) or cancels (x − tanh(x) near 0, by its series), the filter decides the
    rounding itself: millions of inputs that would otherwise each cost an oracle call."""
    act = catalog.get(name)
    x = np.array(xs)
    enc = boxes.enclose(act, x, params, "float32", grad)
    rounded, decided = boxes.decide(enc, F32)
    lo, hi = enc.lo, enc.hi
    assert decided.all(), f"undecided at {x[~decided]}: [{lo[~decided]}, {hi[~decided]}]"
    for v, r in zip(xs, rounded, strict=True):
        want = evaluate(act, v, params, grad=grad, formats=(F32,)).rounded["float32"]
        assert r == want and np.signbit(r) == np.signbit(want), (v, r, want)


def test_the_series_of_x_minus_tanh_are_tanhs_taylor_coefficients():
    """tanh(x) = Σ 2²ᵏ(2²ᵏ − 1)B₂ₖ/(2k)! · x²ᵏ⁻¹, the Bernoulli numbers exact (mpmath)."""
    import mpmath

    from actaudit.catalog._elementwise import X_MINUS_TANH

    def tanh_c(k):
        p, q = mpmath.bernfrac(2 * k)
        return Fraction(4**k * (4**k - 1) * p, q * math.factorial(2 * k))

    for k, (n, c) in enumerate(X_MINUS_TANH, start=2):
        assert (n, c) == (2 * k - 1, -tanh_c(k))
    # the terms alternate, and decrease wherever |x| <= 1/8, as far as this looks (the
    # ratio tends to (2/π)²): the first omitted term bounds the rest
    coeffs = [tanh_c(k) for k in range(2, 60)]
    assert all(a * b < 0 for a, b in itertools.pairwise(coeffs))
    assert max(abs(b / a) for a, b in itertools.pairwise(coeffs)) < Fraction(41, 100)


def test_scipys_erfcx_meets_the_filters_bound():
    """The filter moves erfcx's ends by ERFC_ULPS of their ulps; SciPy's error, against
    mpmath at 60 digits, is well within that for x >= 0 (below 0 it is 2e^(x²) − erfcx(−x),
    5e-14 off at −25.8: the filter encloses nothing there)."""
    import mpmath
    import scipy.special

    x = np.concatenate([[0.0], np.geomspace(1e-300, 1e-3, 300), np.linspace(1e-3, 30, 3000),
                        np.geomspace(30, 1e300, 1000)])
    got = scipy.special.erfcx(x)
    with mpmath.workdps(60):
        want = [mpmath.erfc(mpmath.mpf(v)) * mpmath.exp(mpmath.mpf(v) ** 2)
                if v < 1e8 else 1 / (mpmath.mpf(v) * mpmath.sqrt(mpmath.pi)) for v in x]
        err = np.array([abs((mpmath.mpf(g) - w) / w) for g, w in zip(got, want, strict=True)],
                       float)
    assert err.max() < boxes.ERFC_ULPS * 2.0**-53, f"{err.max():.3g} at {x[np.argmax(err)]}"
    below = boxes.BOXES.erfcx(boxes.Box(np.array([-1.0, -1e-9]), np.array([-0.5, 1.0])))
    assert (np.isnan(below.lo) | np.isnan(below.hi)).all()  # encloses nothing


@pytest.mark.parametrize("x", [1000.0, 131072.0, 1e34])
def test_an_underflowed_quotient_keeps_its_sign(x):
    """log1mexp'(x) = 1/expm1(x): expm1 overflows float64, and the quotient's box,
    [0, 1/MAX] moved out, touches 0; its sign is the factors', so the rounding to +0.0 is
    decided without the oracle."""
    act = catalog.get("log1mexp")
    enc = boxes.enclose(act, np.array([x]), {}, "float32", True)
    rounded, decided = boxes.decide(enc, F32)
    want = evaluate(act, x, grad=True, formats=(F32,)).rounded["float32"]
    assert decided[0] and rounded[0] == want and not np.signbit(rounded[0])


def test_a_library_off_its_claim_is_caught(monkeypatch):
    """A box that misses the truth (exp off by 1e-9, relative) is an error at the first
    input escalated, never a silent answer."""
    from actaudit.checks import _exhaustive

    real = boxes.BOXES.exp

    def wrong_exp(v):
        b = real(v)
        return boxes.Box(b.lo * (1 + 1e-9), b.hi * (1 + 1e-9), sign=1)

    monkeypatch.setattr(boxes._Boxes, "exp", staticmethod(wrong_exp))
    act = catalog.get("sigmoid")
    x = np.array([-3.0, -1.0, 0.5, 2.0])
    truth = _exhaustive.Truth.of(act, {}, x, False, np.zeros(4, bool))
    with pytest.raises(boxes.FilterError, match="misses the certified"):
        truth.escalate(np.arange(4))


def test_a_formula_branching_on_undecided_comparisons_leaves_those_inputs_open():
    """beta_swish branches on β·x > 0: at x = ±0 (exact) it is decided; the filter never
    guesses a branch."""
    act = catalog.get("beta_swish")
    x = np.array([-2.0, -1e-30, 1e-30, 3.0])
    lo, hi, known, *_ = boxes.enclose(act, x, {"beta": 0.5}, "float32")
    assert (known > 0).all()
    for i, v in enumerate(x):
        e = evaluate(act, float(v), {"beta": 0.5}, formats=(FORMATS["float32"],))
        assert lo[i] <= e.hi <= hi[i]


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_rounding_to_bfloat16_rounds_once(v):
    """numpy's float64 → bfloat16 cast goes through float32 (two roundings); the filter's
    is the correct one."""
    got = boxes.round_to(np.array([v]), FORMATS["bfloat16"])[0]
    want = FORMATS["bfloat16"].round(dyadic(v), negative_zero=math.copysign(1, v) < 0)
    assert got == want and math.copysign(1, got) == math.copysign(1, want)


def test_constants_are_enclosed():
    third = boxes.box(Fraction(1, 3))
    assert Fraction(float(third.lo)) < Fraction(1, 3) < Fraction(float(third.hi))
    import mpmath
    with mpmath.workprec(200):
        assert mpmath.mpf(float(boxes.BOXES.pi.lo)) < mpmath.pi < mpmath.mpf(
            float(boxes.BOXES.pi.hi))


TIES = [  # (activation, params, first bit pattern): exact values, a quarter or more ties
    ("soft_shrink", {}, 0xCB0E0000),  # x + 1/2 where float32's ulp is 1
    ("hard_sigmoid", {}, 0x3EEAC000),  # (x + 3)/6
    ("sparse_sigmoid", {}, 0x3EEAC000),  # (x + 1)/2
    ("prelu", {"negative_slope": 0.25}, 0x805B4000),  # x/4 at negative subnormals
]


@pytest.mark.parametrize("name,params,start", TIES, ids=[t[0] for t in TIES])
def test_exact_arithmetic_stays_exact_and_decides_ties(name, params, start):
    """A sum, product or quotient of exact numbers that rounds nothing stays an exact
    number, so a value that is exactly a tie of float32 is decided (round half to even),
    not sent to the oracle; every rounding as the oracle certifies it."""
    act = catalog.get(name)
    x = np.arange(start, start + 96, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = x.astype(np.float64)
    enc = boxes.enclose(act, x, params, "float32")
    rounded, decided = boxes.decide(enc, F32)
    assert decided.all(), f"undecided at {x[~decided][:3]}"
    ties = 0
    for v, r in zip(x, rounded, strict=True):
        e = evaluate(act, float(v), params, formats=(F32,))
        assert r == e.rounded["float32"], (v, r, e.rounded["float32"])
        mid = (np.float64(np.float32(e.hi)) + np.float64(np.nextafter(
            np.float32(e.hi), np.float32(np.inf)))) / 2
        ties += e.hi == mid or e.hi == 2 * np.float64(np.float32(e.hi)) - mid
    assert ties >= 4  # ties among them, not only easy cases


def test_two_product_gives_the_exact_rounding_error():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(500) * 2.0 ** rng.integers(-300, 300, 500)
    b = rng.standard_normal(500) * 2.0 ** rng.integers(-300, 300, 500)
    p, err = boxes._two_product(a, b)
    for u, v, q, e in zip(a, b, p, err, strict=True):
        assert Fraction(u) * Fraction(v) - Fraction(q) == Fraction(e)
    # where a partial product could underflow, no error is claimed
    _, err = boxes._two_product(np.array([2.0**-600]), np.array([2.0**-400]))
    assert np.isnan(err).all()


BESIDE_TIES = [  # (activation, params): x/2 plus a remainder of known sign at tiny x
    ("silu", {}), ("gelu", {}), ("gelu", {"approximate": False}), ("beta_swish", {}),
    ("beta_swish", {"beta": 2.0}), ("elu", {"alpha": 0.5}), ("hard_silu", {}),
]


@pytest.mark.parametrize("name,params", BESIDE_TIES,
                         ids=[f"{n}-{catalog.variant_id(p) or 'default'}" for n, p in BESIDE_TIES])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_a_value_beside_a_tie_is_decided_by_its_remainders_sign(name, params, dtype):
    """At an odd subnormal x, x/2 is a tie of the format and x·σ(x) = x/2 + x²/4 lies
    beside it, far closer than any float64 box can show: the formula gives the exact
    base x/2 and the remainder (`B.near`), whose sign decides, as the oracle certifies,
    both signs of x, without the oracle."""
    act, fmt = catalog.get(name), FORMATS[dtype]
    bits = {"float32": (np.uint32, 31), "float16": (np.uint16, 15), "bfloat16": (np.uint16, 15)}
    kind, top = bits[dtype]
    odd = np.arange(1, 96, 2, dtype=np.uint64)
    pattern = np.concatenate([odd, odd | (1 << top)]).astype(kind)
    x = pattern.view(fmt.dtype).astype(np.float64)
    if name == "elu":
        x = x[x < 0]  # elu(x) = x above 0
    rounded, decided = boxes.decide(boxes.enclose(act, x, params, dtype), fmt)
    assert decided.all(), f"undecided at {x[~decided][:3]}"
    for v, r in zip(x, rounded, strict=True):
        want = evaluate(act, float(v), params, formats=(fmt,)).rounded[dtype]
        assert r == want and np.signbit(r) == np.signbit(want), (v, r, want)


@given(st.floats(-1e300, 1e300).filter(lambda v: v != 0),
       st.sampled_from([1, -1]), st.sampled_from(["float32", "float16", "bfloat16"]),
       st.booleans())
def test_values_just_beside_an_exact_base_round_as_the_exact_sum(v, side, dtype, tie):
    """`_beside` against exact rational rounding: the value base ± 2**-1100 (past any
    float64 step beside base), for any base, and for ties of the format."""
    fmt = FORMATS[dtype]
    base = v
    if tie:  # the midpoint of v's rounding and its neighbour up
        with np.errstate(over="ignore"):  # v past the format's range: inf, skipped
            r = boxes.round_to(np.array([v]), fmt)[0]
            up = np.nextafter(np.array([r], fmt.dtype), np.array([np.inf], fmt.dtype))
        base = (r + float(up[0].astype(np.float64))) / 2
        if not math.isfinite(base) or base == 0:
            return
    exact = Fraction(base) + side * Fraction(2) ** -1100
    far = np.nextafter(base, side * np.inf)
    got, ok = boxes._beside(np.array([base]), np.array([side]), np.array([far]), fmt)
    want = fmt.round_fraction(exact)
    if ok[0]:
        assert got[0] == want and np.signbit(got[0]) == (exact < 0), (base, side, got, want)
    else:  # undecided only where far is a boundary itself, or beyond the range
        with np.errstate(over="ignore"):
            far_rounded = boxes.round_to(np.array([far]), fmt)[0]
        assert not math.isfinite(want) or far_rounded != want
