"""The built-in SPECs: this project's `reference`, jax.nn, Flax (nnx and linen), SciPy
and PyTorch.

Flax's PReLU is a layer with a learned slope; here it is called as the function
``prelu(x, negative_slope)`` with the slope as its parameter's initial value.

SciPy (scipy.special, and NumPy where SciPy has no such function) and PyTorch (`_torch`)
compute on the host, called through `_host.on_host`. SciPy has no derivatives; a parameter
a library lacks (softmax's ``where``, SciPy's tanh-approximate gelu) raises
NotImplementedError, a ``skip``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _plugins

Functions = dict[str, Callable[..., Any]]


def reference() -> Functions:
    from . import reference as module

    return _plugins._members(module)


def jax_nn() -> Functions:
    import jax.nn

    return _plugins._members(jax.nn)


def flax_nnx() -> Functions:
    from flax import nnx

    def prelu(x: Any, negative_slope: float = 0.01) -> Any:
        return nnx.PReLU(negative_slope_init=negative_slope)(x)

    return {**_plugins._members(nnx), "prelu": prelu}


def flax_linen() -> Functions:
    import jax.numpy as jnp
    from flax import linen

    def prelu(x: Any, negative_slope: float = 0.01) -> Any:
        layer = linen.PReLU(negative_slope_init=negative_slope)
        slope = jnp.asarray(negative_slope, layer.param_dtype)
        return layer.apply({"params": {"negative_slope": slope}}, x)

    return {**_plugins._members(linen), "prelu": prelu}


def scipy() -> Functions:
    import numpy as np
    from ml_dtypes import bfloat16
    from scipy import special

    from ._host import on_host

    def widened(fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` given float32 where it would get bfloat16, which NumPy cannot compute in."""
        def wide(a: Any) -> Any:
            return a.astype(np.float32) if getattr(a, "dtype", None) == bfloat16 else a

        return lambda x, **kw: fn(wide(x), **{k: wide(v) for k, v in kw.items()})

    def no_where(kwargs: dict[str, Any]) -> str | None:
        return "where= (a mask)" if kwargs.get("where") is not None else None

    def tanh_gelu(kwargs: dict[str, Any]) -> str | None:
        return "tanh-approximate gelu" if kwargs.get("approximate", True) else None

    def gelu(x: Any, approximate: bool = True) -> Any:
        return x * special.ndtr(x)  # x·Φ(x), Φ = ndtr (from erfc); approximate=False only

    def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
                  return_sign: bool = False, where: Any = None) -> Any:
        return special.logsumexp(a, axis=axis, b=b, keepdims=keepdims,
                                 return_sign=return_sign)

    mine = {
        "sigmoid": (special.expit, None),
        "log_sigmoid": (special.log_expit, None),
        "softplus": (lambda x: np.logaddexp(x, 0), None),
        "tanh": (np.tanh, None),
        "gelu": (gelu, tanh_gelu),
        "softmax": (lambda x, axis=-1, where=None: special.softmax(x, axis=axis), no_where),
        "log_softmax": (lambda x, axis=-1, where=None: special.log_softmax(x, axis=axis),
                        no_where),
        "logsumexp": (logsumexp, no_where),
    }
    return {name: on_host(widened(fn), name, "scipy", lacks)
            for name, (fn, lacks) in mine.items()}


def torch() -> Functions:
    from . import _torch

    return _torch.functions()
