"""Double-word arithmetic: a value carried as hi + lo, two numbers of the working format,
for the few arguments whose rounding the result magnifies (gelu's exp(z) at z ≈ −87
turns the half ulp of z into 30 ulps of the result).

Products are split by masking the significand (Dekker's algorithm with the halves cut
by bits, so no fused multiply-add or compiler contraction changes them); rounded sums
pass `lax.optimization_barrier`, so that no algebraic simplification undoes them."""

from __future__ import annotations

from functools import cache

import jax.numpy as jnp
import mpmath
import numpy as np
from jax import lax

from ._precision import Array

_MASKS = {jnp.dtype(jnp.float32): (jnp.uint32, 0xFFFFF000),
          jnp.dtype(jnp.float64): (jnp.uint64, 0xFFFFFFFFF8000000)}


def halves(x: Array) -> tuple[Array, Array]:
    """x = h + l exactly, h holding the top half of the significand: products of halves
    are exact."""
    utype, mask = _MASKS[jnp.dtype(x.dtype)]
    h = lax.bitcast_convert_type(lax.bitcast_convert_type(x, utype) & utype(mask), x.dtype)
    return h, x - h


def two_prod(a: Array, b: Array) -> tuple[Array, Array]:
    """(p, e): p = a·b rounded and a·b = p + e exactly (barring overflow and underflow)."""
    p = a * b
    ah, al = halves(a)
    bh, bl = halves(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _rounded(v: Array) -> Array:
    """v itself, as a select that LLVM cannot fold: a product feeding the sum that follows
    would otherwise be contracted into one fused multiply-add, which rounds the sum of
    the exact product (XLA's CPU jit does), not of the rounded v that the error term
    accounts for."""
    return jnp.where(jnp.isnan(v), jnp.nan, v)


def two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """(s, e): s = a + b rounded and a + b = s + e exactly (Knuth). The sum passes the
    same select: XLA's jit would otherwise simplify (1 + b) − 1 to b (a select, unlike
    an optimization barrier, leaves the computation in one fused loop)."""
    a, b = _rounded(a), _rounded(b)
    s = _rounded(a + b)
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


_CONSTANTS = {
    "gelu_k": lambda: 2 * mpmath.sqrt(2 / mpmath.pi),  # 2√(2/π)
    "gelu_c": lambda: mpmath.mpf("0.044715"),
    "sqrt_half": lambda: mpmath.sqrt(mpmath.mpf(1) / 2),
    "ln2_64": lambda: 64 * mpmath.log(2),  # e^(y + 64 ln 2) = e^y·2^64
}


@cache
def constant(name: str, dtype: np.dtype) -> tuple[float, float]:
    """One of the real constants above as hi + lo, each a number of ``dtype``."""
    with mpmath.workdps(60):
        v = _CONSTANTS[name]()
        hi = np.dtype(dtype).type(float(v))
        lo = np.dtype(dtype).type(float(v - mpmath.mpf(float(hi))))
    return float(hi), float(lo)


@cache
def on_grid(name: str, grid: float) -> tuple[float, float]:
    """One of the constants as hi + lo with hi a multiple of ``grid`` (so that adding hi
    to a number on that grid is exact) and lo the rest, rounded to float64."""
    with mpmath.workdps(60):
        v = _CONSTANTS[name]()
        hi = float(mpmath.nint(v / grid) * grid)
        return hi, float(v - hi)
