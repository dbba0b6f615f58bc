"""``gradient:second`` for the activations along an axis and glu: each slice's second
derivative against the oracle's, as the Jacobian differentiated along directions.

For a direction v, H_v[i][j] = Σ_k ∂²f_i/∂x_j∂x_k · v_k: row i is the Hessian-vector
product of output i along v. The directions are each unit vector (together, the whole
Hessian of every output) and two random ones (`directions`). The implementation's H_v is
taken two ways, both as users take Hessians:

* ``jvp_jacrev``, forward over reverse: jax.jvp of jax.jacrev, how a Hessian-vector
  product is usually computed (and jax.hessian's nesting);
* ``jacrev_jvp``, reverse over forward: jax.jacrev of jax.jvp, the nesting of
  jax.jacrev(jax.jacfwd(f)), where a custom_jvp whose tangent map is not differentiable
  in its primal inputs loses terms.

Each is one call on the whole batch of slices, vmapped over the directions. The row
reports the worse of the two, each entry's error counted in ulps of its row's largest
entry, as the Jacobian's are. A slice whose Jacobian is not finite everywhere (+inf or NaN
in it, by the catalog's conventions) has no finite second derivative to hold anyone to,
and is left to the first-derivative check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..catalog import Activation
from ..oracles import tables
from ..oracles.formats import Format
from ._call import CallError, call
from ._elementwise import _worst_or_flush
from ._results import Finding, literal

RANDOM = 2  # random directions, after the unit ones
SEED = 20  # fixed: the oracle's answers are cached by direction
MODES = {"jvp_jacrev": "forward over reverse (jax.jvp of jax.jacrev)",
         "jacrev_jvp": "reverse over forward (jax.jacrev of jax.jvp)"}


def directions(n: int, fmt: Format) -> np.ndarray:
    """The directions, one per row: the n unit vectors, then `RANDOM` standard normal ones
    rounded to ``fmt`` (the tangent the implementation is given, and so the oracle's)."""
    drawn = np.random.default_rng(SEED).standard_normal((RANDOM, n))
    return np.concatenate([np.eye(n), drawn]).astype(fmt.dtype).astype(np.float64)


def name(v: np.ndarray) -> str:
    """A direction as a row's label says it: ``e2`` for a unit vector, else its entries."""
    if np.count_nonzero(v) == 1 and v.max() == 1:
        return f"e{int(np.argmax(v))}"
    return literal([float(t) for t in v])


def judged(truth: tables.SliceAnswers, xs: np.ndarray) -> bool:
    """Whether the slice's Jacobian is finite everywhere, so its second derivative is
    judged."""
    return all(math.isfinite(e.hi) for row in truth.get(xs, grad=True) for e in row)


def prefill(truth: tables.SliceAnswers, slices: np.ndarray, fmt: Format) -> None:
    """The oracle's answer for every slice judged and every direction, in ``truth``."""
    for xs in slices:
        if judged(truth, xs):
            for v in directions(len(xs), fmt):
                truth.get(xs, grad=True, along=v)


def hessians(f: Callable[[Any], Any], xs: Any, along: np.ndarray
             ) -> dict[str, np.ndarray] | CallError:
    """Each mode's H_v for every direction and slice, (directions, slices, outputs of the
    first result, entries); `CallError` where a call raises."""
    def first(x):
        out = f(x)
        return out[0] if isinstance(out, tuple | list) else out

    s, n = xs.shape
    tangents = jnp.asarray(np.broadcast_to(along[:, None, :], (len(along), s, n)), xs.dtype)
    ways = {"jvp_jacrev": lambda t: jax.jvp(jax.jacrev(first), (xs,), (t,))[1],
            "jacrev_jvp": lambda t: jax.jacrev(lambda x: jax.jvp(first, (x,), (t,))[1])(xs)}
    found = {}
    for mode, way in ways.items():
        try:
            out = np.asarray(call(lambda w=way: jax.jit(jax.vmap(w))(tangents),
                                  what=MODES[mode]), np.float64)
        except CallError as e:
            return e
        out = out.reshape(len(along), s, -1, s, n)  # blocks off the diagonal are zero
        found[mode] = np.stack([out[:, k, :, k, :] for k in range(s)], axis=1)
    return found


def rows(act: Activation, names: tuple[str, ...], slices: np.ndarray, along: np.ndarray,
         found: dict[str, np.ndarray], truth: tables.SliceAnswers, fmt: Format,
         collect: Callable[..., None]) -> tuple[dict[str, list], int]:
    """The entries to judge, each row by ``collect`` (`_vector._collect`, with the row's
    `size` as its scale; ``at`` is (mode, (row, column, direction)) for the repro line),
    and the number of slices left out because their Jacobian is not finite."""
    table: dict[str, list] = {k: [] for k in ("x", "hi", "lo", "want", "got", "scale",
                                              "case", "at")}
    left_out = 0
    for k, (label, xs) in enumerate(zip(names, slices, strict=True)):
        if not judged(truth, xs):
            left_out += 1
            continue
        answers = [truth.get(xs, grad=True, along=v) for v in along]
        if act.reduces:  # logsumexp's sign is constant
            answers = [exact[:1] for exact in answers]
        largest = _largest(answers[:len(xs)])
        for d, (v, exact) in enumerate(zip(along, answers, strict=True)):
            for mode, got in found.items():
                for i, row in enumerate(exact):
                    collect(table, f"{label} along {name(v)} ({mode})", xs, got[d, k, i],
                            row, fmt, size(largest[i], v),
                            [(mode, (i, j, [float(t) for t in v])) for j in range(len(row))])
    return table, left_out


def _largest(unit: list[list[list[Any]]]) -> np.ndarray:
    """Each output's largest finite second-derivative entry |∂²f_i/∂x_j∂x_k|, from the
    answers along the unit vectors (which hold every column k)."""
    his = np.array([[[e.hi for e in row] for row in exact] for exact in unit], float)
    return np.max(np.abs(np.where(np.isfinite(his), his, 0)), axis=(0, 2))


def size(largest: float, v: np.ndarray) -> float:
    """What row i's errors along ``v`` count in ulps of: output i's largest Hessian entry
    times ‖v‖₁, the bound on |H_v[i][j]| = |Σ_k ∂²f_i/∂x_j∂x_k·v_k|. Normwise, as the
    Jacobian's rows count in ulps of their largest entry: a column of the Hessian whose
    entries are small by cancellation (softmax's ∂²s_i/∂x_i² = s_i(1 − s_i)(1 − 2s_i) at
    s_i near 1/2) is not held to its own ulps, which its inputs' rounding alone moves."""
    return float(largest * np.sum(np.abs(v)))


def finding(table: dict[str, list], left_out: int, err: np.ndarray, tol: float,
            fmt: Format) -> Finding:
    """The ``gradient:second`` row from each entry's error ``err``: the worst entry over
    both modes, every direction and slice (a NaN or ∞ where the truth is finite, as for
    any derivative, fails)."""
    if not table["x"]:
        return Finding("gradient:second", "skip",
                       detail="no slice with a finite Jacobian to differentiate")
    want, got = np.array(table["want"], float), np.array(table["got"], float)
    labels = np.array([f"{c}: {x}" for c, x in zip(table["case"], table["x"], strict=True)],
                      object)
    f = _worst_or_flush("gradient:second", labels, err, want, got, tol, fmt,
                        "second-derivative entries")
    f.detail += (" (Hessian-vector products along each unit vector and 2 random directions, "
                 "forward over reverse and reverse over forward, in ulps of each output's "
                 "largest Hessian entry times the direction's 1-norm)")
    if f.status != "pass":  # which slice, direction and mode (the row's input is the slice)
        f.detail += f"; worst at {labels[f.extra['worst_index']]}"
    if left_out:
        f.detail += (f"; {left_out} slice{'s' if left_out > 1 else ''} whose Jacobian is not "
                     "finite left to the gradient check")
    return f
