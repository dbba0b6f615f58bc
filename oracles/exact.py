"""The exact value and derivative of a catalog activation, correctly rounded.

Elementwise inputs are answered in this order, each rule taken from the catalog entry:
NaN gives NaN; ±inf its `Limits`; a derivative at a `Kink` its convention; anything else
its formula, certified by `engine.decide`; at -0.0 the sign follows the entry's `ZeroSign`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import Activation, Kind, ZeroSign, variant_id
from .engine import decide, decimal
from .formats import FORMATS, Format, float_text

ALL_FORMATS: tuple[Format, ...] = tuple(FORMATS.values())


def literals(act: Activation, params: Mapping[str, Any], B: Any) -> dict[str, Any]:
    """The value-affecting parameters as exact backend numbers, as formulas receive them
    (masks, flags and names pass through). Call inside ``B.precision``."""
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


def computation(act: Activation, x: Any, params: Mapping[str, Any], grad: bool = False):
    """``compute(B)`` for the entry's formula (or derivative) at ``x``, the finite,
    non-special case: what `decide` and `decimal` evaluate."""
    fn = act.grad if grad else act.value
    if fn is None:
        raise ValueError(f"{act.name} has no derivative (its input is integer indices)")
    if act.kind is Kind.ELEMENTWISE:
        return lambda B: fn(B.num(x), B, **literals(act, params, B))
    xs = [float(v) for v in x]
    if not grad:
        return lambda B: fn(xs, B, **literals(act, params, B))

    def jacobian(B):
        """The derivative of an undefined (NaN) output is undefined: its row is NaN."""
        kw = literals(act, params, B)
        values = act.value(xs, B, **kw)
        return [[math.nan] * len(row) if _is_nan(v) else row
                for v, row in zip(values, fn(xs, B, **kw), strict=True)]
    return jacobian


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _special(act: Activation, x: float, params: Mapping[str, Any], grad: bool):
    """The compute function answering a special input from the catalog's data, or None."""
    if math.isnan(x):
        return lambda B: math.nan
    if math.isinf(x):
        limits = act.grad_limits if grad else act.limits
        if limits is None:
            raise ValueError(f"{act.name} declares no limits at infinity")
        return _const(limits.pos if x > 0 else limits.neg, act, params)
    if grad:
        for kink in act.kinks:
            if x == kink.at:
                return _const(kink.grad, act, params)
    return None


def _what(act: Activation, x: Any, params: Mapping[str, Any], grad: bool) -> str:
    name = f"{act.name}'" if grad else act.name
    return f"{name}({x!r}{', ' if params else ''}{variant_id(params)})"


def evaluate(
    act: Activation,
    x: Any,
    params: Mapping[str, Any] | None = None,
    *,
    grad: bool = False,
    formats: Sequence[Format] = ALL_FORMATS,
) -> Any:
    """The exact value (or derivative) at ``x``, as `Exact` results.

    Elementwise: ``x`` a float, one `Exact`. Other kinds: ``x`` a sequence, a list of
    `Exact` (a list of rows, the Jacobian, for ``grad``; for logsumexp a list with the
    value, then the sign with return_sign).
    """
    params = act.resolve(params or {})
    def what() -> str:
        return _what(act, x, params, grad)

    if act.kind is not Kind.ELEMENTWISE:
        return decide(computation(act, x, params, grad), formats, what=what)
    x = float(x)
    special = _special(act, x, params, grad)
    if special is not None:
        return decide(special, formats, what=what)
    result = decide(computation(act, x, params, grad), formats, what=what)
    if x == 0 and math.copysign(1, x) < 0 and not grad and act.zero_sign is ZeroSign.ODD:
        if result.hi == 0:
            result = result.negated_zero()
    return result


def digits(act: Activation, x: Any, params: Mapping[str, Any] | None = None, *,
           grad: bool = False, n: int = 36) -> Any:
    """``n`` certified significant digits of the value (a string, or a nested list)."""
    params = act.resolve(params or {})
    if act.kind is Kind.ELEMENTWISE:
        x = float(x)
        compute = _special(act, x, params, grad) or computation(act, x, params, grad)
        exact = evaluate(act, x, params, grad=grad, formats=(FORMATS["float64"],))
        if exact.hi == 0 or not math.isfinite(exact.hi):  # keeps the sign of zero
            return float_text(exact.hi)
        return decimal(compute, n)
    return decimal(computation(act, x, params, grad), n)

