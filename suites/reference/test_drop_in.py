"""The reference as a drop-in for jax.nn: at the edges a user's code meets (Python numbers,
integer and weakly typed inputs, lists, empty arrays, JAX's strict rank promotion, a traced
argument), every function behaves as jax.nn's does, side by side: the same exception type,
or the same shape, dtype and weak type, and for empty arrays the same values."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actaudit import catalog
from actaudit.impl import load

REFERENCE, JAX_NN = load("reference"), load("jax.nn")
BOTH = [n for n in catalog.CATALOG if JAX_NN.get(n) is not None and REFERENCE.get(n)]


def _input(kind: str, act) -> object:
    index = act.kind is catalog.Kind.INDEX
    elementwise = act.kind is catalog.Kind.ELEMENTWISE
    return {
        "python_float": 2.5 if elementwise else None,
        "python_int": 2 if elementwise else None,
        "list": [1.0, 2.0, 3.0, 4.0] if not index else [0, 1, 3],
        "int_array": jnp.arange(4),
        "weak_array": jnp.asarray(1.5) if elementwise else None,
        "numpy_scalar": np.float32(1.5) if elementwise else None,
        "empty": jnp.zeros((0,), jnp.int32 if index else jnp.float32),
        "empty_rows": jnp.zeros((3, 0), jnp.int32 if index else jnp.float32),
        "float16": jnp.ones((4,), jnp.float16) if not index else None,
    }[kind]


def _params(act) -> dict:
    if act.kind is catalog.Kind.INDEX:
        return {"num_classes": 4}
    return {k: v for k, v in act.defaults.items() if v is not None and not isinstance(v, str)}


def outcome(fn, x, params):
    """What a call gives: its exception's type, or its result's shape, dtype, weak type
    and (empty, or a non-finite scalar) values. Warnings are not compared here (jax.nn's
    log_softmax of an integer array warns from a cast inside; one_hot's warning is
    tested below)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = jax.tree.leaves(fn(x, **params))[0]
    except Exception as e:
        return type(e).__name__, None
    shown = out.size == 0 or (out.ndim == 0 and not np.isfinite(out))  # (nan as text: equal)
    return "ok", (out.shape, str(out.dtype), bool(out.weak_type),
                  str(np.asarray(out).tolist()) if shown else None)


KINDS = ["python_float", "python_int", "list", "int_array", "weak_array", "numpy_scalar",
         "empty", "empty_rows", "float16"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", BOTH)
def test_the_same_outcome_as_jax_nn(name, kind):
    act = catalog.get(name)
    x = _input(kind, act)
    if x is None:
        pytest.skip(f"{kind} is not an input of a {act.kind.value} function")
    params = _params(act)
    assert outcome(REFERENCE.get(name), x, params) == outcome(JAX_NN.get(name), x, params)


@pytest.mark.parametrize("name", BOTH)
def test_strict_rank_promotion_as_jax_nn(name):
    act = catalog.get(name)
    x = jnp.arange(3) if act.kind is catalog.Kind.INDEX else jnp.ones((2, 4))
    params = _params(act)
    with jax.numpy_rank_promotion("raise"):
        assert outcome(REFERENCE.get(name), x, params) == outcome(JAX_NN.get(name), x, params)


def test_a_list_is_refused_with_the_function_named():
    with pytest.raises(TypeError, match="softplus requires ndarray or scalar arguments"):
        REFERENCE.get("softplus")([1.0, 2.0])
    with pytest.raises(TypeError, match="sigmoid does not accept dtype int32"):
        REFERENCE.get("sigmoid")(jnp.arange(3))


def test_one_hot_names_a_traced_num_classes_and_warns_on_floats():
    for fn in (JAX_NN.get("one_hot"), REFERENCE.get("one_hot")):
        with pytest.raises(jax.errors.ConcretizationTypeError,
                           match="one_hot argument `num_classes`"):
            jax.jit(lambda n, fn=fn: fn(jnp.arange(3), n))(4)
        with pytest.warns(DeprecationWarning, match="input should be integer-typed"):
            got = fn(jnp.asarray([1.0, 0.5, -1.0]), 3)
        assert got.tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
