"""``transform:NAME``: the derivative by each composition of JAX's transformations agrees
with the plain one. A plug-in plants what only a composition shows: a sigmoid shifted by
the array's maximum, differentiated (harmless in the value, but the Jacobian is no
longer diagonal: jax.jacfwd and jax.jacrev see entries off it), and a softplus with a
scalar fast path that overflows (jax.vmap of jax.grad hands it 0-d arrays, and gets NaN
where the plain derivative is 1). Each failing row's repro line prints its two numbers.
(That the reference passes every composition is the reference's audit's, `pytest
suites/impl -m actaudit --actaudit-impl reference`.)"""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from actaudit import checks

PLUGIN = textwrap.dedent('''
    import jax
    import jax.numpy as jnp

    def sigmoid(x):
        m = jnp.max(x)                    # a global shift, not stop_gradient-ed
        return jnp.exp(x - m) / (jnp.exp(-m) + jnp.exp(x - m))

    def softplus(x):
        if jnp.ndim(x) == 0:              # a scalar "fast path": exp overflows
            return jnp.log1p(jnp.exp(x))
        return jax.nn.softplus(x)
''')
NAMES = ("jit_grad", "grad_jit", "vmap_grad", "grad_vmap", "jacfwd_jacrev", "linear_transpose")


@pytest.fixture(scope="module")
def planted(tmp_path_factory, oracle_cache):
    root = tmp_path_factory.mktemp("compositions")
    (root / "planted.py").write_text(PLUGIN)
    details = checks.audit([str(root / "planted.py")], ["sigmoid", "softplus"], ["float32"],
                           checks=["transform"], cache_dir=oracle_cache,
                           progress=False).details
    return root, {(r.activation, r.check): r for r in details.itertuples()}


def test_each_composition_is_a_row(planted):
    _, rows = planted
    assert {c for _, c in rows} == {"transform", *(f"transform:{n}" for n in NAMES)}


def test_a_jacobian_off_the_diagonal_fails_jacfwd_against_jacrev(planted):
    _, rows = planted
    row = rows[("sigmoid", "transform:jacfwd_jacrev")]
    assert row.status == "fail" and "off the diagonal are not 0" in row.detail, row


def test_a_scalar_path_fails_the_compositions_that_see_scalars(planted):
    _, rows = planted
    for name in ("vmap_grad", "grad_vmap"):
        row = rows[("softplus", f"transform:{name}")]
        assert row.status == "fail" and row.severity == "nonfinite", row
        assert row.got == "nan" and row.expected == "1.0"
    for name in ("jit_grad", "grad_jit", "jacfwd_jacrev", "linear_transpose"):
        assert rows[("softplus", f"transform:{name}")].status == "pass", name


def test_the_repro_line_prints_both_derivatives(planted):
    root, rows = planted
    row = rows[("softplus", "transform:vmap_grad")]
    assert "actaudit oracle" not in row.repro  # the implementation against itself
    done = subprocess.run(["bash", "-c", row.repro], capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [row.got, row.expected], row.repro

