"""Functions that compute outside JAX (NumPy, SciPy), called from JAX.

`on_host` wraps a function of NumPy arrays, with jax.nn's signature, into a JAX function:
it runs on the host through `jax.pure_callback`, so that jit, vmap and the checks' own
transforms reach it.

* Arrays cross as NumPy. A format the library cannot compute in (bfloat16) crosses as
  float32, which holds every bfloat16 exactly.
* The result is rounded to the dtype jax.nn returns for the same call, as a user casting
  back would (a library that computes float16 in float32 is credited with that rounding).
* Parameters that are arrays (a mask, b) cross as operands; the rest stay Python values.
* There is no derivative: the library has no autodiff. Differentiating raises
  NotImplementedError, so the audit reports the gradient checks as ``skip``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np


def _to_host(a: Any) -> np.ndarray:
    out = np.asarray(a)
    return out.astype(np.float32) if out.dtype == ml_dtypes.bfloat16 else out


def on_host(fn: Callable[..., Any], like: Callable[..., Any], library: str,
            lacks: Callable[[dict[str, Any]], str | None] = lambda kwargs: None,
            ) -> Callable[..., Any]:
    """``fn`` as a JAX function; ``like`` (jax.nn's function of the same name) gives
    only the shape and dtype of the result (`jax.eval_shape`), never a value. ``lacks``
    names what the library does not have for these keyword arguments (None: it has it),
    raised as NotImplementedError when the call is made, not inside the callback, where
    it would reach the caller as an XLA runtime error."""

    @functools.wraps(fn)
    def call(x: Any, **kwargs: Any) -> Any:
        missing = lacks(kwargs)
        if missing:
            raise NotImplementedError(f"{library} has no {missing}")
        x = jnp.asarray(x)
        arrays = {k: jnp.asarray(v) for k, v in kwargs.items()
                  if isinstance(v, jax.Array | np.ndarray)}
        fixed = {k: v for k, v in kwargs.items() if k not in arrays}
        shape = jax.eval_shape(lambda x, a: like(x, **fixed, **a), x, arrays)

        def host(x: np.ndarray, a: dict[str, np.ndarray]) -> Any:
            with np.errstate(all="ignore"):  # NaN in, NaN out: the checks judge the values
                result = fn(_to_host(x), **fixed, **{k: _to_host(v) for k, v in a.items()})
            return jax.tree.map(lambda r, s: np.asarray(r).astype(s.dtype), result, shape)

        @jax.custom_jvp
        def value(x: Any, a: dict[str, Any]) -> Any:
            return jax.pure_callback(host, shape, x, a, vmap_method="sequential")

        @value.defjvp
        def _no_derivative(primals: Any, tangents: Any) -> Any:
            raise NotImplementedError(f"{library} has no autodiff: no derivative to check")

        return value(x, arrays)

    return call
