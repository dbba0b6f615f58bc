"""A kernel author's activations, as they might first write them: fast and short, each
with a numerical fault that the audit finds.

Only the names matter to actaudit: members named like jax.nn's functions, with the same
signatures. Names this module lacks (gelu, softmax, ...) are reported as `skip`.
"""

import jax.numpy as jnp


def relu(x):
    """max(x, 0): exact, and its subgradient at 0 is jax.nn's (0)."""
    return jnp.maximum(x, 0)


def softplus(x):
    """log(1 + e^x), as written: e^x overflows for x > 88.7 in float32, where the truth is
    just x, and 1 + e^x rounds to 1 for x < -17, where the truth is e^x."""
    return jnp.log(1 + jnp.exp(x))


def sigmoid(x):
    """(1 + tanh(x/2)) / 2: one tanh, no division, and no relative accuracy where the
    result is small (x < -5 or so): 1 + tanh(x/2) cancels."""
    return (1 + jnp.tanh(x / 2)) / 2


def leaky_relu(x, negative_slope=0.01):
    """x or negative_slope·x: exact in every dtype."""
    return jnp.where(x >= 0, x, negative_slope * x)
