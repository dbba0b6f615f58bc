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


# Caches that cannot go stale: each thing a table's values or inputs depend on moves its
# key, and documentation does not.
_ELEMENTWISE = "actaudit.catalog._elementwise"


def _key(act, dtype="float32", params=None):
    return tables.table_key(act, params or {}, dtype)


@pytest.mark.parametrize(("module_global", "value"), [
    ("GELU_CUBIC", "0.044716"),  # a constant a helper of the formula uses
    ("_gelu_u", lambda x, B: x),  # the helper itself
])
def test_the_key_follows_the_helpers_and_constants_a_formula_uses(monkeypatch, module_global,
                                                                 value):
    gelu = catalog.get("gelu")
    before = _key(gelu)
    monkeypatch.setattr(f"{_ELEMENTWISE}.{module_global}", value)
    assert _key(gelu) != before
    assert _key(catalog.get("relu")) == _key(catalog.get("relu"))


def test_the_key_follows_the_selu_constants(monkeypatch):
    selu = catalog.get("selu")
    before = {d: _key(selu, d) for d in ("float16", "float64")}
    monkeypatch.setattr(f"{_ELEMENTWISE}.SELU_ALPHA", "1.67326")
    assert all(_key(selu, d) != k for d, k in before.items())


@pytest.mark.parametrize("field", ["breakpoints", "domain", "zero_sign", "limits",
                                   "grad_limits", "kinks", "value", "grad"])
def test_each_field_that_defines_values_or_inputs_moves_the_key(field):
    import dataclasses

    from actaudit.catalog import Kink, Limits, ZeroSign

    elu = catalog.get("elu")
    changed = {"breakpoints": (0.0, 1.0), "domain": (-1.0, math.inf),
               "zero_sign": ZeroSign.ANY, "limits": Limits(-2.0, math.inf),
               "grad_limits": Limits(0.0, 2.0), "kinks": (Kink(0.0, 0.5),),
               "value": lambda x, B, alpha: x, "grad": lambda x, B, alpha: 1}[field]
    assert _key(dataclasses.replace(elu, **{field: changed})) != _key(elu)


def test_a_parameter_moves_the_key_by_what_it_is_not_by_its_doc():
    import dataclasses

    leaky = catalog.get("leaky_relu")
    (slope,) = leaky.params

    def with_param(**kw):
        return dataclasses.replace(leaky, params=(dataclasses.replace(slope, **kw),))

    assert _key(with_param(doc="the slope below zero (typo fixed)")) == _key(leaky)
    assert _key(with_param(taken_as=())) != _key(leaky)  # rounded through x's dtype or not
    assert _key(with_param(default=0.02)) != _key(leaky)


def test_documentation_never_moves_the_key():
    import dataclasses

    elu = catalog.get("elu")
    docs = dataclasses.replace(elu, formula="x if x > 0 else α(eˣ − 1)",
                               conventions=("reworded",), source="jax.nn (2026)")
    assert _key(docs) == _key(elu)


def test_comments_and_docstrings_are_not_part_of_a_fingerprint():
    from actaudit.catalog import _fingerprint

    plain = "def f(x, B):\n    return B.exp(x) + 1\n"
    documented = ('def f(x, B):\n    """e^x + 1, documented."""\n'
                  "    # a comment\n\n    return B.exp(x)  +  1  # spaced\n")
    assert _fingerprint.tokens(plain) == _fingerprint.tokens(documented)
    assert _fingerprint.tokens(plain) != _fingerprint.tokens(plain.replace("+ 1", "+ 2"))


def test_the_sampler_keys_the_sampled_formats_only(monkeypatch):
    from actaudit.catalog import _fingerprint

    elu = catalog.get("elu")
    before = {d: _key(elu, d) for d in ("float16", "bfloat16", "float32", "float64")}
    monkeypatch.setattr(_fingerprint, "module", lambda mod: "another sampler")
    assert _key(elu, "float16") == before["float16"]
    assert _key(elu, "bfloat16") == before["bfloat16"]
    assert _key(elu, "float32") != before["float32"]
    assert _key(elu, "float64") != before["float64"]


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


def test_slice_answers_are_computed_once_and_kept_in_the_cache(tmp_path, monkeypatch):
    """The vector oracle's answers (softmax's slices) are computed once per cache, not
    once per implementation: a second reader takes them from the file."""
    act = catalog.get("softmax")
    xs = np.array([0.5, -1.0, 2.0])
    first = tables.SliceAnswers(act, {}, "bfloat16", tmp_path)
    value, jac = first.get(xs, grad=False), first.get(xs, grad=True)
    first.save()
    assert [p.suffix for p in tmp_path.iterdir()] == [".json"]

    def no_oracle(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(tables, "evaluate", no_oracle)
    again = tables.SliceAnswers(act, {}, "bfloat16", tmp_path)
    assert [e.rounded["bfloat16"] for e in again.get(xs, grad=False)] == [
        e.rounded["bfloat16"] for e in value]
    assert [[e.hi for e in row] for row in again.get(xs, grad=True)] == [
        [e.hi for e in row] for row in jac]
    other = tables.SliceAnswers(act, {"where": (True, False, True)}, "bfloat16", tmp_path)
    with pytest.raises(AssertionError, match="computed again"):
        other.get(xs, grad=False)  # another variant: another file


def test_damaged_slice_answers_are_computed_again_with_a_warning(tmp_path):
    act = catalog.get("softmax")
    answers = tables.SliceAnswers(act, {}, "float32", tmp_path)
    answers.get(np.array([1.0, 2.0]), grad=False)
    answers.save()
    answers.path.write_text("{not json")
    with pytest.warns(tables.DamagedTable, match="computing them again"):
        again = tables.SliceAnswers(act, {}, "float32", tmp_path)
    assert again.get(np.array([1.0, 2.0]), grad=False)[1].rounded["float32"] > 0.5


TABLE_VARIANTS = tables.elementwise_variants()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("variant", TABLE_VARIANTS, ids=[
    f"{a.name}-{catalog.variant_id(p) or 'default'}" for a, p in TABLE_VARIANTS])
def test_tables_hold_what_the_mpmath_checked_oracle_gives(variant, dtype, oracle_cache):
    """Tables are built with the filter's roundings witnessing Arb's in place of mpmath
    (`engine.decide`): the same values, bit for bit, as the oracle checked by mpmath, at
    inputs spread over the table."""
    act, params = variant
    df = tables.table(act.name, params, dtype, cache_dir=oracle_cache)
    fmt = (FORMATS[dtype],)
    for i in np.linspace(0, len(df) - 1, 12).astype(int):
        row = df.iloc[i]
        for grad, col in ((False, "value"), (True, "grad")):
            want = evaluate(act, row.x, params, grad=grad, formats=fmt)
            got = (row[f"{col}_hi"], row[f"{col}_lo"], row[col])
            assert np.array_equal(np.array(got), [want.hi, want.lo, want.rounded[dtype]],
                                  equal_nan=True), f"{col} at x = {row.x!r}"


def test_a_witness_spares_mpmath_only_where_it_agrees_with_arb(monkeypatch):
    from actaudit.oracles import Disagreement, engine

    act, f16 = catalog.get("sigmoid"), FORMATS["float16"]
    right = evaluate(act, -3.0, formats=(f16,)).rounded["float16"]
    calls = []
    real = engine._cross_check
    monkeypatch.setattr(engine, "_cross_check", lambda *a: calls.append(1) or real(*a))
    assert evaluate(act, -3.0, formats=(f16,), witness={"float16": right}).rounded[
        "float16"] == right
    assert not calls  # agreed: mpmath not run
    wrong = float(np.nextafter(np.float16(right), np.float16(1)))
    with pytest.raises(Disagreement, match="the witness"):
        evaluate(act, -3.0, formats=(f16,), witness={"float16": wrong})
    assert calls  # disagreed: mpmath ran, agreed with Arb, and the witness is in error
