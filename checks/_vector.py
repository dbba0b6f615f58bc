"""The checks of the activations along an axis (softmax, logsumexp, standardize, ...),
glu and one_hot, on whole slices against the oracle.

Each variant is called on a fixed set of slices (`cases`) that exercise what these
functions get wrong: large logits, a dominant entry, −inf entries and all −inf slices,
+inf and NaN, near-constant and large-offset slices, masks, b with zeros and negative
entries, indices out of range. A variant with ``axis=0`` is given the slice as both
columns of an (n, 2) array, so an ignored axis shows. Derivatives are whole Jacobians
(jax.jacrev), each row's error counted in ulps of its largest entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..catalog import Activation, Kind
from ..oracles import evaluate
from ..oracles.formats import FORMATS, Format, ulp_error
from ._call import CallError, call
from ._elementwise import _exact, _worst
from ._results import Finding, literal
from ._tolerances import Tolerances

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
INDICES = [-1.0, 0.0, 2.0, 5.0, 9.0, -3.0]
MASK = (True, False, True, True, False, True)
B = {"with_zeros": (1.0, 0.0, 2.0, 0.0, 0.5, 1.0), "mixed_sign": (1.0, -1.0, 2.0, -0.5, 1.0, -2.0)}


@dataclass(frozen=True)
class Case:
    """One slice with concrete parameters: ``oracle`` for the catalog, ``call`` for the
    implementation (arrays for masks and b)."""

    name: str
    xs: np.ndarray
    oracle: dict[str, Any]
    call: dict[str, Any]


def cases(act: Activation, params: Mapping[str, Any], fmt: Format) -> list[Case]:
    """The slices, rounded to ``fmt``, with ``params``' symbolic arrays made concrete."""
    concrete = {}
    for k, v in params.items():
        if k == "where" and v == "random":
            concrete[k] = MASK
        elif k == "b" and isinstance(v, str):
            concrete[k] = B[v]
        else:
            concrete[k] = v
    slices = {"indices": INDICES} if act.kind is Kind.INDEX else SLICES
    out = []
    for name, xs in slices.items():
        x = np.asarray(xs, np.float64).astype(fmt.dtype).astype(np.float64)
        call_kw = {k: (jnp.asarray(v) if k in ("where", "b") else v)
                   for k, v in concrete.items()}
        if "b" in call_kw:
            call_kw["b"] = call_kw["b"].astype(fmt.dtype)
        out.append(Case(name, x, concrete, call_kw))
    return out


def _axis(act: Activation, params: Mapping[str, Any]) -> Any:
    spec = {p.name: p for p in act.params}.get("axis")
    return params.get("axis", spec.default if spec else -1)


def _as_input(act, params, xs: np.ndarray, dtype) -> Any:
    if act.kind is Kind.INDEX:
        return jnp.asarray(xs.astype(np.int32))
    return _as_input_traced(act, params, jnp.asarray(xs, dtype))


def _flat(act, params, out: Any) -> np.ndarray:
    """The result for the one slice, flattened (value, then sign for return_sign)."""
    if isinstance(out, tuple | list):
        return np.concatenate([_flat(act, params, o) for o in out])
    out = np.asarray(out)
    if act.kind is Kind.INDEX:
        return (out.T if _axis(act, params) == 0 else out).ravel().astype(np.float64)
    if _axis(act, params) == 0:
        out = out[..., 0]
    return out.ravel().astype(np.float64)


_ORACLE: dict[tuple, Any] = {}


def _oracle(act: Activation, case: Case, fmt: Format, grad: bool) -> Any:
    """The oracle's answer for a slice, remembered for the other implementations."""
    key = (act.name, repr(sorted(case.oracle.items())), case.xs.tobytes(), fmt.name, grad)
    if key not in _ORACLE:
        _ORACLE[key] = evaluate(act, case.xs.tolist(), case.oracle, grad=grad, formats=(fmt,))
    return _ORACLE[key]


def _exact_flat(tree: Any) -> list[Any]:
    return [e for t in tree for e in _exact_flat(t)] if isinstance(tree, list) else [tree]


def check(
    spec: str, fn: Callable[..., Any], act: Activation, params: Mapping[str, Any], dtype: str,
    tol: Tolerances, *, checks: frozenset[str] | None = None,
) -> list[Finding]:
    fmt = FORMATS[dtype]
    want = {c: (checks is None or c in checks) for c in
            ("accuracy", "special", "gradient", "dtype", "transform")}
    if act.grad is None:
        want["gradient"] = False
    rows: dict[str, list] = {"x": [], "hi": [], "lo": [], "want": [], "got": [], "scale": [],
                             "case": []}
    grads: dict[str, list] = {k: [] for k in rows}
    dtype_problems, transform = [], []
    cast = np.dtype(fmt.dtype)
    for case in cases(act, params, fmt):
        x_in = _as_input(act, params, case.xs, cast)
        def f(x, kw=case.call):
            return (fn(x, **kw))
        try:
            out = call(lambda f=f, x_in=x_in: jax.jit(f)(x_in))
            eager = call(lambda f=f, x_in=x_in: f(x_in)) if want["transform"] else out
        except CallError as e:
            return [Finding(c, "error", detail=f"slice {case.name}: {e}")
                    for c, w in want.items() if w]
        leaves = out if isinstance(out, tuple | list) else (out,)
        expected_dtype = _expected_dtype(act, params, cast)
        dtype_problems += [f"{case.name}: {o.dtype}" for o in leaves
                           if np.asarray(o).dtype != expected_dtype]
        got = _flat(act, params, out)
        exact = _exact_flat(_oracle(act, case, fmt, grad=False))
        if len(got) != len(exact):
            return [Finding(c, "error", detail=f"slice {case.name}: {len(got)} outputs, "
                            f"expected {len(exact)}") for c, w in want.items() if w]
        transform.append((case, got, _flat(act, params, eager)))
        finite = [abs(e.rounded[fmt.name]) for e in exact if math.isfinite(e.rounded[fmt.name])]
        _collect(rows, case, got, exact, fmt, max(finite) if act.slice_scaled and finite else 0.0)
        if want["gradient"]:
            g = _jacobian(act, params, fn, case, cast)
            if isinstance(g, CallError):
                grads["error"] = [str(g)]
                want["gradient"] = "error"
                continue
            jac = _oracle(act, case, fmt, grad=True)
            rows_exact = jac[:1] if act.name == "logsumexp" else jac
            _collect_rows(grads, case, g, rows_exact, fmt)
    return _findings(spec, act, dtype, tol, want, rows, grads, dtype_problems, transform, fmt)


def _expected_dtype(act, params, cast) -> np.dtype:
    if act.kind is Kind.INDEX:
        d = params.get("dtype")
        return np.dtype(jnp.dtype(d)) if d is not None else np.dtype(jnp.zeros(()).dtype)
    return cast


def _collect(rows, case, got, exact, fmt, scale: float) -> None:
    """One row per output; ``scale`` > 0: errors count in ulps of it where it is larger."""
    hi = np.array([e.hi for e in exact])
    lo = np.array([e.lo for e in exact])
    want = np.array([e.rounded[fmt.name] for e in exact])
    for k, v in (("x", [literal(case.xs)] * len(got)), ("hi", hi), ("lo", lo), ("want", want),
                 ("got", got), ("scale", [scale] * len(got)), ("case", [case.name] * len(got))):
        rows[k].extend(list(v))


def _jacobian(act, params, fn, case, cast) -> Any:
    def one(xs):
        out = fn(_as_input_traced(act, params, xs), **case.call)
        out = out[0] if isinstance(out, tuple | list) else out
        return out[..., 0] if _axis(act, params) == 0 else out

    try:
        return call(lambda: jax.jit(jax.jacrev(one))(jnp.asarray(case.xs, cast)))
    except CallError as e:
        return e


def _as_input_traced(act, params, x):
    return jnp.stack([x, x], axis=1) if _axis(act, params) == 0 else x


def _collect_rows(grads, case, g, jac, fmt) -> None:
    g = np.atleast_2d(np.asarray(g, np.float64))
    for i, row in enumerate(jac):
        hi = np.array([e.hi for e in row])
        finite = hi[np.isfinite(hi)]
        scale = np.max(np.abs(finite)) if len(finite) else 0.0
        _collect(grads, Case(f"{case.name}[{i}]", case.xs, {}, {}), g[i], row, fmt, scale)


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
    return err, special


def _findings(spec, act, dtype, tol, want, rows, grads, dtype_problems, transform, fmt):
    out = []
    err, special = _errors(rows, fmt)
    x = np.array(rows["x"], object)
    labels = np.array([f"{c}: {xv}" for c, xv in zip(rows["case"], rows["x"], strict=True)],
                      object)
    wanted, got = np.array(rows["want"], float), np.array(rows["got"], float)
    if want["accuracy"]:
        acc = ~special
        f = _worst("accuracy", labels[acc], err[acc], wanted[acc], got[acc],
                   tol.ulps(act.name, dtype, "value"), "outputs")
        f.worst_input = x[acc][f.extra["worst_index"]] if acc.any() else ""
        out.append(f)
    if want["special"]:
        ok = (np.isnan(got) & np.isnan(wanted)) | (got == wanted)
        f = _exact("special", labels[special], wanted[special], got[special], ok[special],
                   "outputs whose truth is infinite or NaN")
        out.append(f)
    if want["gradient"] == "error":
        out.append(Finding("gradient", "error", detail=grads["error"][0]))
    elif want["gradient"]:
        gerr, gspecial = _errors(grads, fmt)
        gx = np.array(grads["x"], object)
        glabels = np.array([f"{c}: {xv}" for c, xv in zip(grads["case"], grads["x"],
                                                          strict=True)], object)
        gw, gg = np.array(grads["want"], float), np.array(grads["got"], float)
        nan_ok = np.isnan(gg) & np.isnan(gw)
        gerr = np.where(gspecial, np.where(nan_ok | (gg == gw), 0.0, np.inf), gerr)
        f = _worst("gradient", glabels, gerr, gw, gg, tol.ulps(act.name, dtype, "gradient"),
                   "Jacobian entries")
        f.worst_input = gx[f.extra["worst_index"]]
        f.detail += " (in ulps of each Jacobian row's largest entry)"
        out.append(f)
    if want["dtype"]:
        if dtype_problems:
            out.append(Finding("dtype", "fail", detail=f"{dtype} input gave "
                               + "; ".join(dtype_problems[:3])))
        else:
            out.append(Finding("dtype", "pass", detail="output dtype kept"))
    if want["transform"]:
        bad = [(c.name, a, b) for c, a, b in transform
               if a.shape != b.shape or not np.all((np.isnan(a) & np.isnan(b)) | (
                   ulp_error(a, b, np.zeros_like(b), fmt) <= tol.ulps(act.name, dtype)))]
        if bad:
            name, a, b = bad[0]
            out.append(Finding("transform", "fail", expected=literal(b), got=literal(a),
                               worst_input=name, detail="eager and jit disagree"))
        else:
            out.append(Finding("transform", "pass", detail=f"{len(transform)} slices, "
                               "eager and jit agree"))
    return out
