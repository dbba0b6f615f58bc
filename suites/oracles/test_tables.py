"""Oracle tables: contents against the oracle, the cache (keys, atomic writes, reuse)."""

import math
import os

import numpy as np
import pandas as pd
import pytest

from actaudit import catalog
from actaudit.oracles import FORMATS, evaluate, tables
from actaudit.oracles.samples import inputs


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def relu6_bf16(cache):
    return tables.table("relu6", {}, "bfloat16", cache_dir=cache, workers=1)


def test_exhaustive_16_bit_table(relu6_bf16):
    df = relu6_bf16
    assert len(df) == 65536 and list(df.columns) == ["x", *tables.COLUMNS]
    rng = np.random.default_rng(1)
    for i in rng.choice(len(df), 25, replace=False):
        row = df.iloc[i]
        want = evaluate(catalog.get("relu6"), row.x, formats=(FORMATS["bfloat16"],))
        assert (row.value == want.rounded["bfloat16"]) or (math.isnan(row.value)
                                                            and math.isnan(want.hi))
    assert df["value"].isna().sum() == 254  # bfloat16 has 254 NaN bit patterns
    assert df.loc[df.x == 6.0, "grad"].item() == 0.0  # documented convention at the kink


def test_cached_table_is_reused_and_written_atomically(cache, relu6_bf16):
    path = tables.table_path(catalog.get("relu6"), {}, "bfloat16", cache)
    assert path.exists()
    before = path.stat().st_mtime_ns
    again = tables.table("relu6", {}, "bfloat16", cache_dir=cache)
    pd.testing.assert_frame_equal(again, relu6_bf16)
    assert path.stat().st_mtime_ns == before
    assert not [p for p in os.listdir(cache) if p.endswith(".tmp")]
    assert path.read_bytes()[:4] == b"PAR1"  # parquet, never pickle


def test_keys_separate_variants_dtypes_and_follow_aliases():
    elu = catalog.get("elu")
    keys = {tables.table_key(elu, p, d) for p in ({}, {"alpha": 0.5}) for d in ("float16",
                                                                                 "bfloat16")}
    assert len(keys) == 4
    swish, silu = catalog.get("swish"), catalog.get("silu")
    assert tables.table_key(swish, {}, "float16") == tables.table_key(silu, {}, "float16")


def test_float32_samples_cover_every_binade_and_the_breakpoints():
    act, f32 = catalog.get("hard_sigmoid"), FORMATS["float32"]
    xs = inputs(act, f32)
    finite = xs[np.isfinite(xs) & (xs != 0)]
    exps = {int(math.frexp(abs(x))[1]) for x in finite}
    assert set(range(-148, 129)) <= exps  # every binade, subnormals included
    assert (finite > 0).any() and (finite < 0).any() and np.isnan(xs).any()
    assert {3.0, float(np.nextafter(np.float32(3), np.float32(4)))} <= set(xs)


@pytest.mark.parametrize(("name", "params", "dtype", "edges"), [
    # softplus(x) ≈ e^x: subnormal below ln(2^-126), zero below ln(2^-150) (half of 2^-149)
    ("softplus", {}, "float32", (-126 * math.log(2), -150 * math.log(2))),
    ("softplus", {}, "float64", (-1022 * math.log(2), -1075 * math.log(2))),
    # selu(x) = λx overflows from (2^128 − 2^103)/λ on
    ("selu", {}, "float32", ((2.0**128 - 2.0**103) / 1.0507009873554805,)),
])
def test_float32_and_float64_samples_hold_the_overflow_and_underflow_thresholds(
        name, params, dtype, edges):
    fmt = FORMATS[dtype]
    xs = inputs(catalog.get(name), fmt, params)
    for edge in edges:
        near = xs[np.isfinite(xs) & (np.abs(xs - edge) <= 4 * abs(edge) * 2.0**-fmt.precision)]
        assert len(near) >= 2, f"nothing sampled at {edge!r}"


def test_parallel_build_of_a_sample_table(tmp_path):
    summary = tables.build_tables(["relu"], ["float32"], cache_dir=tmp_path, workers=2,
                                  progress=False)
    assert summary.loc[0, "rows"] == len(inputs(catalog.get("relu"), FORMATS["float32"]))
    assert not summary.loc[0, "cached"]
    again = tables.build_tables(["relu"], ["float32"], cache_dir=tmp_path, progress=False)
    assert again.loc[0, "cached"]


def test_vector_kinds_have_no_table(tmp_path):
    with pytest.raises(ValueError, match="softmax is not elementwise"):
        tables.build_tables(["softmax"], cache_dir=tmp_path, progress=False)


def test_the_key_is_the_definition_not_the_library_versions(monkeypatch):
    """A certified, correctly rounded value does not depend on which mpmath or
    python-flint computed it: environments with other versions share the cache."""
    elu = catalog.get("elu")
    before = tables.table_key(elu, {}, "float16")
    monkeypatch.setattr(tables, "version", lambda name: "999.0")
    assert tables.table_key(elu, {}, "float16") == before


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "bit flipped":
        data[len(data) // 3] ^= 0x10
        path.write_bytes(bytes(data))
    else:  # a value edited by hand, the file otherwise sound, its old checksum kept
        import pyarrow.parquet as pq

        arrow = pq.read_table(path)
        df = arrow.to_pandas()
        df.loc[df["x"] == 1.0, "value_hi"] = 1.5
        assert (df["x"] == 1.0).any()
        pq.write_table(arrow.from_pandas(df, preserve_index=False).replace_schema_metadata(
            arrow.schema.metadata), path)


@pytest.mark.parametrize("how", ["truncated", "bit flipped", "edited"])
def test_a_damaged_table_is_rebuilt_with_a_warning_naming_it(tmp_path, how):
    good = tables.table("relu", {}, "float32", cache_dir=tmp_path, workers=1)
    path = tables.table_path(catalog.get("relu"), {}, "float32", tmp_path)
    _damage(path, how)
    with pytest.raises(tables.DamagedTable, match=str(path.name)):
        tables.read_table(path)
    with pytest.warns(tables.DamagedTable, match=f"{path.name}.*rebuilding it"):
        again = tables.table("relu", {}, "float32", cache_dir=tmp_path, workers=1)
    pd.testing.assert_frame_equal(again, good)
    assert tables.read_table(path).equals(good)  # and it is sound on disk again


def test_tables_and_results_are_readable_by_others(tmp_path):
    """Files are written through a temporary file, but with the mode a plain open()
    gives (0644 under the usual umask), not mkstemp's 0600: a shared cache works."""
    umask = os.umask(0o022)
    os.umask(umask)
    tables.table("relu", {}, "float32", cache_dir=tmp_path, workers=1)
    (path,) = tmp_path.glob("*.parquet")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
