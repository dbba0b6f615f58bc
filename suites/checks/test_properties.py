"""Metamorphic properties (`actaudit.checks._properties`): identities between an
implementation's own results, from the catalog. A correctly rounded implementation keeps
every one of them (none is our false alarm); a broken one breaks the one that shows it,
with the pair of inputs."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actaudit import catalog, impl
from actaudit.catalog import Identity
from actaudit.checks import CHECKS, Tolerances, _audit, _properties
from actaudit.oracles import FORMATS, tables

PLUGINS = Path(__file__).parents[1] / "plugins"
WANTED = frozenset({"property"})


def _properties_of(functions, name, dtype, cache, params=None, part=""):
    """The property rows of one case, run here (not in a worker), by check name."""
    im = impl.Implementation("under test", functions)
    act = catalog.get(name)
    found = _audit.run_case(im, act, params or {}, dtype, Tolerances(), WANTED, str(cache),
                            part)
    return {f.check: f for f in found if f.check.startswith("property:")}


def _correctly_rounded(name, dtype, cache):
    """``name`` in a 16-bit ``dtype`` as a lookup of the oracle's correctly rounded value
    at every bit pattern: what an ideal implementation returns."""
    fmt = FORMATS[dtype]
    table = tables.table(name, {}, dtype, cache_dir=cache)
    bits = table["x"].to_numpy().astype(fmt.dtype).view(np.uint16)
    lut = np.zeros(2**16, fmt.dtype)
    lut[bits] = table["value"].to_numpy().astype(fmt.dtype)
    lut = jnp.asarray(lut)
    return lambda x: lut[jax.lax.bitcast_convert_type(x, jnp.uint16).astype(jnp.int32)]


ELEMENTWISE = ["sigmoid", "softplus", "log_sigmoid", "silu", "swish", "tanh", "soft_sign",
               "gelu", "hard_sigmoid", "hard_silu", "relu", "sparse_plus", "sparse_sigmoid",
               "tanh_shrink"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_a_correctly_rounded_implementation_keeps_every_identity(oracle_cache, dtype):
    """Correct rounding is the best any implementation can do: an identity it breaks
    would be our own check's false alarm, whatever the rounding of its terms."""
    needed = set(ELEMENTWISE) | {"softplus", "sigmoid"}
    perfect = {n: _correctly_rounded(catalog.canonical(catalog.get(n)).name, dtype,
                                     oracle_cache) for n in needed}
    for name in ELEMENTWISE:
        rows = _properties_of(perfect, name, dtype, oracle_cache)
        identities = [p for p in catalog.get(name).properties if isinstance(p, Identity)]
        assert identities and all(f"property:{p.name}" in rows for p in identities)
        for check, f in rows.items():
            assert f.status == "pass", (name, check, f.detail)


def test_a_sigmoid_off_by_a_few_ulps_on_one_side_breaks_the_reflection(oracle_cache):
    """σ(x) + σ(−x) = 1 without the oracle: 3 ulps too large for x > 1 is past bfloat16's
    1 ULP tolerance on σ(x) alone, and the pair of inputs says where."""
    def sigmoid(x):
        y = jax.nn.sigmoid(x)
        return jnp.where(x > 1, y * (1 + 3 * 2.0**-8), y).astype(x.dtype)
    f = _properties_of({"sigmoid": sigmoid}, "sigmoid", "bfloat16", oracle_cache)[
        "property:reflection"]
    assert f.status == "fail" and f.max_ulp > 1, f.detail
    x = float(f.worst_input)
    assert abs(x) > 1 and "f(x) + f(−x) = 1" in f.detail
    assert float(f.got) > float(f.expected) == 1.0


def test_a_tanh_off_by_an_ulp_for_negative_x_is_a_rounding_wobble_of_oddness(oracle_cache):
    fmt = FORMATS["float32"]

    def tanh(x):  # one ulp toward zero below 0: within tolerance, not odd
        y = jnp.tanh(x)
        return jnp.where(x < -0.5, jnp.nextafter(y, jnp.zeros_like(y)), y)
    f = _properties_of({"tanh": tanh}, "tanh", "float32", oracle_cache)["property:odd"]
    assert f.status == "fail" and f.severity.key == "rounding", f.detail
    assert f.max_ulp == pytest.approx(0.5)  # one ulp of the two terms' two
    assert abs(float(f.got) - float(f.expected)) == fmt.ulp(float(f.expected))


def test_an_alias_one_ulp_off_its_function_fails(oracle_cache):
    def swish(x):
        y = jax.nn.silu(x)
        return jnp.where(x > 2, jnp.nextafter(y, jnp.full_like(y, jnp.inf)), y)
    functions = {"swish": swish, "silu": jax.nn.silu, "sigmoid": jax.nn.sigmoid}
    f = _properties_of(functions, "swish", "float32", oracle_cache)["property:alias"]
    assert f.status == "fail" and f.severity.key == "wrong", f.detail
    assert float(f.worst_input) > 2


def test_an_identity_naming_a_missing_function_is_skipped(oracle_cache):
    rows = _properties_of({"silu": jax.nn.silu}, "silu", "float32", oracle_cache)
    assert rows["property:via_sigmoid"].status == "skip"
    assert "no sigmoid" in rows["property:via_sigmoid"].detail
    assert rows["property:reflection"].status == "pass"


def _global_max_softmax(x, axis=-1, where=None):
    """A softmax that subtracts the maximum of the whole batch: rows leak into each other
    (a row far below the others underflows to 0/0)."""
    e = jnp.exp(x - jnp.max(x))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def test_rows_that_leak_into_each_other_break_slice_independence(oracle_cache):
    rows = _properties_of({"softmax": _global_max_softmax}, "softmax", "float32",
                          oracle_cache, part="rows")
    f = rows["property:slices"]
    assert f.status == "fail" and f.severity.key == "wrong", f.detail
    assert f.worst_input.startswith("long_row(")


@pytest.mark.parametrize("spec, name, dtype, broken", [
    ("softmax_in_dtype.py", "softmax", "bfloat16", "property:sum"),
    ("online_softmax_no_rescale.py", "softmax", "float32", "property:sum"),
    ("logsumexp_first_1024.py", "logsumexp", "float32", "property:permutation"),
    ("logsumexp_first_1024.py", "logsumexp", "float32", "property:bounds"),
])
def test_the_blocked_kernels_break_a_property_without_the_oracle(oracle_cache, spec, name,
                                                                 dtype, broken):
    im = impl.load(str(PLUGINS / spec))
    rows = _properties_of(im.functions, name, dtype, oracle_cache, part="rows")
    f = rows[broken]
    assert f.status == "fail" and f.severity.key == "wrong", f.detail
    n = int(f.worst_input.split(",")[1])
    assert n > 128, f.worst_input  # past the first block, where each bug starts


def test_one_hot_rows_sum_to_one_or_zero(oracle_cache):
    ok = _properties_of({"one_hot": jax.nn.one_hot}, "one_hot", "float32", oracle_cache,
                        {"num_classes": 3})["property:sum"]
    assert ok.status == "pass", ok.detail

    def clipped(x, num_classes, *, dtype=None, axis=-1):  # out-of-range indices clipped
        return jax.nn.one_hot(jnp.clip(x, 0, num_classes - 1), num_classes,
                              dtype=dtype or jnp.float32, axis=axis)
    bad = _properties_of({"one_hot": clipped}, "one_hot", "float32", oracle_cache,
                         {"num_classes": 3})["property:sum"]
    assert bad.status == "fail", bad.detail
    assert not 0 <= float(bad.worst_input) < 3  # an index out of range


@given(st.sampled_from(["float16", "bfloat16", "float32", "float64"]),
       st.lists(st.floats(-6e4, 6e4, allow_nan=False) | st.just(-np.inf), min_size=1,
                max_size=40),
       st.floats(2.0**-10, 1.0))
def test_the_grid_keeps_each_row_and_its_shift_exact(dtype, row, scale):
    fmt = FORMATS[dtype]
    x = (np.asarray([row, row[::-1]]) * scale).astype(fmt.dtype).astype(np.float64)
    q, c = _properties.grid(x, fmt)
    assert c.shape == (2, 1)
    usable = np.isfinite(c[:, 0])
    top = np.max(np.abs(np.where(np.isfinite(x), x, 0.0)))
    assert usable.all() or top >= fmt.max / 4  # only rows near the range's end
    q, c, x = q[usable], c[usable], x[usable]
    assert np.all(c > 0)
    for v in (q, q + c):
        assert np.array_equal(v.astype(fmt.dtype).astype(np.float64), v), (v, c)
    finite = np.isfinite(x)
    assert np.array_equal(np.isfinite(q), finite) and np.array_equal(q[~finite], x[~finite])
    step = np.ldexp(1.0, np.frexp(c)[1] + 1 - fmt.precision)  # the grid: 4c / 2**p
    assert np.all(np.abs(q[finite] - x[finite]) <= np.broadcast_to(step, x.shape)[finite] / 2)


def test_every_identity_is_a_check_and_runs_where_its_rows_are():
    names = {c.name for c in CHECKS}
    for act in catalog.CATALOG.values():
        for p in act.properties:
            if isinstance(p, Identity):
                assert f"property:{p.name}" in names
                assert _audit.part(f"property:{p.name}", act) == (
                    "rows" if act.kind in (catalog.Kind.AXIS, catalog.Kind.GATED) else "")


@pytest.mark.parametrize("spec, name, part, functions, check", [
    ("online_softmax_no_rescale.py", "softmax", "rows", None, "property:sum"),
    ("", "sigmoid", "", "tests.broken_sigmoid", "property:reflection"),
])
def test_the_repro_line_prints_the_finding_s_two_sides(oracle_cache, tmp_path, spec, name,
                                                       part, functions, check):
    """Run where a user would (not in the checkout): the line prints the row's expected
    and got, the two sides of the identity."""
    if functions:  # a plug-in module of our own, on the path the line runs with
        (tmp_path / "tests").mkdir()
        (tmp_path / "tests" / "broken_sigmoid.py").write_text(
            "import jax, jax.numpy as jnp\n"
            "def sigmoid(x):\n"
            "    y = jax.nn.sigmoid(x)\n"
            "    return jnp.where(x > 1, y * (1 + 3 * 2.0**-8), y).astype(x.dtype)\n")
        sys.path.insert(0, str(tmp_path))
        try:
            im = impl.load(functions)
        finally:
            sys.path.remove(str(tmp_path))
    else:
        im = impl.load(str(PLUGINS / spec))
    dtype = "bfloat16" if functions else "float32"
    found = _audit.run_case(im, catalog.get(name), {}, dtype, Tolerances(), WANTED,
                            str(oracle_cache), part)
    row = next(f for f in found if f.check == check)
    assert row.status == "fail"
    line = row.extra["repro"]
    assert line.startswith("python -c ")
    out = subprocess.run(shlex.split(line.replace("python", sys.executable, 1)),
                         capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}).stdout.split()
    assert [float(v) for v in out] == [float(row.expected), float(row.got)]


def test_a_host_callback_s_float64_result_after_a_16_bit_case(oracle_cache):
    """PyTorch's functions run in a host callback, on a thread of XLA's: JAX's 64-bit mode
    must hold there too (it took the float64 result for float32 and raised, depending on
    the case before)."""
    pytest.importorskip("torch")
    torch = impl.load("torch").functions
    for dtype in ("float16", "float64", "float32", "float64"):
        rows = _properties_of(torch, "softplus", dtype, oracle_cache)
        assert rows["property:reflection"].status != "error", rows["property:reflection"]
