"""The search (`actaudit.checks._search`): hypothesis looking for the worst input of any
implementation, steered by the ULP error against the oracle, its failures shrunk."""

import math
import shlex
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings

from actaudit import catalog, impl
from actaudit.checks import Tolerances, _search
from actaudit.checks._audit import run_case
from actaudit.oracles import FORMATS, evaluate

# softplus as textbooks write it: exp overflows past x = 709.78 in float64, where the
# truth is x itself; the rest of the line is right to a few ulps
NAIVE = """
import jax.numpy as jnp
def softplus(x):
    return jnp.log1p(jnp.exp(x))
"""
# softmax that forgets its mask: the masked-out entries count in every sum
MASK_IGNORED = """
import jax
def softmax(x, axis=-1, where=None):
    return jax.nn.softmax(x, axis=axis)
"""
RAISES = """
def softmax(x, axis=-1, where=None):
    raise RuntimeError("no kernel for this shape")
"""


def _plugin(tmp_path, text, name="kernels.py"):
    path = tmp_path / name
    path.write_text(text)
    return impl.load(str(path))


def _search_case(im, name, params, dtype, profile="ci"):
    found = run_case(im, catalog.get(name), params, dtype, Tolerances(), None, None,
                     "search", profile)
    return {f.check: f for f in found}


def _run(line, tmp_path):
    """A repro line as a user runs it, outside the checkout: what it prints."""
    argv = shlex.split(line.replace("python -c", f"{shlex.quote(sys.executable)} -c", 1))
    return subprocess.run(argv, capture_output=True, text=True, check=True,
                          cwd=tmp_path).stdout.split()


def _printed(line, tmp_path):
    """What the Python half of a repro line prints (an elementwise or drawn row's line
    first runs `actaudit oracle`, whose answer the row's expected value already is)."""
    python = "python" + line.split("; python", 1)[1] if line.startswith("actaudit") else line
    return [float(v) for v in _run(python, tmp_path)]


def test_the_search_finds_the_overflow_and_shrinks_it_to_where_it_starts(tmp_path):
    found = _search_case(_plugin(tmp_path, NAIVE), "softplus", {}, "float64")
    f = found["accuracy:search"]
    assert f.status == "fail" and f.max_ulp == math.inf and f.got == "inf"
    x = float(f.worst_input)
    assert x > 709.78 and float(f.expected) == evaluate(
        catalog.get("softplus"), x, formats=(FORMATS["float64"],)).rounded["float64"]
    # shrunk: the smallest failing input hypothesis found is just past the overflow
    if "shrunk" in f.detail:
        x = float(f.detail.split("the smallest failing input, shrunk: ")[1].split(",")[0])
    assert 709.78 < x <= 1024 and "a lower bound on the maximum" in f.detail
    assert f.severity.key == "nonfinite"
    assert _printed(f.extra["repro"], tmp_path) == [math.inf]


def test_the_reference_passes_where_the_search_looks():
    found = _search_case(impl.load("reference"), "softplus", {}, "float64")
    for check in ("accuracy:search", "gradient:search"):
        f = found[check]
        assert f.status == "pass", f.detail
        assert 0 <= f.max_ulp <= f.extra["tolerance"] and f.extra["n"] >= 30


def test_ci_finds_the_same_in_every_run_and_dev_draws_anew():
    ref = impl.load("reference")
    first, again = (_search_case(ref, "tanh", {}, "float32") for _ in range(2))
    for check in first:
        assert (first[check].max_ulp, first[check].worst_input) == (
            again[check].max_ulp, again[check].worst_input)
    assert _search.PROFILES["ci"].derandomize and not _search.PROFILES["dev"].derandomize


def test_a_row_search_draws_masks_and_its_repro_line_reproduces(tmp_path):
    """The mask is part of the worst input's row: the line rebuilds it."""
    found = _search_case(_plugin(tmp_path, MASK_IGNORED), "softmax", {"where": "random"},
                         "float32")
    f = found["accuracy:search"]
    assert f.status == "fail" and f.max_ulp > 1e3
    assert "where" in f.extra["repro"]
    assert np.array_equal(_printed(f.extra["repro"], tmp_path)[-1:], [float(f.got)],
                          equal_nan=True)


def test_a_kernel_that_raises_gives_error_rows_and_the_audit_goes_on(tmp_path):
    found = _search_case(_plugin(tmp_path, RAISES), "softmax", {}, "float16")
    assert {f.status for f in found.values()} == {"error"}
    assert "no kernel for this shape" in found["accuracy:search"].detail


def test_a_search_past_its_budget_stops_and_says_so(monkeypatch):
    quick = _search.Profile("quick", 50, 10, (1, 2), (17,), 0.0, True)
    monkeypatch.setitem(_search.PROFILES, "quick", quick)
    found = _search_case(impl.load("reference"), "tanh", {}, "float64", "quick")
    f = found["accuracy:search"]
    assert f.status == "pass" and "stopped at its 0 s budget" in f.detail


def test_an_unknown_profile_is_refused_before_any_work():
    with pytest.raises(ValueError, match="unknown search profile 'fast'; known: ci, dev"):
        _search.profile("fast")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_row_entries_are_the_format_s_bit_patterns(dtype):
    """16-bit entries come from every bit pattern (ml_dtypes), a NaN pattern as −inf."""
    fmt = FORMATS[dtype]

    @settings(max_examples=200, database=None)
    @given(_search._entries(fmt))
    def entry(v):
        assert not math.isnan(v)
        assert float(np.float64(v).astype(fmt.dtype)) == v

    entry()
