"""Activations along an axis, gated and index activations.

The largest entry of a slice is taken out before exponentiating, as everyone does; what
is done here too is to keep it out of the sum: log Σ exp(x_j − m) = log1p(Σ_{j≠k} exp(x_j
− m)) with k the arg-max, so log_softmax of a dominant entry is −log1p(tiny), not
−log(1 + tiny) = 0, and logsumexp loses nothing to the 1 that the top entry contributes.
Derivatives go through the softmax weights (`jax.custom_jvp`), never through the max.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from ._elementwise import _expm1_value, _log1p, _sigmoid
from ._precision import Array, widen

Axis = int | tuple[int, ...] | None


def _masked(w: Array, where: Array | None) -> Array:
    return w if where is None else jnp.where(where, w, -jnp.inf)


def _shifted(w: Array, axis: Axis) -> tuple[Array, Array, Array]:
    """m = the max along ``axis`` (kept), finite where the slice has a finite max, the
    shift s = x − m (x itself where m is not finite), and the arg-max entry as a mask."""
    m = jnp.max(w, axis=axis, keepdims=True)
    finite = jnp.isfinite(m)
    shift = w - jnp.where(finite, m, 0)
    flat = w if axis is None else jnp.moveaxis(w, _one_axis(axis, w.ndim), -1)
    first = jnp.argmax(flat.reshape(-1) if axis is None else flat, axis=-1, keepdims=True)
    if axis is None:
        top = (jnp.arange(w.size) == first).reshape(w.shape)
    else:
        top = jnp.moveaxis(jnp.arange(flat.shape[-1]) == first, -1, _one_axis(axis, w.ndim))
    return jnp.where(finite, m, 0), shift, top & jnp.broadcast_to(finite, w.shape)


def _one_axis(axis: Axis, ndim: int) -> int:
    if isinstance(axis, tuple):
        if len(axis) != 1:
            raise ValueError("the reference reduces one axis at a time, or all (axis=None)")
        axis = axis[0]
    return axis % ndim


def _log_sum(w: Array, axis: Axis) -> tuple[Array, Array, Array]:
    """m, the shift x − m and log Σ exp(x − m) along ``axis`` (kept), the top entry left out
    of the sum: log1p(rest). Where the max is not finite (all −inf, a +inf, a NaN) m is 0
    and the plain sum gives the answer."""
    m, shift, top = _shifted(w, axis)
    e = jnp.exp(shift)
    rest = jnp.sum(jnp.where(top, 0, e), axis=axis, keepdims=True)
    with_top = jnp.any(top, axis=axis, keepdims=True)
    return m, shift, jnp.where(with_top, _log1p(rest),
                               jnp.log(jnp.sum(e, axis=axis, keepdims=True)))


def _log_total(w: Array, axis: Axis) -> Array:
    """log Σ exp(x) along ``axis`` (kept)."""
    m, _, log_sum = _log_sum(w, axis)
    return m + log_sum


def _weights(w: Array, axis: Axis) -> tuple[Array, Array]:
    """The softmax weights s and the arg-max mask (no gradient flows through either)."""
    _, shift, top = _shifted(lax.stop_gradient(w), axis)
    e = jnp.exp(shift)
    return e / jnp.sum(e, axis=axis, keepdims=True), top


def _tangent_sums(w: Array, t: Array, axis: Axis):
    """The pieces of Σ_j s_j t_j = t_k − Σ_{j≠k} s_j (t_k − t_j), k the arg-max: writing
    it so keeps 1 − s_k = Σ_{j≠k} s_j exact where s_k is nearly 1 (softmax' of a dominant
    entry is s_k(1 − s_k), not 0). Returns t (0 at weight-0 entries: no inf·0), t_k, the
    sum over j≠k, the arg-max mask, whether there is one, and the plain Σ s_j t_j."""
    s, top = _weights(w, axis)
    t = jnp.where(s == 0, 0, t)
    t_k = jnp.sum(jnp.where(top, t, 0), axis=axis, keepdims=True)
    others = jnp.sum(jnp.where(top | (s == 0), 0, s * (t_k - t)), axis=axis, keepdims=True)
    has_top = jnp.any(top, axis=axis, keepdims=True)
    plain = jnp.sum(jnp.where(s == 0, 0, s * t), axis=axis, keepdims=True)
    return t, t_k, others, top, has_top, plain


def _mean_tangent(w: Array, t: Array, axis: Axis) -> Array:
    """Σ_j s_j t_j, linear in t, so jax.vjp transposes it."""
    _, t_k, others, _, has_top, plain = _tangent_sums(w, t, axis)
    return jnp.where(has_top, t_k - others, plain)


def _centered(w: Array, t: Array, axis: Axis) -> Array:
    """t_i − Σ_j s_j t_j as (t_i − t_k) + Σ_{j≠k} s_j (t_k − t_j), with t_i − t_k an exact
    0 at i = k, so that neither jvp nor its transpose (vjp) subtracts s_k from itself."""
    t, t_k, others, top, has_top, plain = _tangent_sums(w, t, axis)
    return jnp.where(has_top, jnp.where(top, 0, t - t_k) + others, t - plain)


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _lse(w: Array, axis: Axis) -> Array:
    return _log_total(w, axis)


@_lse.defjvp
def _lse_jvp(axis, primals, tangents):
    (w,), (t,) = primals, tangents
    return _lse(w, axis), _mean_tangent(w, t, axis)


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _softmax(w: Array, axis: Axis) -> Array:
    s = jnp.exp(w - lax.stop_gradient(_finite_max(w, axis)))
    return s / jnp.sum(s, axis=axis, keepdims=True)


@_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
    """s ⊙ (t − Σ_j s_j t_j)."""
    (w,), (t,) = primals, tangents
    s = _softmax(w, axis)
    return s, jnp.where(s == 0, 0, s * _centered(w, t, axis))


def softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    """exp(x_i − m) / Σ_j exp(x_j − m); masked-out entries are 0."""
    w, dtype = widen(x)
    out = _softmax(_masked(w, where), axis)
    if where is not None:
        out = jnp.where(where, out, 0)
    return out.astype(dtype)


def _finite_max(w: Array, axis: Axis) -> Array:
    m = jnp.max(w, axis=axis, keepdims=True)
    return jnp.where(jnp.isneginf(m), 0, m)


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
    return out, jnp.where(jnp.isneginf(out), 0, _centered(w, t, axis))


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
    """log |Σ b_i exp(w_i)| and its sign along ``axis`` (kept): the top term b_k exp(0)
    is taken out, log |b_k| + log |1 + r| with r the rest over it, so the rest is not lost
    to rounding against b_k (log1p where 1 + r > 0)."""
    w = jnp.where(b == 0, -jnp.inf, w)
    m, shift, top = _shifted(w, axis)
    terms = b * jnp.exp(shift)
    b_top = jnp.sum(jnp.where(top, terms, 0), axis=axis, keepdims=True)
    rest = jnp.sum(jnp.where(top, 0, terms), axis=axis, keepdims=True)
    has_top = jnp.any(top, axis=axis, keepdims=True)
    r = rest / jnp.where(has_top, b_top, 1)
    log_rest = jnp.where(r > -1, _log1p(jnp.maximum(r, -1)), jnp.log(jnp.abs(1 + r)))
    total = jnp.sum(terms, axis=axis, keepdims=True)
    out = jnp.where(has_top, m + jnp.log(jnp.abs(b_top)) + log_rest,
                    jnp.log(jnp.abs(total)))
    sign = jnp.where(has_top, jnp.sign(b_top) * jnp.sign(1 + r), jnp.sign(total))
    return out, sign


def logmeanexp(x: ArrayLike, axis: Axis = None, where: ArrayLike | None = None,
               keepdims: bool = False) -> Array:
    """log(Σ exp(x_i)/n) = m + log1p(Σ expm1(x_i − m)/n): no log n to cancel against."""
    w, dtype = widen(x)
    mask = jnp.ones(w.shape, bool) if where is None else jnp.broadcast_to(where, w.shape)
    w = _masked(w, mask)
    n = jnp.sum(mask, axis=axis, keepdims=True).astype(w.dtype)
    out = _lme(w, n, axis)
    if not keepdims:
        out = jnp.squeeze(out, axis=axis)
    return out.astype(dtype)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def _lme(w: Array, n: Array, axis: Axis) -> Array:
    m = _finite_max(w, axis)
    finite = jnp.isfinite(jnp.max(w, axis=axis, keepdims=True))
    mean_m1 = jnp.sum(_expm1_value(w - m), axis=axis, keepdims=True) / n
    # masked-out entries are −inf: expm1 gives −1 for each, which the count must not see
    masked = jnp.sum(jnp.isneginf(w), axis=axis, keepdims=True).astype(w.dtype)
    accurate = m + _log1p(mean_m1 + masked / n)
    plain = _log_total(w, axis) - jnp.log(n)
    return jnp.where(finite & (masked == 0), accurate, plain)


@_lme.defjvp
def _lme_jvp(axis, primals, tangents):
    (w, n), (t, _) = primals, tangents
    return _lme(w, n, axis), _mean_tangent(w, t, axis)


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
