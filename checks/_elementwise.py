"""The checks of one elementwise activation variant in one dtype, against its oracle table.

Every input of the table (all 65,536 for the 16-bit formats; the sample of `oracles.samples`
otherwise) falls in exactly one class, checked once:

* ``special``: x is ±0, ±inf or NaN, or the truth is NaN or infinite (a domain
  convention such as log1mexp(x < 0) = NaN): the result must be that value, bit for bit
  (the sign of zero where the catalog's `ZeroSign` or a limit fixes it);
* ``subnormal``: x or the correctly rounded result is subnormal (or underflows to 0): a
  result flushed to zero is reported apart (``warn``; ``fail`` when strict);
* ``accuracy``: everything else, in ULP against the tolerance table.

The derivative (jax.vjp and jax.jvp, both against the oracle) is classified the same way,
with the subgradients at the catalog's kinks in ``gradient:kinks``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..catalog import Activation, Bounds, Monotone, ZeroSign, variant_id
from ..oracles.formats import FORMATS, Format, ulp_error
from . import _repro
from ._call import CallError, array, call
from ._results import Finding, fmt_ulp, literal
from ._tolerances import Tolerances

HIST_EDGES = (0.5, 1, 2, 4, 16, 256, 65536)  # ULP: correctly rounded, within 1, ... beyond


def histogram(err: np.ndarray) -> dict[str, int]:
    """Counts of ULP errors in (prev, edge] bins, then the rest (inf included)."""
    labels = [f"<={e:g}" for e in HIST_EDGES] + [f">{HIST_EDGES[-1]:g}"]
    idx = np.searchsorted(np.asarray(HIST_EDGES), err, side="left")
    counts = np.bincount(idx, minlength=len(labels))
    return dict(zip(labels, (int(c) for c in counts), strict=True))


def _classes(x: np.ndarray, hi: np.ndarray, rounded: np.ndarray, fmt: Format):
    """Masks: special, subnormal, and the rest (accuracy)."""
    with np.errstate(invalid="ignore"):
        sub = _subnormal_cases(x, hi, rounded, fmt)
        special = (~np.isfinite(x) | (x == 0) | ~np.isfinite(hi)) & ~sub
    return special, sub, ~special & ~sub


def _subnormal_cases(x: np.ndarray, hi: np.ndarray, rounded: np.ndarray,
                     fmt: Format) -> np.ndarray:
    """Subnormal inputs (whatever the truth there: a flushed input gives f(±0)), and exact
    results below twice the smallest normal number: a result in the lowest binade, a
    rounding error away from the subnormals, may be flushed too."""
    with np.errstate(invalid="ignore"):
        sub_in = (np.abs(x) < fmt.tiny) & (x != 0)
        low = 2 * fmt.tiny
        return sub_in | (((np.abs(rounded) < low) | (np.abs(hi) < low)) & (x != 0)
                         & np.isfinite(x) & np.isfinite(hi))


def _same(got: np.ndarray, want: np.ndarray, signed: np.ndarray) -> np.ndarray:
    """Bitwise agreement (NaN = NaN); the sign of zero counts only where ``signed``."""
    both_nan = np.isnan(got) & np.isnan(want)
    equal = got == want
    sign_ok = ~signed | (np.signbit(got) == np.signbit(want))
    return both_nan | (equal & sign_ok)


def _worst(name: str, x, err, want, got, tol, n_label: str, extra=None) -> Finding:
    i = int(np.nanargmax(np.where(np.isnan(err), np.inf, err)))
    worst = float(err[i])
    over = int(np.sum(err > tol))
    status = "pass" if worst <= tol else "fail"
    correct = float(np.mean(got == want)) if len(got) else 1.0
    detail = (f"{len(err)} {n_label}, {correct:.2%} correctly rounded, {over} over {tol:g} ULP")
    return Finding(name, status, worst, literal(x[i]), literal(want[i]), literal(got[i]),
                   detail, {"histogram": json.dumps(histogram(err)), "n": len(err),
                            "correctly_rounded": correct, "worst_index": i, "tolerance": tol,
                            **(extra or {})})


class Evaluation:
    """An implementation's values and derivatives over one oracle table."""

    def __init__(self, fn: Callable[..., Any], params: Mapping[str, Any], fmt: Format,
                 x: np.ndarray):
        self.f = partial(fn, **params) if params else fn
        self.fmt, self.x64 = fmt, x
        self.x = x.astype(fmt.dtype)

    def values(self) -> np.ndarray:
        out = call(lambda: jax.jit(self.f)(jnp.asarray(self.x)), what="the function (jit)")
        return array(out, self.x.shape, self.fmt.dtype, "the function").astype(np.float64)

    def gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(vjp, jvp) with unit (co)tangents: the derivative, twice."""
        xj = jnp.asarray(self.x)
        ones = jnp.ones_like(xj)
        vjp = call(lambda: jax.jit(lambda x: jax.vjp(self.f, x)[1](ones)[0])(xj), what="jax.vjp")
        jvp = call(lambda: jax.jit(lambda x: jax.jvp(self.f, (x,), (ones,))[1])(xj), what="jax.jvp")
        shape, dt = self.x.shape, self.fmt.dtype
        return (array(vjp, shape, dt, "jax.vjp").astype(np.float64),
                array(jvp, shape, dt, "jax.jvp").astype(np.float64))


def check(
    spec: str, fn: Callable[..., Any], act: Activation, params: Mapping[str, Any], dtype: str,
    table: pd.DataFrame, tol: Tolerances, *, strict_subnormals: bool = False,
    checks: frozenset[str] | None = None,
) -> list[Finding]:
    """Every check of this (activation, variant, dtype) on ``fn``."""
    fmt = FORMATS[dtype]
    ev = Evaluation(fn, params, fmt, table["x"].to_numpy())
    want = {c: (checks is None or c in checks) for c in
            ("accuracy", "subnormal", "special", "gradient", "dtype", "transform", "property")}
    out: list[Finding] = []
    if want["accuracy"] or want["subnormal"] or want["special"] or want["property"]:
        try:
            got = ev.values()
        except CallError as e:
            names = [c for c in ("accuracy", "subnormal", "special", "property") if want[c]]
            return _repro.add(spec, act, params, dtype, [
                Finding(c, e.status, detail=str(e)) for c in names] + _rest(
                spec, fn, act, params, dtype, ev, table, tol, want, strict_subnormals))
        out += _value_findings(spec, act, params, dtype, ev, table, got, tol, want,
                               strict_subnormals)
    return _repro.add(spec, act, params, dtype, out + _rest(
        spec, fn, act, params, dtype, ev, table, tol, want, strict_subnormals))


def _rest(spec, fn, act, params, dtype, ev, table, tol, want, strict) -> list[Finding]:
    out: list[Finding] = []
    if want["gradient"] or want["subnormal"]:
        out += _gradient_findings(spec, act, params, dtype, ev, table, tol, want, strict)
    if want["dtype"]:
        out.append(_dtype_finding(fn, act, params, dtype))
    if want["transform"]:
        out.append(_transform_finding(ev, act, dtype, tol))
    return out


def _value_findings(spec, act, params, dtype, ev, table, got, tol, want, strict):
    fmt, x = ev.fmt, ev.x64
    hi, lo, rounded = (table[c].to_numpy() for c in ("value_hi", "value_lo", "value"))
    special, sub, acc = _classes(x, hi, rounded, fmt)
    limit = tol.ulps(act.name, dtype, "value")
    out = []
    if want["accuracy"]:
        err = ulp_error(got[acc], hi[acc], lo[acc], fmt)
        f = _worst("accuracy", x[acc], err, rounded[acc], got[acc], limit, "inputs")
        f.extra["curve"] = (x[acc], err)
        out.append(f)
    if want["subnormal"]:
        out.append(_subnormal("subnormal", x, sub, got, hi, lo, rounded, fmt, limit, strict,
                              _at_zero(x, rounded)))
    if want["special"]:
        signed = np.isinf(x) | ((x == 0) & (act.zero_sign is ZeroSign.ODD))
        ok = _same(got[special], rounded[special], signed[special])
        out.append(_exact("special", x[special], rounded[special], got[special], ok,
                          "special inputs (±0, ±inf, NaN) and infinite or NaN truths"))
    if want["property"]:
        daz = _read_as_zero(x, got, _at_zero(x, rounded), fmt)
        out += _property_findings(act, x, got, fmt, limit, daz)
    return out


def _property_findings(act: Activation, x: np.ndarray, got: np.ndarray, fmt: Format,
                       limit: float, daz: np.ndarray) -> list[Finding]:
    """The catalog's `Bounds` and `Monotone` over every input of the table in the domain
    (NaN results left out: they are the `special` check's; so are subnormal inputs whose
    result is explained by denormals-are-zero, ``daz``: the `subnormal` check's). A
    decrease within the value tolerance is a rounding wobble (`warn`); a larger one, or
    any result out of bounds, fails."""
    lo, hi = act.domain
    keep = (x >= lo) & (x <= hi) & ~np.isnan(got) & ~daz
    order = np.argsort(x[keep], kind="stable")
    xs, ys = x[keep][order], got[keep][order]
    out = []
    for prop in act.properties:
        if isinstance(prop, Monotone):
            with np.errstate(invalid="ignore"):
                drops = np.flatnonzero((ys[1:] < ys[:-1]) & (xs[1:] > xs[:-1]))
            if len(drops):
                size = ulp_error(ys[drops + 1], ys[drops], np.zeros(len(drops)), fmt)
                k = int(np.argmax(size))
                i = int(drops[k])
                out.append(Finding(
                    "property:monotone", "fail" if size[k] > limit else "warn",
                    float(size[k]), literal(xs[i + 1]), literal(ys[i]), literal(ys[i + 1]),
                    f"decreases at {len(drops)} of {len(xs) - 1} steps, by up to "
                    f"{fmt_ulp(float(size[k]))} ULP: f({literal(xs[i])}) = {literal(ys[i])} > "
                    f"f({literal(xs[i + 1])}) = {literal(ys[i + 1])}",
                    {"via": "monotone", "inputs": [float(xs[i]), float(xs[i + 1])]}))
            else:
                out.append(Finding("property:monotone", "pass",
                                   detail=f"non-decreasing over {len(xs)} inputs"))
        elif isinstance(prop, Bounds):
            outside = np.flatnonzero((ys < prop.lo) | (ys > prop.hi))
            where = f"[{literal(prop.lo)}, {literal(prop.hi)}]"
            if len(outside):
                i = int(outside[0])
                out.append(Finding(
                    "property:bounds", "fail", None, literal(xs[i]), where, literal(ys[i]),
                    f"{len(outside)} of {len(xs)} results outside {where}"))
            else:
                out.append(Finding("property:bounds", "pass",
                                   detail=f"{len(xs)} results within {where}"))
    return out


def _at_zero(x: np.ndarray, rounded: np.ndarray) -> np.ndarray:
    """f(±0) with the sign of each x: what a flushed subnormal input gives."""
    at = {}
    for negative in (False, True):
        zero = np.flatnonzero((x == 0) & (np.signbit(x) == negative))
        at[negative] = float(rounded[zero[0]]) if len(zero) else np.nan
    return np.where(np.signbit(x), at[True], at[False])


F32_TINY = FORMATS["float32"].tiny


def _read_as_zero(x: np.ndarray, got: np.ndarray, at_zero: np.ndarray,
                  fmt: Format) -> np.ndarray:
    """Where a subnormal input's result is explained by the input read as zero
    (denormals-are-zero, in a format that hardware flushes): 0, f(±0), or the input itself,
    passed through by a select whose test read it as 0 (leaky_relu's where(x >= 0, x, …))."""
    with np.errstate(invalid="ignore"):
        sub_in = (np.abs(x) < fmt.tiny) & (x != 0)
        explained = ((got == 0) | (got == at_zero) | (np.isnan(got) & np.isnan(at_zero))
                     | (got == x))
    return sub_in & explained & (fmt.tiny <= F32_TINY)


def _subnormal(name, x, sub, got, hi, lo, rounded, fmt, limit, strict, at_zero) -> Finding:
    """Subnormal cases: within tolerance passes; a result of 0 (or f(0), the input flushed)
    where the truth is subnormal is flushing, excused as ``warn`` where hardware flushes:
    float32's subnormals (bfloat16's too) and float64's, under FTZ/DAZ. float16's
    subnormals are normal float32 numbers, which no flush mode touches: errors there fail."""
    if not sub.any():
        return Finding(name, "pass", detail="no subnormal inputs or results in this dtype")
    err = ulp_error(got[sub], hi[sub], lo[sub], fmt)
    bad = err > limit
    flushable = fmt.tiny <= F32_TINY
    with np.errstate(invalid="ignore"):
        zero = at_zero[sub]
        flushed = (((got[sub] == 0) | (got[sub] == zero) | (np.isnan(got[sub]) & np.isnan(zero))
                    ) & flushable) | _read_as_zero(x[sub], got[sub], zero, fmt)
    xs, want_, got_ = x[sub], rounded[sub], got[sub]
    if not bad.any():
        return Finding(name, "pass", float(err.max()), detail=f"{int(sub.sum())} cases")
    real = bad & ~flushed
    pick = real if real.any() else bad
    i = int(np.flatnonzero(pick)[np.argmax(err[pick])])
    if real.any():
        why = "" if flushable else " (float16 subnormals are not flushed by any FTZ mode)"
        status, what = "fail", f"{int(real.sum())} of {int(sub.sum())} wrong{why}"
    else:
        status = "fail" if strict else "warn"
        what = f"flushes subnormals to zero: {int(bad.sum())} of {int(sub.sum())} cases"
    return Finding(name, status, float(err[pick].max()), literal(xs[i]), literal(want_[i]),
                   literal(got_[i]), what, {"worst_index": i})


def _exact(name, x, want, got, ok, what) -> Finding:
    if ok.all():
        return Finding(name, "pass", detail=f"{len(x)} {what}")
    bad = np.flatnonzero(~ok)
    i = int(bad[0])
    cases = "; ".join(f"x={literal(x[j])}: {literal(got[j])} not {literal(want[j])}"
                      for j in bad[:4])
    return Finding(name, "fail", None, literal(x[i]), literal(want[i]), literal(got[i]),
                   f"{len(bad)} of {len(x)} wrong: {cases}", {"worst_index": i})


def _gradient_findings(spec, act, params, dtype, ev, table, tol, want, strict):
    names = [c for c in ("gradient", "gradient:special", "gradient:kinks", "subnormal:gradient")
             if want["gradient" if c.startswith("gradient") else "subnormal"]]
    if not act.kinks:
        names = [n for n in names if n != "gradient:kinks"]
    try:
        vjp, jvp = ev.gradients()
    except CallError as e:
        return [Finding(n, e.status, detail=str(e)) for n in names]
    fmt, x = ev.fmt, ev.x64
    hi, lo, rounded = (table[c].to_numpy() for c in ("grad_hi", "grad_lo", "grad"))
    kink = np.isin(x, [k.at for k in act.kinks]) & np.isfinite(x)
    with np.errstate(invalid="ignore"):
        sub = _subnormal_cases(x, hi, rounded, fmt) & ~kink
        # a NaN input's derivative is not checked: 0 (a piecewise rule) is as good as NaN
        special = (np.isinf(x) | ~np.isfinite(hi)) & ~kink & ~np.isnan(x) & ~sub
    acc = ~special & ~sub & ~kink & ~np.isnan(x)
    limit = tol.ulps(act.name, dtype, "gradient")
    out = []
    # each input's worse of the two, and which one that was (for the repro line)
    by_vjp = ulp_error(vjp, hi, lo, fmt) >= ulp_error(jvp, hi, lo, fmt)
    worse = np.where(by_vjp, vjp, jvp)

    def via(f: Finding, mask: np.ndarray) -> Finding:
        if "worst_index" in f.extra:
            f.extra["via"] = "vjp" if by_vjp[mask][f.extra["worst_index"]] else "jvp"
        return f

    if "gradient" in names:
        err = ulp_error(worse[acc], hi[acc], lo[acc], fmt)
        disagree = int(np.sum(~_same(vjp, jvp, np.zeros_like(x, bool))))
        f = _worst("gradient", x[acc], err, rounded[acc], worse[acc], limit, "inputs",
                   {"vjp_jvp_disagree": disagree})
        f.detail += f"; jvp and vjp differ at {disagree} inputs"
        f.extra["curve"] = (x[acc], err)
        out.append(via(f, acc))
    if "gradient:special" in names:
        ok = _same(worse[special], rounded[special], np.zeros(int(special.sum()), bool))
        out.append(via(_exact("gradient:special", x[special], rounded[special],
                              worse[special], ok, "infinite or NaN inputs or derivatives"),
                       special))
    if "gradient:kinks" in names:
        ok = _same(worse[kink], rounded[kink], np.zeros(int(kink.sum()), bool))
        f = via(_exact("gradient:kinks", x[kink], rounded[kink], worse[kink], ok,
                       "kinks with the catalog's subgradient"), kink)
        documented = all(k.documented for k in act.kinks)
        if f.status == "fail" and not documented:
            f.status = "warn"
            f.detail += " (jax.nn's convention, undocumented)"
        out.append(f)
    if "subnormal:gradient" in names:
        out.append(via(_subnormal("subnormal:gradient", x, sub, worse, hi, lo, rounded, fmt,
                                  limit, strict, _at_zero(x, rounded)), sub))
    return out


def _other_dtype(dtype: str) -> Any:
    return jnp.float16 if dtype == "float32" else jnp.float32


def _dtype_finding(fn, act, params, dtype) -> Finding:
    """The output dtype: the input's with the parameters as Python scalars (weakly typed);
    with the parameters as arrays of another dtype, JAX's promotion of the two
    (`jnp.result_type`, which jax.nn's arithmetic follows), or the input's where the
    catalog says the library casts them (`Activation.promotes`)."""
    x = jnp.asarray(np.linspace(-4, 4, 16), dtype=dtype)
    floats = {p.name: params.get(p.name, p.default) for p in act.params
              if p.kind == "float" and params.get(p.name, p.default) is not None}
    ints = {p.name: params.get(p.name, p.default) for p in act.params if p.kind == "int"}
    trials = [("Python scalars", dict(params), np.dtype(x.dtype))]
    if floats or ints:
        given = {k: jnp.asarray(v, _other_dtype(dtype)) for k, v in {**floats, **ints}.items()}
        want = jnp.result_type(x, *given.values()) if act.promotes else x.dtype
        rule = "JAX's promotion" if act.promotes else "cast to the input's dtype"
        trials.append((f"parameters as {jnp.dtype(_other_dtype(dtype)).name} arrays, "
                       f"{rule}", {**params, **given}, np.dtype(want)))
    problems, first, expected = [], None, None
    for what, kw, want in trials:
        try:
            out = call(lambda kw=kw: fn(x, **kw), what=f"the function ({what})")
        except CallError as e:
            return Finding("dtype", e.status, detail=f"{what}: {e}")
        got = getattr(out, "dtype", type(out).__name__)
        if got != want:
            first, expected = first or str(got), expected or str(want)
            problems.append(f"{got}, not {want}, with {what} ({variant_id(kw) or 'defaults'})")
    if problems:
        return Finding("dtype", "fail", expected=repr(expected), got=repr(first),
                       detail=f"{dtype} input gave " + "; ".join(problems))
    return Finding("dtype", "pass", detail="; ".join(f"{w}: {d}" for w, _, d in trials))


def apart(a: np.ndarray, b: np.ndarray, fmt: Format) -> np.ndarray:
    """ULPs between two results of one implementation (eager and jit, vmap and a loop):
    0 for NaN and NaN, and below the normal range, where XLA flushes in one mode and not
    the other (the `subnormal` check reports flushing)."""
    err = ulp_error(a, b, np.zeros_like(b), fmt)
    with np.errstate(invalid="ignore"):
        tiny = np.maximum(np.abs(a), np.abs(b)) < fmt.tiny
    return np.where(tiny, 0.0, err)


def _transform_finding(ev: Evaluation, act: Activation, dtype: str, tol: Tolerances) -> Finding:
    """jit agrees with eager, and vmap with a loop, within the value tolerance."""
    limit = tol.ulps(act.name, dtype, "value")
    x = ev.x[:: max(1, len(ev.x) // 512)][:512]
    x = x[: len(x) - len(x) % 16]
    try:
        eager = call(lambda: ev.f(jnp.asarray(x)), what="the function (eager)")
        jitted = call(lambda: jax.jit(ev.f)(jnp.asarray(x)), what="the function (jit)")
        grid = jnp.asarray(x.reshape(16, -1))
        vmapped = call(lambda: jax.vmap(ev.f)(grid), what="jax.vmap")
        looped = call(lambda: jnp.stack([ev.f(row) for row in grid]), what="a loop of calls")
    except CallError as e:
        return Finding("transform", e.status, detail=str(e))
    out = []
    for name, a, b in (("eager vs jit", eager, jitted), ("vmap vs loop", vmapped, looped)):
        a = np.asarray(a, np.float64).ravel()
        b = np.asarray(b, np.float64).ravel()
        if a.shape != b.shape:
            return Finding("transform", "fail", detail=f"{name}: shapes {a.shape} and {b.shape}")
        out.append((name, apart(a, b, ev.fmt), a, b))
    name, err, a, b = max(out, key=lambda t: float(np.max(t[1])) if len(t[1]) else 0.0)
    worst = float(err.max()) if len(err) else 0.0
    i = int(np.argmax(err)) if len(err) else 0
    xs = x.ravel().astype(np.float64)
    status = "pass" if worst <= limit else "fail"
    detail = f"{len(x)} inputs; worst {name}: {fmt_ulp(worst)} ULP apart"
    if status == "pass":
        return Finding("transform", status, worst, detail=detail)
    return Finding("transform", status, worst, literal(xs[i]), literal(b[i]), literal(a[i]),
                   detail, {"via": name})
