"""The oracle's second derivative: the catalog's derivative formula differentiated forward
in the oracle's own backends (`oracles.jets`), certified as the value and the derivative
are. Checked here against what none of that machinery computes: mpmath's numerical
differentiation of the value formula, the figures issue 20 quotes (jax#40387), the filter's
boxes over every bfloat16 input, and the catalog's conventions at kinks and bends."""

from __future__ import annotations

import json
import math
import subprocess

import mpmath
import numpy as np
import pytest

from actaudit import catalog
from actaudit.catalog import Kind
from actaudit.oracles import FORMATS, evaluate, tables
from actaudit.oracles import filter as boxes
from actaudit.oracles.backends import MPMATH, plain
from actaudit.oracles.exact import literals, taken

F64 = (FORMATS["float64"],)
POINTS = (-30.0, -3.5, -1.1, -0.3, 0.7, 2.2, 9.0, 40.0)
SMOOTH = [a for a in catalog.CATALOG.values()
          if a.kind is Kind.ELEMENTWISE and not a.same_as and not a.breakpoints]


def _numeric(act, x: float) -> mpmath.mpf:
    """f″(x) by mpmath's finite differences of the value formula, at 300 bits."""
    kw = act.resolve({})
    with mpmath.workprec(300):
        def f(t):
            return plain(act.value(t, MPMATH, **literals(act, kw, MPMATH)))
        return mpmath.diff(f, mpmath.mpf(x), 2)


@pytest.mark.parametrize("act", SMOOTH, ids=lambda a: a.name)
def test_second_derivative_agrees_with_numerical_differentiation(act):
    for x in POINTS:
        if not act.domain[0] < x:
            continue
        got = evaluate(act, x, order=2, formats=F64)
        want = _numeric(act, x)
        if abs(want) < 2.0**-1000:  # below float64's range, and below what the differences
            continue  # resolve at 300 bits (gelu″(40) is about −e^−800)
        with mpmath.workprec(300):  # hi + lo, the double-double, is within 2**-105
            assert abs(mpmath.mpf(got.hi) + got.lo - want) <= 2.0**-100 * abs(want), (
                act.name, x, got, want)


@pytest.mark.parametrize(("name", "x", "want"), [
    ("softplus", 37.42994775023705, 5.551115123125775e-17),  # jax#40387: jax.nn gives 0.0
    ("tanh", 20.0, -3.398683404233271e-17),
    ("sigmoid", 40.0, -4.248354255291589e-18),
    ("sigmoid", 0.0, 0.0),
])
def test_the_figures_issue_20_quotes(name, x, want):
    assert evaluate(catalog.get(name), x, order=2, formats=F64).rounded["float64"] == want


def test_kinks_and_bends_give_the_catalog_convention():
    """relu″(0) = 0; elu″(0) = α (the piece its subgradient takes); celu″(0) = 1/α;
    soft_sign″(0) = −2; log1mexp″(0) = −∞; 0 at ±inf, NaN outside log1mexp's domain."""
    def second(name, x, **p):
        return evaluate(catalog.get(name), x, p, order=2, formats=F64).rounded["float64"]
    assert second("relu", 0.0) == 0 and second("elu", 0.0, alpha=2.0) == 2.0
    assert second("celu", 0.0, alpha=0.5) == 2.0 and second("soft_sign", 0.0) == -2.0
    assert second("log1mexp", 0.0) == -math.inf and math.isnan(second("log1mexp", -1.0))
    assert second("gelu", math.inf) == 0 and second("gelu", -math.inf) == 0


@pytest.mark.parametrize(("name", "params"), [("sigmoid", {}), ("gelu", {"approximate": False}),
                                              ("mish", {}), ("squareplus", {"b": 0.25})])
def test_the_filter_s_boxes_hold_the_certified_second_derivative(name, params,
                                                                 oracle_cache):
    act = catalog.get(name)
    table = tables.table(name, params, "bfloat16", cache_dir=oracle_cache, second=True)
    x = table["x"].to_numpy()
    finite = np.isfinite(x)
    enc = boxes.enclose(act, x[finite], params, "bfloat16", order=2)
    assert boxes.contains(enc.lo, enc.hi, enc.known, table["second_hi"].to_numpy()[finite]).all()
    rounded, decided = boxes.decide(enc, FORMATS["bfloat16"])
    assert decided.mean() > 0.1  # (the tails, sums of terms that underflow, go to Arb)
    np.testing.assert_array_equal(rounded[decided], table["second"].to_numpy()[finite][decided])


def test_the_command_line_gives_the_second_derivative(tmp_path):
    done = subprocess.run(["actaudit", "oracle", "softplus", "--second", "--json", "--",
                           "37.42994775023705"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["float64"] == "5.551115123125775e-17" and out["value"].startswith("5.5511151231")
    done = subprocess.run(["actaudit", "oracle", "one_hot", "--param", "num_classes=3",
                           "--second", "--", "1,2"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 2 and "no derivative" in done.stderr


# along an axis: the Jacobian formula differentiated along a direction (`exact.hessian`)
SLICE = [0.3, -1.2, 2.5, 0.0, -0.7, 1.9]
DIRECTION = [0.5, -1.25, 0.75, 2.0, -0.375, 1.0]
VARIANTS = [(a, p) for a in catalog.CATALOG.values() if a.kind in (Kind.AXIS, Kind.GATED)
            and not a.same_as for p in a.variants()]


def _concrete(params):
    """A variant's symbolic mask or b as the audit makes it (`_vector.batch`)."""
    from actaudit.checks._vector import MASK, B
    return {k: MASK if v == "random" else B.get(v, v) if isinstance(v, str) else v
            for k, v in params.items()}


def _slice_value(act, params, i, xs):
    """Output ``i`` of the slice by the value formula; log_softmax's as x_i − logsumexp
    (its own formula takes the entries as exact floats)."""
    if act.name == "log_softmax":
        where = params.get("where")
        if where is not None and not where[i]:
            return 0  # masked out: −inf whatever x is, a constant
        lse = catalog.get("logsumexp")
        kw = literals(lse, lse.resolve({"where": where}), MPMATH)
        return xs[i] - plain(lse.value(xs, MPMATH, **kw)[0])
    # a parameter JAX rounds to the input's dtype (standardize's epsilon) as the oracle
    # takes it for float64
    kw = literals(act, taken(act, act.resolve(params), "float64"), MPMATH)
    return act.value(xs, MPMATH, **kw)[i]


def _numeric_hessian(act, params, v):
    """H_v[i][j] = d/ds d/dt f_i(x + s·e_j + t·v), by mpmath's finite differences of the
    value formula at 300 bits."""
    def f(s, t, i, j):
        xs = [mpmath.mpf(x) + t * d + (s if k == j else 0)
              for k, (x, d) in enumerate(zip(SLICE, v, strict=True))]
        return plain(_slice_value(act, params, i, xs))

    with mpmath.workprec(300):
        outputs = 1 if act.reduces else len(act.value(SLICE, MPMATH, **literals(
            act, act.resolve(params), MPMATH)))
        return [[mpmath.diff(lambda s, t, i=i, j=j: f(s, t, i, j), (0, 0), (1, 1))
                 for j in range(len(SLICE))] for i in range(outputs)]


@pytest.mark.parametrize(("act", "params"), VARIANTS,
                         ids=lambda v: v.name if hasattr(v, "name") else catalog.variant_id(v))
def test_hessian_vector_products_agree_with_numerical_differentiation(act, params):
    params = _concrete(params)
    got = evaluate(act, SLICE, params, order=2, along=DIRECTION, formats=F64)
    want = _numeric_hessian(act, params, DIRECTION)
    for got_row, want_row in zip(got, want, strict=False):
        scale = max(abs(w) for w in want_row)
        with mpmath.workprec(300):
            for g, w in zip(got_row, want_row, strict=True):
                assert abs(mpmath.mpf(g.hi) + g.lo - w) <= 2.0**-100 * scale, (
                    act.name, params, got_row, want_row)


def test_the_whole_second_derivative_is_every_direction_s():
    """Without a direction, T[i][j][k]: the issue's example, jax.jacrev(jax.jacfwd(
    lambda x: softmax(x)[0])) at [5.5, 1.3, −4.2, 0.9], whose first entry is −0.0227
    (the reference's gave 0), and T·v is the answer along v."""
    act, xs = catalog.get("softmax"), [5.5, 1.3, -4.2, 0.9]
    whole = evaluate(act, xs, order=2, formats=F64)
    assert round(whole[0][0][0].hi, 6) == -0.022723
    v = DIRECTION[:4]
    along = evaluate(act, xs, order=2, along=v, formats=F64)
    t = np.array([[[e.hi for e in row] for row in m] for m in whole])
    h = np.array([[e.hi for e in row] for row in along])
    np.testing.assert_allclose(t @ np.array(v), h, rtol=1e-14, atol=1e-17)
    np.testing.assert_array_equal(t, np.swapaxes(t, 1, 2))  # symmetric in j and k


def test_the_command_line_gives_a_hessian_vector_product(tmp_path):
    done = subprocess.run(["actaudit", "oracle", "softmax", "--second", "--along", "1,0,0,0",
                           "--json", "--", "5.5,1.3,-4.2,0.9"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["float64"][0][0] == "-0.022723258186424244"
    done = subprocess.run(["actaudit", "oracle", "softmax", "--second", "--along", "1,0",
                           "--", "5.5,1.3,-4.2"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "--along has 2 entries" in done.stderr
