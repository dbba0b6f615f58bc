"""The built-in SPECs: this project's `reference`, jax.nn, and Flax (nnx and linen).

Flax's PReLU is a layer with a learned slope; here it is called as the function
``prelu(x, negative_slope)`` with the slope as its parameter's initial value.
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
