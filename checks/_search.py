"""The search: hypothesis looking for the input where an implementation is worst.

The other checks take their inputs from fixed sets: every input of float16 and bfloat16,
a few points a binade of float32 and float64, nine slices of six entries, the long rows'
patterns. An implementation can be worse between them. Here hypothesis searches each
(implementation, activation, variant, dtype) for its worst input: every example's ULP
error against the certified oracle goes to `hypothesis.target`, which steers the search
towards larger errors, and an example over the tolerance is shrunk to a minimal one.

* Elementwise: x in float64 and float32 (hypothesis's floats of that width, the domain's,
  near zero and anywhere), the value and the derivative (jax.vjp and jax.jvp, the worse);
  float16 and bfloat16 are checked at every input by the other checks.
* Along an axis and glu: rows in every dtype, one to two at a time, given as a 1-D, 2-D
  or 3-D array along the variant's axis (`_rows.laid_out`). A row is drawn entry by entry
  (float16 and bfloat16 from their bit patterns, by ml_dtypes: hypothesis has no
  bfloat16) with its mask or b drawn too, or built by a `long_row` recipe whose pattern,
  length, seed, shift and scale hypothesis draws (a mask or b then as the rows check
  gives them); a reduction's gradient is searched with its value.

Findings are ``accuracy:search`` and ``gradient:search``: the worst error found, in ulps
of the truth as the sampled checks count it (the same classes: subnormal and special
inputs and results are left to their own checks). A search gives a lower bound on the
maximum, and its row says so. Profiles (`PROFILES`): ``ci`` replays the same examples in
every run (derandomized) within a small budget; ``dev`` draws new ones each run;
``thorough`` draws many more, and rows up to 256,000 entries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from ..catalog import Kind
from ..oracles import OracleError, evaluate, tables
from ..oracles import filter as boxes
from ..oracles.formats import Format, ulp_error
from . import _repro, _rows
from ._call import CallError, array, call
from ._elementwise import Case, jitted
from ._registry import Severity, classify, worst
from ._results import Finding, fmt_ulp, literal
from ._vector import B, _per_slice


@dataclass(frozen=True)
class Profile:
    """How hard to search one case. ``examples``: hypothesis's examples per elementwise
    case, ``rows`` per vector case; ``short``: the lengths of rows drawn entry by entry;
    ``lengths``: those of `long_row` recipes (a tuple: those; a number: any up to it),
    with ``huge`` too; ``seconds``: the time after which a case's search draws nothing
    new (a slow implementation's search stops there and says so)."""

    name: str
    examples: int
    rows: int
    short: tuple[int, ...] | int
    lengths: tuple[int, ...] | int
    seconds: float
    derandomize: bool
    huge: tuple[int, ...] = ()
    layouts: tuple[tuple[int, ...], ...] = ((), (2,), (1, 2))  # a 1-D, 2-D, 3-D array


PROFILES: dict[str, Profile] = {p.name: p for p in (
    # the default: the same examples in every run, under a second a case; rows as 1-D
    # arrays (the rows check takes 2-D and 3-D ones) of three lengths, each length one
    # compilation
    Profile("ci", 60, 16, (3, 16), (129,), 5.0, True, layouts=((),)),
    # new examples in every run, rows up to 4,097 entries
    Profile("dev", 500, 100, 32, 4097, 30.0, False),
    # ten times dev's examples, rows up to 100,000 entries and, one recipe in 16, 256,000
    Profile("thorough", 5_000, 400, 64, 100_000, 60.0, False, huge=(256_000,)),
)}
DEFAULT = "ci"
TOP = 2.0 ** 1000  # what `target` is told for an infinite error (it takes finite numbers)


def profile(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones otherwise ("off",
    no search, is the caller's to take)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown search profile {name!r}; known: {', '.join(PROFILES)}, "
                         f"or off") from None


@dataclass
class Scored:
    """One example's error for one finding, with what its row shows."""

    err: float
    shown: str  # the input: a literal, or the `long_row` call that builds the row
    want: float
    got: float
    repro: Callable[[], str]  # its repro line, built if it is reported


@dataclass
class Hunt:
    """What a search found: per finding, the worst example and the last failing one (at
    the end of a search that failed, hypothesis's shrunk, minimal example)."""

    examples: int = 0
    undecided: int = 0  # inputs the oracle could not certify (not scored)
    out_of_time: bool = False
    error: CallError | None = None
    worst: dict[str, Scored] = field(default_factory=dict)
    minimal: dict[str, Scored] = field(default_factory=dict)

    def offer(self, name: str, s: Scored) -> None:
        if name not in self.worst or s.err > self.worst[name].err:
            self.worst[name] = s


class _Over(Exception):
    """An example over the tolerance: hypothesis shrinks it."""


def hunt(strategy: st.SearchStrategy, score: Callable[[Any], dict[str, Scored]],
         limits: Mapping[str, float], prof: Profile, examples: int) -> Hunt:
    """Search ``strategy`` for the examples where ``score`` (each finding's error, where
    the example is in that finding's class) is largest: ``examples`` of them, steered by
    `target`, then up to a quarter more in which the first over its finding's limit is
    shrunk to a minimal one (a search that failed at once would find only a lower bound
    as small as the limit). Every example is scored once; past ``prof.seconds`` only
    those already scored count, so that hypothesis ends, its shrinking too, without
    drawing new ones."""
    found = Hunt()
    memo: dict[str, dict[str, Scored]] = {}
    start = time.monotonic()

    @settings(max_examples=examples + max(10, examples // 4), derandomize=prof.derandomize,
              database=None, deadline=None, verbosity=Verbosity.quiet,
              report_multiple_bugs=False, suppress_health_check=list(HealthCheck),
              print_blob=False, phases=(Phase.generate, Phase.target, Phase.shrink))
    @given(strategy)
    def search(example: Any) -> None:
        key = repr(example)
        scores = memo.get(key)
        if scores is None:
            if found.error is not None:
                return
            if time.monotonic() - start > prof.seconds:
                found.out_of_time = True
                return
            try:
                scores = score(example)
            except CallError as e:
                found.error = e
                return
            except OracleError:
                found.undecided += 1
                scores = {}
            memo[key] = scores
            found.examples += 1
        over = False
        for name, s in scores.items():
            if name not in limits:  # a search asked for the derivative alone
                continue
            target(math.log2(1.0 + min(s.err, TOP)), label=name)
            found.offer(name, s)
            if s.err > limits[name] and len(memo) > examples:
                found.minimal[name] = s
                over = True
        if over:
            raise _Over

    try:
        search()
    except (_Over, HypothesisException):  # a failure, shrunk (flaky or not: it is ours)
        pass
    return found


def check(case: Case, fn: Callable[..., Any]) -> list[Finding]:
    """``accuracy:search`` and ``gradient:search`` of one case."""
    names = [n for n in case.names() if n.endswith(":search")]
    if not names or case.search is None:
        return []
    prof = profile(case.search)
    limits = {"accuracy:search": case.limit("value"), "gradient:search": case.limit("gradient")}
    limits = {n: v for n, v in limits.items() if n in names}
    if case.act.kind is Kind.ELEMENTWISE:
        strategy, score, n = _points(case), _point_score(case, fn, names), prof.examples
    else:
        strategy, score, n = _drawn(case, prof), _row_score(case, fn, names), prof.rows
    found = hunt(strategy, score, limits, prof, n)
    if found.error is not None:
        return [Finding(name, found.error.status, detail=str(found.error)) for name in names]
    return [_finding(name, found, limits[name], prof) for name in names]


def _finding(name: str, found: Hunt, limit: float, prof: Profile) -> Finding:
    what = (f"{found.examples} examples searched (hypothesis, profile {prof.name}"
            f"{', derandomized' if prof.derandomize else ''}")
    what += f", stopped at its {prof.seconds:g} s budget)" if found.out_of_time else ")"
    if found.undecided:
        what += f", {found.undecided} of them left out: the oracle could not certify them"
    s = found.worst.get(name)
    if s is None:
        return Finding(name, "pass", detail=f"{what}; none in this check's class")
    what += f": the worst error found {fmt_ulp(s.err)} ULP"
    bound = "a lower bound on the maximum"
    if s.err <= limit:
        return Finding(name, "pass", s.err, s.shown, literal(s.want), literal(s.got),
                       f"{what}, {bound}", {"tolerance": limit, "n": found.examples})
    what += f", over {limit:g} ({bound})"
    small = found.minimal.get(name)
    if small is not None and small.shown != s.shown:
        what += (f"; the smallest failing input, shrunk: {small.shown}, {fmt_ulp(small.err)} "
                 f"ULP (expected {literal(small.want)}, got {literal(small.got)})")
    severity = worst(classify(np.array([s.want]), np.array([s.got]), Severity.WRONG))
    return Finding(name, "fail", s.err, s.shown, literal(s.want), literal(s.got), what,
                   {"tolerance": limit, "n": found.examples, "repro": s.repro()}, severity)


# -- elementwise -------------------------------------------------------------------------

WIDTH = {"float32": 32, "float64": 64}


def _points(case: Case) -> st.SearchStrategy[float]:
    """x in the format: near zero, and anywhere in the domain."""
    lo, hi = case.act.domain
    bounds = {"min_value": lo if math.isfinite(lo) else None,
              "max_value": hi if math.isfinite(hi) else None}
    near = {"min_value": max(lo, -64.0), "max_value": min(hi, 64.0)}
    width = WIDTH[case.dtype]
    return st.one_of(st.floats(**near, width=width),
                     st.floats(**bounds, allow_nan=False, allow_infinity=False, width=width))


def _point_score(case: Case, fn: Callable[..., Any], names: list[str]
                 ) -> Callable[[float], dict[str, Scored]]:
    act, params, fmt = case.act, dict(case.params), case.fmt
    f = partial(fn, **params) if params else fn
    value_of, vjp_of, jvp_of, *_ = jitted(f)
    kinks = {at for at, _ in act.kinks_at(params)}
    grad = "gradient:search" in names

    def truth(x: float, derivative: bool) -> tuple[float, float, float] | None:
        """(hi, lo, rounded), or None where the truth is not in the accuracy class
        (infinite or NaN: special; below twice the smallest normal: subnormal)."""
        e = evaluate(act, x, params, grad=derivative, formats=(fmt,))
        want = e.rounded[fmt.name]
        if not math.isfinite(e.hi) or min(abs(want), abs(e.hi)) < 2 * fmt.tiny:
            return None
        return e.hi, e.lo, want

    def score(x: float) -> dict[str, Scored]:
        xs = np.array([x], fmt.dtype)
        x = float(xs[0])
        if not math.isfinite(x) or abs(x) < fmt.tiny:  # ±0 and subnormal: other checks'
            return {}
        xj = jnp.asarray(xs)
        ones = jnp.ones_like(xj)
        calls = [(lambda: value_of(xj), "the function (jit)")]
        if grad:  # each its own call, as the other checks make them (each compiles once)
            calls += [(lambda: vjp_of(xj, ones), "jax.vjp"), (lambda: jvp_of(xj, ones), "jax.jvp")]
        got = [float(array(call(f, what=what), (1,), fmt.dtype, what)[0]) for f, what in calls]
        out = {}
        t = truth(x, False)
        if "accuracy:search" in names and t is not None:
            out["accuracy:search"] = _scored(x, t, got[0], fmt, 0.0, case, "value")
        t = truth(x, True) if grad and x not in kinks else None
        if t is not None:
            scale = float(boxes.grad_scale(act, xs.astype(np.float64), params, fmt.name)[0])
            by = [_scored(x, t, g, fmt, scale, case, via)
                  for g, via in zip(got[1:], ("vjp", "jvp"), strict=True)]
            out["gradient:search"] = max(by, key=lambda s: s.err)
        return out

    return score


def _scored(x: float, truth: tuple[float, float, float], got: float, fmt: Format,
            scale: float, case: Case, via: str) -> Scored:
    hi, lo, want = truth
    err = float(ulp_error(np.array([got]), np.array([hi]), np.array([lo]), fmt,
                          np.array([scale]) if scale else None)[0])
    return Scored(err, literal(x), want, got, lambda: _repro.repro(
        case.spec, case.act, case.params, case.dtype, x, via))


# -- rows --------------------------------------------------------------------------------

def _entries(fmt: Format) -> st.SearchStrategy[float]:
    """One entry of a row in ``fmt``: a bit pattern of a 16-bit format (a NaN pattern
    stands for −inf, a masked-out logit), any float32 or float64, or a small one. Never
    a subnormal one (a subnormal pattern stands for a zero of its sign): hardware that
    reads them as zero (DAZ) changes the row, which is the elementwise `subnormal`
    check's finding, not this one's."""
    small = st.integers(-96, 96).map(lambda k: k / 4)
    if fmt.dtype.itemsize == 2:
        def value(bits: int) -> float:
            v = float(np.array(bits, np.uint16).view(fmt.dtype))
            if math.isnan(v):
                return -math.inf
            return math.copysign(0.0, v) if abs(v) < fmt.tiny else v
        anywhere = st.integers(0, 0xFFFF).map(value)
    else:
        anywhere = st.floats(allow_nan=False, allow_subnormal=False, width=WIDTH[fmt.name])
    return st.one_of(small, anywhere)


def _lengths(given: tuple[int, ...] | int, low: int = 1) -> st.SearchStrategy[int]:
    return (st.integers(low, given) if isinstance(given, int)
            else st.sampled_from(tuple(n for n in given if n >= low)))


@st.composite
def _drawn(draw: Any, case: Case, prof: Profile) -> _rows.Call:
    """One call: one or two rows, each drawn entry by entry or built by a recipe."""
    act, fmt = case.act, case.fmt
    gated = act.kind is Kind.GATED
    lead = draw(st.sampled_from(prof.layouts))
    count = math.prod(lead) if lead else 1
    if draw(st.booleans()):  # entry by entry
        n = draw(_lengths(prof.short))
        n += n % 2 if gated else 0
        flat = draw(st.lists(_entries(fmt), min_size=count * n, max_size=count * n))
        xs = np.array(flat, np.float64).astype(fmt.dtype).astype(np.float64).reshape(count, n)
        labels = tuple(literal_row(r) for r in xs)
        concrete = _drawn_params(draw, case.params, n, fmt)
    else:
        huge = bool(prof.huge) and draw(st.integers(0, 15)) == 15  # one recipe in 16
        n = draw(st.sampled_from(prof.huge) if huge else
                 _lengths(prof.lengths, 2 if gated else 1))
        n += n % 2 if gated else 0
        pattern = draw(st.sampled_from(tuple(_rows.PATTERNS)))
        shift = draw(st.integers(-4096, 4096)) / 4
        scale = 2.0 ** draw(st.integers(-4, 4))
        seeds = [draw(st.integers(0, 1 << 16)) for _ in range(count)]
        recipes = [dict(seed=s, shift=shift, scale=scale) for s in seeds]
        xs = np.stack([_rows.long_row(pattern, n, case.dtype, **r) for r in recipes])
        labels = tuple(_rows.row_text(pattern, n, case.dtype, **r) for r in recipes)
        concrete = _rows.resized(case.params, n)
    kw = {k: jnp.asarray(v, fmt.dtype if k == "b" else bool) for k, v in concrete.items()
          if k in ("where", "b")}
    return _rows.Call(n, labels, xs, {**case.params, **concrete}, kw, lead)


def literal_row(row: np.ndarray) -> str:
    return f"[{', '.join(literal(v) for v in row)}]"


def _drawn_params(draw: Any, params: Mapping[str, Any], n: int, fmt: Format
                  ) -> dict[str, Any]:
    """A mask or b of ``n`` entries, drawn: a b in the variant's spirit (with zeros, or
    of mixed sign), its entries values of ``fmt``."""
    out: dict[str, Any] = {}
    if params.get("where") == "random":
        out["where"] = tuple(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if isinstance(params.get("b"), str):
        pool = sorted({abs(v) for v in B[params["b"]]} | {0.0, 0.25, 3.0})
        if params["b"] == "mixed_sign":
            pool += [-v for v in pool if v]
        b = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        out["b"] = tuple(float(v) for v in np.array(b, fmt.dtype))
    return out


def _row_score(case: Case, fn: Callable[..., Any], names: list[str]
               ) -> Callable[[_rows.Call], dict[str, Scored]]:
    act, fmt, dtype = case.act, case.fmt, case.dtype
    grad = "gradient:search" in names
    compiled: dict[tuple[int, ...], Callable[..., Any]] = {}

    arrays = ("where", "b")  # the parameters drawn with each row: arguments of the call
    fixed = {k: v for k, v in case.params.items() if k not in arrays}
    given = partial(fn, **fixed) if fixed else fn

    def runner(lead: tuple[int, ...], n: int) -> Callable[..., Any]:
        """One compiled function per layout and length; a mask or b is an argument."""
        if (lead, n) not in compiled:
            f = _rows.laid_out(act, case.params, given, lead, n)
            if grad:
                def both(xs, kw, f=f):
                    first = lambda v: jnp.sum(jax.tree.leaves(f(v, kw))[0])  # noqa: E731
                    return f(xs, kw), jax.grad(first)(xs)
                compiled[(lead, n)] = jax.jit(both)
            else:
                compiled[(lead, n)] = jax.jit(f)
        return compiled[(lead, n)]

    def score(c: _rows.Call) -> dict[str, Scored]:
        f = runner(c.lead, c.n)
        x_in = jnp.asarray(c.xs, fmt.dtype)
        out = call(lambda: f(x_in, c.call), what=f"the function on rows of {c.n}")
        value, g = out if grad else (out, None)
        found: dict[str, Scored] = {}
        per = _per_slice(value, len(c.patterns))
        for i, (label, xs, got) in enumerate(zip(c.patterns, c.xs, per, strict=True)):
            t = tables.compute_row(act.name, c.oracle, dtype, xs.tolist(), False)
            if len(got) != len(t):
                raise CallError(f"{len(got)} outputs for a row of {c.n}, expected {len(t)}")
            scale = act.slice_scale(xs, t[:, 2], c.oracle) if act.slice_scale else 0.0
            s = _worst_of(t, got, fmt, scale, label, c, case, i, False)
            if s is not None:
                found["accuracy:search"] = max((found.get("accuracy:search", s), s),
                                               key=lambda v: v.err)
            if g is not None:
                t = tables.compute_row(act.name, c.oracle, dtype, xs.tolist(), True)
                if not np.isfinite(t[:, 0]).all():  # reverse mode spreads ∞·0 = NaN: left
                    continue  # to the gradient check's classes (`_vector._spoilable`)
                gi = np.asarray(g, np.float64).reshape(len(c.patterns), -1)[i]
                finite = np.abs(t[:, 0][np.isfinite(t[:, 0])])
                s = _worst_of(t, gi, fmt, float(finite.max()) if len(finite) else 0.0, label,
                              c, case, i, True)
                if s is not None:
                    found["gradient:search"] = max((found.get("gradient:search", s), s),
                                                   key=lambda v: v.err)
        return found

    return score


def _worst_of(t: np.ndarray, got: np.ndarray, fmt: Format, scale: float, label: str,
              c: _rows.Call, case: Case, row: int, grad: bool) -> Scored | None:
    """The worst output of one row whose truth is finite and not below twice the
    smallest normal number (unless it is 0): those are the `subnormal` class, which
    hardware that flushes to zero (FTZ) gets wrong by design (None if it has none)."""
    hi, lo, want = t[:, 0], t[:, 1], t[:, 2]
    with np.errstate(invalid="ignore"):
        low = (np.minimum(np.abs(hi), np.abs(want)) < 2 * fmt.tiny) & (hi != 0)
    finite = np.isfinite(hi) & ~low
    if not finite.any():
        return None
    err = np.full(len(hi), -1.0)
    err[finite] = ulp_error(got[finite], hi[finite], lo[finite], fmt,
                            np.full(int(finite.sum()), scale) if scale else None)
    at = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
    e = float(err[at])
    return Scored(e if not math.isnan(e) else math.inf, label, float(want[at]),
                  float(got[at]), lambda: _row_repro(case, c, row, at, grad))


def _row_repro(case: Case, c: _rows.Call, row: int, at: int, grad: bool) -> str:
    """A drawn row's line: the oracle and the function on it as a 1-D array (its mask or b
    given as written); a recipe's, `_rows.repro`."""
    label = c.patterns[row]
    if label.startswith("long_row("):
        return _rows.repro(case.spec, case.act, case.params, case.dtype, label, c.n, at, grad)
    xs = [float(v) for v in c.xs[row]]
    via = "vjp" if grad else "value"
    return _repro.repro(case.spec, case.act, c.oracle, case.dtype, xs, via,
                        (0, at) if grad else at)
