"""What the reference's backward pass keeps in memory: the residuals of jax.vjp, counted
with saved_residuals as JAX's own tests count them (the function's own arguments aside:
they are alive anyway). A drop-in for jax.nn keeps no more than jax.nn's functions keep.

Every elementwise function keeps one array, its derivative (`_precision._diagonal`), and
glu two, its partial derivatives in its halves (`_vector._halves`). The functions of a
slice keep two numbers per slice (standardize four) and no array of the input's size:
their tangent maps are recomputed in the backward pass (`_vector._recomputed`;
standardize's by jax.checkpoint, its statistics saved by name). Counted in arrays and in
bytes, in float32 and bfloat16 (a 16-bit input must not be kept widened).
Where a function keeps fewer arrays but more bytes than jax.nn's, it is listed in
`BYTES_OVER`; the test fails when that changes either way, so the list only shrinks."""

import math

import jax.numpy as jnp
import pytest
from jax._src.ad_checkpoint import saved_residuals

from actaudit import catalog
from actaudit.impl import load

REFERENCE, JAX_NN = load("reference"), load("jax.nn")
NAMES = [n for n, a in catalog.CATALOG.items() if a.kind is not catalog.Kind.INDEX]
# fewer arrays, more bytes: one float derivative where jax.nn keeps a bool mask
# (leaky_relu), glu's two partials kept in float32 for a bfloat16 input
BYTES_OVER = {("leaky_relu", "float32"), ("leaky_relu", "bfloat16"), ("glu", "bfloat16")}
# a function jax.nn does not have, measured against the one it is made of
AS = {"softmin": "softmax"}


def residuals(fn, act, dtype=jnp.float32) -> tuple[int, int]:
    """How many arrays a backward pass keeps, and their bytes."""
    params = {k: v for k, v in act.defaults.items() if v is not None}
    x = jnp.linspace(-3, 3, 64, dtype=dtype).reshape(8, 8)
    saved = [a for a, why in saved_residuals(lambda x: jnp.sum(fn(x, **params)), x)
             if not why.startswith("from the argument")]
    return len(saved), sum(a.size * a.dtype.itemsize for a in saved)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("name", NAMES)
def test_no_more_residuals_than_jax_nn(name, dtype):
    act = catalog.get(name)
    mine, size = residuals(REFERENCE.get(name), act, dtype)
    theirs = JAX_NN.get(AS.get(name, name))
    if act.kind is catalog.Kind.ELEMENTWISE:
        assert mine <= (1 if name != "identity" else 0)
    if theirs is not None:
        count, their_size = residuals(theirs, act, dtype)
        assert mine <= count, f"{name} keeps {mine} arrays; jax.nn's {count}"
        over = (name, jnp.dtype(dtype).name) in BYTES_OVER
        assert (size > their_size) == over, (
            f"{name} keeps {size} bytes, jax.nn's {their_size} (BYTES_OVER says {over})")


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["float32", "bfloat16"])
def test_logsumexp_with_b_keeps_its_statistics_only(dtype):
    """With scale factors b, logsumexp keeps m, the signed total and whether the slice is
    dominated (its weights are recomputed from x and b); jax.nn's keeps the exponentials,
    b ≠ 0 and the terms."""
    x = jnp.linspace(-3, 3, 64, dtype=dtype).reshape(8, 8)
    b = jnp.linspace(-1, 2, 64, dtype=dtype).reshape(8, 8)

    def arrays(fn):
        kept = saved_residuals(lambda x, b: jnp.sum(fn(x, axis=-1, b=b)), x, b)
        return [a.shape for a, why in kept if not why.startswith("from the argument")]

    mine, theirs = arrays(REFERENCE.get("logsumexp")), arrays(JAX_NN.get("logsumexp"))
    assert all(math.prod(s) <= 8 for s in mine), mine
    assert len(mine) <= len(theirs), f"{mine} against jax.nn's {theirs}"
