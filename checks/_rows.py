"""Rows of every length: the activations along an axis (softmax, logsumexp, standardize,
glu, ...) on rows of 1 to 100,000 entries, against the oracle.

Real inputs are rows of 10 to 256,000 logits, and the kernels written for them are
blocked: online softmax over tiles of 128 or 1,024, tree or pairwise reductions, partial
sums kept in the input's dtype, a separate path for the row that is not a multiple of the
block. None of that runs on the six-entry slices of `_vector`. Here every variant is
called on rows whose lengths straddle each power of two (`lengths`), each length in one
call on a 2-D or 3-D array along the variant's axis, its rows the `PATTERNS` that break
such kernels.

The truth of each row is one certified evaluation of the catalog's formula over the
whole row, cached (`tables.RowAnswers`). Findings are ``accuracy:rows`` (where the truth
is finite), ``special:rows`` (where it is infinite or NaN, bit for bit) and, for a
reduction, ``gradient:rows`` (its gradient, one row of the Jacobian). The worst input is
named by the expression that builds its row, `long_row`, and its repro line prints the
oracle's value and the implementation's.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..catalog import Activation, Kind
from ..oracles import tables
from ..oracles.formats import FORMATS, Format, ulp_error
from ._call import CallError, call
from ._elementwise import Case, _exact, _worst
from ._results import Finding
from ._vector import MASK, B, _axis, _per_slice

# every length, in bfloat16 (whose 8 bits a sum kept in the input's dtype loses first):
# 1, 2, 3, a prime, each power of two from 2**4 to 2**15 and its neighbours, 10**5. A
# block edge is where it is in any dtype: the other formats take the edges of the common
# blocks (128, 1,024) and rows past 2**12 (float16 stalls at 2,048), 2**15 and 10**5
LENGTHS = (1, 2, 3, 97, *(2**k + d for k in range(4, 16) for d in (-1, 0, 1)), 100_000)
SWEPT = "bfloat16"
EDGE_LENGTHS = (1, 2, 3, 97, 127, 128, 129, 1023, 1024, 1025, 4097, 32769, 100_000)
# a variant other than the defaults (a mask, b, axis=0): one row past every block edge
VARIANT_LENGTHS = (4097,)
ALL_PATTERNS_UP_TO = 4097  # longer rows take one pattern each, in turn
CHECKS = frozenset({"accuracy:rows", "special:rows", "gradient:rows"})


def _random(n: int, rng: np.random.Generator) -> np.ndarray:
    """Logits: normal, scale 4."""
    return rng.normal(0.0, 4.0, n)


def _max_last(n: int, rng: np.random.Generator) -> np.ndarray:
    """The maximum, a dominant one, is the last entry (in the last block)."""
    x = rng.uniform(-8.0, 0.0, n)
    x[-1] = 8.0
    return x


def _rising(n: int, rng: np.random.Generator) -> np.ndarray:
    """Increasing: every block holds a new maximum (an online softmax must rescale)."""
    return np.linspace(-8.0, 8.0, n)


def _neg_inf_tail(n: int, rng: np.random.Generator) -> np.ndarray:
    """A long tail of −inf after the first sixteenth (masked-out positions, padding)."""
    x = rng.normal(0.0, 4.0, n)
    x[max(1, n // 16):] = -np.inf
    return x


def _ties(n: int, rng: np.random.Generator) -> np.ndarray:
    """Every entry equal: the sum is n exactly, which float16 cannot count past 2,048 one
    at a time, nor bfloat16 past 256."""
    return np.full(n, 0.5)


def _drowned(n: int, rng: np.random.Generator) -> np.ndarray:
    """One entry at 0 and the rest at −8: each of those adds e^−8 ≈ 3.4e-4 to a sum near
    1, less than half an ulp of float16 and bfloat16 there, so a sum kept in either
    never grows, while the truth grows to 1 + n·e^−8."""
    x = np.full(n, -8.0)
    x[0] = 0.0
    return x


PATTERNS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "random": _random, "max_last": _max_last, "rising": _rising,
    "neg_inf_tail": _neg_inf_tail, "ties": _ties, "drowned": _drowned,
}


def long_row(pattern: str, n: int, dtype: str, *, seed: int | None = None,
             shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """The row of ``n`` entries of ``pattern`` (`PATTERNS`) in ``dtype``, as float64: the
    same on every machine and in every run (its seed is the pattern's name and n, or
    ``seed``), each entry ``shift + scale * x`` before it is rounded to ``dtype`` (the
    search draws those, `_search`)."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    rng = np.random.default_rng([zlib.crc32(pattern.encode()), n] if seed is None
                                else [zlib.crc32(pattern.encode()), n, seed])
    x = shift + scale * PATTERNS[pattern](n, rng)
    return x.astype(FORMATS[dtype].dtype).astype(np.float64)


def row_text(pattern: str, n: int, dtype: str, *, seed: int | None = None,
             shift: float = 0.0, scale: float = 1.0) -> str:
    """The `long_row` call that builds that row, as a worst input names it."""
    more = "".join(f", {k}={v!r}" for k, v, default in (
        ("seed", seed, None), ("shift", shift, 0.0), ("scale", scale, 1.0)) if v != default)
    return f"long_row({pattern!r}, {n}, {dtype!r}{more})"


def lengths(act: Activation, params: Mapping[str, Any], dtype: str) -> tuple[int, ...]:
    """The row lengths for one variant in one format (glu's rounded up to even: it halves
    them)."""
    if dict(params) != act.variants()[0]:
        out = VARIANT_LENGTHS
    elif act.kind is Kind.GATED:  # elementwise after the split: only its edges matter
        out = EDGE_LENGTHS
    else:
        out = LENGTHS if dtype == SWEPT else EDGE_LENGTHS
    return tuple(dict.fromkeys(n + n % 2 if act.kind is Kind.GATED else n for n in out))


def plan(act: Activation, params: Mapping[str, Any], dtype: str
         ) -> list[tuple[int, tuple[str, ...]]]:
    """(length, patterns) for each call: every pattern up to `ALL_PATTERNS_UP_TO`
    entries, one each beyond, in turn."""
    names, out, turn = tuple(PATTERNS), [], 0
    for n in lengths(act, params, dtype):
        if n <= ALL_PATTERNS_UP_TO:
            out.append((n, names))
        else:
            out.append((n, (names[turn % len(names)],)))
            turn += 1
    return out


def applies(act: Activation) -> bool:
    return act.kind in (Kind.AXIS, Kind.GATED)


@dataclass(frozen=True)
class Call:
    """One call: rows of one length, with the parameters for the oracle (a mask or b as a
    tuple of the row's length) and for the implementation (as arrays)."""

    n: int
    patterns: tuple[str, ...]
    xs: np.ndarray  # (patterns, n), float64 values of the format
    oracle: dict[str, Any]
    call: dict[str, Any]  # a mask or b as a 1-D array of n entries
    lead: tuple[int, ...]  # the rows as an array of shape lead + (n,): (patterns,) or
    # (2, patterns / 2); () for a single row, given as a 1-D array


def resized(params: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The variant's mask or b for a row of ``n`` entries: its six, repeated (what the
    repro line builds again)."""
    out: dict[str, Any] = {}
    if params.get("where") == "random":
        out["where"] = tuple(bool(e) for e in np.resize(MASK, n))
    if isinstance(params.get("b"), str):
        out["b"] = tuple(float(e) for e in np.resize(B[params["b"]], n))
    return out


def calls(act: Activation, params: Mapping[str, Any], dtype: str) -> list[Call]:
    fmt = FORMATS[dtype]
    out = []
    for i, (n, pats) in enumerate(plan(act, params, dtype)):
        concrete = {**params, **resized(params, n)}
        kw = dict(concrete)
        for k in ("where", "b"):
            if k in kw:
                kw[k] = jnp.asarray(kw[k], fmt.dtype if k == "b" else bool)
        xs = np.stack([long_row(p, n, dtype) for p in pats])
        three = len(pats) % 2 == 0 and i % 2 == 1
        out.append(Call(n, pats, xs, concrete, kw, (2, len(pats) // 2) if three
                        else (len(pats),)))
    return out


def laid_out(act: Activation, params: Mapping[str, Any], fn: Callable[..., Any],
             lead: tuple[int, ...], n: int) -> Callable[[Any, Mapping[str, Any]], Any]:
    """``fn`` on rows (an array of rows of ``n`` entries, and the mask or b as 1-D arrays
    of ``n``), given as an array of shape ``lead + (n,)`` along the variant's axis; with
    ``axis=0`` the rows are the array's first axis, so that an implementation that ignores
    the axis mixes them; with ``axis=None`` (the whole array) each row alone, by jax.vmap.
    Results come back as one row per input row."""
    axis = _axis(act, params)
    if axis is None:
        return lambda xs, kw: jax.vmap(lambda x: fn(x, **kw))(xs)
    shape = (*lead, n)

    def f(xs, kw):
        count = xs.shape[0]
        kw = dict(kw)
        for k in ("where", "b"):  # along the first axis, broadcast over the others
            if k in kw and axis == 0:
                kw[k] = kw[k].reshape((n,) + (1,) * len(lead))
        x = xs.reshape(shape)
        x = jnp.moveaxis(x, -1, 0) if axis == 0 else x
        out = fn(x, **kw)

        def rows(o):
            o = jnp.moveaxis(o, 0, -1) if axis == 0 and o.ndim == x.ndim else o
            return o.reshape(count, -1)
        return tuple(rows(o) for o in out) if isinstance(out, tuple | list) else rows(out)
    return f


def prefill(act: Activation, params: Mapping[str, Any], dtype: str,
            cache_dir: str | os.PathLike | None, grad: bool = True,
            workers: int | None = None) -> None:
    """Every row's answer (with ``grad``, a reduction's gradient too, at the lengths
    `check` takes it: the block edges) in the cache, computed on every core, before the
    implementations' workers read them."""
    if not applies(act):
        return
    answers = tables.RowAnswers(act, dict(params), dtype, cache_dir)
    todo = []
    for c in calls(act, params, dtype):
        with_grad = grad and act.reduces and c.n in EDGE_LENGTHS
        todo += [(xs, c.oracle, g) for xs in c.xs for g in ((False, True) if with_grad
                                                               else (False,))]
    answers.fill(todo, workers)


class _Found:
    """Results gathered over the calls, as flat arrays, with which row each comes from:
    the ULP errors where the truth is finite, and bitwise agreement where it is infinite
    or NaN (``special``)."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, pattern: str, n: int, got: np.ndarray, truth: np.ndarray, fmt: Format,
            scale: float) -> None:
        hi, lo, want = truth[:, 0], truth[:, 1], truth[:, 2]
        err = ulp_error(got, hi, lo, fmt, np.full(len(hi), scale) if scale else None)
        self.parts.append((pattern, n, err, want, got, ~np.isfinite(hi)))

    def finding(self, name: str, tol: float, dtype: str, what: str,
                special: bool | None = False) -> Finding:
        """The worst error over every row where the truth is finite (``special`` False),
        the most severe disagreement where it is not (True), or the worst over both (None:
        an infinite or NaN truth counts 0 where matched bit for bit, else ∞); its worst
        input the expression that builds the row (`long_row`)."""
        keep = [(p, n, *(a[_picked(s, special)] for a in (_matched(err, want, got, s), want,
                                                           got)))
                for p, n, err, want, got, s in self.parts]
        keep = [k for k in keep if len(k[2])]
        if not keep:
            return Finding(name, "pass", detail=f"no {what}")
        err, want, got = (np.concatenate([k[i] for k in keep]) for i in (2, 3, 4))
        labels = np.repeat(np.array([f"long_row({p!r}, {n}, {dtype!r})" for p, n, *_ in keep],
                                    object), [len(k[2]) for k in keep])
        no_nan = np.zeros(len(err), bool)  # no row holds a NaN: a NaN truth is a convention
        if special:
            ok = (np.isnan(got) & np.isnan(want)) | (got == want)
            f = _exact(name, labels, want, got, ok, what, no_nan)
        else:
            f = _worst(name, labels, err, want, got, tol, what, nan_in=no_nan)
        seen = sorted({n for _, n, *_ in keep})
        f.detail += (f"; rows of {seen[0]:,} entries" if len(seen) == 1 else
                     f"; rows of {len(seen)} lengths from {seen[0]:,} to {seen[-1]:,}")
        if "worst_index" in f.extra:
            starts = np.cumsum([0] + [len(k[2]) for k in keep])
            r = int(np.searchsorted(starts, f.extra["worst_index"], side="right") - 1)
            # where the output is in its row: its index among all of the row's outputs
            pattern, n = keep[r][0], keep[r][1]
            row = next(part for part in self.parts if part[:2] == (pattern, n))
            among = np.flatnonzero(_picked(row[5], special))[f.extra["worst_index"] - starts[r]]
            f.extra["row"] = (pattern, n, int(among))
        return f


def _picked(special: np.ndarray, which: bool | None) -> np.ndarray:
    return np.ones_like(special) if which is None else special == which


def _matched(err: np.ndarray, want: np.ndarray, got: np.ndarray, special: np.ndarray
             ) -> np.ndarray:
    """``err``, with 0 where an infinite or NaN truth is matched bit for bit, ∞ where not."""
    same = (np.isnan(got) & np.isnan(want)) | (got == want)
    return np.where(special, np.where(same, 0.0, np.inf), err)


def _evaluated(f: Callable[[Any], Any], x_in: Any, n: int, grad: bool
               ) -> tuple[Any, Any, str | None]:
    """The outputs and, with ``grad``, the gradient of each row's first output, from one
    compiled call; where that call raises, the outputs alone and the reason."""
    value = f"the function on rows of {n}"
    if not grad:
        return call(lambda: jax.jit(f)(x_in), what=value), None, None
    both = jax.jit(lambda x: (f(x), jax.grad(lambda v: jnp.sum(jax.tree.leaves(f(v))[0]))(x)))
    try:
        out, g = call(lambda: both(x_in), what=f"{value} and jax.grad")
    except CallError as e:
        return call(lambda: jax.jit(f)(x_in), what=value), None, str(e)
    return out, g, None


def check(case: Case, fn: Callable[..., Any]) -> list[Finding]:
    """``accuracy:rows``, ``special:rows`` and, for a reduction, ``gradient:rows``."""
    act, params, dtype = case.act, case.params, case.dtype
    names = [n for n in case.names() if n in CHECKS]
    if not names or not applies(act):
        return []
    fmt = FORMATS[dtype]
    truth = tables.RowAnswers(act, dict(params), dtype, case.cache_dir)
    values, grads = _Found(), _Found()
    cast = np.dtype(fmt.dtype)
    gradient: str | None = "" if "gradient:rows" in names else None  # why not, if not
    try:
        for c in calls(act, params, dtype):
            f = partial(laid_out(act, params, fn, c.lead, c.n), kw=c.call)
            x_in = jnp.asarray(c.xs, cast)
            # the gradient at the block edges (each is one more function to compile)
            out, g, why = _evaluated(f, x_in, c.n, gradient == "" and c.n in EDGE_LENGTHS)
            gradient = why or gradient
            per = _per_slice(out, len(c.patterns))
            for p, xs, got in zip(c.patterns, c.xs, per, strict=True):
                t = truth.get(xs, c.oracle, grad=False)
                if len(got) != len(t):
                    raise CallError(f"{len(got)} outputs for a row of {c.n} "
                                    f"(pattern {p}), expected {len(t)}")
                scale = (act.slice_scale(xs, t[:, 2], c.oracle) if act.slice_scale
                         else 0.0)
                values.add(p, c.n, got, t, fmt, scale)
            if g is not None:
                g = np.asarray(g, np.float64).reshape(len(c.patterns), -1)
                for p, xs, got in zip(c.patterns, c.xs, g, strict=True):
                    t = truth.get(xs, c.oracle, grad=True)
                    finite = np.abs(t[:, 0][np.isfinite(t[:, 0])])
                    grads.add(p, c.n, got, t, fmt, float(finite.max()) if len(finite) else 0.0)
    except CallError as e:
        return [Finding(n, e.status, detail=str(e)) for n in names]
    found = [values.finding("accuracy:rows", case.limit("value"), dtype, "outputs"),
             values.finding("special:rows", 0, dtype,
                            "outputs whose truth is infinite or NaN", special=True)]
    if gradient:  # the derivative raised where the value did not
        found.append(Finding("gradient:rows", "error", detail=gradient))
    elif gradient is not None:
        f = grads.finding("gradient:rows", case.limit("gradient"), dtype, "gradient entries",
                          special=None)
        f.detail += " (in ulps of each row's largest entry)"
        found.append(f)
    for f in found:
        if f.status != "pass":
            pattern, n, at = f.extra["row"]
            f.extra["repro"] = repro(case.spec, act, params, dtype,
                                     row_text(pattern, n, dtype), n, at,
                                     grad=f.check == "gradient:rows")
    return [f for f in found if f.check in names]


def repro(spec: str, act: Activation, params: Mapping[str, Any], dtype: str, row: str,
          n: int, at: int, grad: bool = False) -> str:
    """A line that prints the oracle's value (or gradient entry) at output ``at`` of the
    row built by ``row`` (a `long_row` call of ``n`` entries), then the implementation's,
    computed as the check computed it."""
    oracle_kw, call_kw = [], []
    for k, v in params.items():
        if k == "where" and v == "random":
            mask = f"tuple(bool(v) for v in np.resize({MASK!r}, {n}))"
            oracle_kw.append(f"{k!r}: {mask}")
            call_kw.append(f"{k}=jnp.asarray({mask})")
        elif k == "b" and isinstance(v, str):
            b = f"tuple(float(v) for v in np.resize({B[v]!r}, {n}))"
            oracle_kw.append(f"{k!r}: {b}")
            call_kw.append(f"{k}=jnp.asarray({b}, jnp.{dtype})")
        else:
            oracle_kw.append(f"{k!r}: {v!r}")
            call_kw.append(f"{k}={v!r}")
    x64 = "jax.config.update('jax_enable_x64', True); " if dtype == "float64" else ""
    fn = f"f = lambda x: load({spec!r}).get({act.name!r})({', '.join(['x', *call_kw])}); "
    got = ("jax.jit(jax.grad(lambda x: jnp.sum(jax.tree.leaves(f(x))[0])))(x)" if grad
           else "jnp.concatenate([jnp.ravel(o) for o in jax.tree.leaves(jax.jit(f)(x))])")
    truth = (f"evaluate(catalog.get({act.name!r}), r.tolist(), {{{', '.join(oracle_kw)}}}, "
             f"grad={grad}, formats=(FORMATS[{dtype!r}],))")
    pick = f"{truth}[0][{at}]" if grad else f"{truth}[{at}]"
    return (f"python -c \"import jax, jax.numpy as jnp, numpy as np; {x64}"
            f"from actaudit import catalog; from actaudit.checks import long_row; "
            f"from actaudit.impl import load; from actaudit.oracles import FORMATS, evaluate; "
            f"r = {row}; x = jnp.asarray(r, jnp.{dtype}); "
            f"{fn}print({pick}.rounded[{dtype!r}], float(jnp.ravel({got})[{at}]))\"")

