"""Every repro line an audit writes reproduces its row: run as a user runs it, its
`actaudit oracle` prints the row's expected value and its Python prints the row's got.

The implementation audited is a plug-in with one planted fault per kind of line: a
value in float64 (in 64-bit mode), bfloat16 and float16, a derivative that reverse mode gets wrong
and one that forward mode gets wrong, eager against jit, a step back (monotonicity),
and slices with a mask, with b and with a wrong Jacobian.
"""

from __future__ import annotations

import ast
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from actaudit import checks

PLUGIN = textwrap.dedent('''
    import jax
    import jax.numpy as jnp

    def relu6(x):                     # the wrong constant
        return jnp.clip(x, 0, 5)

    def silu(x):                      # a where: forward and reverse mode differ in the tail
        return jnp.where(x > -80, x / (1 + jnp.exp(-x)), 0.0)

    def _twice(d, t):                 # forward: 2·σ'·t; its transpose, reverse: σ'·ct
        return 2 * d * t

    def _once(d, ct):
        return d * ct

    @jax.custom_jvp
    def sigmoid(x):                   # forward mode wrong, reverse mode right
        return jax.nn.sigmoid(x)

    @sigmoid.defjvp
    def _sigmoid_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        y = jax.nn.sigmoid(x)
        return y, jax.custom_derivatives.linear_call(_twice, _once, y * (1 - y), t)

    def tanh(x):                      # a fast path taken only under jit, and 0.1% off
        if isinstance(x, jax.core.Tracer):
            return jnp.tanh(x)
        return jnp.tanh(x) * (1 + 2.0**-10)

    def soft_sign(x):                 # a branch that steps back at |x| = 1
        return jnp.where(jnp.abs(x) < 1, x / (jnp.abs(x) + 1), jnp.sign(x) * 0.49)

    def softmax(x, axis=-1, where=None):   # the mask ignored
        return jax.nn.softmax(x, axis=axis)

    def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
        return jax.nn.logsumexp(a, axis=axis, keepdims=keepdims, return_sign=return_sign,
                                where=where)   # b ignored

    @jax.custom_jvp
    def _log_softmax_last(x):         # a Jacobian without the softmax term
        return jax.nn.log_softmax(x, axis=-1)

    @_log_softmax_last.defjvp
    def _log_softmax_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return _log_softmax_last(x), t

    def log_softmax(x, axis=-1, where=None):
        if axis == -1 and where is None:
            return _log_softmax_last(x)
        return jax.nn.log_softmax(x, axis=axis, where=where)
''')

# (activation, dtype, check, variant, how the repro computes it); every one is run whole
CASES = [
    ("relu6", "float64", "accuracy", "", "value"),
    ("relu6", "bfloat16", "accuracy", "", "value"),
    ("relu6", "float16", "accuracy", "", "value"),
    ("silu", "float32", "gradient", "", "vjp"),
    ("sigmoid", "float32", "gradient", "", "jvp"),
    ("tanh", "float32", "transform", "", "eager vs jit"),
    ("soft_sign", "float16", "property:monotone", "", "monotone"),
    ("softmax", "float32", "accuracy", "where='random'", "value"),
    ("logsumexp", "float32", "accuracy", "b='mixed_sign'", "value"),
    ("log_softmax", "float32", "gradient", "", "jacfwd"),
]


@pytest.fixture(scope="module")
def audited(tmp_path_factory, oracle_cache):
    """The plug-in's audit, and each case's repro line run in a shell as a user pastes it
    (two at a time: each is seconds of interpreter start-up)."""
    root = tmp_path_factory.mktemp("repro")
    plugin = root / "planted.py"
    plugin.write_text(PLUGIN)
    results = []
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        names = sorted({c[0] for c in CASES if c[1] == dtype})
        results.append(checks.audit([str(plugin)], names, [dtype], cache_dir=oracle_cache,
                                    progress=False).details)
    details = pd.concat(results, ignore_index=True)
    lines = {case: _row(details, *case[:4])["repro"] for case in CASES}

    def shell(line):
        return subprocess.run(["bash", "-c", line], capture_output=True, text=True,
                              timeout=300, cwd=root)

    with ThreadPoolExecutor(2) as pool:
        ran = dict(zip(lines, pool.map(shell, lines.values()), strict=True))
    return details, ran


def _row(details, activation, dtype, check, variant):
    rows = details[(details["activation"] == activation) & (details["dtype"] == dtype)
                   & (details["check"] == check) & (details["variant"] == variant)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def _pick(value, at):
    for i in at:
        value = value[i]
    return value


def _oracle_said(stdout: str) -> dict:
    """What `actaudit oracle` printed: one ``name  value`` line per format."""
    said = {}
    for line in stdout.splitlines():
        name, _, value = line.strip().partition("  ")
        if name in ("value", "float16", "bfloat16", "float32", "float64"):
            said[name] = ast.literal_eval(value) if value.startswith("[") else value
    return said


@pytest.mark.parametrize(("activation", "dtype", "check", "variant", "how"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[4]}" for c in CASES])
def test_the_repro_line_prints_what_the_row_reports(audited, activation, dtype, check,
                                                    variant, how):
    details, ran = audited
    row = _row(details, activation, dtype, check, variant)
    assert row["status"] == "fail", row.to_dict()
    line = row["repro"]
    if dtype == "float64":
        assert "jax_enable_x64" in line
    done = ran[(activation, dtype, check, variant, how)]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr  # no truncation to float32, say
    got = done.stdout.strip().splitlines()[-1].split()
    if how == "monotone":  # f at the two inputs: the larger value first, then the smaller
        assert got == [row["expected"], row["got"]], (line, got)
        return
    if how == "eager vs jit":  # eager (got), then jit (expected)
        assert got == [row["got"], row["expected"]], (line, got)
        return
    assert got == [row["got"]], (line, got)
    # the oracle's half printed the expected value, in this dtype, at the same entry
    exact = _oracle_said(done.stdout)[dtype]
    if isinstance(exact, list):  # a slice: the entry the row names
        where = [int(v) for v in line.rsplit("[", 1)[1].split("]")[0].split(",")]
        exact = _pick(exact, where) if len(where) == 2 else _flat(exact)[where[0]]
    assert exact == row["expected"], (line, exact)
    assert ("jax.jacfwd" in line) == (how == "jacfwd")
    assert ("jax.vjp" in line) == (how == "vjp") and ("jax.jvp" in line) == (how == "jvp")


def _flat(v):
    return [e for x in v for e in _flat(x)] if isinstance(v, list) else [v]
