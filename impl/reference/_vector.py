"""Activations along an axis, gated and index activations.

The largest entry of a slice is taken out before exponentiating, as everyone does; what
is done here too is to keep it out of the sum: log Σ exp(x_j − m) = log1p(Σ_{j≠k} exp(x_j
− m)) with k the arg-max, so log_softmax of a dominant entry is −log1p(tiny), not
−log(1 + tiny) = 0, and logsumexp loses nothing to the 1 that the top entry contributes.
Derivatives go through the softmax weights (`jax.custom_jvp`), never through the max.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from ._elementwise import _expm1_value, _log1p, _sigmoid
from ._precision import Array, widen

Axis = int | tuple[int, ...] | None


def _masked(w: Array, where: Array | None) -> Array:
    return w if where is None else jnp.where(where, w, -jnp.inf)


def _sum(v: Array, axis: Axis) -> Array:
    return jnp.sum(v, axis=axis, keepdims=True)


def _shifted(w: Array, axis: Axis) -> tuple[Array, Array, Array]:
    """m = the max along ``axis`` (kept) where it is finite, else 0; the shift x − m; and
    whether the max is finite."""
    m = jnp.max(w, axis=axis, keepdims=True)
    finite = jnp.isfinite(m)
    m = jnp.where(finite, m, 0)
    return m, w - m, finite


def _top(w: Array, m: Array, finite: Array) -> Array:
    """The entries equal to the slice's max ``m``, where it is ``finite``, as a mask."""
    return (w == m) & finite


def _log_sum(w: Array, axis: Axis) -> tuple[Array, Array, Array]:
    """m, the shift x − m and log Σ exp(x − m) along ``axis`` (kept).

    Where a slice is dominated by its max (the sum S < 2: one entry holds more than half
    of it), the rounding of S = 1 + rest loses the rest, and log S is then taken as
    log1p(rest) with the top entry (exp(0) = 1, c of them in a tie) out of the sum. That
    costs a pass of its own, with a mask, so it is made only when some slice needs it;
    for S ≥ 2, log S is accurate as it is. Where the max is not finite (all −inf, a +inf,
    a NaN) there is no top entry and m is 0."""
    m, shift, finite = _shifted(w, axis)
    total = _sum(jnp.exp(shift), axis)

    def accurate(w, m, finite):
        top = _top(w, m, finite)
        c = _sum(top, axis).astype(w.dtype)
        rest = _sum(jnp.where(top, 0, jnp.exp(w - m)), axis)
        return jnp.where(c > 0, jnp.log(c) + _log1p(rest / jnp.maximum(c, 1)),
                         jnp.log(rest))

    def plain(w, m, finite):
        return jnp.log(total)

    # e is not an operand: it would be written out whole instead of summed as it is made
    return m, shift, lax.cond(jnp.any(total < 2), accurate, plain, w, m, finite)


class _Weights(NamedTuple):
    """The softmax weights s and the constants of the tangent map: the top entries T (a
    mask) and their count c, s with the top entries zeroed, and Σ s over T and over the
    rest (1 − S_T, summed from the small weights)."""

    s: Array
    top: Array
    c: Array
    s_others: Array
    s_top: Array
    s_rest: Array


def _weights(w: Array, axis: Axis) -> _Weights:
    """The softmax weights and the constants of the tangent map. A +inf or NaN max stays
    in the shift, so such a slice is NaN throughout."""
    w = lax.stop_gradient(w)
    m = jnp.max(w, axis=axis, keepdims=True)
    e = jnp.exp(w - jnp.where(jnp.isneginf(m), 0, m))
    s = e / _sum(e, axis)
    top = _top(w, m, jnp.isfinite(m))
    s_others = jnp.where(top, 0, s)
    return _Weights(s, top, _sum(top, axis).astype(s.dtype), s_others,
                    _sum(jnp.where(top, s, 0), axis), _sum(s_others, axis))


def _centered(k: _Weights, t: Array, axis: Axis) -> tuple[Array, Array]:
    """(t_i − Σ_j s_j t_j, Σ_j s_j t_j): linear in the tangent t, so that jax.vjp
    transposes them. With t_T the mean tangent of the top entries T and Σ' = Σ_{j∉T} s_j
    t_j: Σ_j s_j t_j = S_T·t_T + Σ' and, for i in T, t_i − Σ_j s_j t_j = (t_i − t_T) +
    (1 − S_T)·t_T − Σ', so a dominant entry keeps s_k(1 − s_k), not s_k − s_k = 0. Two
    sums of the tangent; the rest are constants (`_Weights`)."""
    t = jnp.where(k.s == 0, 0, t)  # tangents at weight-0 entries count as 0: no inf · 0
    t_top = _sum(jnp.where(k.top, t, 0), axis) / jnp.maximum(k.c, 1)
    others = _sum(k.s_others * t, axis)
    mean = k.s_top * t_top + others
    # t_i − t_T is an exact 0 for a single top entry: not t_k − t_k, whose transpose (in
    # jax.vjp) would add −1 to s_rest and round it away before adding the 1 back
    spread = jnp.where(k.c > 1, t - t_top, 0)
    return jnp.where(k.top, spread + (k.s_rest * t_top - others), t - mean), mean


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _lse(w: Array, axis: Axis) -> Array:
    m, _, log_sum = _log_sum(w, axis)
    return m + log_sum


@_lse.defjvp
def _lse_jvp(axis, primals, tangents):
    (w,), (t,) = primals, tangents
    return _lse(w, axis), _centered(_weights(w, axis), t, axis)[1]


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _softmax(w: Array, axis: Axis) -> Array:
    return _weights(w, axis).s


@_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
    """s ⊙ (t − Σ_j s_j t_j)."""
    (w,), (t,) = primals, tangents
    k = _weights(w, axis)
    return k.s, jnp.where(k.s == 0, 0, k.s * _centered(k, t, axis)[0])


def softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    """exp(x_i − m) / Σ_j exp(x_j − m); masked-out entries are 0."""
    w, dtype = widen(x)
    out = _softmax(_masked(w, where), axis)
    if where is not None:
        out = jnp.where(where, out, 0)
    return out.astype(dtype)


def log_softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    """x_i − log Σ_j exp(x_j); masked-out entries are −inf."""
    w, dtype = widen(x)
    out = _log_softmax(_masked(w, where), axis)
    if where is not None:
        out = jnp.where(where, out, -jnp.inf)
    return out.astype(dtype)


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _log_softmax(w: Array, axis: Axis) -> Array:
    """NaN for a slice with +inf or NaN; −inf entries stay −inf."""
    _, shift, log_sum = _log_sum(w, axis)
    top = jnp.max(w, axis=axis, keepdims=True)
    return jnp.where(jnp.isposinf(top) | jnp.isnan(top), jnp.nan, shift - log_sum)


@_log_softmax.defjvp
def _log_softmax_jvp(axis, primals, tangents):
    """t_i − Σ_j s_j t_j; 0 for a −inf result, which stays −inf whatever the others do."""
    (w,), (t,) = primals, tangents
    out = _log_softmax(w, axis)
    return out, jnp.where(jnp.isneginf(out), 0, _centered(_weights(w, axis), t, axis)[0])


def logsumexp(a: ArrayLike, axis: Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool = False,
              where: ArrayLike | None = None) -> Array | tuple[Array, Array]:
    """log |Σ b_i exp(a_i)| (and its sign with ``return_sign``; else NaN for a negative
    sum). Entries with b = 0 or masked out do not count."""
    w, dtype = widen(a)
    if where is not None:
        w = _masked(w, where)
    if b is None:
        out = _lse(w, axis)
        sign = jnp.ones_like(out)
    else:
        out, sign = _signed_lse(w, jnp.asarray(b, w.dtype), axis)
    if not keepdims:
        out, sign = jnp.squeeze(out, axis=axis), jnp.squeeze(sign, axis=axis)
    if return_sign:
        return out.astype(dtype), sign.astype(dtype)
    # a negative sum has no logarithm: NaN, and (by the product) a NaN derivative
    return (out * jnp.where(sign < 0, jnp.nan, 1)).astype(dtype)


def _signed_lse(w: Array, b: Array, axis: Axis) -> tuple[Array, Array]:
    """log |Σ b_i exp(w_i)| and its sign along ``axis`` (kept): the top terms (b_T, the
    sum of their b·exp(0)) are taken out, log |b_T| + log |1 + r| with r the rest
    over b_T, so the rest is not lost to rounding against b_T (log1p where 1 + r > 0)."""
    w = jnp.where(b == 0, -jnp.inf, w)
    m, shift, finite = _shifted(w, axis)
    top = _top(w, m, finite)
    terms = b * jnp.exp(shift)
    b_top = _sum(jnp.where(top, terms, 0), axis)  # b·exp(0), but differentiable in w
    rest = _sum(jnp.where(top, 0, terms), axis)
    split = b_top != 0  # no top entry (a max that is not finite), or top terms cancelling
    r = rest / jnp.where(split, b_top, 1)
    log_rest = jnp.where(r > -1, _log1p(jnp.maximum(r, -1)), jnp.log(jnp.abs(1 + r)))
    whole = jnp.log(jnp.abs(jnp.where(split, 1, rest)))  # (no 0 · inf in the gradient)
    out = m + jnp.where(split, jnp.log(jnp.abs(b_top)) + log_rest, whole)
    sign = jnp.where(split, jnp.sign(b_top) * jnp.sign(1 + r), jnp.sign(rest))
    return out, sign


def logmeanexp(x: ArrayLike, axis: Axis = None, where: ArrayLike | None = None,
               keepdims: bool = False) -> Array:
    """log(Σ exp(x_i)/n) = m + log1p(Σ expm1(x_i − m)/n): no log n to cancel against."""
    w, dtype = widen(x)
    mask = jnp.ones(w.shape, bool) if where is None else jnp.broadcast_to(where, w.shape)
    out = _lme(_masked(w, mask), mask.astype(w.dtype), axis)
    if not keepdims:
        out = jnp.squeeze(out, axis=axis)
    return out.astype(dtype)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def _lme(w: Array, included: Array, axis: Axis) -> Array:
    """Masked-out entries (−inf, ``included`` 0) are left out of the sum of expm1 and of
    the count n. Where the max is not finite, log(Σ expm1 + n) − log n: −inf for an all
    −inf slice, +inf or NaN as the entries make it."""
    n = _sum(included, axis)
    m, shift, finite = _shifted(w, axis)
    total = _sum(jnp.where(included > 0, _expm1_value(shift), 0), axis)
    return m + jnp.where(finite, _log1p(total / n), jnp.log(total + n) - jnp.log(n))


@_lme.defjvp
def _lme_jvp(axis, primals, tangents):
    (w, included), (t, _) = primals, tangents
    return _lme(w, included, axis), _centered(_weights(w, axis), t, axis)[1]


def glu(x: ArrayLike, axis: int = -1) -> Array:
    """a·σ(g) for x split in halves a, g along ``axis``."""
    w, dtype = widen(x)
    size = w.shape[axis]
    if size % 2:
        raise ValueError(f"glu needs an even size along axis {axis}, got {size}")
    a, g = jnp.split(w, 2, axis=axis)
    return (a * _sigmoid(g)).astype(dtype)


def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Array:
    """Row i: 1 at column x_i; an index outside [0, num_classes) gives a row of zeros."""
    x = jnp.asarray(x)
    out = (x[..., None] == jnp.arange(num_classes, dtype=x.dtype))
    dtype = dtype if dtype is not None else jnp.zeros(()).dtype
    return jnp.moveaxis(out.astype(dtype), -1, axis)


def standardize(x: ArrayLike, axis: Axis = -1, mean: ArrayLike | None = None,
                variance: ArrayLike | None = None, epsilon: ArrayLike = 1e-5,
                where: ArrayLike | None = None, *, algorithm: str = "fast") -> Array:
    """(x − mean)/√(variance + ε), the population variance over ``where``.

    Both algorithms compute the same value here. The computed mean is kept as two numbers,
    m + r with r the mean of the residuals x − m (exact for x near m), so x − m − r is
    accurate even where the mean of a large-offset slice is not representable; the
    variance is the two-pass mean of those squared deviations. An infinite or NaN
    included entry makes computed statistics, and so the slice, NaN.
    """
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"Unknown algorithm {algorithm!r}. Expected 'fast' or 'stable'.")
    w, dtype = widen(x)
    if mean is None:
        m = jnp.mean(w, axis, keepdims=True, where=where)
        m = jnp.where(jnp.isfinite(m), m, 0)
        r = jnp.mean(w - m, axis, keepdims=True, where=where)
        d = (w - m) - r
    else:
        d = w - jnp.asarray(mean, w.dtype)
    if variance is None:
        v = jnp.mean(jnp.square(d), axis, keepdims=True, where=where)
    else:
        v = jnp.asarray(variance, w.dtype)
    out = d * lax.rsqrt(v + jnp.asarray(epsilon, w.dtype))
    if mean is None or variance is None:
        included = jnp.isfinite(w) if where is None else jnp.isfinite(w) | ~where
        defined = jnp.all(included, axis, keepdims=True)
        out = out * jnp.where(defined, 1, jnp.nan)  # NaN, and NaN derivatives
    return out.astype(dtype)
