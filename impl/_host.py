"""Functions that compute outside JAX (NumPy, SciPy, PyTorch), called from JAX.

`on_host` wraps a function of NumPy arrays, with jax.nn's signature, into a JAX function:
it runs on the host through `jax.pure_callback`, so that jit, vmap and the checks' own
transforms reach it.

* Arrays cross as NumPy, bfloat16 as ml_dtypes' bfloat16: each adapter converts to what
  its library computes in (SciPy: float32, which holds every bfloat16 exactly; PyTorch:
  its own bfloat16, bit for bit).
* The result is rounded to the dtype jax.nn returns for the same call, as a user casting
  back would (a library that computes float16 in float32 is credited with that rounding).
* Parameters that are arrays (a mask, b, a slope given as an array) cross as operands;
  the rest stay Python values.
* Derivatives come from the library's own autodiff, ``derivative``: for an elementwise
  function dy/dx, shaped like x (what its backward pass gives for a cotangent of ones);
  for a function of slices along ``axis`` (softmax, logsumexp, glu, ...) each slice's
  Jacobian, shaped ``batch + (m, n)``: x with ``axis`` moved last (all of x flattened for
  ``axis=None``) is ``batch + (n,)``, and each slice gives m outputs. JAX gets it as a
  linear map (``t -> dy/dx · t``), so forward and reverse mode, vmap and jit all work on
  it. A library without autodiff (``derivative=None``) raises NotImplementedError when
  differentiated: the audit reports its gradient checks as ``skip``. An elementwise
  function's second derivative comes from the library too (``second``: d²y/dx², by
  its autodiff differentiating its own backward pass); without one, it is a ``skip``.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import catalog
from ..catalog import Kind

# a Jacobian with more entries is not materialized (2^24: 64 MiB in float32)
MAX_JACOBIAN = 1 << 24


def like(name: str) -> Callable[..., Any]:
    """A JAX function with the signature, shapes and dtypes of activation ``name``: this
    project's reference, a drop-in for jax.nn's (and the only one for the activations
    jax.nn lacks, such as hard_shrink)."""
    from . import reference

    return getattr(reference, name)


def on_host(fn: Callable[..., Any], name: str, library: str,
            lacks: Callable[[dict[str, Any]], str | None] | None = None,
            derivative: Callable[..., Any] | None = None,
            second: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """``fn`` as the JAX function of catalog activation ``name``. jax.nn's function of
    that name (`like`) gives only the signature and the shape and dtype of the result
    (`jax.eval_shape`), never a value; the catalog says whether it is elementwise.
    ``lacks`` names what the library does not have for these keyword arguments (None: it
    has it), raised as NotImplementedError when the call is made, not inside the
    callback, where it would reach the caller as an XLA runtime error."""
    jax_nn = like(name)
    signature = inspect.signature(jax_nn)
    elementwise = catalog.get(name).kind is Kind.ELEMENTWISE

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs).arguments  # jax.nn's positional parameters
        x, kwargs = bound.pop(next(iter(bound))), bound
        if not elementwise:  # the slices' axis, said explicitly to the library's function
            kwargs.setdefault("axis", signature.parameters["axis"].default)
        missing = lacks(kwargs) if lacks else None
        if missing:
            raise NotImplementedError(f"{library} has no {missing}")
        x = jnp.asarray(x)
        arrays = {k: jnp.asarray(v) for k, v in kwargs.items()
                  if isinstance(v, jax.Array | np.ndarray)}
        fixed = {k: v for k, v in kwargs.items() if k not in arrays}
        shape = jax.eval_shape(lambda x, a: jax_nn(x, **fixed, **a), x, arrays)

        def on_host(compute: Callable[..., Any], out: Any, x: Any, a: Any) -> Any:
            """``compute(x, **fixed, **a)`` in NumPy, its result in ``out``'s dtypes."""
            def run(x: np.ndarray, a: dict[str, np.ndarray]) -> Any:
                with np.errstate(all="ignore"):  # NaN in, NaN out: the checks judge values
                    result = compute(np.asarray(x), **fixed,
                                     **{k: np.asarray(v) for k, v in a.items()})
                return jax.tree.map(lambda r, s: np.asarray(r).astype(s.dtype), result, out)
            return jax.pure_callback(run, out, x, a, vmap_method="sequential")

        @jax.custom_jvp
        def value(x: Any, a: dict[str, Any]) -> Any:
            return on_host(fn, shape, x, a)

        @jax.custom_jvp
        def slope(x: Any, a: dict[str, Any]) -> Any:
            """An elementwise function's derivative, itself differentiable (`second`)."""
            return on_host(derivative, shape, x, a)

        @functools.partial(slope.defjvp, symbolic_zeros=True)
        def _slope_jvp(primals: Any, tangents: Any) -> Any:
            (x, a), (t, _) = primals, tangents
            if second is None:
                raise NotImplementedError(f"the {library} adapter has no second derivative")
            d = slope(x, a)
            if isinstance(t, jax.custom_derivatives.SymbolicZero):
                return d, jnp.zeros(d.shape, d.dtype)
            return d, on_host(second, shape, x, a) * t.astype(d.dtype)

        @functools.partial(value.defjvp, symbolic_zeros=True)
        def _jvp(primals: Any, tangents: Any) -> Any:
            (x, a), (t, ta) = primals, tangents
            if derivative is None:
                raise NotImplementedError(f"{library} has no autodiff: no derivative to check")
            if any(not isinstance(v, jax.custom_derivatives.SymbolicZero)
                   for v in jax.tree.leaves(ta)):
                raise NotImplementedError("derivatives with respect to parameters")
            y = value(x, a)
            if isinstance(t, jax.custom_derivatives.SymbolicZero):
                return y, jnp.zeros(y.shape, y.dtype)
            if elementwise:
                d = slope(x, a)
                return y, d * t.astype(d.dtype)
            return y, _slice_tangent(x, t, kwargs["axis"], y.shape, library,
                                     lambda jac: on_host(derivative, jac, x, a))

        return value(x, arrays)

    return call


def _slice_tangent(x: Any, t: Any, axis: int | None, y_shape: tuple[int, ...], library: str,
                   jacobian: Callable[[jax.ShapeDtypeStruct], Any]) -> Any:
    """dy/dx · t for a function of the slices of x along ``axis``, from each slice's
    Jacobian (``jacobian(its shape)``, computed by the library)."""
    moved = t.reshape(-1) if axis is None else jnp.moveaxis(t, axis, -1)
    batch, n = moved.shape[:-1], moved.shape[-1]
    m = math.prod(y_shape) // max(1, math.prod(batch))
    if math.prod(batch) * m * n > MAX_JACOBIAN:
        raise NotImplementedError(f"the {library} adapter's derivative of {x.shape}: "
                                  f"Jacobians of {math.prod(batch) * m * n} entries")
    j = jacobian(jax.ShapeDtypeStruct((*batch, m, n), x.dtype))
    out = jnp.einsum("...mn,...n->...m", j, moved.astype(j.dtype),
                     precision=jax.lax.Precision.HIGHEST)
    if axis is not None and out.ndim == len(y_shape):  # y keeps x's layout: the axis back
        out = jnp.moveaxis(out, -1, axis)
    return out.reshape(y_shape)
