"""Metamorphic properties: relations between an implementation's own results, checked
without the oracle (``property:NAME``), from the catalog's `Identity` entries.

An identity gives two sides, built from the implementation's results (``F.self(z)``,
``F.sigmoid(z)``, ...) and exact arithmetic on the inputs: σ(x) + σ(−x) against 1,
softmax(x + c) against softmax(x). Each result in a side carries what it may be off by:
the value tolerance of its activation, in ulps of the result (or of its row's size where
the activation's errors count in that, `Activation.slice_scale`), plus the smallest
normal number twice where the result is in the subnormal range (a flushed subnormal is
the `subnormal` check's, never a property's). The sides are combined in float64, and
that rounding is bounded too (a running error bound, `Side.noise`). So:

* sides further apart than the sum of their allowances: at least one of the results is
  wrong (`Severity.WRONG`), and the pair of inputs shows it without any oracle;
* sides apart by less, for an identity correct rounding keeps exactly (``exact``): a
  rounding wobble (`Severity.ROUNDING`, warn); for a ``strict`` one (a change in one row
  moving another), wrong at any difference;
* otherwise the identity holds as far as the tolerance can tell.

Only finite sides are judged: a NaN or ∞ where the truth is finite is the accuracy and
special checks' finding. Elementwise identities run on every input of the case's oracle
table that the accuracy check judges (`on_table`); a vector activation's on the rows of
`_rows` of a few lengths (`LENGTHS`), at its default parameters (`on_rows`); one_hot's on
its slices (`on_slices`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import catalog
from ..catalog import Activation, Identity, Kind
from ..oracles.formats import Format, log_ulp_of
from . import _rows, _vector
from ._call import CallError, array, call, precision
from ._elementwise import Case, jitted
from ._registry import Severity
from ._results import Finding, fmt_ulp, literal

EPS = 2.0**-53  # float64's unit roundoff: the bound of one rounding, relative
# the rows' lengths (of `_rows`): short ones, and past the edges of the common blocks (128,
# 1,024) and of float16's sums (2,048), to 100,000; each is one more function to compile
LENGTHS = (3, 129, 1025, 4097, 100_000)
SPOIL = 64.0  # what `Calls.spoiled` adds to the first row


class Side:
    """One side of an identity, elementwise: its ``value`` (float64); ``units``, Σ|c|·ulp of
    each result c·r in it; ``allowed``, what those results may be off by together (their
    tolerances and flush allowances); ``noise``, a bound on float64's rounding in
    combining them. An exact number or array is a side with nothing to allow."""

    __array_ufunc__ = None  # ndarray * Side is Side.__rmul__, not an object array

    def __init__(self, value: Any, units: Any = 0.0, allowed: Any = 0.0, noise: Any = 0.0):
        self.value, self.units, self.allowed, self.noise = np.broadcast_arrays(
            *(np.asarray(a, np.float64) for a in (value, units, allowed, noise)))

    @staticmethod
    def of(v: Any) -> Side:
        return v if isinstance(v, Side) else Side(v)

    def _then(self, value: np.ndarray, units, allowed, noise) -> Side:
        with np.errstate(invalid="ignore", over="ignore"):
            return Side(value, units, allowed, noise + EPS * np.abs(value))

    def __add__(self, other: Any) -> Side:
        o = Side.of(other)
        with np.errstate(invalid="ignore", over="ignore"):
            return self._then(self.value + o.value, self.units + o.units,
                              self.allowed + o.allowed, self.noise + o.noise)

    __radd__ = __add__

    def __neg__(self) -> Side:
        return Side(-self.value, self.units, self.allowed, self.noise)

    def __sub__(self, other: Any) -> Side:
        return self + (-Side.of(other))

    def __rsub__(self, other: Any) -> Side:
        return Side.of(other) + (-self)

    def __mul__(self, other: Any) -> Side:
        """To first order, |a|·Δb + |b|·Δa, and Δa·Δb for the second."""
        o = Side.of(other)
        a, b = np.abs(self.value), np.abs(o.value)
        with np.errstate(invalid="ignore", over="ignore"):
            return self._then(self.value * o.value, a * o.units + b * self.units,
                              a * o.allowed + b * self.allowed + self.allowed * o.allowed,
                              a * o.noise + b * self.noise + self.noise * o.noise)

    __rmul__ = __mul__

    def __getitem__(self, index: Any) -> Side:
        return Side(self.value[index], self.units[index], self.allowed[index],
                    self.noise[index])

    def sum(self) -> Side:
        """Along the last axis (kept): the value summed exactly, then rounded once."""
        value = np.array([math.fsum(r) for r in self.value.reshape(-1, self.value.shape[-1])])
        shape = (*self.value.shape[:-1], 1)
        return self._then(value.reshape(shape), *(np.sum(a, -1, keepdims=True) for a in (
            self.units, self.allowed, self.noise)))


class Missing(Exception):
    """An identity names an activation the implementation does not provide."""


Label = tuple[str, str, str, tuple[int, ...]]
Run = Callable[[Activation, Callable[..., Any], Mapping[str, Any], np.ndarray], np.ndarray]


class Calls:
    """``F`` in an identity's sides: the implementation's results as `Side`s, and what
    rows need. ``F.self(z)``: the activation under audit at the case's parameters;
    ``F.NAME(z)``: the implementation's NAME at its defaults; ``F.sum(s)``: along the
    last axis; ``F.first(x)``, ``F.second(x)``: a row's halves; ``F.perm(v)``: a fixed
    permutation of each row; ``F.others(v)``: every row but the first;
    ``F.spoiled(x)``: x with its first row moved (`SPOIL` added); ``F.c``: the shift
    that keeps each row exact (`Identity.grid`)."""

    def __init__(self, case: Case, lookup: Callable[[str], Callable[..., Any] | None],
                 run: Run, n: int = 0, c: np.ndarray | None = None):
        self._case, self._lookup, self._run = case, lookup, run
        self.c = c
        self.order = np.random.default_rng([7, n]).permutation(n) if n else None

    def _result(self, act: Activation, params: Mapping[str, Any], z: Any) -> Side:
        fn = self._lookup(act.name)
        if fn is None:
            raise Missing(act.name)
        z = np.asarray(z, np.float64)
        got = self._run(act, fn, params, z)
        fmt, case = self._case.fmt, self._case
        size = np.abs(got)
        if act.slice_scale is not None and got.ndim == 2:
            # the size the truth would give is not known here: the larger of the one the
            # results give and the one all-zero results give (standardize's 1 for a
            # constant row, whose results are rounding noise): lenient, never too strict
            scale = [max(act.slice_scale(zr, gr, {}), act.slice_scale(zr, 0 * gr, {}))
                     for zr, gr in zip(z, got, strict=True)]
            size = np.maximum(size, np.asarray(scale)[:, None])
        tol = case.tol.ulps(act.name, case.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            # ulps of the truth, which is within tol ulps of the result: at the top of a
            # binade it may be in the next one up, whose ulps are twice as large
            unit = np.ldexp(1.0, log_ulp_of(size, fmt))
            unit = np.ldexp(1.0, log_ulp_of(size + tol * unit, fmt))
            low = np.abs(got) < 2 * fmt.tiny
            if act.kind is not Kind.ELEMENTWISE and got.shape == z.shape:
                low &= np.isfinite(z)  # an entry of −inf gives an exact 0
        return Side(got, unit, tol * unit + np.where(low, 2 * fmt.tiny, 0.0))

    def self(self, z: Any) -> Side:
        return self._result(self._case.act, self._case.params, z)

    def __getattr__(self, name: str) -> Callable[[Any], Side]:
        if name not in catalog.CATALOG:
            raise AttributeError(name)
        act = catalog.CATALOG[name]
        return lambda z: self._result(act, act.variants()[0], z)

    @staticmethod
    def sum(s: Any) -> Side:
        return Side.of(s).sum()

    @staticmethod
    def first(x: np.ndarray) -> np.ndarray:
        return x[..., : x.shape[-1] // 2]

    @staticmethod
    def second(x: np.ndarray) -> np.ndarray:
        return x[..., x.shape[-1] // 2:]

    def perm(self, v: Any) -> Any:
        return v[..., self.order]

    @staticmethod
    def others(v: Any) -> Any:
        return v[1:]

    def spoiled(self, x: np.ndarray) -> np.ndarray:
        out = x.copy()
        out[0] = (x[0] + SPOIL).astype(self._case.fmt.dtype)
        return out


def grid(x: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Each row rounded onto a grid where it and it shifted by c are exact in ``fmt``:
    with every |x| < 2^E, a step of 2^(E+1−p) and c = 2^(E−1) keep every entry and
    entry + c below 2^(E+1) in p bits. Returns (rows, c per row); c is NaN for a row
    whose 2^(E+1) is past the format's range (nothing is judged there)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.where(np.isfinite(x), np.abs(x), 0.0)
        top = np.maximum(finite.max(axis=-1, keepdims=True), fmt.tiny)
        e = np.frexp(top)[1]  # top < 2**e
        step = np.ldexp(1.0, e + 1 - fmt.precision)
        q = np.where(np.isfinite(x), np.round(x / step) * step, x)
    return q, np.where(np.ldexp(1.0, e + 1) > fmt.max, np.nan, np.ldexp(1.0, e - 1))


def outcome(prop: Identity, F: Calls, x: np.ndarray, params: Mapping[str, Any]
            ) -> tuple[np.ndarray, ...]:
    """(lhs, rhs, |lhs − rhs|, units, allowed, noise) elementwise, broadcast together."""
    lhs, rhs = (Side.of(s) for s in prop.sides(F, x, **params))
    d = lhs - rhs
    arrays = np.broadcast_arrays(lhs.value, rhs.value, np.abs(d.value), d.units, d.allowed,
                                 d.noise)
    return tuple(np.asarray(a, np.float64) for a in arrays)


class Gathered:
    """An identity's outcomes over several calls, with a label for each point (the input
    that gives it) and where it is in its call's output."""

    def __init__(self) -> None:
        self.parts: list[tuple[tuple[np.ndarray, ...], Callable[[int], Label]]] = []

    def add(self, out: tuple[np.ndarray, ...], label: Callable[[int], Label]) -> None:
        """``label(i)``: of flat point i, (worst_input, where it is, the expression of the x
        that gives it, its index in `sides` at that x)."""
        self.parts.append((tuple(a.ravel() for a in out), label))

    def finding(self, prop: Identity, case: Case) -> Finding:
        """The worst comparison: the one past its allowance by the largest factor, else
        the largest difference; its size in ulps of the terms."""
        name, tol = f"property:{prop.name}", case.limit("value")
        kept = [(tuple(a[k] for a in out), label, np.flatnonzero(k)) for out, label in
                self.parts for k in [_judged(prop, out[0], out[1])]]
        if not kept:
            return Finding(name, "pass", None, detail=f"{prop.text}: nothing to compare")
        lhs, rhs, d, units, allowed, noise = (np.concatenate([k[0][i] for k in kept])
                                              for i in range(6))
        d = np.where(np.isfinite(lhs) & np.isfinite(rhs), d, np.inf)  # strict: NaN against 1
        n = len(d)
        differs = d > noise  # float64's own rounding in combining them is no difference
        if not differs.any():
            return Finding(name, "pass", 0.0 if n else None,
                           detail=f"{prop.text}: " + (f"holds exactly at {n} comparisons"
                                                      if n else "no finite results to compare"))
        with np.errstate(invalid="ignore", divide="ignore"):
            measure = np.where(units > 0, d / units, np.inf)
            over = d > allowed + noise
            ratio = np.where(differs, d / (allowed + noise), 0.0)
        severity = None
        if over.any() or (prop.strict and differs.any()):
            severity, pick = Severity.WRONG, over if over.any() else differs
        elif prop.exact and differs.any():
            severity, pick = Severity.ROUNDING, differs
        else:
            pick = differs
        i = int(np.flatnonzero(pick)[np.argmax(np.where(pick, ratio, -1.0)[pick])])
        starts = np.cumsum([0] + [len(k[2]) for k in kept])
        part = int(np.searchsorted(starts, i, side="right") - 1)
        worst_input, where, x_text, at = kept[part][1](int(kept[part][2][i - starts[part]]))
        top = float(measure[i])
        text = (f"{prop.text}: {int(over.sum())} of {n} comparisons apart by more than "
                f"their results' tolerance" if severity is Severity.WRONG and over.any() else
                f"{prop.text}: {int(differs.sum())} of {n} comparisons differ" if severity
                else f"{prop.text}: holds at {n} comparisons")
        detail = (f"{text}; the worst by {fmt_ulp(top)} ulps of its terms (each result "
                  f"within {tol:g} ULP keeps it within about {tol:g}){where}")
        status = "pass" if severity is None else "fail"
        extra: dict[str, Any] = {"tolerance": tol, "n": n}
        if severity is not None:
            extra["repro"] = repro(case, prop, x_text, at)
        return Finding(name, status, top, worst_input, literal(float(rhs[i])),
                       literal(float(lhs[i])), detail, extra, severity)


def _judged(prop: Identity, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """The comparisons judged: where both sides are finite; for a ``strict`` identity also
    where they differ in being finite (a row made NaN by another), not both NaN or the
    same infinity."""
    finite = np.isfinite(lhs) & np.isfinite(rhs)
    if not prop.strict:
        return finite
    same = (lhs == rhs) | (np.isnan(lhs) & np.isnan(rhs))
    return finite | ~same


def identities(case: Case) -> list[Identity]:
    """The catalog's identities for ``case`` whose rows it wants."""
    wanted = set(case.names())
    return [p for p in case.act.properties if isinstance(p, Identity)
            and f"property:{p.name}" in wanted]


def runner(case: Case, lead: tuple[int, ...] = ()) -> Run:
    """How ``F`` calls a function: an elementwise one on the array as it is; one along an
    axis on rows (`_rows.laid_out`, a 2-D array of rows laid out as ``lead`` where it
    holds as many: the rows check's layout, whose compiled function XLA's cache then
    holds), giving a row of results per row; one_hot on slices of indices (`_vector`),
    giving a row of classes per index. Each compiled once per shape."""
    fmt, compiled = case.fmt, {}

    def run(act: Activation, fn: Callable[..., Any], params: Mapping[str, Any],
            z: np.ndarray) -> np.ndarray:
        key = (act.name, repr(sorted(params.items())), z.shape)
        if act.kind is Kind.ELEMENTWISE:
            f = compiled.setdefault(key, jitted(partial(fn, **params) if params else fn)[0])
            x = z.astype(fmt.dtype)
            out = call(lambda: f(jnp.asarray(x)), what=f"{act.name} (jit)")
            return array(out, x.shape, fmt.dtype, act.name).astype(np.float64)
        if act.kind is Kind.INDEX:
            f = compiled.setdefault(key, jax.jit(_vector._laid_out(act, params, fn, params)))
            out = call(lambda: f(jnp.asarray(z, np.int32)), what=f"{act.name} (jit)")
            return np.asarray(jax.tree.leaves(out)[0], np.float64)
        rows, n = z.shape
        layout = lead if lead and math.prod(lead) == rows else (rows,)
        f = compiled.setdefault(key, jax.jit(partial(
            _rows.laid_out(act, params, fn, layout, n), kw=dict(params))))
        out = call(lambda: f(jnp.asarray(z.astype(fmt.dtype))),
                   what=f"{act.name} on rows of {n}")
        return np.stack(_vector._per_slice(out, rows))
    return run


def _finding(prop: Identity, fill: Callable[[], Gathered], case: Case) -> Finding:
    """The identity's finding from what ``fill`` gathers: a skip where the implementation
    lacks a function it names, an error where a call fails."""
    try:
        gathered = fill()
    except Missing as e:
        return Finding(f"property:{prop.name}", "skip",
                       detail=f"{prop.text}: the implementation has no {e.args[0]}")
    except CallError as e:
        return Finding(f"property:{prop.name}", e.status, detail=f"{prop.text}: {e}")
    return gathered.finding(prop, case)


Lookup = Callable[[str], Callable[..., Any] | None]


def on_table(case: Case, lookup: Lookup, x: np.ndarray, judged: np.ndarray
             ) -> list[Finding]:
    """The elementwise identities of ``case`` on its table's inputs ``x`` (float64 values
    of the format), judged where ``judged`` (those the accuracy check judges). The calls
    take the whole table, the shape the value checks compiled the function for."""
    run, params = runner(case), case.act.math_params(case.params)

    def fill(prop: Identity) -> Gathered:
        g = Gathered()
        out = outcome(prop, Calls(case, lookup, run), x, params)
        out = tuple(np.where(judged, a, np.nan) if k < 2 else a for k, a in enumerate(out))
        g.add(out, lambda i: (literal(float(x[i])), "", f"[{_py(float(x[i]))}]", (0,)))
        return g
    return [_finding(p, partial(fill, p), case) for p in identities(case)]


def on_slices(case: Case, lookup: Lookup, xs: np.ndarray) -> list[Finding]:
    """one_hot's identities on its slices of indices (``xs``, one slice a row). A slice the
    library refuses (torch's one_hot raises on a negative index, a convention the special
    check reports) is left out, and the others are judged."""
    run, params = runner(case), case.act.math_params(case.params)

    def fill(prop: Identity) -> Gathered:
        g = Gathered()
        for s in range(len(xs)):
            x = xs[s:s + 1]
            try:
                out = outcome(prop, Calls(case, lookup, run), x, params)  # a value per index
            except CallError as e:
                if e.status != "error" or (s == len(xs) - 1 and not g.parts):
                    raise
                continue
            text = "[[" + ", ".join(_py(v) for v in x[0]) + "]]"
            g.add(out, lambda i, x=x, text=text, shape=out[0].shape: (
                literal(float(x.reshape(-1)[i])), "", text,
                tuple(int(k) for k in np.unravel_index(i, shape))))
        return g
    return [_finding(p, partial(fill, p), case) for p in identities(case)]


def on_rows(case: Case, lookup: Lookup) -> list[Finding]:
    """A vector activation's identities and row-wise bounds on the rows of `_rows` of
    the `LENGTHS`, at its default parameters (other variants want none:
    `_registry.at_variant`)."""
    act, dtype, fmt = case.act, case.dtype, case.fmt
    wanted = set(case.names())
    if not _rows.applies(act) or not any(n.startswith("property:") for n in wanted):
        return []
    todo = [c for c in _rows.calls(act, case.params, dtype) if c.n in LENGTHS]
    runs = {c.n: runner(case, c.lead) for c in todo}
    out = []
    if "property:bounds" in wanted:
        out.append(_row_bounds(case, lookup, runs, todo))

    def fill(prop: Identity) -> Gathered:
        g = Gathered()
        for c in todo:
            x, shift = grid(c.xs, fmt) if prop.grid else (c.xs, None)
            got = outcome(prop, Calls(case, lookup, runs[c.n], c.n, shift), x,
                          act.math_params(case.params))
            rows, width = got[0].shape[0], got[0].shape[-1]
            skipped = c.xs.shape[0] - rows  # F.others: every row but the first

            def label(i: int, c: _rows.Call = c, skipped: int = skipped, width: int = width
                      ) -> Label:
                r = skipped + i // width
                text = _rows.row_text(c.patterns[r], c.n, dtype)
                shifted = "" if not prop.grid else " (put on the grid of `grid`)"
                at = f"; at output {i % width} of that row" if width > 1 else ""
                rows = ", ".join(_rows.row_text(p, c.n, dtype) for p in c.patterns)
                return text, f"{at}{shifted}", f"np.stack([{rows}])", (i // width, i % width)
            g.add(got, label)
        return g
    return out + [_finding(p, partial(fill, p), case) for p in identities(case)]


def _row_bounds(case: Case, lookup: Lookup, runs: dict[int, Run], todo: list[_rows.Call]
                ) -> Finding:
    """`Bounds` on rows: a constant one broken is wrong; one that is a function of the row
    broken by more than the value tolerance is wrong, by less a rounding wobble (the
    truth may be the bound: a row of ties)."""
    act, tol, name = case.act, case.limit("value"), "property:bounds"
    bounds = [(side, b) for p in act.properties if isinstance(p, catalog.Bounds)
              for side, b in (("lo", p.lo), ("hi", p.hi))]
    worst: tuple[int, float, str, str, str] | None = None  # (rank, ulps, row, bound, got)
    n_seen = n_out = 0
    try:
        for c in todo:
            got = Calls(case, lookup, runs[c.n], c.n).self(c.xs).value
            for r, (xs, ys) in enumerate(zip(c.xs, got, strict=True)):
                ys = ys[np.isfinite(ys)]
                n_seen += len(ys)
                for side, bound in bounds:
                    b, past = _past(act, case.fmt, side, bound, xs, ys)
                    n_out += int(np.sum(past > 0))
                    k = int(np.argmax(past)) if len(past) else 0
                    if not len(past) or past[k] <= 0:
                        continue
                    ulps = float(past[k])
                    rank = (Severity.ROUNDING if ulps <= tol else Severity.WRONG).rank
                    if worst is None or (rank, -ulps) < worst[:2]:  # most severe, farthest
                        worst = (rank, ulps, _rows.row_text(c.patterns[r], c.n, case.dtype),
                                 f"≥ {literal(b)}" if side == "lo" else f"≤ {literal(b)}",
                                 literal(float(ys[k])))
    except CallError as e:
        return Finding(name, e.status, detail=str(e))
    if worst is None:
        return Finding(name, "pass", detail=f"{n_seen} finite results within their bounds, "
                       f"on rows of {len(todo)} lengths")
    rank, ulps, row, where, got_text = worst
    return Finding(name, "fail", ulps if math.isfinite(ulps) else None, row, where, got_text,
                   f"{n_out} of {n_seen} finite results past their bounds"
                   + (f", the worst by {fmt_ulp(ulps)} ULP" if math.isfinite(ulps) else ""),
                   {"tolerance": tol}, list(Severity)[rank])


def _past(act: Activation, fmt: Format, side: str, bound: Any, xs: np.ndarray,
          ys: np.ndarray) -> tuple[float, np.ndarray]:
    """The bound for row ``xs``, and how far each result ``ys`` is past it: for a
    constant bound ∞ (any amount is wrong); for a function of the row, in ulps past the
    bound rounded (correct rounding may take a result half an ulp past a real bound), of
    the row's size where its errors count in that (`slice_scale`); ≤ 0 within it."""
    b = float(bound(xs)) if callable(bound) else float(bound)
    if not math.isfinite(b):
        return b, np.zeros(0)
    past = (b - ys) if side == "lo" else (ys - b)
    if not callable(bound):
        return b, np.where(past > 0, np.inf, past)
    size = max(abs(b), act.slice_scale(xs, ys, {}) if act.slice_scale else 0.0)
    with np.errstate(over="ignore"):  # far inside: −inf
        return b, (past - 4 * EPS * abs(b)) / fmt.ulp(size) - 0.5


def _py(v: float) -> str:
    text = literal(v)
    return f"float('{text}')" if text in ("inf", "-inf", "nan") else text


def repro(case: Case, prop: Identity, x_text: str, at: tuple[int, ...]) -> str:
    """A line that prints the identity's two sides (expected, then got) where the finding
    shows them, computed as the check computed them (`sides`)."""
    params = "" if not case.params else f", {dict(case.params)!r}"
    index = "[" + ", ".join(str(k) for k in at) + "]"
    return (f"python -c \"import numpy as np; from actaudit.checks import long_row, sides; "
            f"got, expected = sides({case.spec!r}, {case.act.name!r}, {prop.name!r}, "
            f"{case.dtype!r}, {x_text}{params}); print(expected{index}, got{index})\"")


def sides(spec: str, activation: str, name: str, dtype: str, x: Any,
          params: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two sides (float64 arrays) of ``activation``'s identity ``name`` with the
    functions of ``spec``, at ``x``: the inputs of an elementwise activation, the rows of
    one along an axis (a 2-D array), one_hot's slices of indices; at ``params``, the
    activation's defaults where None. float64 runs in JAX's 64-bit mode."""
    from .. import impl
    from ._tolerances import Tolerances

    act = catalog.get(activation)
    found = [p for p in act.properties if isinstance(p, Identity) and p.name == name]
    if not found:
        known = ", ".join(p.name for p in act.properties if isinstance(p, Identity))
        raise ValueError(f"{activation} has no identity {name!r}; known: {known or 'none'}")
    params = dict(act.variants()[0] if params is None else params)
    case = Case(spec, act, params, dtype, Tolerances())
    x = np.asarray(x, np.float64)
    with precision(dtype):
        shift = None
        if found[0].grid:
            x, shift = grid(x, case.fmt)
        n = x.shape[-1] if x.ndim == 2 and _rows.applies(act) else 0
        F = Calls(case, impl.load(spec).get, runner(case), n, shift)
        lhs, rhs, *_ = outcome(found[0], F, x, act.math_params(params))
    return lhs, rhs
