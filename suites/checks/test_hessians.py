"""``gradient:second`` along an axis: each slice's Jacobian differentiated along every unit
vector and two random directions, forward over reverse and reverse over forward, against
the oracle (`checks._hessians`).

A plug-in plants what a second derivative shows: a softmax whose hand-written JVP holds
its saved output constant (stop_gradient, as a fused kernel's saved softmax is). Its
second derivative loses every term through s (whole rows of 0), and the row fails with a
repro line that prints the oracle's entry and the implementation's. The reference passes
logsumexp and softmax in every variant: softmax's reverse over forward had lost the top
entry's term (issue 20's example, 1.6e7 ulps), and its rules took the weights' own
derivative from their evaluation (80 ulps)."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from actaudit import checks

PLUGIN = textwrap.dedent('''
    import jax
    import jax.numpy as jnp

    def softmax(x, axis=-1, where=None):
        """jax.nn's value; the JVP s·(t − Σ s·t) with s held constant."""
        @jax.custom_jvp
        def f(x):
            return jax.nn.softmax(x, axis=axis, where=where)

        @f.defjvp
        def jvp(primals, tangents):
            s = f(primals[0])
            k = jax.lax.stop_gradient(s)
            t = tangents[0]
            return s, k * (t - jnp.sum(k * t, axis=axis, keepdims=True, where=where))
        return f(jnp.asarray(x))
''')


@pytest.fixture(scope="module")
def audited(tmp_path_factory, oracle_cache):
    root = tmp_path_factory.mktemp("hessians")
    (root / "held.py").write_text(PLUGIN)
    details = checks.audit([str(root / "held.py"), "reference"], ["softmax", "logsumexp"],
                           ["float32"], checks=["gradient:second"], cache_dir=oracle_cache,
                           progress=False, search=None).details
    return root, details


def _rows(details, impl, name):
    return details[(details["impl"] == impl) & (details["activation"] == name)
                   & (details["check"] == "gradient:second")]


def test_a_jvp_that_holds_its_output_constant_fails(audited):
    root, details = audited
    second = _rows(details, str(root / "held.py"), "softmax")
    assert len(second) == 3 and set(second["status"]) == {"fail"}  # every variant
    row = second.iloc[0]
    assert row["severity"] == "wrong" and float(row["max_ulp"]) > 1e6
    assert "worst at" in row["detail"] and " along " in row["detail"]


def test_the_reference_passes_logsumexp_and_softmax(audited):
    _, details = audited
    for name, variants in (("logsumexp", 8), ("softmax", 3)):
        rows = _rows(details, "reference", name)
        assert len(rows) == variants and set(rows["status"]) == {"pass"}, rows[
            ["variant", "max_ulp", "detail"]]


def test_the_repro_line_prints_the_oracle_s_entry_and_the_implementation_s(audited):
    root, details = audited
    row = _rows(details, str(root / "held.py"), "softmax").iloc[0]
    assert "--second --along" in row["repro"]
    done = subprocess.run(["bash", "-c", row["repro"]], capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert float(lines[-1]) == float(row["got"])  # the implementation's, as the row says
    assert any(line.split()[0] == "float32" for line in lines)  # the oracle's, each dtype
