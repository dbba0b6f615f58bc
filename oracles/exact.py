"""The exact value and derivative of a catalog activation, correctly rounded.

Elementwise inputs are answered in this order, each rule taken from the catalog entry:
NaN gives NaN; ±inf its `Limits`; a derivative at a `Kink` (a second derivative at a
`Kink` or a `Bend`) its convention; anything else its formula, certified by
`engine.decide`; at -0.0 the sign follows the entry's `ZeroSign`. The second derivative
(``order=2``) is the derivative formula differentiated forward, in the same backends
(`jets`): no third formula.

A parameter the library rounds before using it (`Param.taken_as`) is rounded the same way
for the format asked for, so such an entry's truth depends on the format: it is decided
once per format, and ``hi``/``lo`` are the float64 one's when several are asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..catalog import Activation, Kind, Limits, ZeroSign, variant_id
from .backends import Binary
from .engine import decide, decimal
from .formats import FORMATS, Format, dyadic, float_text
from .jets import Jets, Tangent, derivative

ALL_FORMATS: tuple[Format, ...] = tuple(FORMATS.values())


def taken(act: Activation, params: Mapping[str, Any], dtype: str | None) -> dict[str, Any]:
    """``params`` with each one the library rounds (`Param.taken_as`) rounded as it does
    for an input of ``dtype`` (unchanged for None: the decimal as written)."""
    if dtype is None:
        return dict(params)
    out = dict(params)
    for p in act.params:
        v = out.get(p.name)
        if p.taken_as and isinstance(v, int | float) and not isinstance(v, bool):
            v = float(v)
            for f in p.taken_as:
                v = FORMATS[dtype if f == "x" else f].round(dyadic(v))
            out[p.name] = Binary(v)
    return out


def literals(act: Activation, params: Mapping[str, Any], B: Any) -> dict[str, Any]:
    """The value-affecting parameters as exact backend numbers, as formulas receive them
    (masks, flags and names pass through); a float is the decimal it is written as, so a
    parameter already rounded (`taken`) is that binary number. Call inside
    ``B.precision``."""
    out = {}
    for name, v in act.math_params(params).items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out[name] = v
        elif isinstance(v, list | tuple):
            out[name] = [e if isinstance(e, bool) else B.lit(e) for e in v]
        elif act.kind is Kind.INDEX:
            out[name] = v
        else:
            out[name] = B.lit(v)
    return out


def _const(spec: Any, act: Activation, params: Mapping[str, Any]) -> Any:
    """A compute function for a limit or kink value: a number or a formula (B, **params)."""
    if callable(spec):
        return lambda B: spec(B, **literals(act, params, B))
    return lambda B: spec


def order_of(grad: bool, order: int | None) -> int:
    """0 for the value, 1 for the derivative (``grad``), or ``order`` where given."""
    return int(grad) if order is None else order


def computation(act: Activation, x: Any, params: Mapping[str, Any], grad: bool = False,
                formula: Any = None, order: int | None = None,
                along: Sequence[float] | None = None):
    """``compute(B)`` for the entry's formula (or derivative, or ``formula``, another of
    its formulas; or the second derivative, ``order=2``) at ``x``, the finite,
    non-special case: what `decide` and `decimal` evaluate. A vector function's second
    derivative is its Jacobian's derivative along ``along`` (`hessian`)."""
    order = order_of(grad, order)
    fn = formula or (act.grad if order else act.value)
    if fn is None:
        raise ValueError(f"{act.name} has no derivative (its input is integer indices)")
    if order == 2 and act.kind is Kind.ELEMENTWISE:
        def second(B):
            jets = Jets(B)
            return derivative(fn(jets.num(x), jets, **literals(act, params, B)))
        return second
    if act.kind is Kind.ELEMENTWISE:
        return lambda B: fn(B.num(x), B, **literals(act, params, B))
    xs = [float(v) for v in x]
    if not order:
        return lambda B: fn(xs, B, **literals(act, params, B))

    def jacobian(B):
        """The derivative of an undefined (NaN) output is undefined: its row is NaN; the
        second derivative along ``along``, each entry's derivative (`hessian`)."""
        kw = literals(act, params, B)
        values = act.value(xs, B, **kw)
        if order == 2:
            rows = hessian(fn, xs, along, B, kw)
        else:
            rows = fn(xs, B, **kw)
        return [_nan_like(row) if _is_nan(v) else row
                for v, row in zip(values, rows, strict=True)]
    return jacobian


def _nan_like(tree: Any) -> Any:
    return [_nan_like(t) for t in tree] if isinstance(tree, list) else math.nan


def hessian(grad: Any, xs: Sequence[float], along: Sequence[float] | None, B: Any,
            kw: Mapping[str, Any]) -> list[Any]:
    """The derivative of a vector function's Jacobian (the catalog's ``grad``) along the
    direction ``along``: H[i][j] = Σ_k ∂²f_i/∂x_j∂x_k · along_k, the Hessian of output i
    times the vector (a row of the Hessian-vector products of each output); without
    ``along``, every direction's, the whole second derivative T[i][j][k]. The formula
    runs once per direction on the slice's entries as `Tangent` jets (no third formula);
    an entry the formula returns as a constant has derivative 0 (NaN where it is
    infinite or NaN)."""
    if along is None:
        n = len(xs)
        each = [hessian(grad, xs, [float(k == m) for m in range(n)], B, kw) for k in range(n)]
        return [[[each[k][i][j] for k in range(n)] for j in range(len(each[0][i]))]
                for i in range(len(each[0]))]
    if len(along) != len(xs):
        raise ValueError(f"the direction has {len(along)} entries, the slice {len(xs)}")
    jets = Jets(B, seed=0)
    # a zero tangent is the exact 0 of a constant (`jets._zero`): no ball [0 ± r] from it
    entries = [Tangent(x, float(t) or 0) for x, t in zip(xs, along, strict=True)]
    return [[derivative(e) for e in row] for row in grad(entries, jets, **kw)]


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


LEVEL = Limits(0.0, 0.0)  # the second derivative at ±inf where the entry declares none


def _special(act: Activation, x: float, params: Mapping[str, Any], order: int):
    """The compute function answering a special input from the catalog's data, or None."""
    if math.isnan(x):
        return lambda B: math.nan
    if math.isinf(x):
        limits = (act.limits, act.grad_limits, act.second_limits or LEVEL)[order]
        if limits is None:
            raise ValueError(f"{act.name} declares no limits at infinity")
        return _const(limits.pos if x > 0 else limits.neg, act, params)
    if order == 1:
        for at, kink in act.kinks_at(params):
            if x == at:
                return _const(kink.grad, act, params)
    if order == 2:
        for at, point in act.bends_at(params):
            if x == at:
                return _const(point.second, act, params)
    return None


def _what(act: Activation, x: Any, params: Mapping[str, Any], order: int) -> str:
    return f"{act.name}{chr(39) * order}({x!r}{', ' if params else ''}{variant_id(params)})"


def _rounds_params(act: Activation, params: Mapping[str, Any]) -> bool:
    return taken(act, params, "float16") != taken(act, params, "float64")


def evaluate(
    act: Activation,
    x: Any,
    params: Mapping[str, Any] | None = None,
    *,
    grad: bool = False,
    order: int | None = None,
    along: Sequence[float] | None = None,
    formats: Sequence[Format] = ALL_FORMATS,
    witness: Mapping[str, float] | None = None,
) -> Any:
    """The exact value (or derivative, or with ``order=2`` the second derivative) at
    ``x``, as `Exact` results.

    Elementwise: ``x`` a float, one `Exact`. Other kinds: ``x`` a sequence, a list of
    `Exact` (a list of rows, the Jacobian, for ``grad``; for logsumexp a list with the
    value, then the sign with return_sign); with ``order=2`` the Jacobian's derivative
    along the direction ``along`` (rows of Hessian-vector products, `hessian`), or
    without it the whole second derivative, T[i][j][k] = ∂²f_i/∂x_j∂x_k. A parameter
    the library rounds is rounded for each format (see the module doc). ``witness``: at
    a finite, nonzero elementwise input, the rounding in each format that an independent
    evaluation (the filter) decided, which stands in for mpmath's cross-check where it
    agrees with Arb (`engine.decide`).
    """
    params = act.resolve(params or {})
    order = order_of(grad, order)
    if len(formats) > 1 and _rounds_params(act, params):
        each = {f.name: evaluate(act, x, params, order=order, along=along, formats=(f,),
                                 witness=witness) for f in formats}
        top = each.get(F64.name) or evaluate(act, x, params, order=order, along=along,
                                             formats=(F64,))
        return _merge(top, each)
    dtype = formats[0].name if formats else None
    params = taken(act, params, dtype)

    def what() -> str:
        return _what(act, x, params, order)

    if act.kind is not Kind.ELEMENTWISE:
        return decide(computation(act, x, params, order=order, along=along), formats,
                      what=what)
    x = float(x)
    special = _special(act, x, params, order)
    if special is not None:
        return decide(special, formats, what=what)
    result = decide(computation(act, x, params, order=order), formats, what=what,
                    witness=witness if x != 0 else None)
    if x == 0 and math.copysign(1, x) < 0 and not order and act.zero_sign is ZeroSign.ODD:
        if result.hi == 0:
            result = result.negated_zero()
    return result


F64 = FORMATS["float64"]


def _merge(top: Any, each: Mapping[str, Any]) -> Any:
    """``top``'s hi and lo, with each format's rounding from its own evaluation."""
    if isinstance(top, list):
        return [_merge(t, {k: v[i] for k, v in each.items()}) for i, t in enumerate(top)]
    return replace(top, rounded={k: v.rounded[k] for k, v in each.items()})


def digits(act: Activation, x: Any, params: Mapping[str, Any] | None = None, *,
           grad: bool = False, order: int | None = None,
           along: Sequence[float] | None = None, n: int = 36) -> Any:
    """``n`` certified significant digits of the value (a string, or a nested list), the
    float64 input's (parameters the library rounds, rounded to float64); an exact zero
    keeps its sign."""
    params = act.resolve(params or {})
    order = order_of(grad, order)
    exact = evaluate(act, x, params, order=order, along=along, formats=(F64,))
    params = taken(act, params, "float64")
    if act.kind is Kind.ELEMENTWISE:
        x = float(x)
        compute = (_special(act, x, params, order)
                   or computation(act, x, params, order=order))
        if not math.isfinite(exact.hi):
            return float_text(exact.hi)
        return _signed_zero(decimal(compute, n), exact)
    return _map2(_signed_zero, decimal(computation(act, x, params, order=order, along=along),
                                       n), exact)


def _signed_zero(text: str, exact: Any) -> str:
    return float_text(exact.hi) if text == "0.0" else text


def _map2(fn: Any, a: Any, b: Any) -> Any:
    return [_map2(fn, u, v) for u, v in zip(a, b, strict=True)] if isinstance(a, list) else (
        fn(a, b))
