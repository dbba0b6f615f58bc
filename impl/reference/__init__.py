"""actaudit's own implementation of every catalog activation (the `reference` SPEC).

Drop-in for jax.nn: the same names and signatures, the input's dtype kept, working under
jit, vmap and grad; float16 and bfloat16 computed in float32 and rounded once; formulas
and derivatives that keep their accuracy in the tails and give no NaN at the infinities.
At the edges it behaves as jax.nn does (`_precision.drop_in`: lists, integer and weakly
typed inputs, empty slices, strict rank promotion), and an elementwise function's
backward pass keeps one array, its derivative (`_precision._diagonal`).
"""

from ._elementwise import (
    beta_swish,
    celu,
    elu,
    gelu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    identity,
    leaky_relu,
    log1mexp,
    log_sigmoid,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    soft_sign,
    softplus,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    swish,
    tanh,
    tanh_shrink,
    threshold,
)
from ._vector import (
    glu,
    log_softmax,
    logmeanexp,
    logsumexp,
    one_hot,
    softmax,
    softmin,
    standardize,
)

__all__ = [
    "beta_swish", "celu", "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "identity", "leaky_relu", "log1mexp", "log_sigmoid",
    "log_softmax", "logmeanexp", "logsumexp", "mish", "one_hot", "prelu", "relu", "relu6",
    "selu", "sigmoid", "silu", "soft_shrink", "soft_sign", "softmax", "softmin", "softplus",
    "sparse_plus", "sparse_sigmoid", "squareplus", "standardize", "swish", "tanh",
    "tanh_shrink", "threshold",
]
