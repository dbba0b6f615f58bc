"""``gradient:second``: jax.nn's second derivatives of softplus, tanh and sigmoid are
wrong in float64 (issue 20, jax#40387), and the row says so with a repro line that prints
both numbers; a lookup table of the oracle's own values passes. (That the reference
passes in every dtype is `pytest suites/impl --impl reference`'s.)"""

from __future__ import annotations

import subprocess

import jax.numpy as jnp
import numpy as np
import pytest

from actaudit import catalog, checks
from actaudit.checks._elementwise import Case, Evaluation, _second_finding
from actaudit.checks._tolerances import Tolerances
from actaudit.oracles import FORMATS, tables


@pytest.fixture(scope="module")
def jax_nn(oracle_cache):
    return checks.audit(["jax.nn"], ["softplus", "tanh", "sigmoid"], ["float64"],
                        checks=["gradient:second"], cache_dir=oracle_cache,
                        progress=False).details


def test_jax_nn_s_second_derivatives_fail_in_float64(jax_nn):
    assert list(jax_nn["check"]) == ["gradient:second"] * 3
    assert set(jax_nn["status"]) == {"fail"}, jax_nn[["activation", "status", "detail"]]
    softplus = jax_nn[jax_nn["activation"] == "softplus"].iloc[0]
    assert softplus["got"] == "0.0" and float(softplus["expected"]) > 0  # the tail lost


@pytest.mark.parametrize("name", ["softplus", "tanh", "sigmoid"])
def test_the_repro_line_prints_the_row_s_numbers(jax_nn, name, tmp_path):
    row = jax_nn[jax_nn["activation"] == name].iloc[0]
    line = row["repro"]
    assert ("--second" in line and "jax.grad(jax.grad(" in line) or "jax.jvp(jax.grad(" in line
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout.strip().splitlines()
    assert out[-1] == row["got"]
    assert any(ln.split() == ["float64", row["expected"]] for ln in out), out


def test_correctly_rounded_second_derivatives_pass(oracle_cache):
    """A function whose second derivative is a lookup of the oracle's bfloat16 table."""
    act = catalog.get("gelu")
    table = tables.table("gelu", {}, "bfloat16", cache_dir=oracle_cache, second=True)
    xs, want = table["x"].to_numpy(), table["second"].to_numpy()
    keys = np.argsort(xs)
    lut_x, lut_y = xs[keys], want[keys]

    def second(x):
        i = jnp.clip(jnp.searchsorted(jnp.asarray(lut_x, jnp.float32), x.astype(jnp.float32)),
                     0, len(lut_x) - 1)
        return jnp.asarray(lut_y, jnp.float32)[i].astype(x.dtype)

    case = Case("lut", act, {}, "bfloat16", Tolerances())
    ev = Evaluation(lambda x: x, {}, FORMATS["bfloat16"], xs)
    x = jnp.asarray(ev.x)
    ev.seconds = lambda: (np.asarray(second(x), np.float64),) * 2  # type: ignore[method-assign]
    found = _second_finding(case, ev, table)
    assert found.status == "pass", found
    assert found.max_ulp <= 0.5  # correctly rounded
