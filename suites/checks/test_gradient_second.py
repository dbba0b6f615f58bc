"""``gradient:second``: jax.nn's second derivatives of softplus, tanh and sigmoid are
wrong in float64 (issue 20, jax#40387), and the row says so with a repro line that prints
both numbers; a lookup table of the oracle's own values passes; the reference passes
every activation's second derivative in float32 (where XLA flushes a subnormal result
to 0 the row warns, and names its largest error elsewhere)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import jax.numpy as jnp
import numpy as np
import pytest

from actaudit import catalog, checks
from actaudit.checks._elementwise import Case, Evaluation, _second_finding
from actaudit.checks._tolerances import Tolerances
from actaudit.oracles import FORMATS, tables

NAMES = ("softplus", "tanh", "sigmoid")


@pytest.fixture(scope="module")
def jax_nn(oracle_cache, tmp_path_factory):
    """The audit's rows, and each row's repro line run in a shell as a user pastes it
    (two at a time: each is seconds of interpreter start-up)."""
    details = checks.audit(["jax.nn"], list(NAMES), ["float64"], checks=["gradient:second"],
                           cache_dir=oracle_cache, progress=False).details
    root = tmp_path_factory.mktemp("repro")

    def shell(line):
        return subprocess.run(["bash", "-c", line], capture_output=True, text=True,
                              timeout=300, cwd=root)
    rows = {n: details[details["activation"] == n].iloc[0] for n in NAMES}
    with ThreadPoolExecutor(2) as pool:
        ran = dict(zip(NAMES, pool.map(shell, [rows[n]["repro"] for n in NAMES]),
                       strict=True))
    return details, rows, ran


def test_jax_nn_s_second_derivatives_fail_in_float64(jax_nn):
    details, rows, _ = jax_nn
    assert list(details["check"]) == ["gradient:second"] * 3
    assert set(details["status"]) == {"fail"}, details[["activation", "status", "detail"]]
    assert rows["softplus"]["got"] == "0.0" and float(rows["softplus"]["expected"]) > 0


@pytest.mark.parametrize("name", NAMES)
def test_the_repro_line_prints_the_row_s_numbers(jax_nn, name):
    _, rows, ran = jax_nn
    row, done = rows[name], ran[name]
    line = row["repro"]
    assert ("--second" in line and "jax.grad(jax.grad(" in line) or "jax.jvp(jax.grad(" in line
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


def test_the_reference_passes_every_second_derivative(oracle_cache):
    """Every activation and variant, elementwise and along an axis, in float32 (the other
    dtypes' rows are `actaudit audit --impl reference --checks gradient:second`'s: their
    second-derivative tables cost CI minutes to build): no row fails; a flush warns, its
    detail naming the largest error of the ordinary inputs, within the tolerance."""
    summary = checks.audit(["reference"], list(catalog.CATALOG), ["float32"],
                           checks=["gradient:second"], cache_dir=oracle_cache,
                           progress=False, search=None).summary
    assert len(summary) > 50
    bad = summary[summary["status"].isin(["fail", "error"])]
    assert bad.empty, bad[["activation", "variant", "dtype", "max_ulp", "detail"]]
    warned = summary[(summary["status"] == "warn")
                     & summary["detail"].str.contains("the largest")]
    assert len(warned) > 5
    for detail in warned["detail"]:
        assert float(detail.split("(the largest ")[1].split(" ULP)")[0]) <= 16, detail
