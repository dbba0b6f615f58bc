"""An online softmax over blocks of 128 that forgets to rescale its running sum.

Online softmax (Milakov and Gimelshein, 2018; flash attention) reads a row block by
block, keeping the maximum m and the sum s of exp(x − m) so far. When a later block holds
a new maximum m', the sum must become s·exp(m − m') before the block's terms are added.
This one adds them without it: the sum is too large wherever the maximum is not in the
first block. A row of six entries is one block, and the audit's six-entry slices pass.
The derivative is the reference's (a custom JVP, as a hand-written forward kernel has).
"""

import jax
import jax.numpy as jnp

from actaudit.impl import reference

BLOCK = 128


def _kernel(x, axis, where):
    wide = jnp.promote_types(x.dtype, jnp.float32)  # float16 and bfloat16 widened
    masked = x if where is None else jnp.where(where, x, -jnp.inf)
    rows = jnp.moveaxis(masked.astype(wide), axis, -1)
    n = rows.shape[-1]
    padded = jnp.pad(rows, [(0, 0)] * (rows.ndim - 1) + [(0, -n % BLOCK)],
                     constant_values=-jnp.inf)
    blocks = jnp.moveaxis(padded.reshape(*rows.shape[:-1], -1, BLOCK), -2, 0)

    def step(carry, block):
        m, s = carry
        m_new = jnp.maximum(m, jnp.max(block, axis=-1))
        # the bug: s must be rescaled to the new maximum, s * exp(m - m_new), here
        s = s + jnp.sum(jnp.exp(block - m_new[..., None]), axis=-1)
        return (m_new, s), None

    start = (jnp.full(rows.shape[:-1], -jnp.inf, wide), jnp.zeros(rows.shape[:-1], wide))
    (m, s), _ = jax.lax.scan(step, start, blocks)
    out = jnp.moveaxis(jnp.exp(rows - m[..., None]) / s[..., None], -1, axis)
    return (out if where is None else jnp.where(where, out, 0)).astype(x.dtype)


def softmax(x, axis=-1, where=None):
    """The kernel's value; the reference's derivative (a custom JVP)."""
    f = jax.custom_jvp(lambda x: _kernel(x, axis, where))
    f.defjvp(lambda p, t: (f(*p), jax.jvp(lambda v: reference.softmax(v, axis, where), p, t)[1]))
    return f(jnp.asarray(x))
