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

import numpy as np
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


def test_a_flushed_subnormal_derivative_warns_and_hides_no_other_error():
    """The rule Jacobian and Hessian rows share (`_worst_or_flush`): a subnormal truth
    given as 0 is a flush, which warns (here the Jacobian row of softmax at an entry
    e^−100 below the top in float32, every entry about ±3.7e-44); any other entry over
    the tolerance still fails the row, with its own severity."""
    from actaudit.checks._elementwise import _worst_or_flush
    from actaudit.oracles import FORMATS

    f32 = FORMATS["float32"]
    labels = np.array(["dominant[1]", "dominant[1]", "normal[0]"], object)
    want = np.array([-3.7e-44, 3.7e-44, 0.25])
    err = np.array([26.0, 26.0, 0.5])  # in ulps of the row's largest entry
    flushed = _worst_or_flush("gradient", labels, err, want, np.array([0.0, 0.0, 0.25]),
                              16.0, f32, "Jacobian entries")
    assert flushed.status == "fail" and flushed.severity.key == "subnormal"
    assert "2 subnormal truths flushed to 0" in flushed.detail
    wrong = _worst_or_flush("gradient", labels, np.array([26.0, 26.0, 40.0]), want,
                            np.array([0.0, 0.0, 0.2501]), 16.0, f32, "Jacobian entries")
    assert wrong.status == "fail" and wrong.severity.key == "wrong"
    assert wrong.max_ulp == 40.0 and wrong.worst_input == "normal[0]"
