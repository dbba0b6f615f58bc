"""Working precision: 16-bit inputs are computed in float32 and rounded once at the end.

float32 carries 13 (float16) or 16 (bfloat16) more significand bits than the result
needs, so a float32 evaluation accurate to a few float32 ULP rounds to the correctly
rounded 16-bit result for all but the inputs whose value lies within that error of a
rounding boundary. float32 and float64 inputs are computed in their own precision, with
formulas chosen not to overflow, cancel or underflow early.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax import dtypes
from jax.typing import ArrayLike

Array = Any

_NARROW = (jnp.float16, jnp.bfloat16)


def widen(x: ArrayLike, *params: ArrayLike) -> tuple[Array, Any]:
    """``x`` in its working precision, and the dtype the result must have: x's, promoted
    with the array ``params`` by JAX's rules as jax.nn's arithmetic promotes them
    (`jnp.result_type`; a Python scalar is weakly typed and keeps x's dtype)."""
    x = jnp.asarray(x)
    if not dtypes.issubdtype(x.dtype, jnp.floating):
        x = x.astype(dtypes.canonicalize_dtype(jnp.float64))
    out = jnp.result_type(x, *params) if params else x.dtype
    return x.astype(jnp.float32 if out in _NARROW else out), out


def param(p: ArrayLike, like: Array, dtype: Any = None) -> Array:
    """A parameter in ``like``'s working dtype: a float32 array or a Python float never
    promotes a float16 input (the result keeps the input's dtype). Given the input's
    ``dtype``, a Python number is first rounded to it, as jax.nn's weak typing does (a
    float16 leaky_relu multiplies by float16(0.01)), so the result is jax.nn's function."""
    if dtype is not None and isinstance(p, int | float) and not isinstance(p, bool):
        p = jnp.asarray(p, dtype)
    return jnp.asarray(p, dtype=like.dtype)
