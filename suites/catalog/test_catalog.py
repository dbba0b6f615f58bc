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


# the activations PyTorch has and jax.nn lacks: catalog name -> torch.nn's module
TORCH = {"hard_shrink": "Hardshrink", "soft_shrink": "Softshrink", "tanh_shrink": "Tanhshrink",
         "threshold": "Threshold", "softmin": "Softmin"}


def test_covers_jax_nn_flax_prelu_beta_swish_and_torchs_own():
    assert set(JAX_NN) | {"prelu", "beta_swish"} | set(TORCH) == set(catalog.CATALOG)


@pytest.mark.parametrize("name", TORCH)
def test_parameters_and_defaults_match_torch(name):
    """torch.nn's module of each takes the same parameters, with the same defaults (a
    required one has none); softmin's dim is the catalog's axis."""
    torch = pytest.importorskip("torch")
    sig = inspect.signature(getattr(torch.nn, TORCH[name]).__init__)
    theirs = {k: p.default for k, p in sig.parameters.items() if k not in ("self", "inplace")}
    for p in catalog.get(name).params:
        key = "dim" if p.name == "axis" else p.name
        if key == "where":
            continue
        assert key in theirs, (name, key)
        if p.required:
            assert theirs[key] is inspect.Parameter.empty, (name, key)
        elif key != "dim":
            assert theirs[key] == p.default, (name, key, theirs[key], p.default)


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
    """A sign convention for f(-0.0) wherever some variant has f(0) = 0, and only there;
    an odd one only where every variant has (threshold's f(0) is its value)."""
    zeros = [evaluate(act, 0.0, params).hi == 0 for params in act.variants()]
    assert any(zeros) == (act.zero_sign is not None), (act.name, zeros)
    if act.zero_sign is ZeroSign.ODD:
        assert all(zeros), act.name


KINKED = [(a, i) for a in ELEMENTWISE if a.name in dir(jax.nn) for i in range(len(a.kinks))]


@pytest.mark.parametrize(("act", "i"), KINKED, ids=lambda v: getattr(v, "name", None) or
                         f"kink{v}")
def test_kink_conventions_are_what_jax_nn_takes(act, i):
    fn = getattr(jax.nn, act.name)
    for params in act.variants():
        at = act.kinks_at(params)[i][0]
        got = float(jax.grad(lambda t, p=params: fn(t, **p))(jnp.float32(at)))
        want = evaluate(act, at, params, grad=True).rounded["float32"]
        assert got == pytest.approx(want, rel=1e-6), (act.name, params, at)


TORCH_ONLY = [a for a in ELEMENTWISE if a.source.startswith("torch") and a.kinks]


@pytest.mark.parametrize("act", TORCH_ONLY, ids=lambda a: a.name)
def test_kink_conventions_of_torch_entries_are_what_torch_takes(act):
    """The entries taken from PyTorch (hard_shrink, soft_shrink, threshold) take torch's
    subgradients at their kinks, wherever the parameters put them."""
    torch = pytest.importorskip("torch")
    from actaudit.impl import load

    fn = load("torch").get(act.name)
    for params in act.variants():
        for at, _ in act.kinks_at(params):
            got = float(jax.grad(lambda t, p=params: fn(t, **p))(jnp.float32(at)))
            want = evaluate(act, at, params, grad=True).rounded["float32"]
            assert got == want, (act.name, params, at, torch.__version__)


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
def test_kink_conventions_are_subgradients(act):
    """The convention lies between the one-sided derivatives."""
    for params in act.variants():
        for at_x, _ in act.kinks_at(params):
            at = evaluate(act, at_x, params, grad=True).hi
            step = max(abs(at_x), 1.0) * 2**-30
            left = evaluate(act, at_x - step, params, grad=True).hi
            right = evaluate(act, at_x + step, params, grad=True).hi
            assert min(left, right) - 1e-6 <= at <= max(left, right) + 1e-6, (act.name, at_x)


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


ROUNDED = [(a, p) for a in ENTRIES if a.source == "jax.nn" and not a.same_as
           for p in a.params if p.taken_as]


@pytest.mark.parametrize("act,param", ROUNDED, ids=[f"{a.name}-{p.name}" for a, p in ROUNDED])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_jax_nn_takes_a_python_float_parameter_in_x_dtype(act, param, dtype):
    """What `Param.taken_as` = ("x",) says: jax.nn gives bitwise the same results with the
    parameter as a Python float and as a scalar of x's dtype, and not the results of the
    parameter held in float32, for a value that float16 and bfloat16 cannot hold."""
    assert param.taken_as == ("x",)
    value = 0.3 if param.name != "b" else 0.7
    x = jnp.linspace(-4, 4, 257, dtype=dtype)
    if act.kind is not Kind.ELEMENTWISE:
        x = x.reshape(1, -1)
    fn = getattr(jax.nn, act.name)
    as_python = fn(x, **{param.name: value})
    as_x = fn(x, **{param.name: jnp.asarray(value, dtype)})
    assert jnp.array_equal(as_python, as_x, equal_nan=True)


def test_flax_prelu_takes_its_slope_as_float32_then_x_dtype():
    """Flax's PReLU: negative_slope_init stored as a float32 parameter, cast to x's dtype."""
    pytest.importorskip("flax")
    from flax import nnx

    jax.config.update("jax_enable_x64", True)
    try:
        x = jnp.linspace(-4, 0, 65, dtype=jnp.float64)
        got = nnx.PReLU(negative_slope_init=0.01)(x)
        want = x * float(jnp.float32(0.01))
        assert jnp.array_equal(got, want) and not jnp.array_equal(got, x * 0.01)
    finally:
        jax.config.update("jax_enable_x64", False)
    assert catalog.get("prelu").params[0].taken_as == ("float32", "x")


def _x64(fn):
    jax.config.update("jax_enable_x64", True)
    try:
        return fn()
    finally:
        jax.config.update("jax_enable_x64", False)


INF = math.inf


@pytest.mark.parametrize("xs,kw", [
    ([-INF, -INF], {}), ([1.0, 2.0], {"where": [False, False]}), ([INF], {"b": [-1.0]}),
    ([INF, 1.0], {"b": [-1.0, 0.0]}), ([INF, INF], {"b": [1.0, -1.0]}), ([math.nan, 1.0], {}),
    ([INF, INF], {}), ([0.0, 0.0], {"b": [1.0, -1.0]}), ([-INF, 1.0], {"b": [1.0, -1.0]}),
])
def test_logsumexp_special_slices_match_jax_nn(xs, kw):
    """The catalog's conventions for special slices, as jax.nn computes them (value and
    sign, float64)."""
    theirs = _x64(lambda: [float(v) for v in jax.nn.logsumexp(
        jnp.asarray(xs), return_sign=True, **{k: jnp.asarray(v) for k, v in kw.items()})])
    params = {"return_sign": True, **{k: tuple(v) for k, v in kw.items()}}
    ours = [e.hi for e in evaluate(catalog.get("logsumexp"), xs, params)]
    assert all(math.isnan(a) if math.isnan(b) else a == b
               for a, b in zip(ours, theirs, strict=True)), (ours, theirs)


@pytest.mark.parametrize("algorithm", ["fast", "stable"])
def test_standardize_with_a_given_mean_matches_jax_nn(algorithm):
    xs = [1.0, 2.0, 3.0, 7.5]
    theirs = _x64(lambda: [float(v) for v in jax.nn.standardize(
        jnp.asarray(xs), mean=0.5, algorithm=algorithm)])
    ours = [e.hi for e in evaluate(catalog.get("standardize"), xs,
                                   {"mean": 0.5, "algorithm": algorithm})]
    assert ours == pytest.approx(theirs, rel=1e-15)


def test_log_softmax_jacobian_at_a_minus_inf_entry_matches_jax_nn():
    xs = [-INF, 1.0, 2.0]
    theirs = _x64(lambda: jax.jacfwd(jax.nn.log_softmax)(jnp.asarray(xs))).tolist()
    ours = [[e.hi for e in row] for row in evaluate(catalog.get("log_softmax"), xs,
                                                   grad=True)]
    assert ours[0] == pytest.approx(theirs[0], rel=1e-15)
