"""The runs a report is built from, as pandas tables: the audits' results, curves and
environments (`actaudit audit --out DIR`) and the benchmark tables (`actaudit bench --out
DIR`), found under the folders given. Nothing is re-parsed from text: the tables are the
parquet files the commands wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..bench import BASELINE
from ..bench import COLUMNS as BENCH_COLUMNS
from ..bench import load as load_bench
from ..bench._tables import KEY as BENCH_KEY
from ..bench._tables import TABLE as BENCH_TABLE
from ..checks import COLUMNS, FILES
from ..checks._curves import empty as empty_curves


class RunError(ValueError):
    """A folder that holds no run, or runs that overlap: bad usage."""


@dataclass(frozen=True)
class Runs:
    """Every run found: ``results`` (summary.csv's columns, then the details), ``curves``,
    ``environments`` (one per audit run, with its folder) and ``bench`` (every device)."""

    results: pd.DataFrame
    curves: pd.DataFrame
    environments: list[dict[str, Any]]
    bench: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """summary.csv's table: the same rows as the report, summary.csv's columns."""
        return self.results[COLUMNS]


def _audit_dirs(root: Path) -> list[Path]:
    """``root`` if it holds an audit, else the folders just below it that do."""
    if (root / FILES["details"]).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{FILES['details']}"))


def _bench_files(root: Path) -> list[Path]:
    """Benchmark tables at ``root``, or one or two levels below it (a bench run is one
    folder per device)."""
    return sorted({*root.glob(BENCH_TABLE), *root.glob(f"*/{BENCH_TABLE}"),
                   *root.glob(f"*/*/{BENCH_TABLE}")})


def _unique(frames: list[pd.DataFrame], key: list[str], what: str) -> pd.DataFrame:
    df = pd.concat(frames, ignore_index=True)
    twice = df.duplicated(key, keep=False)
    if twice.any():
        row = df[twice].iloc[0]
        raise RunError(f"two runs hold {what} for the same case ("
                       + ", ".join(f"{k}={row[k]}" for k in key if row[k] != "")
                       + "): give each implementation's results once")
    return df


def load(paths: list[str | Path]) -> Runs:
    """The audits and benchmarks under ``paths``; RunError if a path is missing, holds
    neither, or two runs hold the same case."""
    results, curves, envs, bench = [], [], [], []
    for given in paths:
        root = Path(given)
        if not root.is_dir():
            raise RunError(f"no such folder: {str(given)!r}")
        audits, benches = _audit_dirs(root), _bench_files(root)
        if not audits and not benches:
            raise RunError(f"{given}: no audit ({FILES['details']}) or benchmark "
                           f"({BENCH_TABLE}) found in it or the folders below it")
        for folder in audits:
            results.append(pd.read_parquet(folder / FILES["details"]))
            if (folder / FILES["curves"]).is_file():
                curves.append(pd.read_parquet(folder / FILES["curves"]))
            env_file = folder / FILES["environment"]
            env = json.loads(env_file.read_text()) if env_file.is_file() else {}
            envs.append({"run": str(folder), **env})
        bench += [load_bench(f) for f in benches]
    audit_key = ["impl", "activation", "variant", "dtype", "check"]
    res = (_unique(results, audit_key, "audit results") if results
           else pd.DataFrame(columns=COLUMNS))
    res["max_ulp"] = pd.to_numeric(res["max_ulp"], errors="coerce")
    cur = pd.concat(curves, ignore_index=True) if curves else empty_curves()
    return Runs(res, cur, envs, _timings(bench))


def _timings(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Every run's timings. jax.nn and the baseline are timed in every run (each run's
    ratios are to its own jax.nn): where runs repeat them, the first run's are kept."""
    if not tables:
        return pd.DataFrame(columns=BENCH_COLUMNS)
    df = pd.concat(tables, ignore_index=True)
    shared = df["impl"].isin(["jax.nn", BASELINE])
    df = df[~(shared & df.duplicated(BENCH_KEY))]
    return _unique([df], BENCH_KEY, "timings")
