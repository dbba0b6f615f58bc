"""The checks of the activations along an axis (softmax, logsumexp, standardize, ...),
glu and one_hot, on whole slices against the oracle.

Each variant is called on a fixed set of slices (`cases`) that exercise what these
functions get wrong: large logits, a dominant entry, −inf entries and all −inf slices,
+inf and NaN, near-constant and large-offset slices, masks, b with zeros and negative
entries, indices out of range. All slices go in one array, one per row (per column for
``axis=0``, so an ignored axis mixes them). Derivatives are whole Jacobians, by forward
and reverse mode, each row's error counted in ulps of its largest entry.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..catalog import Activation, Kind
from ..oracles import tables
from ..oracles.formats import FORMATS, Format, ulp_error
from . import _hessians, _repro
from ._call import CallError, call
from ._elementwise import (
    Case,
    _exact,
    _worst,
    _worst_or_flush,
    apart,
    changed_params,
    explained_without,
    mark_ignored,
)
from ._registry import CHECKS, Severity
from ._results import Finding, literal

N = 6

SLICES: dict[str, list[float]] = {
    "normal": [0.3, -1.2, 2.5, 0.0, -0.7, 1.9],
    "large": [1000.0, 1001.0, 999.0, 998.0, 1000.5, 1002.0],
    "dominant": [0.0, -20.0, -30.0, -25.0, -40.0, -22.0],
    "neg_inf": [0.0, -np.inf, 1.0, -np.inf, 2.0, 0.5],
    "all_neg_inf": [-np.inf] * N,
    "pos_inf": [1.0, np.inf, 0.0, -1.0, 2.0, 0.5],
    "nan": [1.0, np.nan, 0.0, -1.0, 2.0, 0.5],
    "near_constant": [100.0, 100.0625, 99.9375, 100.0, 100.125, 99.875],
    "offset": [10000.0, 10016.0, 9984.0, 10008.0, 9992.0, 10000.0],
}


def indices(num_classes: int) -> dict[str, list[float]]:
    """one_hot's slices: indices in range, negative ones and ones past the last class (a
    row of zeros, by the catalog's convention), each class of input apart, so that a
    library refusing one class is still judged on the others."""
    n = num_classes
    return {"in_range": [float(i % n) for i in range(N)],
            "negative": [-1.0, 0.0, -3.0, float(n - 1), -2.0, 0.0],
            "past_last": [float(n), 0.0, float(n + 2), float(2 * n + 1), float(n - 1),
                          float(n + 7)]}
MASK = (True, False, True, True, False, True)
B = {"with_zeros": (1.0, 0.0, 2.0, 0.0, 0.5, 1.0), "mixed_sign": (1.0, -1.0, 2.0, -0.5, 1.0, -2.0)}


@dataclass(frozen=True)
class Batch:
    """The slices of one variant, rounded to the format, as rows of ``xs`` (one per name),
    with the parameters for the oracle and, as arrays where they are arrays, for the call."""

    names: tuple[str, ...]
    xs: np.ndarray
    oracle: dict[str, Any]
    call: dict[str, Any]


def batch(act: Activation, params: Mapping[str, Any], fmt: Format) -> Batch:
    """The slices, rounded to ``fmt``, with ``params``' symbolic arrays made concrete."""
    concrete = {}
    for k, v in params.items():
        if k == "where" and v == "random":
            concrete[k] = MASK
        elif k == "b" and isinstance(v, str):
            concrete[k] = B[v]
        else:
            concrete[k] = v
    slices = (indices(int(concrete["num_classes"])) if act.kind is Kind.INDEX else SLICES)
    xs = np.array(list(slices.values()), np.float64).astype(fmt.dtype).astype(np.float64)
    call_kw = dict(concrete)
    for k in ("where", "b"):
        if k in call_kw:
            arr = jnp.asarray(call_kw[k], fmt.dtype if k == "b" else bool)
            call_kw[k] = arr[:, None] if _axis(act, params) == 0 else arr
    return Batch(tuple(slices), xs, concrete, call_kw)


def _axis(act: Activation, params: Mapping[str, Any]) -> Any:
    spec = {p.name: p for p in act.params}.get("axis")
    return params.get("axis", spec.default if spec else -1)


def _laid_out(act: Activation, params: Mapping[str, Any], fn: Callable[..., Any],
              kw: Mapping[str, Any]) -> Callable[[Any], Any]:
    """``fn`` on slices as rows: with ``axis=0`` the slices are given as columns, and the
    results turned back into rows, so an implementation that ignores the axis mixes slices;
    with ``axis=None`` (the whole array) it is mapped over the slices with jax.vmap."""
    if _axis(act, params) is None:
        return jax.vmap(lambda x: fn(x, **kw))
    columns = _axis(act, params) == 0

    def rows(o):
        return jnp.moveaxis(o, 0, -1) if columns and o.ndim > 1 else o

    def f(xs):
        out = fn(xs.T if columns and act.kind is not Kind.INDEX else xs, **kw)
        return tuple(rows(o) for o in out) if isinstance(out, tuple | list) else rows(out)
    return f


def _truth_without(case: Case, b: Batch, k: str, truth: tables.SliceAnswers,
                   got_all: list[np.ndarray]) -> bool:
    """Whether the results are the truth without parameter ``k`` where ``k`` changes it
    (`_elementwise.explained_without`)."""
    if not {p.name: p for p in case.act.params}[k].affects_value:
        return False
    rest = tables.SliceAnswers(case.act, {a: v for a, v in b.oracle.items() if a != k},
                               case.dtype, case.cache_dir)
    name = case.fmt.name
    want, without = (np.concatenate([[e.rounded[name] for e in _exact_flat(a.get(
        xs, grad=False))] for xs in b.xs]) for a in (truth, rest))
    return explained_without(np.concatenate(got_all), want, without, case.fmt, case.limit())


def _per_slice(out: Any, n: int) -> list[np.ndarray]:
    """Each of the ``n`` slices' results, flattened (value, then sign for return_sign);
    `CallError` where the function did not return an array with a row per slice."""
    leaves = out if isinstance(out, tuple | list) else (out,)
    for o in leaves:
        shape = np.shape(o)
        if not shape or shape[0] != n:
            raise CallError(f"returned shape {shape} for {n} slices (one per row)")
    arrays = [np.asarray(o, np.float64).reshape(n, -1) for o in leaves]
    return [np.concatenate([a[s] for a in arrays]) for s in range(len(arrays[0]))]


def prefill(act: Activation, params: Mapping[str, Any], dtype: str,
            cache_dir: str | os.PathLike | None, second: bool = False) -> None:
    """Every slice's answer (value, and Jacobian where there is a derivative; with
    ``second``, the second derivative's, `_hessians`) in the cache, before the
    implementations' workers read them (`tables.SliceAnswers`)."""
    b = batch(act, params, FORMATS[dtype])
    answers = tables.SliceAnswers(act, b.oracle, dtype, cache_dir)
    for xs in b.xs:
        answers.get(xs, grad=False)
        if act.grad is not None:
            answers.get(xs, grad=True)
    if second and act.grad is not None:
        _hessians.prefill(answers, b.xs, FORMATS[dtype])
    answers.save()


def _exact_flat(tree: Any) -> list[Any]:
    return [e for t in tree for e in _exact_flat(t)] if isinstance(tree, list) else [tree]


def check(case: Case, fn: Callable[..., Any]) -> list[Finding]:
    """All slices in one call (jit and eager) and one Jacobian per variant."""
    spec, act, params, dtype, tol = case.spec, case.act, case.params, case.dtype, case.tol
    fmt = FORMATS[dtype]
    names = tuple(n for n in case.names() if not n.endswith(":rows"))  # those are _rows'
    want: dict[str, Any] = {c.name: c.name in names for c in CHECKS if act.kind in c.kinds}
    rows: dict[str, list] = {"x": [], "hi": [], "lo": [], "want": [], "got": [], "scale": [],
                             "case": [], "at": []}
    grads: dict[str, list] = {k: [] for k in (*rows, "spoilable")}
    cast = np.dtype(fmt.dtype)
    b = batch(act, params, fmt)
    f = _laid_out(act, params, fn, b.call)
    x_in = jnp.asarray(b.xs, np.int32 if act.kind is Kind.INDEX else cast)
    refused: dict[str, str] = {}
    given = dict(zip(b.names, b.xs, strict=True))
    truth = tables.SliceAnswers(act, b.oracle, dtype, case.cache_dir)
    try:
        out, got_all, eager_all = _outputs(f, x_in, len(b.names), want["transform"])
    except CallError as e:
        # one slice the library refuses (torch's one_hot raises on a negative index) must
        # not take the others down: each slice alone, and the batch of those it computes
        kept, refused = _slice_by_slice(f, b, x_in) if e.status == "error" else ([], {})
        try:
            if not kept:
                raise e
            b = dataclasses.replace(b, names=tuple(b.names[i] for i in kept), xs=b.xs[kept])
            x_in = x_in[np.asarray(kept)]
            out, got_all, eager_all = _outputs(f, x_in, len(kept), want["transform"])
        except CallError as final:
            return [Finding(c, final.status, detail=f"called on {b.xs.shape} slices: {final}")
                    for c, w in want.items() if w]
    leaves = out if isinstance(out, tuple | list) else (out,)
    expected_dtype = _expected_dtype(act, params, cast)
    dtype_problems = [str(o.dtype) for o in leaves if np.asarray(o).dtype != expected_dtype]
    transform = list(zip(b.names, got_all, eager_all, strict=True))
    for name, xs, got in zip(b.names, b.xs, got_all, strict=True):
        exact = _exact_flat(truth.get(xs, grad=False))
        if len(got) != len(exact):
            return [Finding(c, "error", detail=f"slice {name}: {len(got)} outputs, "
                            f"expected {len(exact)}") for c, w in want.items() if w]
        _collect(rows, name, xs, got, exact, fmt, _scale(act, xs, exact, fmt, b.oracle))
    if want["gradient"]:
        jac = _jacobians(f, x_in)
        if isinstance(jac, CallError):
            grads["error"] = [str(jac), jac.status]
            want["gradient"] = "error"
        else:
            for s, (name, xs) in enumerate(zip(b.names, b.xs, strict=True)):
                exact = truth.get(xs, grad=True)
                exact = exact[:1] if act.name == "logsumexp" else exact
                _collect_rows(grads, name, xs, jac["jvp"][s], exact, fmt, "jvp")
                # jax.jacrev multiplies each row's cotangent, zeros included, by every
                # entry: an infinite or NaN entry spoils every row, so reverse mode is
                # held to the truth only where the Jacobian is finite
                if all(math.isfinite(e.hi) for e in _exact_flat(exact)):
                    _collect_rows(grads, f"{name} (vjp)", xs, jac["vjp"][s], exact, fmt, "vjp")
    second = _second(f, x_in, b, truth, fmt, tol.ulps(act.name, dtype, "second"), act) if (
        want.get("gradient:second")) else None
    # repro lines with the slices' concrete mask or b
    truth.save()  # what a prefill did not hold (an audit run outside `audit`)
    found = _findings(spec, act, dtype, tol, want, rows, grads, dtype_problems, transform, fmt)
    if second is not None:  # beside the first derivative's row
        at = next((k + 1 for k, g in enumerate(found) if g.check == "gradient"), len(found))
        found.insert(at, second)
    _refusals(found, refused, given)
    _ignored(found, case, fn, b, x_in, got_all, truth)
    return _repro.add(spec, act, b.oracle, dtype, found)


def _second(f: Callable[[Any], Any], x_in: Any, b: Batch, truth: tables.SliceAnswers,
            fmt: Format, tol: float, act: Activation) -> Finding:
    """The ``gradient:second`` row (`_hessians`)."""
    along = _hessians.directions(x_in.shape[1], fmt)
    found = _hessians.hessians(f, x_in, along)
    if isinstance(found, CallError):
        return Finding("gradient:second", found.status, detail=str(found))
    table, left_out = _hessians.rows(act, b.names, b.xs, along, found, truth, fmt, _collect)
    second = _hessians.finding(table, left_out, _derivative_errors(table, fmt), tol, fmt)
    return _located(second, np.array(table["x"], object), table["at"],
                    np.ones(len(table["x"]), bool))


def _scale(act: Activation, xs: np.ndarray, exact: list, fmt: Format,
           params: Mapping[str, Any]) -> float:
    """The size errors count in where the slice's outputs cancel (`Activation.slice_scale`),
    else 0: each output's own ulps."""
    if act.slice_scale is None:
        return 0.0
    rounded = np.array([e.rounded[fmt.name] for e in exact], np.float64)
    return float(act.slice_scale(np.asarray(xs, np.float64), rounded, params))


def _outputs(f: Callable[[Any], Any], x_in: Any, n: int, eager: bool
             ) -> tuple[Any, list[np.ndarray], list[np.ndarray]]:
    """The jit call (and the eager one, for the transform check) on the batch, each as
    its slices' outputs; `CallError` if either raises or returns no array per slice."""
    out = call(lambda: jax.jit(f)(x_in), what="the function (jit)")
    again = call(lambda: f(x_in), what="the function (eager)") if eager else out
    return out, _per_slice(out, n), _per_slice(again, n)


def _slice_by_slice(f: Callable[[Any], Any], b: Batch, x_in: Any
                    ) -> tuple[list[int], dict[str, str]]:
    """The slices ``f`` computes when called on each alone, and the reason (the
    library's own exception) of each it refuses."""
    kept, refused = [], {}
    for i, name in enumerate(b.names):
        try:
            _outputs(f, x_in[i:i + 1], 1, False)
        except CallError as e:
            refused[name] = str(e)
        else:
            kept.append(i)
    return kept, refused


def _refusals(found: list[Finding], refused: dict[str, str], slices: dict[str, Any]) -> None:
    """Slices the implementation refused while it computed the others: an input class it
    rejects where the catalog defines a value (a convention of its own, not a crash), in
    the ``special`` row, with the input that shows it."""
    if not refused or not found:
        return
    name, why = next(iter(refused.items()))
    text = (f"refuses {len(refused)} slice{'s' if len(refused) > 1 else ''} where the "
            f"catalog defines a value ({', '.join(refused)}): {name}: {why}")
    special = next((f for f in found if f.check == "special"), None)
    if special is None:  # the special check not run: the others say what they left out
        for f in found:
            f.detail += f"; {text}"
    elif special.status == "pass":
        special.status, special.severity = "fail", Severity.CONVENTION
        special.worst_input, special.got = literal(slices[name]), "raised"
        special.detail = text
    else:
        special.detail += f"; {text}"


def _ignored(found: list[Finding], case: Case, fn: Callable[..., Any], b: Batch, x_in: Any,
             got_all: list[np.ndarray], truth: tables.SliceAnswers) -> None:
    """A wrong value whose results are exactly those of the same call without one of the
    variant's parameters comes from that parameter being ignored (`Severity.IGNORED`, the
    cause of what else it shows: NaN from slices mixed by an ignored axis). The parameter
    must change the truth of these slices (keepdims does not; epsilon may not, in
    bfloat16), or be the axis, which changes which entries make a slice."""
    wrong = [f for f in found if f.check in ("accuracy", "gradient") and f.status == "fail"
             and f.severity in (None, Severity.WRONG, Severity.NONFINITE)]
    for k in changed_params(case) if wrong else ():
        if k not in b.call:
            continue
        g = _laid_out(case.act, case.params, fn, {a: v for a, v in b.call.items() if a != k})
        try:
            _, without, _ = _outputs(g, x_in, len(got_all), False)
        except CallError:
            continue
        same = all(a.shape == w.shape and np.array_equal(a, w, equal_nan=True)
                   for a, w in zip(got_all, without, strict=True))
        if same and (k == "axis" or _truth_without(case, b, k, truth, got_all)):
            mark_ignored(wrong, k, case.params[k])
            return


def _expected_dtype(act, params, cast) -> np.dtype:
    if act.kind is Kind.INDEX:
        d = params.get("dtype")
        return np.dtype(jnp.dtype(d)) if d is not None else np.dtype(jnp.zeros(()).dtype)
    return cast


def _collect(rows, name, xs, got, exact, fmt, scale: float, at: list | None = None) -> None:
    """One row per output; ``scale`` > 0: errors count in ulps of it where it is larger.
    ``at``: where each output is, for the repro line (its position in the slice's
    outputs by default)."""
    hi = np.array([e.hi for e in exact])
    lo = np.array([e.lo for e in exact])
    want = np.array([e.rounded[fmt.name] for e in exact])
    for k, v in (("x", [literal(xs)] * len(got)), ("hi", hi), ("lo", lo), ("want", want),
                 ("got", got), ("scale", [scale] * len(got)), ("case", [name] * len(got)),
                 ("at", at if at is not None else [("value", j) for j in range(len(got))])):
        rows[k].extend(list(v))


def _jacobians(f: Callable[[Any], Any], xs: Any) -> dict[str, list[np.ndarray]] | CallError:
    """Each slice's Jacobian of the first output, (outputs, inputs), by forward mode
    (jax.jacfwd) and by reverse mode (jax.jacrev), each from one call on the whole batch
    (the blocks off the diagonal are zero for a slice-wise function)."""
    def first(x):
        out = f(x)
        return out[0] if isinstance(out, tuple | list) else out

    n_slices = xs.shape[0]
    found = {}
    for mode, jac_fn in (("jvp", jax.jacfwd), ("vjp", jax.jacrev)):
        try:
            jac = np.asarray(call(lambda j=jac_fn: jax.jit(j(first))(xs),
                                 what=f"jax.{jac_fn.__name__}"), np.float64)
        except CallError as e:
            return e
        jac = jac.reshape(n_slices, -1, n_slices, xs.shape[1])
        found[mode] = [jac[s, :, s, :] for s in range(n_slices)]
    return found


def _collect_rows(grads, name, xs, g, jac, fmt, mode: str) -> None:
    """Each row of one slice's Jacobian by ``mode`` (jvp: forward, vjp: reverse), its
    errors counted in ulps of its largest finite entry, with whether AD may spoil its
    entries to NaN (`_spoilable`)."""
    his = np.array([[e.hi for e in row] for row in jac], float)
    spoilable = _spoilable(his, np.asarray(g, float))
    for i, row in enumerate(jac):
        largest = np.abs(his[i][np.isfinite(his[i])])
        _collect(grads, f"{name}[{i}]", xs, g[i], row, fmt,
                 float(largest.max()) if len(largest) else 0.0,
                 [(mode, (i, j)) for j in range(len(row))])
        grads["spoilable"].extend(spoilable[i].tolist())


def _spoilable(truth: np.ndarray, got: np.ndarray) -> np.ndarray:
    """The entries of a Jacobian that AD turns into NaN through ∞·0 where the truth has
    an infinite or NaN entry: its row in forward mode (the row is a linear map with ∞
    among its coefficients), its column in reverse mode (∞ times the zero cotangents of
    the other rows), and the whole row of such a column's NaN when a Jacobian computed
    by reverse mode is applied to tangents (torch's, through the adapter: J·t)."""
    bad = ~np.isfinite(truth)
    rows, cols = bad.any(axis=1), bad.any(axis=0)
    with np.errstate(invalid="ignore"):
        spread = (np.isnan(got) & cols[None, :]).any(axis=1)
    return rows[:, None] | cols[None, :] | spread[:, None]


def _errors(rows, fmt) -> tuple[np.ndarray, np.ndarray]:
    hi, lo = np.array(rows["hi"], float), np.array(rows["lo"], float)
    got, scale = np.array(rows["got"], float), np.array(rows["scale"], float)
    special = ~np.isfinite(hi)
    err = ulp_error(got, hi, lo, fmt)
    # where errors count in ulps of the slice (or Jacobian row): rescale to that ulp
    scaled = (scale > np.abs(hi)) & ~special & np.isfinite(err)
    if scaled.any():
        own = np.array([fmt.ulp(v) for v in hi[scaled]])
        err[scaled] = err[scaled] * own / np.array([fmt.ulp(s) for s in scale[scaled]])
    # an exact 0 has no ulps of its own (a Hessian entry of standardize where x_i is the
    # mean): a finite result beside it counts in the row's
    zero = (hi == 0) & (lo == 0) & (scale > 0) & np.isfinite(got) & ~np.isfinite(err)
    if zero.any():
        err[zero] = np.abs(got[zero]) / np.array([fmt.ulp(s) for s in scale[zero]])
    return err, special


def _derivative_errors(rows, fmt) -> np.ndarray:
    """`_errors`, with an infinite or NaN truth (a derivative's) matched bit for bit: 0
    where the result is the same (NaN for NaN), else ∞."""
    err, special = _errors(rows, fmt)
    want, got = np.array(rows["want"], float), np.array(rows["got"], float)
    same = (np.isnan(got) & np.isnan(want)) | (got == want)
    return np.where(special, np.where(same, 0.0, np.inf), err)


def _findings(spec, act, dtype, tol, want, rows, grads, dtype_problems, transform, fmt):
    out = []
    err, special = _errors(rows, fmt)
    x = np.array(rows["x"], object)
    labels = np.array([f"{c}: {xv}" for c, xv in zip(rows["case"], rows["x"], strict=True)],
                      object)
    wanted, got = np.array(rows["want"], float), np.array(rows["got"], float)
    nan_in = _holds_nan(rows["x"])
    if want["accuracy"]:
        acc = ~special
        f = _worst("accuracy", labels[acc], err[acc], wanted[acc], got[acc],
                   tol.ulps(act.name, dtype, "value"), "outputs")
        out.append(_located(f, x, rows["at"], acc))
    if want["special"]:
        ok = (np.isnan(got) & np.isnan(wanted)) | (got == wanted)
        f = _exact("special", labels[special], wanted[special], got[special], ok[special],
                   "outputs whose truth is infinite or NaN", nan_in[special])
        out.append(_located(f, x, rows["at"], special))
    if want["gradient"] == "error":
        out.append(Finding("gradient", grads["error"][1], detail=grads["error"][0]))
    elif want["gradient"]:
        gerr = _derivative_errors(grads, fmt)
        gx = np.array(grads["x"], object)
        glabels = np.array([f"{c}: {xv}" for c, xv in zip(grads["case"], grads["x"],
                                                          strict=True)], object)
        gw, gg = np.array(grads["want"], float), np.array(grads["got"], float)
        # NaN where AD spoils entries around an infinite or NaN truth (`_spoilable`)
        spoiled = np.array(grads["spoilable"], bool) & np.isnan(gg)
        # and, as for an elementwise function, no derivative is checked at a NaN input:
        # a slice holding one has a NaN Jacobian by convention, and a linear part that
        # does not depend on x (standardize's with a given variance) is as good
        g_nan_in = _holds_nan(grads["x"])
        gerr = np.where(spoiled | (g_nan_in & np.isnan(gw)), 0.0, gerr)
        f = _worst_or_flush("gradient", glabels, gerr, gw, gg,
                            tol.ulps(act.name, dtype, "gradient"), fmt, "Jacobian entries",
                            nan_in=g_nan_in)
        f.detail += " (in ulps of each Jacobian row's largest entry)"
        out.append(_located(f, gx, grads["at"], np.ones(len(gx), bool)))
    if want["dtype"]:
        if dtype_problems:
            out.append(Finding("dtype", "fail", detail=f"{dtype} input gave "
                               + ", ".join(dtype_problems)))
        else:
            out.append(Finding("dtype", "pass", detail="output dtype kept"))
    if want["transform"]:
        bad = [(name, a, b) for name, a, b in transform
               if not _agree(a, b, fmt, tol.ulps(act.name, dtype))]
        if bad:
            name, a, b = bad[0]
            out.append(Finding("transform", "fail", expected=literal(b), got=literal(a),
                               worst_input=name, detail="eager and jit disagree"))
        else:
            out.append(Finding("transform", "pass", detail=f"{len(transform)} slices, "
                               "eager and jit agree"))
    return out


def _holds_nan(slices: list[str]) -> np.ndarray:
    """Whether each row's slice (a list literal) holds a NaN."""
    return np.array(["nan" in s for s in slices], bool)


def _located(f: Finding, slices: np.ndarray, at: list, mask: np.ndarray) -> Finding:
    """``f`` with its worst input the slice (a list literal) and, for the repro line,
    how the reported number was computed and where in the output it is."""
    if "worst_index" in f.extra and mask.any():
        k = int(np.flatnonzero(mask)[f.extra["worst_index"]])
        f.worst_input = slices[k]
        f.extra["via"], f.extra["at"] = at[k]
    return f


def _agree(a: np.ndarray, b: np.ndarray, fmt: Format, ulps: float) -> bool:
    return a.shape == b.shape and bool(np.all(apart(a, b, fmt) <= ulps))
