"""The checks catch the faults real implementations have had, and report them truthfully.

Every expected value here comes from the oracle (mpmath + Arb), never from the code
under test: a deliberately broken implementation must fail the check that its fault
belongs to, and the reference must pass.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from actaudit import catalog, checks, impl, oracles
from actaudit.checks import _call
from actaudit.checks._results import COLUMNS


@pytest.fixture(scope="module")
def cache(oracle_cache):
    return oracle_cache


def run(specs, names, dtypes, cache, **kw):
    return checks.audit(specs, names, dtypes, cache_dir=cache, workers=2, progress=False,
                        **kw).summary


def status(summary, impl_name, activation, check, variant="", dtype=None):
    rows = summary[(summary["impl"] == impl_name) & (summary["activation"] == activation)
                   & (summary["check"] == check) & (summary["variant"] == variant)]
    if dtype:
        rows = rows[rows["dtype"] == dtype]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_jax_nn_float16_sigmoid_underflow_is_found_and_reference_passes(cache):
    """The brief's defect: jax.nn.sigmoid in float16 is 0 below about -11.1, where the
    truth is a representable 1.5e-5."""
    summary = run(["reference", "jax.nn"], ["sigmoid"], ["float16"], cache)
    assert list(summary.columns) == COLUMNS
    assert status(summary, "jax.nn", "sigmoid", "accuracy")["status"] == "fail"
    bad = status(summary, "jax.nn", "sigmoid", "subnormal")  # 1.5e-5 is float16-subnormal
    assert bad["status"] == "fail"
    x = float(bad["worst_input"])
    truth = oracles.evaluate(catalog.get("sigmoid"), x).rounded["float16"]
    assert x < -11 and float(bad["expected"]) == truth > 0 and float(bad["got"]) == 0.0
    ours = summary[summary["impl"] == "reference"]
    assert set(ours["status"]) <= {"pass", "warn"}, ours[ours["status"] != "pass"]


BROKEN = textwrap.dedent('''
    import jax
    import jax.numpy as jnp

    def softplus(x):                       # overflow in an intermediate
        return jnp.log(1 + jnp.exp(x))

    def leaky_relu(x, negative_slope=0.02):   # a default that is not jax.nn's
        return jnp.where(x >= 0, x, negative_slope * x)

    @jax.custom_jvp
    def relu6(x):
        return jnp.clip(x, 0, 6)

    @relu6.defjvp
    def _relu6_jvp(p, t):                  # the documented subgradient broken
        (x,), (dx,) = p, t
        return relu6(x), jnp.where((x >= 0) & (x <= 6), 1.0, 0.0).astype(x.dtype) * dx

    def hard_tanh(x):                      # the dtype silently changed
        return jnp.clip(x, -1, 1).astype(jnp.float32)

    def softmax(x, axis=-1, where=None):   # the mask ignored
        return jax.nn.softmax(x, axis=axis)

    def one_hot(x, num_classes, *, dtype=None, axis=-1):   # negative indices wrapped
        x = jnp.asarray(x) % num_classes
        return jax.nn.one_hot(x, num_classes, dtype=dtype, axis=axis)

    def tanh(x):                           # raises
        raise RuntimeError("kernel not built for this dtype")

    def elu(x, alpha=1.0):                 # the wrong shape
        return jnp.ravel(x)[:3]

    def silu(x):                           # NaN gradient at large inputs via where
        return jnp.where(x > -80, x / (1 + jnp.exp(-x)), 0.0)

    def sigmoid(x):                        # a constant truncated: 1 + 2^-23 past x = 17
        return 1 / (1 + jnp.exp(-x)) + jnp.where(x > 17, 2.0**-23, 0.0).astype(x.dtype)

    def soft_sign(x):                      # a branch that steps back at |x| = 1
        return jnp.where(jnp.abs(x) < 1, x / (jnp.abs(x) + 1), jnp.sign(x) * 0.49)
''')


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "broken.py"
    path.write_text(BROKEN)
    return str(path)


@pytest.mark.parametrize(("activation", "dtype", "check", "want"), [
    ("softplus", "float32", "accuracy", "fail"),
    ("leaky_relu", "float16", "accuracy", "fail"),
    ("relu6", "float16", "gradient:kinks", "warn"),  # a convention: fails when strict
    ("hard_tanh", "float16", "dtype", "fail"),
    ("hard_tanh", "float16", "accuracy", "error"),
    ("tanh", "float16", "accuracy", "error"),
    ("elu", "float16", "accuracy", "error"),
    ("silu", "float32", "gradient", "fail"),
    ("sigmoid", "float32", "property:bounds", "fail"),
    ("soft_sign", "float16", "property:monotone", "fail"),
    ("mish", "float16", "accuracy", "skip"),
])
def test_each_fault_is_caught_by_its_check(broken, cache, activation, dtype, check, want):
    summary = run([broken], [activation], [dtype], cache)
    row = status(summary, broken, activation, check, dtype=dtype)
    assert row["status"] == want, row.to_dict()


SEVERITIES = textwrap.dedent('''
    import jax
    import jax.numpy as jnp
    import numpy as np

    def leaky_relu(x, negative_slope=0.01):   # the slope ignored; f'(0) = the slope
        return jnp.where(x > 0, x, 0.01 * x)

    def celu(x, alpha=1.0):                  # celu(-0.0) = +0.0
        return jax.nn.celu(x, alpha) + 0.0

    def gelu(x, approximate=True):           # jax.nn's: NaN at -inf, where the truth is -0.0
        return jax.nn.gelu(x, approximate)

    def _refuse(v):
        if (v < 0).any():
            raise ValueError("negative class index")
        return v

    def one_hot(x, num_classes, *, dtype=None, axis=-1):   # refuses negative indices
        x = jnp.asarray(x)
        x = jax.pure_callback(_refuse, jax.ShapeDtypeStruct(x.shape, x.dtype), x)
        return jax.nn.one_hot(x, num_classes, dtype=dtype, axis=axis)

    def softmin(x, axis=-1, where=None):     # a 0-d result
        return jnp.sum(x)

    def softmax(x, axis=-1, where=None):     # the axis ignored
        return jax.nn.softmax(x)
''')


@pytest.fixture(scope="module")
def severities(tmp_path_factory, cache):
    path = tmp_path_factory.mktemp("plugin") / "severities.py"
    path.write_text(SEVERITIES)
    result = checks.audit([str(path)], ["leaky_relu", "celu", "gelu", "one_hot", "softmin",
                                        "softmax"], ["bfloat16", "float32"], cache_dir=cache,
                          workers=2, progress=False)
    strict = checks.audit([str(path)], ["celu"], ["float32"], cache_dir=cache, workers=2,
                          progress=False, strict_conventions=True)
    return result.details, strict.details


def _row(details, activation, check, variant="", dtype="float32"):
    rows = details[(details["activation"] == activation) & (details["check"] == check)
                   & (details["variant"] == variant) & (details["dtype"] == dtype)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


@pytest.mark.parametrize(("activation", "check", "variant", "status", "severity"), [
    ("gelu", "special", "", "fail", "nonfinite"),
    ("gelu", "special", "approximate=False", "fail", "nonfinite"),
    ("celu", "special", "", "warn", "convention"),
    ("leaky_relu", "accuracy", "negative_slope=0.2", "fail", "ignored"),
    ("leaky_relu", "gradient:kinks", "", "warn", "convention"),
    ("softmax", "accuracy", "axis=0", "fail", "ignored"),
    ("one_hot", "special", "num_classes=3", "warn", "convention"),
    ("one_hot", "accuracy", "num_classes=3", "pass", None),
    ("softmin", "accuracy", "", "error", "crash"),
])
def test_each_finding_has_the_severity_of_what_it_shows(severities, activation, check,
                                                        variant, status, severity):
    row = _row(severities[0], activation, check, variant)
    found = None if pd.isna(row["severity"]) else row["severity"]
    assert (row["status"], found) == (status, severity), row.to_dict()


def test_a_refused_input_class_is_named_with_the_input_that_shows_it(severities):
    row = _row(severities[0], "one_hot", "special", "num_classes=3")
    assert "negative class index" in row["detail"] and "negative" in row["detail"]
    assert row["worst_input"].startswith("[-1.0")
    assert "CpuCallback" not in row["detail"]


def test_a_0d_result_of_a_vector_function_blames_the_plugin(severities):
    row = _row(severities[0], "softmin", "accuracy")
    assert "returned shape ()" in row["detail"] and "audit's checks" not in row["detail"]


def test_strict_conventions_turn_a_convention_into_a_failure(severities):
    row = _row(severities[1], "celu", "special")
    assert (row["status"], row["severity"]) == ("fail", "convention")


def test_a_subnormal_read_as_zero_may_give_the_implementations_own_f_prime_0(severities):
    """x > 0 on a subnormal x under denormals-are-zero is false: the derivative there is
    the implementation's own at 0 (the slope), not the catalog's 1: a subnormal warn."""
    row = _row(severities[0], "leaky_relu", "subnormal:gradient", dtype="bfloat16")
    assert row["status"] in ("pass", "warn"), row.to_dict()


@pytest.mark.parametrize(("activation", "variant"), [
    ("softmax", "where='random'"), ("one_hot", "num_classes=1"),
])
def test_vector_faults_are_caught(broken, cache, activation, variant):
    summary = run([broken], [activation], ["float32"], cache, checks=["accuracy"])
    assert status(summary, broken, activation, "accuracy", variant)["status"] == "fail"


def test_a_hanging_implementation_gives_error_rows():
    import threading

    gate = threading.Event()
    with pytest.raises(_call.CallError, match="timed out"):
        _call.call(lambda: gate.wait(5), timeout=0.5)
    gate.set()


def test_a_function_shared_by_two_specs_is_checked_once(tmp_path, cache):
    """A plug-in that re-exports jax.nn's function (as flax.nnx does) gets jax.nn's
    results, labelled; its own functions are checked as usual."""
    plugin = tmp_path / "mixed.py"
    plugin.write_text("from jax.nn import relu\n\ndef elu(x, alpha=1.0):\n"
                      "    import jax.numpy as jnp\n"
                      "    return jnp.where(x > 0, x, alpha * jnp.expm1(x))\n")
    mine = impl.load(str(plugin))
    assert impl.shared([mine, impl.load("jax.nn")], ["relu", "elu", "sigmoid"]) == {
        (mine.name, "relu"): "jax.nn"}
    summary = run([str(plugin), "jax.nn"], ["relu", "elu"], ["bfloat16"], cache)
    ours, theirs = (summary[summary["impl"] == s].set_index(["activation", "variant", "check"])
                    for s in (mine.name, "jax.nn"))
    note = "the same function as jax.nn's: its results"
    relu_ours, relu_theirs = ours.loc["relu"], theirs.loc["relu"]
    assert (relu_ours["detail"] == [f"{d}; {note}" if d else note
                                    for d in relu_theirs["detail"]]).all()
    cols = ["status", "max_ulp", "worst_input", "expected", "got"]
    pd.testing.assert_frame_equal(relu_ours[cols], relu_theirs[cols])
    assert not ours.loc["elu"]["detail"].str.contains("same function").any()


def test_a_builtin_whose_library_is_missing_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "flax", None)  # as if flax were not installed
    with pytest.raises(impl.SpecError, match=r"flax.nnx: needs flax \(pip install "):
        impl.load("flax.nnx")
    assert "flax.nnx" not in [im.name for im in impl.available()]


def test_scipy_is_audited_through_jax_and_what_it_lacks_is_skipped(cache):
    """scipy.special runs on the host, called from JAX: jit and vmap reach it, its values
    are judged like any implementation's, and what it lacks (autodiff, softmax's where,
    the tanh gelu) gives `skip` rows that say so."""
    summary = run(["scipy"], ["sigmoid", "softmax", "log_softmax", "gelu"], ["float32"], cache)

    def row(act, check, variant=""):
        return status(summary, "scipy", act, check, variant)

    assert row("sigmoid", "accuracy")["status"] == "pass"
    assert row("sigmoid", "transform")["status"] == "pass"
    gradient = row("sigmoid", "gradient")
    assert gradient["status"] == "skip" and "scipy has no autodiff" in gradient["detail"]
    assert row("softmax", "accuracy", "where='random'")["status"] == "skip"
    assert row("gelu", "accuracy")["status"] == "skip"
    assert row("gelu", "accuracy", "approximate=False")["status"] == "pass"
    # scipy.special.log_softmax of a dominated slice: x - max - log(sum) loses the top
    # entry's -log(1 + tiny); the expected value is the oracle's, entry by entry
    bad = row("log_softmax", "accuracy")
    assert bad["status"] == "fail"
    xs = [float(v) for v in bad["worst_input"].strip("[]").split(",")]
    exact = oracles.evaluate(catalog.get("log_softmax"), xs)
    assert float(bad["expected"]) in [e.rounded["float32"] for e in exact]
    assert set(summary["status"]) <= {"pass", "fail", "warn", "skip"}  # no error rows


def test_torch_is_audited_with_its_own_autodiff(cache):
    """torch.nn.functional runs on the host with torch.autograd's derivatives: the audit
    finds what torch itself computes (called directly here, not through the adapter),
    judged against the oracle."""
    torch = pytest.importorskip("torch")
    summary = run(["torch"], ["sigmoid", "gelu", "softmax"], ["float32"], cache)

    def row(act, check, variant=""):
        return status(summary, "torch", act, check, variant)

    assert row("sigmoid", "accuracy")["status"] == "pass"
    assert row("sigmoid", "transform")["status"] == "pass"
    # torch's sigmoid backward, y·(1 - y), has no relative accuracy far in the tail
    bad = row("sigmoid", "gradient")
    assert bad["status"] == "fail"
    x = float(bad["worst_input"])
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    (mine,) = torch.autograd.grad(torch.sigmoid(xt), xt)
    truth = oracles.evaluate(catalog.get("sigmoid"), x, grad=True).rounded["float32"]
    assert float(bad["got"]) == mine.item() and float(bad["expected"]) == truth
    # F.gelu(-inf) is NaN in torch; the truth is -0
    special = row("gelu", "special", "approximate=False")
    assert special["status"] == "fail" and "x=-inf: nan not -0.0" in special["detail"]
    assert math.isnan(torch.nn.functional.gelu(torch.tensor(-math.inf)).item())
    assert str(oracles.evaluate(catalog.get("gelu"), -math.inf,
                                {"approximate": False}).rounded["float32"]) == "-0.0"
    assert row("softmax", "accuracy")["status"] == "pass"
    assert row("softmax", "transform")["status"] == "pass"
    where = row("softmax", "accuracy", "where='random'")
    assert where["status"] == "skip" and "torch has no where=" in where["detail"]
    assert set(summary["status"]) <= {"pass", "fail", "warn", "skip"}  # no error rows


def test_an_exception_in_a_host_callback_is_its_own_one_line_reason(tmp_path):
    """torch's one_hot raises on a negative class, inside jax.pure_callback: the rows say
    what torch said, not XLA's wrapper, and the log shows no traceback (JAX's
    "jax.pure_callback failed" copy of it looked like a crash of the audit). It is a
    refusal of one input class, by design: the slices in range are still judged, and
    the refusal is a convention (`warn`), with the slice that shows it."""
    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, "-m", "actaudit.cli", "audit", "--impl", "torch", "--only", "one_hot",
         "--dtypes", "float32", "--out", str(tmp_path / "run"), "--quiet"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "pure_callback failed" not in done.stderr
    summary = pd.read_csv(tmp_path / "run" / "summary.csv", keep_default_na=False)
    assert not (summary["status"] == "error").any()
    special = summary[(summary["check"] == "special") & (summary["status"] != "skip")]
    assert len(special) and (special["status"] == "warn").all() and special["detail"].str.contains(
        "negative: raised RuntimeError: Class values must be non-negative. (in a host "
        "callback)", regex=False).all(), special["detail"].tolist()
    assert special["worst_input"].str.startswith("[-1.0").all()
    accuracy = summary[(summary["check"] == "accuracy") & (summary["status"] != "skip")]
    assert len(accuracy) and (accuracy["status"] == "pass").all(), accuracy


def test_torch_derivatives_reach_every_jax_transform():
    """The adapter gives JAX torch's Jacobian as a linear map: forward and reverse mode
    agree, under jit and vmap, with the analytic softmax Jacobian diag(s) - s sᵀ."""
    pytest.importorskip("torch")
    softmax = impl.load("torch").get("softmax")
    x = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -2.0]], np.float32)
    e = np.exp(x - x.max(1, keepdims=True))
    s = e / e.sum(1, keepdims=True)
    want = np.stack([np.diag(r) - np.outer(r, r) for r in s])
    for jac in (jax.jacfwd, jax.jacrev):
        got = np.asarray(jax.jit(jax.vmap(jac(softmax)))(jnp.asarray(x)))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    lse = impl.load("torch").get("logsumexp")
    g = np.asarray(jax.grad(lambda v: lse(v, axis=0).sum())(jnp.asarray(x)))
    np.testing.assert_allclose(g, np.exp(x) / np.exp(x).sum(0), rtol=1e-5)


def test_bfloat16_crosses_into_torch_bit_for_bit():
    pytest.importorskip("torch")
    from ml_dtypes import bfloat16

    from actaudit.impl import _torch

    bits = np.arange(1 << 16, dtype=np.uint16)
    every = bits.view(bfloat16)
    back = _torch.to_numpy(_torch.to_torch(every))
    assert back.dtype == bfloat16 and np.array_equal(back.view(np.uint16), bits)


def test_bad_specs_are_one_line_errors():
    with pytest.raises(impl.SpecError, match="cannot import"):
        impl.load("no_such_module_here")
    with pytest.raises(impl.SpecError, match="no such file"):
        impl.load("missing/file.py")
    with pytest.raises(impl.SpecError, match="provides none"):
        impl.load("json")


def test_tolerance_overrides(tmp_path):
    f = tmp_path / "tol.toml"
    f.write_text("[value]\nfloat32 = 8\n[activations.gelu.gradient]\nfloat64 = 64\n")
    tol = checks.load_tolerances(f, project=tmp_path / "none.toml")
    assert tol.ulps("sigmoid", "float32") == 8
    assert tol.ulps("gelu", "float64", "gradient") == 64
    assert tol.ulps("sigmoid", "float16") == checks.DEFAULT["value"]["float16"]
    f.write_text("[value]\nfloat8 = 1\n")
    with pytest.raises(checks.ToleranceError, match="unknown dtype"):
        checks.load_tolerances(f, project=tmp_path / "none.toml")


F32 = oracles.FORMATS["float32"]


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "log_sigmoid", "tanh"])
def test_reference_float32_random_search(name):
    """hypothesis looks for the largest float32 error of the reference, target() pushing."""
    act = catalog.get(name)
    fn = impl.load("reference").get(name)
    limit = checks.Tolerances().ulps(name, "float32")

    @given(st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-200,
                     max_value=200))
    def search(x):
        exact = oracles.evaluate(act, x, formats=(F32,))
        got = float(fn(jnp.float32(x)))
        if abs(exact.rounded["float32"]) < F32.tiny:
            return  # subnormal results are the subnormal check's
        err = float(oracles.ulp_error(np.array([got]), np.array([exact.hi]),
                                      np.array([exact.lo]), F32)[0])
        target(err, label="ulp error")
        assert err <= limit, (f"{name}({x!r}) = {got!r}, expected "
                              f"{exact.rounded['float32']!r} ({err:.2f} ULP); "
                              f"repro: actaudit oracle {name} -- {x!r}")

    search()


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "standardize"])
def test_reference_vector_random_search(name):
    """hypothesis looks for float32 slices (wide ranges, near ties, −inf entries) where
    the reference is furthest from the whole-slice oracle, target() pushing."""
    act = catalog.get(name)
    fn = impl.load("reference").get(name)
    limit = checks.Tolerances().ulps(name, "float32")
    entry = st.one_of(st.floats(width=32, min_value=-1e4, max_value=1e4),
                      st.floats(width=32, min_value=-2, max_value=2), st.just(-math.inf))
    if name == "standardize":  # finite slices: an infinite entry makes it all NaN
        entry = st.floats(width=32, min_value=-1e4, max_value=1e4)
    # no statistics in the subnormal range: flushing them is the subnormal check's matter
    entry = entry.filter(lambda v: v == 0 or abs(v) > 1e-30)

    @given(st.lists(entry, min_size=2, max_size=8).filter(
        lambda xs: any(math.isfinite(x) for x in xs)))
    def search(xs):
        exact = oracles.evaluate(act, xs, formats=(F32,))
        want = np.array([e.rounded["float32"] for e in exact])
        got = np.asarray(jax.jit(fn)(jnp.asarray(xs, jnp.float32)), np.float64).ravel()
        hi, lo = np.array([e.hi for e in exact]), np.array([e.lo for e in exact])
        err = oracles.ulp_error(got, hi, lo, F32)
        if act.slice_scale:  # in ulps of the slice's scale, as the audit counts
            scale = act.slice_scale(np.asarray(xs, np.float64), want, {})
            err = oracles.ulp_error(got, hi, lo, F32, np.full(len(hi), scale))
        counted = np.isfinite(hi) & (np.abs(hi) >= 2 * F32.tiny)
        # a result near 0 from m + log Σ cancelling is ill-conditioned: errors are held to
        # the tolerance times the condition number, as for any backward-stable algorithm
        relative = err[counted] / _log_sum_condition(name, np.asarray(xs), hi)[counted]
        worst = float(np.max(relative, initial=0.0))
        target(worst, label="ulp error over condition")
        assert worst <= limit, f"{name}({xs!r}): {got.tolist()}, expected {want.tolist()}"
        assert np.array_equal(np.isnan(got), np.isnan(want)), (xs, got, want)

    search()


def _log_sum_condition(name: str, xs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """max(1, relative condition number) of each output, s the softmax weights: for
    L = log Σ exp(x_j), Σ_j s_j|x_j| / |L|; for x_i − L, (|x_i| + Σ_j s_j|x_j|) / |x_i − L|;
    for s_i = exp(x_i − L), |x_i| + Σ_j s_j|x_j|; 1 for standardize (in slice ulps)."""
    if name == "standardize":
        return np.ones_like(out)
    finite = np.isfinite(xs)
    w = np.exp(np.where(finite, xs - np.max(xs[finite]), -np.inf))
    spread = np.sum(w / w.sum() * np.abs(np.where(finite, xs, 0)))
    own = 0 if name == "logsumexp" else np.abs(np.where(finite, xs, 0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        size = 1 if name == "softmax" else np.abs(out)
        return np.maximum(1, (own + spread) / size)


def test_reference_tails_and_limits():
    ref = impl.load("reference")
    g = jax.grad(ref.get("sigmoid"))(jnp.float32(30.0))
    assert math.isclose(float(g), 9.357622968839299e-14, rel_tol=1e-6)
    assert float(ref.get("soft_sign")(jnp.float32(np.inf))) == 1.0
    y = float(ref.get("silu")(jnp.float32(-np.inf)))
    assert y == 0.0 and math.copysign(1, y) < 0
    for name in ("silu", "gelu", "mish", "softplus", "tanh", "squareplus", "soft_sign"):
        grads = jax.vmap(jax.grad(ref.get(name)))(jnp.array([-np.inf, -1e30, 1e30, np.inf]))
        assert not np.isnan(np.asarray(grads)).any(), name


@pytest.mark.parametrize("name", sorted(catalog.CATALOG))
def test_reference_is_a_drop_in_for_jax_nn(name):
    """Same parameter names, kinds and defaults as jax.nn (for what jax.nn has)."""
    import inspect

    ours = impl.load("reference").get(name)
    assert ours is not None, f"reference lacks {name}"
    theirs = getattr(jax.nn, name, None)
    if theirs is None:
        return
    def shape(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
    assert shape(ours) == shape(theirs)


@pytest.mark.parametrize(("name", "params", "dtype", "x", "grad", "why"), [
    ("silu", {}, "bfloat16", -90.5, False, "x·e^x is normal where e^x is flushed"),
    ("silu", {}, "bfloat16", -90.5, True, "(1 + x)·e^x likewise"),
    ("mish", {}, "bfloat16", -90.5, False, "as silu"),
    ("tanh", {}, "bfloat16", 43.75, True, "sech² normal where e^−2x is flushed"),
    ("selu", {}, "bfloat16", -87.5, True, "λα·e^x normal where e^x is flushed"),
    ("celu", {"alpha": 2.0}, "float32", -2.3509885615147286e-38, False, "x/α subnormal"),
    ("celu", {"alpha": 0.5}, "bfloat16", -43.5, True, "α·e^(x/α)·(1/α) would flush"),
    ("elu", {}, "float32", -0.0019353791140019894, False, "XLA's expm1 is 4.7 ulps off"),
    ("gelu", {}, "float32", -7.587204456329346, False, "exp's argument as a double word"),
    ("gelu", {}, "float64", -16.0, True, "likewise, float64"),
    ("gelu", {"approximate": False}, "float32", -13.100116729736328, False, "Mills series"),
    ("gelu", {"approximate": False}, "float64", -28.838593426725105, True, "likewise"),
    ("log1mexp", {}, "float64", 0.9701478369783898, False, "XLA's float64 log1p"),
    ("softplus", {}, "float64", -0.5, False, "log1p(e^−0.5) = log1p(0.61)"),
    ("squareplus", {}, "float32", 1.7014118346046923e38, False, "x + s overflows"),
    ("sparse_sigmoid", {}, "float32", 0.9999999403953552, True, "x + 1 rounds to 2"),
    ("hard_sigmoid", {}, "float32", 2.999999761581421, True, "x + 3 rounds to 6"),
    ("hard_silu", {}, "bfloat16", -1.5, True, "the derivative's zero, exactly"),
])
def test_reference_hard_cases(name, params, dtype, x, grad, why):
    """Inputs where a plain float32 (or float64) formula loses: the reference is within
    2 ulps of the oracle there, under jit as in the audit."""
    act = catalog.get(name)
    fmt = oracles.FORMATS[dtype]
    exact = oracles.evaluate(act, x, params, grad=grad, formats=(fmt,))
    fn = impl.load("reference").get(name)

    def f(v):
        return fn(v, **params)

    with jax.enable_x64(dtype == "float64"):
        xs = jnp.asarray([x], fmt.dtype)
        got = jax.jit(jax.vmap(jax.grad(f)) if grad else f)(xs)
        got = np.asarray(got, np.float64)
    err = float(oracles.ulp_error(got, np.array([exact.hi]), np.array([exact.lo]), fmt)[0])
    assert err <= 2, f"{name}{'′' if grad else ''}({x!r}) {dtype}: {got[0]!r}, expected " \
        f"{exact.rounded[dtype]!r} ({err:.3g} ulps; {why})"


def test_looser_default_tolerances_are_justified_in_the_catalog():
    from actaudit.checks._tolerances import ACTIVATION_DEFAULTS

    for name, per in ACTIVATION_DEFAULTS.items():
        notes = " ".join(c for c in catalog.get(name).conventions if c.startswith("tolerance:"))
        assert notes, f"{name}: a looser default tolerance without a 'tolerance:' convention"
        for what in per:
            assert ("gradient" in notes) if what == "gradient" else ("value" in notes), name


def test_float64_runs_in_64_bit_mode_inside_the_call_thread(cache):
    summary = run(["reference"], ["softplus"], ["float64"], cache, checks=["dtype", "accuracy"])
    assert set(summary["status"]) == {"pass"}, summary


def test_reference_double_word_gelu_argument_survives_jit():
    """z = 2√(2/π)·x(1 + 0.044715x²) as hi + lo stays exact to far below an ulp under jit,
    where XLA's CPU code fuses a product into the next sum (one fused multiply-add) unless
    the error-free transforms keep it out."""
    import mpmath

    from actaudit.impl.reference._elementwise import _gelu_tanh_z

    x = np.random.default_rng(0).uniform(-12, 12, 400).astype(np.float32)
    hi, lo = (np.asarray(v, np.float64) for v in jax.jit(_gelu_tanh_z)(jnp.asarray(x)))
    with mpmath.workdps(40):
        k, c = 2 * mpmath.sqrt(2 / mpmath.pi), mpmath.mpf("0.044715")
        worst = max(float(abs(mpmath.mpf(h) + mpmath.mpf(lo_) - k * mpmath.mpf(float(v))
                              * (1 + c * mpmath.mpf(float(v)) ** 2))) / float(np.spacing(
                                  np.float32(abs(h)))) for v, h, lo_ in zip(x, hi, lo, strict=True))
    assert worst < 1e-3, worst


def test_dtype_follows_jax_promotion_and_the_catalogs_casts(tmp_path, cache):
    """With a float32 array parameter and a float16 input, jax.nn's leaky_relu returns
    float32 (JAX's promotion, as documented): that passes; a squareplus that casts b to
    x's dtype instead fails; Flax's PReLU, which the catalog says casts, passes with
    float16."""
    path = tmp_path / "casting.py"
    path.write_text(textwrap.dedent('''
        import jax.numpy as jnp

        def squareplus(x, b=4):
            b = jnp.asarray(b, x.dtype)  # drops JAX's promotion
            return (x + jnp.sqrt(x * x + b)) / 2
    '''))
    specs = ["jax.nn", str(path)] + (["flax.nnx"] if _has("flax") else [])
    summary = run(specs, ["leaky_relu", "squareplus", "prelu"], ["float16"], cache,
                  checks=["dtype"])
    assert status(summary, "jax.nn", "leaky_relu", "dtype")["status"] == "pass"
    bad = status(summary, str(path), "squareplus", "dtype")
    assert bad["status"] == "fail" and "float16, not float32" in bad["detail"], bad.to_dict()
    if _has("flax"):
        assert status(summary, "flax.nnx", "prelu", "dtype")["status"] == "pass"


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None
