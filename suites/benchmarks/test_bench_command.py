"""`actaudit bench` as a user runs it: the files per device, the table's columns and
derived figures, `bench compare`, misbehaving plug-ins, bad usage.

Timings are real but tiny (1024 elements, a few activations); nothing here asserts a
speed, only that what is written is consistent with what pytest-benchmark measured.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from actaudit.bench import COLUMNS, compare, comparison_summary

REQUIRED = ["impl", "activation", "variant", "dtype", "size", "mode", "platform",
            "device_kind", "median_s", "iqr_s", "min_s", "elements_per_s", "gb_per_s",
            "roofline_fraction", "ratio_vs_jax_nn"]


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "actaudit.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One small run: reference (and jax.nn, always) on relu, gelu and softmax."""
    out = tmp_path_factory.mktemp("bench")
    done = run("bench", "--impl", "reference", "--only", "relu,gelu,softmax", "--sizes",
               "2^10", "--dtypes", "float32", "--out", str(out / "run"), cwd=out)
    assert done.returncode == 0, done.stderr[-2000:]
    (folder,) = (out / "run").glob("cpu-*")
    return done, folder


def test_one_folder_per_device_with_json_table_and_summary(saved):
    done, folder = saved
    assert folder.name.startswith("cpu-")
    assert {p.name for p in folder.iterdir()} == {
        "benchmarks.json", "bench.parquet", "bench.csv", "summary.md"}
    assert str(folder) in done.stdout
    assert "Time over jax.nn's" in (folder / "summary.md").read_text()


def test_table_holds_every_case_with_the_required_columns(saved):
    _, folder = saved
    df = pd.read_parquet(folder / "bench.parquet")
    assert list(df.columns) == COLUMNS and set(REQUIRED) <= set(df.columns)
    assert (df["status"] == "pass").all()
    cases = df[["impl", "activation", "variant", "mode"]].apply(tuple, axis=1)
    for im in ("reference", "jax.nn"):
        for name, variant in (("relu", ""), ("gelu", ""), ("gelu", "approximate=False"),
                              ("softmax", ""), ("softmax", "where='random'")):
            for mode in ("fwd", "fwd+bwd"):
                assert (im, name, variant, mode) in set(cases)
    assert ("baseline", "x + 1", "", "fwd") in set(cases)
    csv = pd.read_csv(folder / "bench.csv", keep_default_na=False)
    assert len(csv) == len(df)


def test_figures_follow_from_the_raw_timings(saved):
    """median, throughput, bandwidth, roofline and the ratio to jax.nn recomputed from
    pytest-benchmark's own JSON."""
    _, folder = saved
    raw = json.loads((folder / "benchmarks.json").read_text())
    df = pd.read_parquet(folder / "bench.parquet").fillna({"variant": ""})
    stats = {(b["extra_info"]["impl"], b["extra_info"]["activation"], b["extra_info"]["variant"],
              b["extra_info"]["mode"]): (b["stats"]["median"], b["extra_info"]["bytes"])
             for b in raw["benchmarks"]}
    assert len(stats) == len(df)
    base_median, base_bytes = stats[("baseline", "x + 1", "", "fwd")]
    assert base_bytes == 2 * 1024 * 4  # x in, x + 1 out
    for row in df.itertuples():
        median, moved = stats[(row.impl, row.activation, row.variant, row.mode)]
        assert row.median_s == median
        assert row.elements_per_s == pytest.approx(1024 / median)
        assert row.gb_per_s == pytest.approx(moved / median / 1e9)
        assert row.roofline_fraction == pytest.approx(
            (moved / median) / (base_bytes / base_median))
        if row.impl == "baseline":
            assert np.isnan(row.ratio_vs_jax_nn)
        else:
            jax_median = stats[("jax.nn", row.activation, row.variant, row.mode)][0]
            assert row.ratio_vs_jax_nn == pytest.approx(median / jax_median)
    fb = df[(df["activation"] == "relu") & (df["mode"] == "fwd+bwd")]
    assert set(fb["bytes"]) == {4 * 1024 * 4}  # x and the cotangent in, y and dx out
    info = raw["benchmarks"][0]["extra_info"]
    assert info["jax"] and info["jaxlib"] and info["device_kind"]


def test_compare_gives_b_over_a_per_common_case(saved, tmp_path):
    _, folder = saved
    a = pd.read_parquet(folder / "bench.parquet")
    a = a.assign(iqr_s=a["median_s"] * 0.1)  # a spread of 10%: twice as slow is beyond it
    a.to_parquet(tmp_path / "a.parquet")
    slower = a.assign(median_s=a["median_s"] * 2)[a["impl"] != "baseline"]
    slower.to_parquet(tmp_path / "b.parquet")
    done = run("bench", "compare", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"),
               "--out", str(tmp_path / "diff.csv"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    diff = pd.read_csv(tmp_path / "diff.csv")
    assert len(diff) == len(slower)
    assert np.allclose(diff["ratio_b_over_a"], 2.0)
    assert (diff["verdict"] == "slower").all() and (diff["ratio_low"] > 1).all()
    assert f"{len(diff)} cases: 0 faster and {len(diff)} slower beyond" in done.stdout
    assert "geometric mean of B over A 2.000" in done.stdout
    # the same file written again is ours to replace; someone else's is not
    assert run("bench", "compare", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"),
               "--out", str(tmp_path / "diff.csv"), cwd=tmp_path).returncode == 0
    with pytest.raises(ValueError, match="no timed case in common"):
        compare(a, a[a["impl"] == "nobody"])


def test_compare_of_a_run_with_itself_is_all_within_noise(saved):
    """Two runs of the same code differ by noise alone: every ratio's spread holds 1, and
    the summary line says so, however large a single ratio of medians may look."""
    _, folder = saved
    a = pd.read_parquet(folder / "bench.parquet")
    noisy = a.assign(median_s=a["median_s"] * 1.3, iqr_s=a["median_s"])  # a wide spread
    diff = compare(a, noisy)
    assert (diff["verdict"] == "within noise").all()
    assert (diff["ratio_low"] <= 1).all() and (diff["ratio_high"] >= 1).all()
    assert comparison_summary(diff).startswith(f"{len(diff)} cases: 0 faster and 0 slower")


def test_a_plugin_that_raises_or_hangs_gives_error_rows_and_the_run_goes_on(tmp_path):
    plugin = tmp_path / "bad.py"
    plugin.write_text(textwrap.dedent("""
        import time
        import jax.numpy as jnp

        def relu(x):
            raise RuntimeError("no kernel for this shape")

        def sigmoid(x):
            time.sleep(600)

        def softplus(x):
            return jnp.logaddexp(x, 0.0)

        from jax.nn import elu  # jax.nn's own function: timed once, under jax.nn
    """))
    done = run("bench", "--impl", str(plugin), "--only", "relu,sigmoid,softplus,elu", "--sizes",
               "1024", "--dtypes", "float32", "--modes", "fwd", "--timeout", "3",
               "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    (folder,) = (tmp_path / "run").glob("cpu-*")
    df = pd.read_parquet(folder / "bench.parquet").set_index(["impl", "activation"])
    mine = str(plugin)
    assert df.loc[(mine, "relu"), "status"] == "error"
    assert "no kernel for this shape" in df.loc[(mine, "relu"), "detail"]
    assert df.loc[(mine, "sigmoid"), "status"] == "error"
    assert "timed out after 3 s" in df.loc[(mine, "sigmoid"), "detail"]
    assert df.loc[(mine, "softplus"), "status"] == "pass"
    assert (df.loc["jax.nn", "status"] == "pass").all()
    assert "Not timed" in (folder / "summary.md").read_text()
    assert df.loc[(mine, "elu"), "median_s"] == df.loc[("jax.nn", "elu"), "median_s"]
    assert df.loc[(mine, "elu"), "detail"] == "the same function as jax.nn's: its timing"
    assert df.loc[(mine, "elu"), "ratio_vs_jax_nn"] == 1.0


def test_what_an_implementation_does_not_support_is_a_skip_row(tmp_path):
    """scipy has no autodiff and no softmax mask: those cases are `skip` rows saying so,
    not errors, and the rest is timed."""
    done = run("bench", "--impl", "scipy", "--only", "softmax", "--sizes", "1024", "--dtypes",
               "float32", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (folder,) = (tmp_path / "run").glob("cpu-*")
    df = pd.read_parquet(folder / "bench.parquet")
    mine = df[df["impl"] == "scipy"].set_index(["variant", "mode"])
    assert mine.loc[("", "fwd"), "status"] == "pass"
    assert mine.loc[("", "fwd+bwd"), "status"] == "skip"
    assert "scipy has no autodiff" in mine.loc[("", "fwd+bwd"), "detail"]
    for mode in ("fwd", "fwd+bwd"):
        assert mine.loc[("where='random'", mode), "status"] == "skip"
        assert "where=" in mine.loc[("where='random'", mode), "detail"]


@pytest.mark.parametrize(("args", "message"), [
    (["--sizes", "lots"], "not a size"),
    (["--sizes", "1"], "at least 2"),
    (["--only", "nosuch"], "unknown activation"),
    (["--dtypes", "float8"], "unknown dtype"),
    (["--modes", "sideways"], "unknown mode"),
    (["--impl", "no.such.module"], "cannot import"),
])
def test_bad_usage_is_one_line_and_status_2(args, message, tmp_path):
    base = ["--impl", "reference", "--out", str(tmp_path / "run")]
    done = run("bench", *base, *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_compare_of_nothing_is_bad_usage(tmp_path):
    done = run("bench", "compare", str(tmp_path), str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "no benchmark table" in done.stderr
