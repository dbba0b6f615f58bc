"""Working precision: 16-bit inputs are computed in float32 and rounded once at the end.

float32 carries 13 (float16) or 16 (bfloat16) more significand bits than the result
needs, so a float32 evaluation accurate to a few float32 ULP rounds to the correctly
rounded 16-bit result for all but the inputs whose value lies within that error of a
rounding boundary. float32 and float64 inputs are computed in their own precision, with
formulas chosen not to overflow, cancel or underflow early.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import dtypes
from jax._src.lax.lax import _convert_element_type  # the one way to set a weak type
from jax.typing import ArrayLike

Array = Any
F = TypeVar("F", bound=Callable[..., Any])

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


def _arraylike(x: Any) -> bool:
    """What jax.numpy takes as an array argument: an array, a NumPy scalar or a Python
    number (not a list: jax.nn refuses those, so that a slow conversion is explicit)."""
    return isinstance(x, jax.Array | np.ndarray | np.generic | bool | int | float | complex) \
        or hasattr(x, "__jax_array__")


def _weak(x: Any) -> bool:
    """Whether ``x`` is weakly typed: a Python number, or an array marked so."""
    return (isinstance(x, int | float | complex) and not isinstance(x, bool)) or bool(
        getattr(x, "weak_type", False))


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _diagonal(f: Callable[[Array], Array], x: Array) -> Array:
    """``f(x)`` for an elementwise ``f``, whose derivative is kept as one array: the
    tangent is f'(x)·t, f'(x) computed with the value (jax.vjp of ones), so that a
    backward pass saves that one array (jax.nn's elementwise functions save one to six)
    and not each intermediate of f's own rules. Differentiated again, f'(x) is f's own
    derivative differentiated: the second derivative is unchanged."""
    return f(x)


@_diagonal.defjvp
def _diagonal_jvp(f: Callable[[Array], Array], primals: tuple[Array], tangents: tuple[Array]
                  ) -> tuple[Array, Array]:
    (x,), (t,) = primals, tangents
    # reverse mode, as jax.grad takes it: differentiated again, it is jax.grad of
    # jax.grad of f, whose rules keep their limits at ±inf (forward mode through a branch
    # not taken gives 0·inf there)
    y, pull = jax.vjp(f, x)
    return y, pull(jnp.ones_like(y))[0] * t


def _static(v: Any) -> bool:
    """A parameter that is a constant of the function (a Python number, a flag, None),
    not an array whose derivative may be wanted (prelu's learned slope)."""
    return v is None or isinstance(v, bool | int | float | str)


def drop_in(name: str, *, floating: bool = False, weak: bool = True,
            ints_weak: bool = False, lists: bool = False, diagonal: bool = False
            ) -> Callable[[F], F]:
    """The edges of jax.nn's function ``name``, around ours (the function itself, its
    signature and docstring unchanged), each as jax.nn's formula makes it:

    * a list is a TypeError naming the function (``lists``: taken, as jnp.asarray takes
      it: one_hot);
    * ``floating``: an integer input is a TypeError too (sigmoid, silu and glu go through
      lax.logistic, which refuses one);
    * ``weak``: a weakly typed input (a Python number, a weak array) gives a weakly typed
      result (gelu's does not: it converts its input first);
    * ``ints_weak``: an integer input gives a weakly typed float (elu's and the others'
      Python float constants promote it to one);
    * ``diagonal``: for an elementwise function of a floating input whose parameters are
      constants, the derivative is kept as one array (`_diagonal`): one residual for a
      backward pass."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def checked(x: Any, *args: Any, **kwargs: Any) -> Any:
            if not lists and not _arraylike(x):
                raise TypeError(f"{name} requires ndarray or scalar arguments, got "
                                f"{type(x)} at position 0.")
            kind = np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype
            integer = not dtypes.issubdtype(kind, np.inexact)
            if floating and integer:
                raise TypeError(f"{name} does not accept dtype {dtypes.canonicalize_dtype(kind)}."
                                " Accepted dtypes are subtypes of floating, complexfloating.")
            if diagonal and not integer and all(map(_static, (*args, *kwargs.values()))):
                out = _diagonal(partial(fn, *args, **kwargs), jnp.asarray(x))
            else:
                out = fn(x, *args, **kwargs)
            wanted = (weak and _weak(x)) or (ints_weak and integer and not _weak(x)
                                             and dtypes.issubdtype(out.dtype, np.inexact))
            if wanted and not out.weak_type:
                out = _convert_element_type(out, out.dtype, weak_type=True)
            return out

        return checked  # type: ignore[return-value]

    return wrap
