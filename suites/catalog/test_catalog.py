"""The catalog against what it describes: jax.nn's names, signatures, defaults and the
subgradients jax.nn really takes at kinks."""

import inspect
import math

import jax
import jax.numpy as jnp
import pytest

from actaudit import catalog
from actaudit.catalog import Kind, ZeroSign
from actaudit.oracles import evaluate

JAX_NN = [
    "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax", "logmeanexp",
    "logsumexp", "mish", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "soft_sign",
    "softmax", "softplus", "sparse_plus", "sparse_sigmoid", "squareplus", "standardize",
    "swish", "tanh",
]
ENTRIES = list(catalog.CATALOG.values())


def test_covers_jax_nn_flax_prelu_and_beta_swish():
    assert set(JAX_NN) | {"prelu", "beta_swish"} == set(catalog.CATALOG)


@pytest.mark.parametrize("name", JAX_NN)
def test_parameters_and_defaults_match_jax_nn(name):
    """A wrong default in the catalog would make every audit of it wrong."""
    sig = inspect.signature(getattr(jax.nn, name))
    theirs = {k: p.default for k, p in list(sig.parameters.items())[1:]}
    ours = {p.name: p.default for p in catalog.get(name).params}
    for k, default in ours.items():
        assert k in theirs, f"{name}: jax.nn has no parameter {k}"
        if not catalog.get(name).params[list(ours).index(k)].required:
            assert theirs[k] == default, (name, k, theirs[k], default)


@pytest.mark.parametrize("act", ENTRIES, ids=lambda a: a.name)
def test_entry_is_complete(act):
    assert act.formula and act.value is not None
    if act.kind is Kind.ELEMENTWISE:
        assert act.grad is not None and act.limits and act.grad_limits
    for params in act.variants()[1:]:
        for k, v in params.items():
            spec = next(p for p in act.params if p.name == k)
            assert spec.required or v != spec.default, (act.name, k)


ELEMENTWISE = [a for a in ENTRIES if a.kind is Kind.ELEMENTWISE]


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
def test_zero_sign_declared_where_f_of_zero_is_zero(act):
    for params in act.variants():
        at_zero = evaluate(act, 0.0, params).hi
        assert (at_zero == 0) == (act.zero_sign is not None), (act.name, params, at_zero)


KINKED = [(a, k) for a in ELEMENTWISE if a.name in dir(jax.nn) for k in a.kinks]


@pytest.mark.parametrize(("act", "kink"), KINKED, ids=lambda v: getattr(v, "name", None) or
                         str(getattr(v, "at", v)))
def test_kink_conventions_are_what_jax_nn_takes(act, kink):
    fn = getattr(jax.nn, act.name)
    for params in act.variants():
        got = float(jax.grad(lambda t, p=params: fn(t, **p))(jnp.float32(kink.at)))
        want = evaluate(act, kink.at, params, grad=True).rounded["float32"]
        assert got == pytest.approx(want, rel=1e-6), (act.name, params, kink.at)


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
def test_kink_conventions_are_subgradients(act):
    """The convention lies between the one-sided derivatives."""
    for kink in act.kinks:
        for params in act.variants():
            at = evaluate(act, kink.at, params, grad=True).hi
            step = max(abs(kink.at), 1.0) * 2**-30
            left = evaluate(act, kink.at - step, params, grad=True).hi
            right = evaluate(act, kink.at + step, params, grad=True).hi
            assert min(left, right) - 1e-6 <= at <= max(left, right) + 1e-6, (act.name, kink)


def test_odd_functions_keep_the_sign_of_zero():
    odd = [a.name for a in ELEMENTWISE if a.zero_sign is ZeroSign.ODD]
    assert {"tanh", "silu", "gelu", "identity", "soft_sign", "mish"} <= set(odd)
    for name in odd:
        assert math.copysign(1, evaluate(catalog.get(name), -0.0).hi) == -1, name


def test_variant_ids_are_canonical():
    assert catalog.variant_id({"approximate": False, "alpha": 0.5}) == (
        "alpha=0.5, approximate=False")
    assert catalog.variant_id({}) == ""


def test_unknown_names_are_clear_errors():
    with pytest.raises(KeyError, match="unknown activation 'nope'"):
        catalog.get("nope")
    with pytest.raises(ValueError, match="elu has no parameter beta"):
        catalog.get("elu").resolve({"beta": 1.0})
