"""Benchmark results as pandas tables: pytest-benchmark's JSON in, one row per case out,
with throughput, the fraction of the bandwidth baseline and the ratio to jax.nn; the
Markdown summary; the comparison of two saved runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._cases import BASELINE, Case

KEY = ["impl", "activation", "variant", "dtype", "size", "mode", "platform", "device_kind"]
COLUMNS = [*KEY, "shape", "status", "median_s", "iqr_s", "min_s", "mean_s", "stddev_s",
           "rounds", "bytes", "elements_per_s", "gb_per_s", "roofline_fraction",
           "ratio_vs_jax_nn", "detail", "processor", "jax", "jaxlib"]
CASE = ["activation", "variant", "dtype", "size", "mode", "platform", "device_kind"]
TABLE = "bench.parquet"


def frame(raw: Mapping[str, Any], problems: Mapping[Case, tuple[str, str]],
          device_kind: Mapping[str, str]) -> pd.DataFrame:
    """The table of a run: each timed benchmark of ``raw`` (pytest-benchmark's JSON), and
    each case in ``problems`` as a row with its status and no timings."""
    rows = []
    for b in raw.get("benchmarks", []):
        info, stats = b["extra_info"], b["stats"]
        rows.append({**info, "status": "pass", "median_s": stats["median"],
                     "iqr_s": stats["iqr"], "min_s": stats["min"], "mean_s": stats["mean"],
                     "stddev_s": stats["stddev"], "rounds": stats["rounds"], "detail": ""})
    for case, (status, detail) in problems.items():
        rows.append({"impl": case.impl, "activation": case.activation,
                     "variant": case.variant, "dtype": case.dtype, "size": case.size,
                     "shape": "x".join(map(str, case.shape)), "mode": case.mode,
                     "platform": case.platform,
                     "device_kind": device_kind.get(case.platform, ""),
                     "status": status, "detail": detail})
    return derive(pd.DataFrame(rows, columns=COLUMNS))


def with_shared(df: pd.DataFrame, same: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """The table with a row for each (implementation, activation) in ``same``: its
    owner's timing, since both name one function (see `impl.shared`), timed once."""
    copies = [df[(df["impl"] == owner) & (df["activation"] == act)].assign(
        impl=name, detail=f"the same function as {owner}'s: its timing")
        for (name, act), owner in same.items()]
    copies = [c for c in copies if len(c)]
    return derive(pd.concat([df, *copies], ignore_index=True)) if copies else df


def derive(df: pd.DataFrame) -> pd.DataFrame:
    """Throughput, bandwidth, the fraction of the baseline's bandwidth (same platform,
    device, dtype and size) and the ratio of each median to jax.nn's for the same case."""
    df = df.copy()
    for col in ("median_s", "iqr_s", "min_s", "mean_s", "stddev_s", "bytes", "rounds"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["size"] = df["size"].astype("int64")
    df["elements_per_s"] = df["size"] / df["median_s"]
    df["gb_per_s"] = df["bytes"] / df["median_s"] / 1e9
    on = ["platform", "device_kind", "dtype", "size"]
    stream = (df[df["impl"] == BASELINE].groupby(on)["gb_per_s"].first()
              .rename("_stream").reset_index())
    df = df.drop(columns="roofline_fraction").merge(stream, on=on, how="left")
    df["roofline_fraction"] = df["gb_per_s"] / df["_stream"]
    ref = (df[df["impl"] == "jax.nn"].groupby(CASE)["median_s"].first()
           .rename("_jax").reset_index())
    df = df.drop(columns="ratio_vs_jax_nn").merge(ref, on=CASE, how="left")
    df["ratio_vs_jax_nn"] = df["median_s"] / df["_jax"]
    return df[COLUMNS].sort_values(KEY, kind="stable").reset_index(drop=True)


def device_dir(platform: str, device_kind: str, processor: str) -> str:
    """A folder name per device, so runs on different hardware never collide: the
    platform and the device's kind (on a CPU, its model name)."""
    kind = processor if platform == "cpu" else device_kind
    slug = re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")
    return f"{platform}-{slug}" if slug else platform


def _name(row: pd.Series) -> str:
    return f"{row['activation']}({row['variant']})" if row["variant"] else row["activation"]


def _fmt(v: float, spec: str) -> str:
    return "" if pd.isna(v) else format(v, spec)


def _pivot(df: pd.DataFrame, value: str, scale: float, spec: str, title: str) -> str:
    """One Markdown table: activations down, implementation and mode across."""
    if df.empty:
        return ""
    table = df.pivot_table(index="name", columns=["impl", "mode"], values=value)
    table.columns = [f"{impl} {mode}" for impl, mode in table.columns]
    table.index.name = title
    return (table * scale).map(lambda v: _fmt(v, spec)).to_markdown()


def summary(df: pd.DataFrame) -> str:
    """Markdown for one device: the bandwidth baseline, then per dtype the ratio to jax.nn
    and the fraction of the baseline at the largest size, every implementation side by
    side, then any case that could not be timed."""
    if df.empty:
        return "# Benchmarks\n\nNothing was timed.\n"
    first = df.iloc[0]
    lines = [f"# Benchmarks: {first['platform']} ({first['device_kind']}, "
             f"{first['processor']})", "",
             f"jax {first['jax']}, jaxlib {first['jaxlib']}. Medians of pytest-benchmark "
             "rounds, every case timed in the same run. *Time over jax.nn's*: the median "
             "over jax.nn's for the same case (below 1: faster). *Fraction of the baseline's "
             "bandwidth*: bytes moved (inputs and outputs) per second, over what `x + 1` "
             "streams at the same dtype and size.", ""]
    timed = df[df["status"] == "pass"]
    base = timed[timed["impl"] == BASELINE]
    if len(base):
        lines += ["## Bandwidth baseline (x + 1)", "",
                  base.pivot_table(index="size", columns="dtype", values="gb_per_s")
                  .rename_axis("GB/s at size").map(lambda v: _fmt(v, ".2f")).to_markdown(),
                  ""]
    acts = timed[timed["impl"] != BASELINE]
    for dtype, part in acts.groupby("dtype", sort=False):
        size = part["size"].max()
        at = part[part["size"] == size].assign(name=lambda d: d.apply(_name, axis=1))
        others = at[at["impl"] != "jax.nn"]
        lines += [f"## {dtype}, {size:,} elements", "",
                  _pivot(at, "median_s", 1e6, ".1f", "Median time (µs)"), "",
                  _pivot(others, "ratio_vs_jax_nn", 1, ".2f", "Time over jax.nn's"), "",
                  _pivot(at, "roofline_fraction", 1, ".2f",
                         "Fraction of the baseline's bandwidth"), ""]
    bad = df[df["status"] != "pass"]
    if len(bad):
        lines += ["## Not timed", "",
                  bad[["impl", "activation", "variant", "dtype", "size", "mode", "status",
                       "detail"]].to_markdown(index=False), ""]
    return "\n".join(lines)


def load(path: str | Path) -> pd.DataFrame:
    """A saved run: a table file, a device folder, or a run folder (every device in it)."""
    p = Path(path)
    if p.is_file():
        return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    files = [p / TABLE] if (p / TABLE).is_file() else sorted(p.glob(f"*/{TABLE}"))
    if not files:
        raise ValueError(f"no benchmark table ({TABLE}) in {path}")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


COMPARISON = [*[k for k in KEY if k != "device_kind"], "device_kind_a", "median_s_a",
              "iqr_s_a", "device_kind_b", "median_s_b", "iqr_s_b", "ratio_b_over_a",
              "ratio_low", "ratio_high", "verdict"]


def compare(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """For each case timed in both runs (same implementation, activation, variant, dtype,
    size, mode and platform), B's median over A's (below 1, B is faster), and how far the
    ratio could move within each run's own spread: ``ratio_low`` is B's lower quartile
    over A's upper one, ``ratio_high`` B's upper over A's lower (quartiles as median ∓
    IQR/2). Where that range holds 1 the runs' rounds overlap: ``verdict`` is "within
    noise", else "faster" or "slower"."""
    key = [k for k in KEY if k != "device_kind"]  # runs on two machines compare too
    cols = [*key, "device_kind", "median_s", "iqr_s"]
    both = a.loc[a["status"] == "pass", cols].merge(
        b.loc[b["status"] == "pass", cols], on=key, suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError("the two runs have no timed case in common")
    both["ratio_b_over_a"] = both["median_s_b"] / both["median_s_a"]
    half_a, half_b = both["iqr_s_a"].fillna(0) / 2, both["iqr_s_b"].fillna(0) / 2
    both["ratio_low"] = (both["median_s_b"] - half_b) / (both["median_s_a"] + half_a)
    low_a = (both["median_s_a"] - half_a).where(lambda v: v > 0, np.nan)
    both["ratio_high"] = ((both["median_s_b"] + half_b) / low_a).fillna(np.inf)
    both["verdict"] = np.select(
        [both["ratio_low"] > 1, both["ratio_high"] < 1], ["slower", "faster"], "within noise")
    return both[COMPARISON].sort_values("ratio_b_over_a", ascending=False, kind="stable",
                                        ignore_index=True)


def comparison_summary(diff: pd.DataFrame) -> str:
    """One line: how many cases got faster or slower beyond their spread, and the
    geometric mean of the ratios, all of them and those beyond the spread."""
    counts = diff["verdict"].value_counts()
    beyond = diff[diff["verdict"] != "within noise"]
    line = (f"{len(diff)} cases: {counts.get('faster', 0)} faster and "
            f"{counts.get('slower', 0)} slower beyond both runs' spread, "
            f"{counts.get('within noise', 0)} within it; geometric mean of B over A "
            f"{geometric_mean(diff['ratio_b_over_a']):.3f}")
    if len(beyond):
        line += f" ({geometric_mean(beyond['ratio_b_over_a']):.3f} beyond the spread)"
    return line


def claim_comparison(path: Path) -> None:
    """``bench compare --out FILE``: a file that is there already must be an earlier
    comparison (its header is ours), or it is refused (`_files.OutputError`)."""
    from .._files import OutputError

    if path.is_dir():
        raise OutputError(f"--out {str(path)!r} is a folder: name a CSV file")
    if path.exists():
        try:
            with path.open() as f:
                header = f.readline().strip()
        except (OSError, UnicodeDecodeError):
            header = ""
        if header != ",".join(COMPARISON):
            raise OutputError(f"refusing to replace --out {str(path)!r}: it is not a "
                              "comparison actaudit wrote; choose another file")


def geometric_mean(ratios: pd.Series) -> float:
    r = ratios.dropna()
    return float(np.exp(np.log(r).mean())) if len(r) else float("nan")
