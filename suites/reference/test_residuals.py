"""What the reference's backward pass keeps in memory: the residuals of jax.vjp, counted
with saved_residuals as JAX's own tests count them (the function's own arguments aside:
they are alive anyway). A drop-in for jax.nn keeps no more than jax.nn's functions keep.

Every elementwise function keeps one array, its derivative (`_precision._diagonal`), and
glu two, its partial derivatives in its halves (`_vector._halves`).
The functions of a slice whose rules still keep more than jax.nn's are listed in `OVER`
with their counts. The list only shrinks: a count that changes fails until the list
says so."""

import jax.numpy as jnp
import pytest
from jax._src.ad_checkpoint import saved_residuals

from actaudit import catalog
from actaudit.impl import load

REFERENCE, JAX_NN = load("reference"), load("jax.nn")
NAMES = [n for n, a in catalog.CATALOG.items() if a.kind is not catalog.Kind.INDEX]
# the rules of softmax and its kin keep their masks (no inf·0 where a weight is 0) and
# statistics; jax.nn's keep log_softmax 2, logmeanexp 3, logsumexp 3, softmax 3,
# standardize 6 (softmin: torch's, as softmax)
OVER = {"log_softmax": 7, "logmeanexp": 5, "logsumexp": 4, "softmax": 7, "softmin": 7,
        "standardize": 8}


def residuals(fn, act) -> int:
    params = {k: v for k, v in act.defaults.items() if v is not None}
    x = jnp.linspace(-3, 3, 64, dtype=jnp.float32).reshape(8, 8)
    saved = saved_residuals(lambda x: jnp.sum(fn(x, **params)), x)
    return sum(1 for _, why in saved if not why.startswith("from the argument"))


@pytest.mark.parametrize("name", NAMES)
def test_no_more_residuals_than_jax_nn(name):
    act = catalog.get(name)
    mine = residuals(REFERENCE.get(name), act)
    theirs = JAX_NN.get(name)
    if name in OVER:
        assert mine == OVER[name], f"{name} keeps {mine} (OVER says {OVER[name]}): update it"
        return
    if act.kind is catalog.Kind.ELEMENTWISE:
        assert mine <= (1 if name != "identity" else 0)
    if theirs is not None:
        assert mine <= residuals(theirs, act)
