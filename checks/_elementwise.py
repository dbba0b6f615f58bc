"""The checks of one elementwise activation variant in one dtype, against its oracle table.

Every input of the table (all 65,536 for the 16-bit formats; the sample of `oracles.samples`
otherwise) falls in exactly one class, checked once:

* ``special``: x is ±0, ±inf or NaN, or the truth is NaN or infinite (a domain
  convention such as log1mexp(x < 0) = NaN): the result must be that value, bit for bit
  (the sign of zero where the catalog's `ZeroSign` or a limit fixes it);
* ``subnormal``: x or the correctly rounded result is subnormal (or underflows to 0): a
  result flushed to zero is reported apart (`Severity.SUBNORMAL`: ``warn``, ``fail`` when
  strict);
* ``accuracy``: everything else, in ULP against the tolerance table.

The derivative (jax.vjp and jax.jvp, both against the oracle) is classified the same way,
with the subgradients at the catalog's kinks in ``gradient:kinks``; so is the second
derivative, in one row, ``gradient:second`` (`_second_finding`).

Each finding that does not pass says what it means (its `Severity`, see `_registry`); the
audit turns that into ``fail`` or ``warn`` (`_results.settle`).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..catalog import Activation, Bounds, Monotone, Saturation, ZeroSign, variant_id
from ..oracles import evaluate
from ..oracles import filter as boxes
from ..oracles.formats import FORMATS, Format, ulp_error
from . import _repro
from ._call import CallError, array, call
from ._registry import DERIVATIVE, Severity, applying, classify, declared, worst
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


def _worst(name: str, x, err, want, got, tol, n_label: str, extra=None,
           nan_in: np.ndarray | None = None) -> Finding:
    """The largest of the ULP errors ``err``: ``pass`` within ``tol``; otherwise a finding
    whose severity is the worst disagreement's (`classify`: a NaN or ∞ where the truth is
    finite, and where that starts, outranks a wrong value)."""
    i = int(np.nanargmax(np.where(np.isnan(err), np.inf, err)))
    top = float(err[i])
    over = err > tol
    status = "pass" if top <= tol else "fail"
    correct = float(np.mean(got == want)) if len(got) else 1.0
    detail = (f"{len(err)} {n_label}, {correct:.2%} correctly rounded, {int(over.sum())} over "
              f"{tol:g} ULP")
    severity = None
    if status == "fail":
        severity = worst(classify(want[over], got[over], declared(name).severity,
                                  None if nan_in is None else nan_in[over]))
        if severity is Severity.NONFINITE:
            with np.errstate(invalid="ignore"):
                bad = over & np.isfinite(want) & ~np.isfinite(got)
            where = _from(x[bad])
            detail += f"; NaN or ∞ at {int(bad.sum())} of them{where}"
    return Finding(name, status, top, literal(x[i]), literal(want[i]), literal(got[i]),
                   detail, {"histogram": json.dumps(histogram(err)), "n": len(err),
                            "correctly_rounded": correct, "worst_index": i, "tolerance": tol,
                            **(extra or {})}, severity)


def _worst_or_flush(name: str, x, err, want, got, tol, fmt: Format, n_label: str,
                    nan_in: np.ndarray | None = None) -> Finding:
    """`_worst` for the entries of a derivative that counts in ulps of a larger size (a
    Jacobian row's, a Hessian's): where the truth is subnormal and the result 0 (a whole
    row can be subnormal: glu's along its gate at 100, e^−100 in float32), it is a flush,
    which warns (`Severity.SUBNORMAL`) as for any derivative; the row fails on the other
    entries alone. The detail counts the flushes."""
    flushed = (err > tol) & (np.abs(want) < fmt.tiny) & (got == 0)
    f = _worst(name, x, np.where(flushed, 0.0, err), want, got, tol, n_label, nan_in=nan_in)
    if flushed.any() and f.status == "pass":  # nothing else wrong: the worst flush, a warn
        flush = _worst(name, x, np.where(flushed, err, 0.0), want, got, tol, n_label)
        flush.detail, flush.severity = f.detail, Severity.SUBNORMAL
        f = flush
    if flushed.any():
        f.detail += f"; {int(flushed.sum())} subnormal truths flushed to 0"
    return f


def _from(x: np.ndarray) -> str:
    """Where a set of numeric inputs starts, by magnitude (`` from |x| = 148``)."""
    try:
        mags = np.abs(np.asarray(x, np.float64))
    except (TypeError, ValueError):
        return ""
    return f", from |x| = {literal(float(mags.min()))}" if len(mags) else ""


@dataclass(frozen=True)
class Case:
    """What every check of one (implementation, activation, variant, dtype) is given."""

    spec: str
    act: Activation
    params: Mapping[str, Any]
    dtype: str
    tol: Tolerances
    wanted: frozenset[str] | None = None
    cache_dir: str | None = None  # the oracle's cache (tables, slice answers)
    search: str | None = None  # the search's profile (`_search`), for its checks alone

    @property
    def fmt(self) -> Format:
        return FORMATS[self.dtype]

    def names(self) -> tuple[str, ...]:
        """The checks to run: those that apply, of the categories wanted."""
        return tuple(c.name for c in applying(self.act, self.wanted,
                                              search=self.search is not None,
                                              dtype=self.dtype, params=self.params))

    def limit(self, what: str = "value") -> float:
        return self.tol.ulps(self.act.name, self.dtype, what)


_JITTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def jitted(f: Callable[..., Any]) -> tuple[Callable[..., Any], ...]:
    """``f``, its vjp and its jvp (each of x and a (co)tangent), and its second derivatives
    (`second_derivatives`), compiled once per function object: a run that calls them on
    many arrays (the exhaustive one) traces them once."""
    try:
        return _JITTED[f]
    except (KeyError, TypeError):
        pass
    fns = (jax.jit(f), jax.jit(lambda x, t: jax.vjp(f, x)[1](t)[0]),
           jax.jit(lambda x, t: jax.jvp(f, (x,), (t,))[1]),
           *(jax.jit(g) for g in second_derivatives(f)))
    try:
        _JITTED[f] = fns
    except TypeError:  # not weakly referable: compiled again next time
        pass
    return fns


def second_derivatives(f: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """An elementwise ``f``'s second derivative at each entry of x, by reverse mode over
    reverse mode (``jax.grad(jax.grad(f))``, what most users write) and by forward mode
    over reverse mode (a Hessian-vector product's usual form)."""
    def first(x: Any) -> Any:
        return jax.vjp(f, x)[1](jnp.ones_like(x))[0]

    def reverse(x: Any) -> Any:
        return jax.vjp(first, x)[1](jnp.ones_like(x))[0]

    def forward(x: Any) -> Any:
        return jax.jvp(first, (x,), (jnp.ones_like(x),))[1]
    return reverse, forward


class Evaluation:
    """An implementation's values and derivatives over one oracle table."""

    def __init__(self, fn: Callable[..., Any], params: Mapping[str, Any], fmt: Format,
                 x: np.ndarray):
        self.f = partial(fn, **params) if params else fn
        self.fmt, self.x64 = fmt, x
        self.x = x.astype(fmt.dtype)

    def values(self) -> np.ndarray:
        f = jitted(self.f)[0]
        out = call(lambda: f(jnp.asarray(self.x)), what="the function (jit)")
        return array(out, self.x.shape, self.fmt.dtype, "the function").astype(np.float64)

    def gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(vjp, jvp) with unit (co)tangents: the derivative, twice."""
        _, vjp_of, jvp_of, *_ = jitted(self.f)
        xj = jnp.asarray(self.x)
        ones = jnp.ones_like(xj)
        vjp = call(lambda: vjp_of(xj, ones), what="jax.vjp")
        jvp = call(lambda: jvp_of(xj, ones), what="jax.jvp")
        shape, dt = self.x.shape, self.fmt.dtype
        return (array(vjp, shape, dt, "jax.vjp").astype(np.float64),
                array(jvp, shape, dt, "jax.jvp").astype(np.float64))

    def seconds(self) -> tuple[np.ndarray, np.ndarray]:
        """The second derivative, reverse over reverse and forward over reverse."""
        xj = jnp.asarray(self.x)
        shape, dt = self.x.shape, self.fmt.dtype
        out = []
        for fn, what in zip(jitted(self.f)[3:],
                            ("jax.grad of jax.grad", "jax.jvp of jax.grad"), strict=True):
            got = call(lambda fn=fn: fn(xj), what=what)
            out.append(array(got, shape, dt, what).astype(np.float64))
        return out[0], out[1]


def check(case: Case, fn: Callable[..., Any], table: pd.DataFrame,
          second: pd.DataFrame | None = None) -> list[Finding]:
    """Every check of ``case`` on ``fn``, against its oracle ``table`` (and ``second``,
    the second derivative's, where ``gradient:second`` is among the checks)."""
    names = case.names()
    ev = Evaluation(fn, case.params, case.fmt, table["x"].to_numpy())
    value_checks = [n for n in names if n in VALUE_CHECKS]
    out: list[Finding] = []
    if value_checks:
        try:
            got = ev.values()
        except CallError as e:
            out += [Finding(c, e.status, detail=str(e)) for c in value_checks]
        else:
            out += _value_findings(case, ev, table, got, names)
            _ignored(out, case, fn, ev, got)
    if any(n in GRADIENT_CHECKS for n in names):
        out += _gradient_findings(case, ev, table, names)
    if SECOND in names and second is not None:
        out.append(_second_finding(case, ev, second))
    if "dtype" in names:
        out.append(_dtype_finding(fn, case))
    if "transform" in names:
        out.append(_transform_finding(ev, case))
    if any(n in COMPOSITIONS for n in names):
        out += _compositions(ev, case, [n for n in names if n in COMPOSITIONS])
    return _repro.add(case.spec, case.act, case.params, case.dtype, out)


def _ignored(found: list[Finding], case: Case, fn: Callable[..., Any], ev: Evaluation,
             got: np.ndarray) -> None:
    """A wrong value whose results are bit for bit those of the call without one of the
    variant's parameters, and are the truth without it where the truth with it differs
    (at ordinary inputs, `ORDINARY`), comes from that parameter being ignored
    (`Severity.IGNORED`, the cause of whatever else it shows)."""
    wrong = [f for f in found if f.check == "accuracy" and f.status == "fail"
             and f.severity in (Severity.WRONG, Severity.NONFINITE)]
    for k in changed_params(case) if wrong else ():
        rest = {a: v for a, v in case.params.items() if a != k}
        try:
            same = np.array_equal(Evaluation(fn, rest, ev.fmt, ev.x64).values(), got,
                                  equal_nan=True)
        except CallError:
            continue
        with np.errstate(invalid="ignore"):
            at = np.unique([int(np.nanargmin(np.abs(ev.x64 - v))) for v in ORDINARY])
        truth = [np.array([evaluate(case.act, float(ev.x64[i]), q, formats=(ev.fmt,))
                           .rounded[ev.fmt.name] for i in at]) for q in (case.params, rest)]
        if same and explained_without(got[at], *truth, ev.fmt, case.limit()):
            mark_ignored(wrong, k, case.params[k])
            return


def changed_params(case: Case) -> list[str]:
    """The variant's parameters that differ from the defaults and can be left out of a
    call (a required one cannot)."""
    defaults = case.act.defaults
    return [k for k, v in case.params.items() if defaults.get(k) != v
            and not any(p.required for p in case.act.params if p.name == k)]


def mark_ignored(wrong: list[Finding], name: str, value: Any) -> None:
    """The findings ``wrong`` as caused by the parameter ``name`` being ignored."""
    for f in wrong:
        f.severity = Severity.IGNORED
        f.detail += f"; {name}={value!r} is ignored: the same results without it"


ORDINARY = (-3.0, -1.5, -0.75, -0.25, 0.25, 0.75, 1.5, 3.0)  # where parameters show


def explained_without(got: np.ndarray, truth: np.ndarray, without: np.ndarray, fmt: Format,
                      tol: float) -> bool:
    """Whether results are the truth without a parameter (within ``tol`` ULP) wherever
    the parameter changes the truth, and it changes it somewhere."""
    if not got.shape == truth.shape == without.shape:
        return False
    with np.errstate(invalid="ignore"):
        moved = ~((truth == without) | (np.isnan(truth) & np.isnan(without)))
    if not moved.any():
        return False
    err = ulp_error(got[moved], without[moved], np.zeros(int(moved.sum())), fmt)
    return bool(np.all(err <= tol))


def judged(case: Case, table: pd.DataFrame) -> np.ndarray:
    """Where ``table``'s inputs are those the accuracy check judges (neither special nor
    subnormal), in the domain: where a property of the implementation's own results is
    checked (`_properties`)."""
    x = table["x"].to_numpy()
    hi, rounded = table["value_hi"].to_numpy(), table["value"].to_numpy()
    acc = _classes(x, hi, rounded, case.fmt)[2]
    lo, top = case.act.domain
    return acc & (x >= lo) & (x <= top)


# the checks computed from the values over the table, and from the derivatives
VALUE_CHECKS = ("accuracy", "subnormal", "special", "property:monotone", "property:bounds",
                "property:saturation")
SECOND = "gradient:second"
# transform:NAME, each a composition of JAX's transformations, against the plain
# derivative (`Evaluation.gradients`' vjp, under jit) on the `transform` check's inputs
COMPOSITIONS = ("transform:jit_grad", "transform:grad_jit", "transform:vmap_grad",
                "transform:grad_vmap", "transform:jacfwd_jacrev",
                "transform:linear_transpose")
# the first derivative's checks (`_gradient_findings`)
GRADIENT_CHECKS = DERIVATIVE - {SECOND, *COMPOSITIONS}


def _value_findings(case: Case, ev: Evaluation, table: pd.DataFrame, got: np.ndarray,
                    names: tuple[str, ...]) -> list[Finding]:
    fmt, x, act = ev.fmt, ev.x64, case.act
    hi, lo, rounded = (table[c].to_numpy() for c in ("value_hi", "value_lo", "value"))
    special, sub, acc = _classes(x, hi, rounded, fmt)
    limit = case.limit("value")
    out = []
    if "accuracy" in names:
        err = ulp_error(got[acc], hi[acc], lo[acc], fmt)
        f = _worst("accuracy", x[acc], err, rounded[acc], got[acc], limit, "inputs")
        f.extra["curve"] = (x[acc], err)
        out.append(f)
    if "subnormal" in names:
        out.append(_subnormal("subnormal", x, sub, got, hi, lo, rounded, fmt, limit,
                              _zeros(x, rounded, got)))
    if "special" in names:
        signed = np.isinf(x) | ((x == 0) & (act.zero_sign is ZeroSign.ODD))
        ok = _same(got[special], rounded[special], signed[special])
        out.append(_exact("special", x[special], rounded[special], got[special], ok,
                          "special inputs (±0, ±inf, NaN) and infinite or NaN truths"))
    props = [n for n in names if n.startswith("property:")]
    if props:
        daz = _read_as_zero(x, got, _zeros(x, rounded, got), fmt)
        out += _property_findings(act, x, got, fmt, limit, daz)
        if "property:saturation" in names:
            out.append(_saturation(act, x, got, rounded, fmt, limit, daz))
    return out


def _property_findings(act: Activation, x: np.ndarray, got: np.ndarray, fmt: Format,
                       limit: float, daz: np.ndarray) -> list[Finding]:
    """The catalog's `Bounds` and `Monotone` over every input of the table in the domain
    (NaN results left out: they are the `special` check's; so are subnormal inputs whose
    result is explained by denormals-are-zero, ``daz``: the `subnormal` check's). A
    decrease within the value tolerance is a rounding wobble (`Severity.ROUNDING`); a
    larger one, or any result out of bounds, is a wrong value."""
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
                    "property:monotone", "fail", float(size[k]), literal(xs[i + 1]),
                    literal(ys[i]), literal(ys[i + 1]),
                    f"decreases at {len(drops)} of {len(xs) - 1} steps, by up to "
                    f"{fmt_ulp(float(size[k]))} ULP: f({literal(xs[i])}) = {literal(ys[i])} > "
                    f"f({literal(xs[i + 1])}) = {literal(ys[i + 1])}",
                    {"via": "monotone", "inputs": [float(xs[i]), float(xs[i + 1])]},
                    Severity.WRONG if size[k] > limit else Severity.ROUNDING))
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


def _saturation(act: Activation, x: np.ndarray, got: np.ndarray, rounded: np.ndarray,
                fmt: Format, limit: float, daz: np.ndarray) -> Finding:
    """Where the correctly rounded truth is one of the catalog's `Saturation` levels (at a
    finite input), the result must be it: an ulp or so short is a rounding wobble (it
    never reaches ±1, yet passes the accuracy check), farther short a wrong value."""
    levels = next(p.levels for p in act.properties if isinstance(p, Saturation))
    at = np.isin(rounded, levels) & np.isfinite(x) & ~daz
    short = at & (got != rounded)
    name, shown = "property:saturation", ", ".join(literal(v) for v in levels)
    if not short.any():
        return Finding(name, "pass", detail=f"{int(at.sum())} inputs whose truth rounds to "
                       f"{shown}, each giving it exactly")
    size = ulp_error(got[short], rounded[short], np.zeros(int(short.sum())), fmt)
    k = int(np.argmax(size))
    return Finding(name, "fail", float(size[k]), literal(x[short][k]),
                   literal(rounded[short][k]), literal(got[short][k]),
                   f"{int(short.sum())} of {int(at.sum())} inputs whose truth rounds to "
                   f"{shown} give something else, up to {fmt_ulp(float(size[k]))} ULP away",
                   {"tolerance": limit},
                   Severity.WRONG if size[k] > limit else Severity.ROUNDING)


def _at_zero(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` at ±0, for each x by its sign: what a subnormal input read as zero gives."""
    at = {}
    for negative in (False, True):
        zero = np.flatnonzero((x == 0) & (np.signbit(x) == negative))
        at[negative] = float(values[zero[0]]) if len(zero) else np.nan
    return np.where(np.signbit(x), at[True], at[False])


def _zeros(x: np.ndarray, truth: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, ...]:
    """What an input read as ±0 may give: the truth at ±0, and the implementation's own
    result at ±0 (its convention there: torch's leaky_relu'(0) is the slope, not 1)."""
    return _at_zero(x, truth), _at_zero(x, got)


F32_TINY = FORMATS["float32"].tiny


def _read_as_zero(x: np.ndarray, got: np.ndarray, zeros: tuple[np.ndarray, ...],
                  fmt: Format) -> np.ndarray:
    """Where a subnormal input's result is explained by the input read as zero
    (denormals-are-zero, in a format that hardware flushes): 0, f(±0) (the truth's or the
    implementation's own, see `_zeros`), or the input itself, passed through by a select
    whose test read it as 0 (leaky_relu's where(x >= 0, x, …))."""
    with np.errstate(invalid="ignore"):
        sub_in = (np.abs(x) < fmt.tiny) & (x != 0)
        explained = (got == 0) | (got == x)
        for at in zeros:
            explained |= (got == at) | (np.isnan(got) & np.isnan(at))
    return sub_in & explained & (fmt.tiny <= F32_TINY)


def _subnormal(name, x, sub, got, hi, lo, rounded, fmt, limit, zeros, scale=None) -> Finding:
    """Subnormal cases: within tolerance passes; a result of 0 (or f(0), the input flushed)
    where the truth is subnormal is flushing (`Severity.SUBNORMAL`) where hardware flushes:
    float32's subnormals (bfloat16's too) and float64's, under FTZ/DAZ. float16's
    subnormals are normal float32 numbers, which no flush mode touches: errors there are
    wrong values."""
    if not sub.any():
        return Finding(name, "pass", detail="no subnormal inputs or results in this dtype")
    err = ulp_error(got[sub], hi[sub], lo[sub], fmt, None if scale is None else scale[sub])
    bad = err > limit
    flushable = fmt.tiny <= F32_TINY
    with np.errstate(invalid="ignore"):
        zero = zeros[0][sub]
        flushed = (((got[sub] == 0) | (got[sub] == zero) | (np.isnan(got[sub]) & np.isnan(zero))
                    ) & flushable) | _read_as_zero(x[sub], got[sub], tuple(z[sub] for z in zeros),
                                                   fmt)
    xs, want_, got_ = x[sub], rounded[sub], got[sub]
    if not bad.any():
        return Finding(name, "pass", float(err.max()), detail=f"{int(sub.sum())} cases")
    real = bad & ~flushed
    pick = real if real.any() else bad
    i = int(np.flatnonzero(pick)[np.argmax(err[pick])])
    if real.any():
        why = "" if flushable else " (float16 subnormals are not flushed by any FTZ mode)"
        what = f"{int(real.sum())} of {int(sub.sum())} wrong{why}"
        severity = worst(classify(want_[real], got_[real], Severity.WRONG))
    else:
        what = f"flushes subnormals to zero: {int(bad.sum())} of {int(sub.sum())} cases"
        severity = Severity.SUBNORMAL
    return Finding(name, "fail", float(err[pick].max()), literal(xs[i]), literal(want_[i]),
                   literal(got_[i]), what, {"worst_index": i}, severity)


def _exact(name, x, want, got, ok, what, nan_in: np.ndarray | None = None) -> Finding:
    """Inputs whose result must be exact (bit for bit where ``ok`` says so). Of those that
    are not, the most severe is shown (`classify`, with the check's own kind; ``nan_in``:
    where the input holds a NaN, by default where x is NaN)."""
    if ok.all():
        return Finding(name, "pass", detail=f"{len(x)} {what}")
    if nan_in is None:
        nan_in = np.isnan(np.asarray(x, np.float64))
    bad = np.flatnonzero(~ok)
    ranks = classify(want[bad], got[bad], declared(name).severity, nan_in[bad])
    bad = bad[np.argsort(ranks, kind="stable")]
    i = int(bad[0])
    cases = "; ".join(f"x={literal(x[j])}: {literal(got[j])} not {literal(want[j])}"
                      for j in bad[:4])
    return Finding(name, "fail", None, literal(x[i]), literal(want[i]), literal(got[i]),
                   f"{len(bad)} of {len(x)} wrong: {cases}", {"worst_index": i}, worst(ranks))


def _gradient_findings(case: Case, ev: Evaluation, table: pd.DataFrame,
                       names: tuple[str, ...]) -> list[Finding]:
    act = case.act
    names = tuple(n for n in names if n in GRADIENT_CHECKS)
    try:
        vjp, jvp = ev.gradients()
    except CallError as e:
        return [Finding(n, e.status, detail=str(e)) for n in names]
    fmt, x = ev.fmt, ev.x64
    hi, lo, rounded = (table[c].to_numpy() for c in ("grad_hi", "grad_lo", "grad"))
    kink = np.isin(x, [at for at, _ in act.kinks_at(case.params)]) & np.isfinite(x)
    with np.errstate(invalid="ignore"):
        sub = _subnormal_cases(x, hi, rounded, fmt) & ~kink
        # a NaN input's derivative is not checked: 0 (a piecewise rule) is as good as NaN
        special = (np.isinf(x) | ~np.isfinite(hi)) & ~kink & ~np.isnan(x) & ~sub
    acc = ~special & ~sub & ~kink & ~np.isnan(x)
    limit = case.limit("gradient")
    out = []
    scale = boxes.grad_scale(act, x, case.params, fmt.name)  # 0 where none
    # each input's worse of the two, and which one that was (for the repro line)
    by_vjp = ulp_error(vjp, hi, lo, fmt, scale) >= ulp_error(jvp, hi, lo, fmt, scale)
    worse = np.where(by_vjp, vjp, jvp)

    def via(f: Finding, mask: np.ndarray) -> Finding:
        if "worst_index" in f.extra:
            f.extra["via"] = "vjp" if by_vjp[mask][f.extra["worst_index"]] else "jvp"
        return f

    if "gradient" in names:
        err = ulp_error(worse[acc], hi[acc], lo[acc], fmt, scale[acc])
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
        if f.status == "fail" and not all(k.documented for k in act.kinks):
            f.detail += " (jax.nn's convention, undocumented)"
        out.append(f)
    if "subnormal:gradient" in names:
        out.append(via(_subnormal("subnormal:gradient", x, sub, worse, hi, lo, rounded, fmt,
                                  limit, _zeros(x, rounded, worse), scale), sub))
    return out


def _second_finding(case: Case, ev: Evaluation, table: pd.DataFrame) -> Finding:
    """The second derivative, both ways (`Evaluation.seconds`), against its oracle table,
    classified as the derivative is: ULP error where the truth is ordinary, the catalog's
    limit at ±inf and infinite or NaN truths bit for bit, its convention at each kink
    and bend (`Severity.CONVENTION`), subnormal cases (flushing warns). One row: the
    most severe class's finding, the others summed up in its detail."""
    act, fmt, x = case.act, ev.fmt, ev.x64
    try:
        reverse, forward = ev.seconds()
    except CallError as e:
        return Finding(SECOND, e.status, detail=str(e))
    hi, lo, rounded = (table[c].to_numpy() for c in ("second_hi", "second_lo", "second"))
    bend = np.isin(x, [at for at, _ in act.bends_at(case.params)]) & np.isfinite(x)
    with np.errstate(invalid="ignore"):
        sub = _subnormal_cases(x, hi, rounded, fmt) & ~bend
        special = (np.isinf(x) | ~np.isfinite(hi)) & ~bend & ~np.isnan(x) & ~sub
    acc = ~special & ~sub & ~bend & ~np.isnan(x)
    limit = case.limit("second")
    scale = boxes.grad_scale(act, x, case.params, fmt.name, order=2)  # 0 where none
    by_reverse = (ulp_error(reverse, hi, lo, fmt, scale)
                  >= ulp_error(forward, hi, lo, fmt, scale))
    worse = np.where(by_reverse, reverse, forward)
    err = ulp_error(worse[acc], hi[acc], lo[acc], fmt, scale[acc])
    accuracy = (_worst(SECOND, x[acc], err, rounded[acc], worse[acc], limit, "inputs")
                if acc.any() else Finding(SECOND, "pass", detail="no ordinary inputs"))
    accuracy.extra["curve"] = (x[acc], err)
    found = [(accuracy, acc)]
    ok = _same(worse[special], rounded[special], np.zeros(int(special.sum()), bool))
    found.append((_exact(SECOND, x[special], rounded[special], worse[special], ok,
                         "at ±inf and infinite or NaN truths"), special))
    ok = _same(worse[bend], rounded[bend], np.zeros(int(bend.sum()), bool))
    at_bends = _exact("gradient:kinks", x[bend], rounded[bend], worse[bend], ok,
                      "kinks and bends with the catalog's convention")
    found.append((replace(at_bends, check=SECOND), bend))
    found.append((_subnormal(SECOND, x, sub, worse, hi, lo, rounded, fmt, limit,
                             _zeros(x, rounded, worse), scale), sub))
    parts = [g for g, _ in found]
    f = one_row(parts)
    mask = found[parts.index(f)][1]
    if "worst_index" in f.extra:
        f.extra["via"] = "grad2" if by_reverse[mask][f.extra["worst_index"]] else "jvp_grad"
    return f


def one_row(parts: list[Finding]) -> Finding:
    """One row from a check's parts (the first, its ordinary inputs): the most severe
    part's finding leads, its detail summing up the others'; where the first does not
    lead, it names its largest error, which the row's max_ulp (the leader's) is not."""
    bad = [g for g in parts if g.status != "pass"]
    lead = min(bad, key=lambda g: g.severity.rank if g.severity else 99) if bad else parts[0]
    first = parts[0]
    if lead is not first and first.worst_input:
        first.detail += f" (the largest {first.max_ulp:.3g} ULP)"
    others = "; ".join(g.detail for g in parts if g is not lead and g.detail)
    lead.detail = f"{lead.detail}; {others}" if others else lead.detail
    return lead


def _other_dtype(dtype: str) -> Any:
    return jnp.float16 if dtype == "float32" else jnp.float32


def _dtype_finding(fn: Callable[..., Any], case: Case) -> Finding:
    """The output dtype: the input's with the parameters as Python scalars (weakly typed);
    with the parameters as arrays of another dtype, JAX's promotion of the two
    (`jnp.result_type`, which jax.nn's arithmetic follows), or the input's where the
    catalog says the library casts them (`Activation.promotes`)."""
    act, params, dtype = case.act, case.params, case.dtype
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


JACOBIAN_INPUTS = 64  # jacfwd and jacrev build an n × n matrix: a few inputs suffice
JACOBIAN_RANGE = 64.0  # spread over |x| ≤ 64, where every activation bends


def _composed(f: Callable[..., Any], name: str, x: Any) -> Any:
    """The derivative at each entry of ``x`` by the composition ``name``, compiled whole
    (an outer jit changes no composition inside it, and runs in one call what eagerly
    would be hundreds)."""
    def scalar(s: Any) -> Any:  # a 0-d array, as jax.vmap hands each entry to f
        return f(s)

    def total(v: Any) -> Any:
        return jnp.sum(f(v))

    def transposed(v: Any) -> Any:
        return jax.linear_transpose(lambda t: jax.jvp(f, (v,), (t,))[1], v)(
            jnp.ones_like(v))[0]
    how = {"jit_grad": jax.grad(total),
           "grad_jit": jax.grad(lambda v: jnp.sum(jax.jit(f)(v))),
           "vmap_grad": jax.vmap(jax.grad(scalar)),
           "grad_vmap": jax.grad(lambda v: jnp.sum(jax.vmap(scalar)(v))),
           "linear_transpose": transposed}[name]
    return jax.jit(how)(x)


def _compositions(ev: Evaluation, case: Case, names: list[str]) -> list[Finding]:
    """Each composition (`COMPOSITIONS`) agrees with the plain derivative within the
    gradient tolerance, in ulps between the two (`apart`); a NaN or ∞ where the plain one
    is finite fails as such. jacfwd and jacrev: the same diagonal, and nothing off it (an
    elementwise function's Jacobian is diagonal)."""
    limit = case.limit("gradient")
    x = ev.x[:: max(1, len(ev.x) // 512)][:512]
    xs = x.astype(np.float64)
    try:
        plain = np.asarray(call(lambda: jitted(ev.f)[1](jnp.asarray(x),
                                                        jnp.ones_like(jnp.asarray(x))),
                                what="jax.vjp"), np.float64)
    except CallError as e:
        return [Finding(n, e.status, detail=str(e)) for n in names]
    out = []
    for name in names:
        how = name.partition(":")[2]
        try:
            if how == "jacfwd_jacrev":
                near = x[np.abs(xs) <= JACOBIAN_RANGE]
                pick = near[:: max(1, len(near) // JACOBIAN_INPUTS)][:JACOBIAN_INPUTS]
                out.append(_jacobians(ev, pick, limit))
                continue
            got = np.asarray(call(lambda how=how: _composed(ev.f, how, jnp.asarray(x)),
                                  what=how.replace("_", "∘")), np.float64).ravel()
        except CallError as e:
            out.append(Finding(name, e.status, detail=str(e)))
            continue
        out.append(_agreement(name, xs, got, plain, ev.fmt, limit, how))
    return out


def _agreement(name: str, x: np.ndarray, got: np.ndarray, want: np.ndarray, fmt: Format,
               limit: float, via: str) -> Finding:
    """``got`` against ``want`` (the same implementation's), in ulps between them."""
    if got.shape != want.shape:
        return Finding(name, "fail", detail=f"shape {got.shape}, not {want.shape}")
    err = apart(got, want, fmt)
    i = int(np.argmax(err)) if len(err) else 0
    top = float(err[i]) if len(err) else 0.0
    detail = f"{len(x)} inputs, {int(np.sum(err > limit))} over {limit:g} ULP"
    if top <= limit:
        return Finding(name, "pass", top, detail=detail)
    over = err > limit
    severity = worst(classify(want[over], got[over], Severity.WRONG))
    return Finding(name, "fail", top, literal(x[i]), literal(want[i]), literal(got[i]),
                   detail, {"via": via}, severity)


def _jacobians(ev: Evaluation, x: np.ndarray, limit: float) -> Finding:
    name = "transform:jacfwd_jacrev"
    xj = jnp.asarray(x)
    fwd = np.asarray(call(lambda: jax.jit(jax.jacfwd(ev.f))(xj), what="jax.jacfwd"),
                     np.float64)
    rev = np.asarray(call(lambda: jax.jit(jax.jacrev(ev.f))(xj), what="jax.jacrev"),
                     np.float64)
    if fwd.shape != (len(x), len(x)) or rev.shape != fwd.shape:
        return Finding(name, "fail", detail=f"Jacobians of shapes {fwd.shape} and {rev.shape}")
    off = ~np.eye(len(x), dtype=bool)
    for which, jac in (("jacfwd", fwd), ("jacrev", rev)):
        stray = off & (jac != 0) & ~np.isnan(jac)  # NaN · 0 off the diagonal: the NaN's
        if stray.any():
            i, j = (int(v[0]) for v in np.nonzero(stray))
            return Finding(name, "fail", None, literal(float(x[j])), "0.0",
                           literal(jac[i, j]), f"{which}: {int(stray.sum())} entries off "
                           f"the diagonal are not 0 (entry {i}, {j})")
    return _agreement(name, x.astype(np.float64), np.diag(rev), np.diag(fwd), ev.fmt, limit,
                      "jacfwd_jacrev")


def _transform_finding(ev: Evaluation, case: Case) -> Finding:
    """jit agrees with eager, and vmap with a loop, within the value tolerance."""
    limit = case.limit("value")
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
