"""The Python entry points, as a user's notebook or test calls them: `actaudit.check` and
`actaudit.audit`, and the `Result` they return. The truths are the oracle's."""

import json
import math

import jax
import jax.numpy as jnp
import pytest

import actaudit
from actaudit import catalog, oracles
from actaudit._files import OutputError


def naive_softplus(x):
    return jnp.log(1 + jnp.exp(x))  # overflows to inf from x = 89 in bfloat16


def test_check_passes_a_right_function_and_returns_its_rows():
    result = actaudit.check(jax.nn.relu, "relu", dtype="bfloat16", max_ulp=0)
    assert result.ok and result.counts()["pass"] == len(result.summary) >= 1
    assert set(result.summary["check"]) == {"accuracy"}


def test_check_says_where_and_by_how_much():
    with pytest.raises(AssertionError) as info:
        actaudit.check(naive_softplus, "softplus", dtype="bfloat16", max_ulp=2)
    message = str(info.value)
    first = message.splitlines()[0]
    assert first.startswith("naive_softplus: softplus bfloat16 accuracy fail")
    x = float(first.split("input ")[1].split(",")[0])
    truth = oracles.evaluate(catalog.get("softplus"), x).rounded["bfloat16"]
    assert math.isfinite(truth) and f"expected {truth!r}" in first and "got inf" in first
    assert "repro: actaudit oracle softplus -- " in message


def test_max_ulp_is_the_bound_asserted():
    # jax.nn's sigmoid is off by 2.04 ULP in bfloat16 (its largest error over every input)
    found = actaudit.check(jax.nn.sigmoid, "sigmoid", dtype="bfloat16", max_ulp=3)
    assert 1 < found.summary["max_ulp"].iloc[0] <= 3
    with pytest.raises(AssertionError, match="sigmoid bfloat16 accuracy fail"):
        actaudit.check(jax.nn.sigmoid, "sigmoid", dtype="bfloat16", max_ulp=1)


def test_check_takes_parameters_as_keywords():
    mine = lambda x, negative_slope=0.01: jnp.where(x >= 0, x, negative_slope * x)  # noqa: E731
    result = actaudit.check(mine, "leaky_relu", dtype="float32", negative_slope=0.2)
    assert set(result.summary["variant"]) == {"negative_slope=0.2"}
    with pytest.raises(ValueError, match="has no parameter 'slope'"):
        actaudit.check(mine, "leaky_relu", slope=0.2)


def test_audit_takes_functions_in_memory_and_runs_them_in_a_worker(tmp_path):
    functions = {"relu": lambda x: jnp.maximum(x, 0), "softplus": naive_softplus}
    result = actaudit.audit(functions, only="relu,softplus", dtypes="bfloat16",
                            checks="accuracy", name="mine")
    status = dict(zip(result.summary["activation"], result.summary["status"], strict=True))
    assert status == {"relu": "pass", "softplus": "fail"} and result.status == 1
    bad = result.findings.iloc[0]
    assert bad["activation"] == "softplus"
    # no SPEC loads functions held in memory: the line gives the oracle's half and says so
    assert "python -c" not in bad["repro"] and "then call mine at" in bad["repro"]
    out = result.save(tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "fail" and summary["counts"]["fail"] == 1
    assert summary["failures"][0]["activation"] == "softplus"


def test_bad_settings_are_refused_before_any_work():
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        actaudit.audit("reference", only="relu", dtypes="float8")
    with pytest.raises(KeyError, match="unknown activation"):
        actaudit.audit("reference", only="relux")
    with pytest.raises(ValueError, match="provides none of the catalog's activations"):
        actaudit.audit({"my_relu": jax.nn.relu})


def test_save_refuses_a_folder_holding_what_it_did_not_write(tmp_path):
    result = actaudit.check(jax.nn.relu, "relu", dtype="bfloat16")
    (tmp_path / "summary.csv").write_text("mine\n")
    with pytest.raises(OutputError, match="refusing"):
        result.save(tmp_path)
    assert (tmp_path / "summary.csv").read_text() == "mine\n"


def test_to_html_is_one_self_contained_page():
    result = actaudit.check(jax.nn.sigmoid, "sigmoid", dtype="bfloat16", max_ulp=3)
    html = result.to_html()
    assert html.startswith("<!doctype html>") and "sigmoid" in html
    assert 'src="curves/' not in html and "data:image/png;base64," in html
