"""The filter (oracles.filter): its boxes hold the certified truth, and what it decides is
the correct rounding, on every input of the 16-bit tables and every float32 sample."""

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
        lo, hi, known = boxes.enclose(act, x[keep], params, dtype, grad)
        rounded, decided = boxes.decide(lo, hi, known, fmt)
        exact, want = table[f"{col}_hi"].to_numpy()[keep], table[col].to_numpy()[keep]
        held = boxes.contains(lo, hi, known, exact)
        assert held.all(), f"{col}: x = {x[keep][~held][:3]}, boxes {lo[~held][:3]} .. " \
                           f"{hi[~held][:3]}, certified {exact[~held][:3]}"
        agree = (rounded == want) & (np.signbit(rounded) == np.signbit(want)) | (
            np.isnan(rounded) & np.isnan(want))
        wrong = decided & ~agree
        assert not wrong.any(), f"{col}: x = {x[keep][wrong][:3]} decided as " \
                                f"{rounded[wrong][:3]}, not {want[wrong][:3]}"
        if act.name not in ("tanh_shrink",):  # x − tanh(x) cancels near 0: see the note
            assert decided.mean() > 0.75, f"{col}: only {decided.mean():.1%} decided"


F32 = FORMATS["float32"]


@pytest.mark.parametrize("x", [1000.0, 131072.0, 1e34])
def test_an_underflowed_quotient_keeps_its_sign(x):
    """log1mexp'(x) = 1/expm1(x): expm1 overflows float64, and the quotient's box,
    [0, 1/MAX] moved out, touches 0; its sign is the factors', so the rounding to +0.0 is
    decided without the oracle."""
    act = catalog.get("log1mexp")
    lo, hi, known = boxes.enclose(act, np.array([x]), {}, "float32", True)
    rounded, decided = boxes.decide(lo, hi, known, F32)
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
    lo, hi, known = boxes.enclose(act, x, {"beta": 0.5}, "float32")
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
