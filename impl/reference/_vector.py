"""Activations along an axis, gated and index activations.

The largest entry of a slice is taken out before exponentiating, as everyone does; what
is done here too is to keep it out of the sum where it would swamp it: when one entry holds
more than half of Σ exp(x_j − m) (the slice is *dominated*), log Σ is taken as log1p of the
rest, so log_softmax of a dominant entry is −log1p(tiny), not −log(1 + tiny) = 0.
Derivatives go through the softmax weights (`jax.custom_jvp`), never through the max, and
the top entry's tangent is taken out the same way (`_centered`).

Speed: on XLA's CPU backend a reduction fuses arithmetic but not a compare or a select, so
the masks that go into sums here are arithmetic (`_off_top`), the extra pass over a slice
is made only when some slice is dominated (`lax.cond`), and the tangent maps are written
so that their transposes (jax.vjp) are as short as they are. The totals of the
exponentials are split into parts that XLA's plain sums add exactly (`_unit_total`), not
added pairwise level by level: XLA fuses the levels and recomputes each input many times.
Memory: a backward pass keeps two numbers per slice; the tangent maps are recomputed
from the input (`_recomputed`).
"""

from __future__ import annotations

import math
import operator
import warnings
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import dtypes, lax
from jax.ad_checkpoint import checkpoint_name
from jax.typing import ArrayLike

from ._elementwise import _expm1_value, _log1p, _swish
from ._precision import _NARROW, Array, drop_in, param, widen

Axis = int | tuple[int, ...] | None


def _sum(v: Array, axis: Axis) -> Array:
    return jnp.sum(v, axis=axis, keepdims=True)


def _axes(ndim: int, axis: Axis) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes (None: all)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _total(v: Array, axis: Axis, exact: bool = True) -> Array:
    """Σ v along ``axis`` (kept), added pairwise, halves upon halves, with each addition's
    rounding error kept (`two_sum`) and added back at the end: about correctly rounded for
    a slice of any length. A running sum, as XLA's reduction is on the CPU, loses up to
    half an ulp per entry: 30 ulps of float64 over 128 equal terms. (For the totals of the
    exponentials; the sums of tangents stay plain: they are checked on short slices.)
    Not ``exact``: XLA's sum, for an input widened from float16 or bfloat16, whose 13
    extra bits a running sum of 100,000 entries does not use up."""
    if not exact:
        return _sum(v, axis)
    axes = _axes(v.ndim, axis)
    kept = [a for a in range(v.ndim) if a not in axes]
    hi = jnp.transpose(v, kept + list(axes)).reshape(*[v.shape[a] for a in kept], -1)
    n = hi.shape[-1]
    if n == 0:
        return jnp.sum(v, axis=axis, keepdims=True)
    hi = jnp.pad(hi, [(0, 0)] * (hi.ndim - 1) + [(0, (1 << (n - 1).bit_length()) - n)])
    lo = jnp.zeros_like(hi)
    while hi.shape[-1] > 1:
        h = hi.shape[-1] // 2
        s, e = _two_sum(hi[..., :h], hi[..., h:])
        lo = lo[..., :h] + lo[..., h:] + jnp.where(jnp.isfinite(s), e, 0)
        hi = s
    return jnp.expand_dims((hi + lo)[..., 0], axes)


_CHUNK = 2048  # the longest slice `_unit_total` sums in one piece


def _unit_total(v: Array, axis: Axis, bound: Array | None = None) -> Array:
    """Σ v along ``axis`` (kept) for 0 ≤ v ≤ 1 and a sum of at least 1 (the exponentials of
    a slice, its top entry 1), to a small fraction of an ulp, at the cost of a few plain
    sums: each v is split into parts whose sums XLA adds exactly in any order
    (`_split_sum`). A longer slice is summed in chunks of `_CHUNK`, and the chunks'
    totals by `_total`. With a ``bound`` on |v| per slice (kept dims), a sum of any size
    and sign: each slice is first scaled by the power of two that brings its bound to
    [1/2, 1), and the error is a small fraction of an ulp of the bound (the rest of a
    dominated slice, whose bound is its largest entry; the terms of logsumexp with b)."""
    if bound is not None:
        e = jnp.maximum(jnp.frexp(bound)[1], jnp.finfo(v.dtype).minexp)
        return _unit_total(v * jnp.ldexp(jnp.ones_like(bound), -e), axis) * jnp.ldexp(
            jnp.ones_like(bound), e)
    axes = _axes(v.ndim, axis)
    n = 1
    for a in axes:
        n *= v.shape[a]
    if n <= _CHUNK:
        return _split_sum(v, axes, n)
    kept = [a for a in range(v.ndim) if a not in axes]
    flat = jnp.transpose(v, kept + list(axes)).reshape(*[v.shape[a] for a in kept], -1)
    flat = jnp.pad(flat, [(0, 0)] * (flat.ndim - 1) + [(0, -n % _CHUNK)])
    hi, lo, first = _split(flat.reshape(*flat.shape[:-1], -1, _CHUNK), (flat.ndim,), _CHUNK)
    total = _total(jnp.concatenate([hi, lo], -2), -2)  # each chunk's hi and lo
    return jnp.expand_dims(_finite_or(total, _sum(first, -2))[..., 0, 0], axes)


def _split_sum(v: Array, axes: tuple[int, ...], n: int) -> Array:
    """Σ v over ``axes`` (kept) (`_split`)."""
    hi, lo, first = _split(v, axes, n)
    return _finite_or(hi + lo, first)


def _finite_or(total: Array, first: Array) -> Array:
    """An inf or NaN entry makes the remainders NaN: then the first level's plain sum is
    what the total is."""
    return jnp.where(jnp.isfinite(first), total, first)


def _split(v: Array, axes: tuple[int, ...], n: int) -> tuple[Array, Array, Array]:
    """Σ v over ``axes`` (kept), n entries of |v| ≤ 1 (a sum of at least 1 for the bound
    on the error to be a fraction of its ulp).

    v is rounded to a multiple q of δ = 2^(k + 1 − p) for n ≤ 2^(k+1) (p the significand's
    bits), and v − q is exact, at most δ/2: every partial sum of the q is a multiple of δ
    below 2^(k+1) in magnitude, so XLA adds them exactly in whatever order it takes. The
    remainders are split again with δ·2^(k − p), and so on, until a plain sum of the
    last remainders, whose error is at most n·u·Σ|r| ≤ n²·u·max|r|, is below 2^−(p+3)
    (1/8 of an ulp of a sum of at least 1); the exact partial sums are then added with
    `two_sum`. Two levels for a slice of up to 2048 float32 entries, one in float64. (A
    multiple of δ is taken with round, not as (σ + v) − σ, which XLA folds to v.) The
    sum as hi + lo, and the first level's sum (`_finite_or`)."""
    p = jnp.finfo(v.dtype).nmant + 1  # 24, 53
    k = max((n - 1).bit_length() - 1, 0)  # n ≤ 2^(k+1)
    delta, sums = 2.0 ** (k + 1 - p), []
    while True:
        q = jnp.round(v * (1 / delta)) * delta
        v = v - q
        sums.append(jnp.sum(q, axis=axes, keepdims=True))
        if n * n * 2.0 ** -p * delta / 2 <= 2.0 ** -(p + 3):
            break
        delta *= 2.0 ** (k - p)
    hi, lo = jnp.sum(v, axis=axes, keepdims=True), jnp.zeros((), v.dtype)
    for part in reversed(sums):
        hi, e = _two_sum(part, hi)
        lo = lo + e
    return hi, lo, sums[0]


def _two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """`two_sum` without its selects, which only a constant operand needs (XLA folds
    (1 + b) − 1, not (a + b) − a): a third of the tree's compile time."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _exact(w: Array, dtype: Any) -> bool:
    """Whether sums need `_total`'s compensation: not where the input was widened (its
    working precision has bits to spare)."""
    return jnp.dtype(w.dtype) == jnp.dtype(dtype)


def _exp_shifted(shift: Array, lo: Array) -> Array:
    """exp(shift + lo) for the rounded shift x − m and its rounding error ``lo``
    (`_shifted`): exp(shift)·(1 + lo), so that an entry far below the max is not |x − m|
    half-ulps off (exp(−30 + lo) in float32 would be 15 ulps off)."""
    ex = jnp.exp(shift)
    return jnp.where(lo == 0, ex, ex + ex * lo)  # (no ∞ · 0 at an infinite shift)


def _shifted(x: Array, axis: Axis) -> tuple[Array, Array, Array, Array]:
    """m = the max of x (in its own dtype) along ``axis`` (kept) where it is finite, else
    0, in working precision; the shift x − m, rounded, and its rounding error
    (`_split_shift`); and whether the max is finite. The max of a 16-bit x is taken as
    it is (widening it is exact), so that its widening is fused into the pass that uses
    it, not written out for the max."""
    m = jnp.max(x, axis=axis, keepdims=True, initial=-jnp.inf)  # (an empty slice: −inf)
    w = _work(x)
    m = m.astype(w.dtype)
    finite = jnp.isfinite(m)
    m = jnp.where(finite, m, 0)
    return m, *_split_shift(w, m, _exact(w, x.dtype)), finite


def _split_shift(w: Array, m: Array, exact: bool) -> tuple[Array, Array]:
    """x − m rounded, and its rounding error (`two_sum`; 0 where the shift is not finite).
    Not ``exact`` (a 16-bit input in float32): the error is taken as 0. It is one where
    the two differ by more than 2^16 in magnitude, and at most 2^−24·|x − m| there, a
    relative error of exp(x − m) far below a 16-bit ulp wherever exp(x − m) is not 0."""
    if not exact:
        return w - m, jnp.zeros((), w.dtype)
    shift, lo = _two_sum(w, -m)  # (neither is a constant, nor a product to contract)
    return shift, jnp.where(jnp.isfinite(shift), lo, 0)


_BIG = {jnp.dtype(d): 2.0 ** (jnp.finfo(d).maxexp - 1) for d in (jnp.float32, jnp.float64)}


def _off_top(w: Array, m: Array) -> Array:
    """0 at the entries equal to the max ``m``, 1 elsewhere, as arithmetic: the smallest
    normal gap m − x times 2^(maxexp − 1) is at least 2 (gaps that flush to 0 count as
    top entries, whose exp is 1 all the same)."""
    return jnp.minimum((m - w) * _BIG[w.dtype], 1)


class _Stats(NamedTuple):
    """One pass over each slice (dims kept): m (`_shifted`); the total Σ exp(x − m);
    ``dominated``, a finite max with total < 2, so one top entry holding more
    than half of the sum (a tie would make the total ≥ 2); ``rest``, Σ exp(shift) over
    the entries but that top one, summed only when some slice is dominated (else the
    total); and ``norm``, the total, NaN where the max is +inf or NaN (weights NaN)."""

    m: Array
    total: Array
    dominated: Array
    rest: Array
    norm: Array


def _stats(x: Array, axis: Axis) -> _Stats:
    """`_Stats` of x (in its own dtype), in working precision; compensated sums unless x
    was 16-bit. The pass over a dominated slice recomputes its exponentials from x (a
    lax.cond operand is written out: x is already, and exp(x − m) need not be, fused
    into its sum)."""
    exact = _exact(_work(x), x.dtype)
    m, shift, lo, finite = _shifted(x, axis)
    e = _exp_shifted(shift, lo)
    total = _unit_total(e, axis) if exact else _sum(e, axis)
    dominated = finite & (total < 2)

    def rest_of(x: Array, m: Array) -> Array:
        w = _work(x)
        e = _exp_shifted(*_split_shift(w, m, exact))
        others = jnp.minimum(e, (m - w) * _BIG[w.dtype])  # e·_off_top(w, m), a product fewer
        return (_unit_total(others, axis, jnp.max(others, axis, keepdims=True, initial=0))
                if exact else _sum(others, axis))

    rest = lax.cond(jnp.any(dominated), rest_of, lambda x, m: total, x, m)
    # a max of +inf or NaN makes the total inf or NaN; an all −inf slice's total is 0
    norm = jnp.where(~finite & (total != 0), jnp.nan, total)
    return _Stats(m, total, dominated, rest, norm)


def _log_total(k: _Stats) -> Array:
    """log Σ exp(shift): log1p(rest) for a dominated slice, whose total rounds the rest
    away against the top entry's 1."""
    return jnp.where(k.dominated, _log1p(k.rest), jnp.log(k.total))


# Derivatives. Each function of a slice is a custom_jvp of the operand x (in its own
# dtype) and of the slice's statistics, held constant: m and the signed norm (`_kept`).
# Its rule goes through the softmax weights s, never through the max or the sums, and its
# tangent map is recomputed in the backward pass from x and those statistics
# (`_recomputed`): a backward pass keeps two numbers per slice, and no array of x's size
# (jax.nn's keep the exponentials). Differentiated again, s changes by `_weights_at`'s
# own rule, not by the derivative of its evaluation (through the max, the compensated
# sums and their rounding errors), which was 80 ulps off in float32.


def _kept(k: _Stats) -> tuple[Array, Array]:
    """m and the norm, negated where the slice is dominated (its norm is at least 1
    there): constants (stop_gradient), all that a backward pass keeps of a slice
    (`_statistic`, for a jax.checkpoint around the function: softmin)."""
    return (_statistic(lax.stop_gradient(k.m)),
            _statistic(lax.stop_gradient(jnp.where(k.dominated, -k.norm, k.norm))))


def _statistic(v: Array) -> Array:
    """``v``, a statistic of a slice, named so that a jax.checkpoint with `_KEEP_STATISTICS`
    keeps it and recomputes the rest from the input."""
    return checkpoint_name(v, "slice_statistic")


_KEEP_STATISTICS = jax.checkpoint_policies.save_only_these_names("slice_statistic")


def _recomputed(rule: Any, axis: Axis) -> Any:
    """``rule(axis, x, m, signed, t)``, linear in t, as jax.checkpoint: the backward pass
    recomputes its intermediates (s, its masks) from its primal operands instead of
    keeping them."""
    return jax.checkpoint(partial(rule, axis))


def _shift(x: Array, m: Array) -> tuple[Array, Array]:
    """The shift x − m in working precision and its rounding error, as `_shifted` takes
    them."""
    return _split_shift(_work(x), m, _exact(_work(x), x.dtype))


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def _weights_at(x: Array, m: Array, signed: Array, axis: Axis) -> Array:
    """The softmax weights exp(x − m)/Σ_j exp(x_j − m), from the slice's `_kept`."""
    return _exp_shifted(*_shift(x, m)) / jnp.abs(signed)


@_weights_at.defjvp
def _weights_at_jvp(axis, primals, tangents):
    """s ⊙ (t − Σ_j s_j t_j)."""
    x, m, signed = primals
    return (_weights_at(x, m, signed, axis),
            _recomputed(_softmax_tangent, axis)(x, m, signed, tangents[0]))


def _softmax_tangent(axis: Axis, x: Array, m: Array, signed: Array, t: Array) -> Array:
    s = _weights_at(x, m, signed, axis)
    return jnp.where(s == 0, 0, s * _centered(x, m, signed < 0, s, t, axis))


def _centered(x: Array, m: Array, dominated: Array, s: Array, t: Array, axis: Axis
              ) -> Array:
    """t_i − Σ_j s_j t_j, linear in the tangent t (so that jax.vjp transposes it), for
    weights s that sum to 1. With t_k the tangent of the one top entry of a ``dominated``
    slice (0 elsewhere) and u = t − t_k:
    u − Σ_j s_j u_j, equal since Σ s = 1, and accurate where it matters: at the top entry
    it is −Σ_{j≠k} s_j(t_j − t_k), not t_k − s_k·t_k − … (s_k(1 − s_k) survives). u_k
    is an exact 0 (a factor 0, not t_k − t_k), so the transpose gives the top entry
    −Σ_{j≠k} ū_j, a sum without it, not ū_k − Σ_j ū_j (whose cancellation fails where
    XLA computes ū twice, once with a fused multiply-add). One more sum than the plain
    map; both are sums of products, which fuse. ``top`` is held constant (its derivative
    is 0 wherever it is defined)."""
    t = jnp.where(s == 0, 0, _work(t))  # tangents at weight-0 entries count as 0: no inf·0
    # a mask, constant where it is defined: differentiated (a second derivative), its
    # (m − w)·2^(maxexp − 1) sends ±2^127 to m and to w, which cancel in reverse mode and
    # take the top entry's true cotangent with them (jax.jacrev of jax.jvp lost it)
    top = lax.stop_gradient(jnp.where(dominated, 1 - _off_top(_work(x), m), 0))
    u = (1 - top) * (t - _sum(top * t, axis))
    return u - _sum(s * u, axis)


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def _log_weights_at(x: Array, m: Array, signed: Array, log_total: Array, axis: Axis
                    ) -> Array:
    """log_softmax from the slice's `_kept` and log Σ exp(x − m): NaN for a slice with
    +inf or NaN; −inf entries stay −inf."""
    shift, lo = _shift(x, m)
    return jnp.where(jnp.isnan(signed), jnp.nan, (shift - log_total) + lo)


@_log_weights_at.defjvp
def _log_weights_at_jvp(axis, primals, tangents):
    """t_i − Σ_j s_j t_j, for an entry of weight 0 too (−inf, or far below the rest): its
    Jacobian row is δ_ij − s_j, the limit at −inf, as jax.nn's (a masked-out entry's
    tangent is dropped by the caller's where)."""
    x, m, signed, log_total = primals
    return (_log_weights_at(x, m, signed, log_total, axis),
            _recomputed(_log_softmax_tangent, axis)(x, m, signed, tangents[0]))


def _log_softmax_tangent(axis: Axis, x: Array, m: Array, signed: Array, t: Array) -> Array:
    s = _weights_at(x, m, signed, axis)
    own = jnp.where(s == 0, _work(t), 0)  # the t_i that `_centered` leaves out where s_i = 0
    return _centered(x, m, signed < 0, s, t, axis) + own


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def _pooled(x: Array, m: Array, signed: Array, value: Array, axis: Axis) -> Array:
    """``value``, a log-sum or log-mean of exp(x) along ``axis`` (kept), whose derivative
    is the softmax weights: Σ_j s_j t_j (logsumexp, logmeanexp)."""
    return value


@_pooled.defjvp
def _pooled_jvp(axis, primals, tangents):
    x, m, signed, value = primals
    return (_pooled(x, m, signed, value, axis),
            _recomputed(_mean_tangent, axis)(x, m, signed, tangents[0]))


def _mean_tangent(axis: Axis, x: Array, m: Array, signed: Array, t: Array) -> Array:
    """Σ_j s_j t_j (transposed: s times the cotangent); tangents at weight-0 entries count
    as 0 (no inf·0)."""
    s = _weights_at(x, m, signed, axis)
    return _sum(s * jnp.where(s == 0, 0, _work(t)), axis)


def _operand(x: ArrayLike, where: ArrayLike | None) -> tuple[Array, Any]:
    """x in its own dtype (an integer input as `widen` makes it a float), −inf where
    masked out, and the dtype of the result. A backward pass keeps this, not its
    widening: the rules widen it themselves (`_work`)."""
    w, dtype = widen(x)
    x = jnp.asarray(x)
    x = x if x.dtype == dtype else w
    return (x if where is None else jnp.where(where, x, -jnp.inf)), dtype


def _work(x: Array) -> Array:
    """x in working precision: float16 and bfloat16 as float32."""
    return x.astype(jnp.float32) if x.dtype in _NARROW else x


@drop_in("softmax")
def softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    """exp(x_i − m) / Σ_j exp(x_j − m); masked-out entries are 0."""
    x, dtype = _operand(x, where)
    out = _weights_at(x, *_kept(_stats(x, axis)), axis)
    if where is not None:
        out = jnp.where(where, out, 0)
    return out.astype(dtype)


@drop_in("softmin")
def softmin(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    """softmax(−x) (torch's softmin): the negation is exact, and recomputed in the
    backward pass (jax.checkpoint), which keeps the statistics of each slice but not −x."""
    return jax.checkpoint(lambda x: softmax(-x, axis, where),
                          policy=_KEEP_STATISTICS)(jnp.asarray(x))


@drop_in("log_softmax")
def log_softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    """x_i − log Σ_j exp(x_j); masked-out entries are −inf."""
    x, dtype = _operand(x, where)
    k = _stats(x, axis)
    out = _log_weights_at(x, *_kept(k), lax.stop_gradient(_log_total(k)), axis)
    if where is not None:
        out = jnp.where(where, out, -jnp.inf)
    return out.astype(dtype)


@drop_in("logsumexp")
def logsumexp(a: ArrayLike, axis: Axis = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool = False,
              where: ArrayLike | None = None) -> Array | tuple[Array, Array]:
    """log |Σ b_i exp(a_i)| (and its sign with ``return_sign``; else NaN for a negative
    sum). Entries with b = 0 or masked out do not count."""
    x, dtype = _operand(a, where)
    if b is None:
        k = _stats(x, axis)
        out = _pooled(x, *_kept(k), lax.stop_gradient(k.m + _log_total(k)), axis)
        sign = jnp.ones_like(out)
    else:
        b = jnp.asarray(b)
        b = b if b.dtype == x.dtype else b.astype(_work(x).dtype)  # kept as it is
        out, sign, *kept = _signed_lse(lax.stop_gradient(x), lax.stop_gradient(b), axis)
        out = _signed_pooled(x, b, *kept, out, axis)
    # the empty sum (all −inf, or nothing selected) is exactly 0; a NaN sum has no sign
    sign = jnp.where(jnp.isnan(out), jnp.nan, jnp.where(out == -jnp.inf, 0, sign))
    if not keepdims:
        out, sign = jnp.squeeze(out, axis=axis), jnp.squeeze(sign, axis=axis)
    if return_sign:
        return out.astype(dtype), sign.astype(dtype)
    # a negative sum has no logarithm: NaN, and (by the product) a NaN derivative
    return (out * jnp.where(sign < 0, jnp.nan, 1)).astype(dtype)


def _signed_lse(x: Array, b: Array, axis: Axis) -> tuple[Array, Array, Array, Array, Array]:
    """log |Σ b_i exp(x_i)| and its sign along ``axis`` (kept), and m, the signed total
    Σ b_i exp(x_i − m) and whether the slice is dominated (`_signed_weights_at`'s
    statistics). The top terms (b_T, the sum of their b·exp(0)) are taken out,
    log |b_T| + log |1 + r| with r the rest over b_T, so the rest is not lost to
    rounding against b_T (log1p where 1 + r > 0). Dominated: one top entry, and
    |r| < 1/2 (a count of the top entries, made only when some slice has so small an r).
    Not differentiable (`_signed_pooled` is). The top mask is `_off_top`'s, clipped at 0:
    a max that is +inf makes every entry a top one (m is 0 there). x and b in their own
    dtypes; the count recomputes the top entries from them (a lax.cond operand is written
    out, x and b are already). (XLA's CPU sums do not fuse the b = 0 select nor the clip:
    over a whole array this writes out four arrays of x's size that jax.nn's does not.)"""
    exact = _exact(_work(x), x.dtype)

    def top_of(x: Array, b: Array, m: Array) -> Array:  # e = 1 there: b·(e − top) is 0
        return 1 - jnp.maximum(_off_top(_work(_counted(x, b)), m), 0)  # (< 0 past a +inf m)

    m, shift, lo, finite = _shifted(_counted(x, b), axis)
    e = _exp_shifted(shift, lo)
    top, b = top_of(x, b, m), _work(b)
    if exact:
        scale = jnp.max(jnp.abs(b * e), axis=axis, keepdims=True, initial=0)
        b_top, rest = (_unit_total(b * top, axis, scale), _unit_total(b * (e - top), axis, scale))
    else:
        b_top, rest = _sum(b * top, axis), _sum(b * (e - top), axis)
    split = b_top != 0  # no top entry (a max that is not finite), or top terms cancelling
    r = rest / jnp.where(split, b_top, 1)
    log_rest = jnp.where(r > -1, _log1p(jnp.maximum(r, -1)), jnp.log(jnp.abs(1 + r)))
    whole = jnp.log(jnp.abs(jnp.where(split, 1, rest)))
    out = m + jnp.where(split, jnp.log(jnp.abs(b_top)) + log_rest, whole)
    sign = jnp.where(split, jnp.sign(b_top) * jnp.sign(1 + r), jnp.sign(rest))
    small = finite & split & (jnp.abs(r) < 0.5)
    dominated = lax.cond(jnp.any(small),
                         lambda x, b, m: small & (_sum(top_of(x, b, m), axis) == 1),
                         lambda x, b, m: small, x, b, m)
    return out, sign, m, b_top + rest, dominated


@partial(jax.custom_jvp, nondiff_argnums=(5,))
def _signed_weights_at(x: Array, b: Array, m: Array, total: Array, dominated: Array,
                       axis: Axis) -> Array:
    """u_j = exp(x_j − m) / Σ_k b_k exp(x_k − m) from ``total``, the sum, with u_j = 0
    where b_j = 0 (even where nothing counts and the sum is 0): the weights of logsumexp
    with scale factors b are b·u (they sum to 1), its derivative in b_j is u_j."""
    return jnp.where(b == 0, 0, _exp_shifted(*_shift(_counted(x, b), m)) / total)


@_signed_weights_at.defjvp
def _signed_weights_at_jvp(axis, primals, tangents):
    """u ⊙ (t_x − Σ_k (b_k u_k t_x_k + u_k t_b_k)), the first sum taken by `_centered`
    (accurate at the top entry of a dominated slice)."""
    x, b, m, total, dominated = primals
    return (_signed_weights_at(x, b, m, total, dominated, axis),
            _recomputed(_signed_weights_tangent, axis)(x, b, m, total, dominated,
                                                       tangents[0], tangents[1]))


def _signed_weights_tangent(axis: Axis, x: Array, b: Array, m: Array, total: Array,
                            dominated: Array, tx: Array, tb: Array) -> Array:
    u = _signed_weights_at(x, b, m, total, dominated, axis)
    s, tb = _work(b) * u, jnp.where(u == 0, 0, _work(tb))
    t = _centered(_counted(x, b), m, dominated, s, tx, axis) - _sum(u * tb, axis)
    return jnp.where(u == 0, 0, u * t)


def _counted(x: Array, b: Array) -> Array:
    """x, −inf where b = 0: entries that do not count."""
    return jnp.where(b == 0, -jnp.inf, x)


@partial(jax.custom_jvp, nondiff_argnums=(6,))
def _signed_pooled(x: Array, b: Array, m: Array, total: Array, dominated: Array,
                   value: Array, axis: Axis) -> Array:
    """``value``, log |Σ b_j exp(x_j)| along ``axis`` (kept), whose derivative is
    Σ_j b_j u_j t_j + Σ_j u_j t_b_j (`_signed_weights_at`; the sign is constant). Not
    through the max: differentiating m + log|b_T| + log1p(r) gives the top entry
    1 − r/(1 + r), which cancels (200 ulps of float32 off at r = 383)."""
    return value


@_signed_pooled.defjvp
def _signed_pooled_jvp(axis, primals, tangents):
    x, b, m, total, dominated, value = primals
    return (_signed_pooled(x, b, m, total, dominated, value, axis),
            _recomputed(_signed_tangent, axis)(x, b, m, total, dominated, tangents[0],
                                               tangents[1]))


def _signed_tangent(axis: Axis, x: Array, b: Array, m: Array, total: Array,
                    dominated: Array, tx: Array, tb: Array) -> Array:
    """Tangents at weight-0 entries count as 0 (no inf·0)."""
    u = _signed_weights_at(x, b, m, total, dominated, axis)
    return _sum(jnp.where(u == 0, 0, u * (_work(b) * _work(tx) + _work(tb))), axis)


@drop_in("logmeanexp")
def logmeanexp(x: ArrayLike, axis: Axis = None, where: ArrayLike | None = None,
               keepdims: bool = False) -> Array:
    """log(Σ exp(x_i)/n), as m + log of the mean of exp(x_i − m) (`_log_mean`)."""
    op, dtype = _operand(x, where)
    k = _stats(op, axis)
    value = k.m + _log_mean(op, where, axis, k)
    out = _pooled(op, *_kept(k), lax.stop_gradient(value), axis)
    if not keepdims:
        out = jnp.squeeze(out, axis=axis)
    return out.astype(dtype)


def _log_mean(x: Array, where: ArrayLike | None, axis: Axis, k: _Stats) -> Array:
    """log of the mean of exp(shift) over the n included entries (x in its own dtype,
    −inf where masked out). Where the mean is near 1 (at least 1/2), log n would cancel:
    log1p(Σ expm1(shift)/n) there, a pass of its own made only when some slice needs it
    (from x: its operands are written out). A dominated slice: log1p(rest) − log n. Else
    log(total/n), which also gives −inf for an all −inf slice, and NaN as the entries
    make it; a +inf max makes the mean +inf either way."""
    w = _work(x)
    if where is None:
        n = jnp.full_like(k.total, math.prod(x.shape[a] for a in _axes(x.ndim, axis)))
    else:
        n = _sum(jnp.broadcast_to(where, x.shape).astype(w.dtype), axis)
    near = k.total >= n / 2

    def mean_expm1(x: Array, m: Array) -> Array:
        w = _work(x)
        v = _expm1_value(w - m)
        if where is not None:  # masked-out entries give expm1(−inf) = −1
            v = v * jnp.broadcast_to(where, x.shape).astype(w.dtype)
        return _total(v, axis, _exact(w, x.dtype)) / n

    q = lax.cond(jnp.any(near), mean_expm1, lambda x, m: jnp.zeros_like(n), x, k.m)
    return jnp.where(near, _log1p(q), jnp.where(k.dominated, _log1p(k.rest) - jnp.log(n),
                                                  jnp.log(k.total / n)))


@drop_in("glu", floating=True)
def glu(x: ArrayLike, axis: int = -1) -> Array:
    """a·σ(g) for x split in halves a, g along ``axis``: silu's a·σ(z) (`_swish`), which
    keeps a result that is normal where σ(g) alone would be flushed (g < −87 in
    float32)."""
    w, dtype = widen(x)
    size = w.shape[axis]
    if size % 2:
        raise ValueError(f"glu needs an even size along axis {axis}, got {size}")
    a, g = jnp.split(w, 2, axis=axis)
    return _halves(_glu, a, g).astype(dtype)


def _glu(a: Array, g: Array) -> Array:
    # ±inf·σ(−inf) = ±inf·0 is NaN, as a·σ(g) gives it (silu's x·σ(x) is 0 there); as a
    # factor, so that its derivatives are NaN too
    return _swish(a, g)[0] * jnp.where(jnp.isinf(a) & jnp.isneginf(g), jnp.nan, 1)


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _halves(f: Any, a: Array, g: Array) -> Array:
    """``f(a, g)``, elementwise in its two halves, with its two partial derivatives kept as
    two arrays (computed with the value, one reverse pass): a backward pass saves those two, as
    `_precision._diagonal` saves one, and not each intermediate of f's rules."""
    return f(a, g)


@_halves.defjvp
def _halves_jvp(f, primals, tangents):
    (a, g), (ta, tg) = primals, tangents
    y, pull = jax.vjp(f, a, g)  # reverse mode, as `_precision._diagonal` (±inf limits)
    da, dg = pull(jnp.ones_like(y))
    return y, da * ta + dg * tg


@drop_in("one_hot", weak=False, lists=True)
def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Array:
    """Row i: 1 at column x_i; an index outside [0, num_classes) gives a row of zeros.
    As jax.nn's: ``num_classes`` must be concrete (an error naming it otherwise), a
    non-integer input warns (DeprecationWarning) and compares as it is, and the two sides
    have the same rank (no rank promotion, which JAX's strict mode refuses)."""
    if isinstance(num_classes, jax.core.Tracer):
        raise jax.errors.ConcretizationTypeError(
            num_classes, "The error arose in one_hot argument `num_classes`.")
    n = operator.index(num_classes)
    x = jnp.asarray(x)
    if not dtypes.issubdtype(x.dtype, jnp.integer):
        warnings.warn(f"one_hot input should be integer-typed; got dtype={x.dtype}",
                      DeprecationWarning, stacklevel=3)
    pos = axis % (x.ndim + 1)
    shape = [1] * x.ndim
    shape.insert(pos, n)
    out = lax.expand_dims(x, (pos,)) == lax.broadcasted_iota(x.dtype, shape, pos)
    return out.astype(dtype if dtype is not None else dtypes.canonicalize_dtype(jnp.float64))


def _scale_down(w: Array, axis: Axis, where: ArrayLike | None) -> Array:
    """A power of two s ≤ 1 per slice, with the slice's largest finite entry times s at
    most 2^(emax/2 − 12) (2^52 in float32): its squares, and their sum over up to 2^20
    entries, stay finite. 1 for every slice of ordinary size."""
    limit = jnp.finfo(w.dtype).maxexp // 2 - 12
    big = jnp.max(jnp.where(jnp.isfinite(w), jnp.abs(w), 0), axis, keepdims=True,
                  where=where, initial=0)
    k = jnp.maximum(jnp.frexp(big)[1] - limit, 0)
    return lax.stop_gradient(jnp.ldexp(jnp.ones_like(big), -k))


@drop_in("standardize")
def standardize(x: ArrayLike, axis: Axis = -1, mean: ArrayLike | None = None,
                variance: ArrayLike | None = None, epsilon: ArrayLike = 1e-5,
                where: ArrayLike | None = None, *, algorithm: str = "fast") -> Array:
    """(x − mean)/√(variance + ε), the population variance over ``where``.

    With the mean computed, both algorithms compute the same value. With a mean m given,
    "fast" is jax.nn's mean(x²) − m² clipped at 0, computed as mean(d²) + 2m·mean(d) for
    d = x − m (no cancellation against m²), "stable" mean(d²). The computed mean is kept
    as two numbers, m + r with r the mean of the residuals x − m (exact for x near m), so
    x − m − r is accurate even where the mean of a large-offset slice is not
    representable; the variance is the two-pass mean of those squared deviations. An infinite or NaN
    included entry makes computed statistics, and so the slice, NaN: it makes r (and so
    the variance) non-finite, or, with the mean given, the variance; no pass of its own
    looks for it. The result does not change when x, the mean and √(variance + ε) are
    scaled alike: a slice whose squares would overflow (float32 past 2^52) is scaled
    down by a power of two first (`_scale_down`), exactly, where the variance is
    computed.
    """
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"Unknown algorithm {algorithm!r}. Expected 'fast' or 'stable'.")
    x, dtype = _operand(x, None)
    w = _work(x)
    params = (None if mean is None else param(mean, w, dtype),
              None if variance is None else param(variance, w),
              param(epsilon, w, dtype))
    # a backward pass keeps the statistics of each slice (the scale, m, r, v) and
    # recomputes the rest from x: no array of x's size (jax.nn's keep two)
    out = jax.checkpoint(partial(_standardize, axis=axis, algorithm=algorithm),
                         policy=_KEEP_STATISTICS)(x, *params, where)
    return out.astype(dtype)


def _standardize(x: Array, mean: Array | None, variance: Array | None, epsilon: Array,
                 where: Array | None, *, axis: Axis, algorithm: str) -> Array:
    w = _work(x)
    s = _statistic(_scale_down(w, axis, where)) if variance is None else jnp.ones((), w.dtype)
    w = w * s
    if mean is None:
        m = _statistic(jnp.mean(w, axis, keepdims=True, where=where))
        m = jnp.where(jnp.isfinite(m), m, 0)
        r = _statistic(jnp.mean(w - m, axis, keepdims=True, where=where))
        d = (w - m) - r
        statistic = r
    else:
        m = mean * s
        d = w - m
    if variance is None:
        v = jnp.mean(jnp.square(d), axis, keepdims=True, where=where)
        if mean is not None and algorithm == "fast":
            v = jnp.maximum(v + 2 * m * jnp.mean(d, axis, keepdims=True, where=where), 0)
        v = statistic = _statistic(v)
    else:
        v = variance * s * s
    out = d * lax.rsqrt(v + epsilon * s * s)
    if mean is None or variance is None:
        out = out * jnp.where(jnp.isfinite(statistic), 1, jnp.nan)  # NaN derivatives too
    return out
