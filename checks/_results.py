"""The result table: one `Finding` per check, rows of summary.csv (docs/results.md)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tabulate import tabulate

from .._files import Folder
from ..oracles.formats import float_text
from ._registry import CATEGORIES, Severity, meaning
from ._registry import status as status_of

COLUMNS = ["impl", "activation", "variant", "dtype", "check", "status", "max_ulp",
           "worst_input", "expected", "got", "detail"]
STATUSES = ("pass", "fail", "warn", "error", "skip")


@dataclass
class Finding:
    """One check's verdict. ``extra`` goes to the detailed results only (histograms,
    counts, the repro command). ``severity``: what a finding that did not pass means,
    where that is not its check's own kind (`_registry.Severity`); its status follows
    from it (`settle`)."""

    check: str
    status: str
    max_ulp: float | None = None
    worst_input: str = ""
    expected: str = ""
    got: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.check.partition(":")[0] not in CATEGORIES:
            raise ValueError(f"unknown check category {self.check!r}")


class Audit(NamedTuple):
    """An audit's results: ``summary`` (summary.csv's columns, docs/results.md),
    ``details`` (the same rows with the severity, the histogram, the share correctly
    rounded, the repro line and the time taken), ``curves`` (the ULP error against the
    input, see `_curves`) and ``environment`` (versions, devices, CPU, actaudit's commit)."""

    summary: pd.DataFrame
    details: pd.DataFrame
    curves: pd.DataFrame
    environment: dict[str, Any]


FILES = {"summary": "summary.csv", "details": "results.parquet", "curves": "curves.parquet",
         "environment": "environment.json"}


def literal(v: Any) -> str:
    """A value as a Python literal: floats as repr (inf, nan spelled out), arrays as lists."""
    if isinstance(v, str):
        return v
    if isinstance(v, np.ndarray):
        return "[" + ", ".join(literal(e) for e in v.tolist()) + "]"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(literal(e) for e in v) + "]"
    if isinstance(v, bool | np.bool_):
        return repr(bool(v))
    if isinstance(v, int | np.integer):
        return repr(int(v))
    return float_text(float(v))


def settle(findings: list[Finding], strict: frozenset[Severity] = frozenset()) -> None:
    """Each finding's status from its severity (`_registry.status`), in place, and its
    severity recorded: the one place where warn and fail are decided."""
    for f in findings:
        sev = meaning(f.check, f.status, f.severity)
        f.severity = sev
        if sev is not None:
            f.status = status_of(sev, strict)


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The summary table: summary.csv's columns, in order; max_ulp numeric or empty."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["max_ulp"] = pd.to_numeric(df["max_ulp"], errors="coerce")
    return df


def status_code(summary: pd.DataFrame) -> int:
    """Exit status: 1 iff any fail or error."""
    return int(summary["status"].isin(["fail", "error"]).any())


KIND = "audit"  # what an audit's folder says it holds (`_files.claim`)


def write(out: Path, result: Audit) -> None:
    """Each table of ``result`` under ``out`` (`FILES`), atomically, with the folder's
    manifest. Claim ``out`` first (`_files.claim`), before the audit runs."""
    text = json.dumps(result.environment, indent=1)
    Folder(out, KIND).write({
        FILES["summary"]: lambda p: result.summary.to_csv(p, index=False, na_rep=""),
        FILES["details"]: lambda p: result.details.to_parquet(p, index=False),
        FILES["curves"]: lambda p: result.curves.to_parquet(p, index=False),
        FILES["environment"]: lambda p: Path(p).write_text(text),
    })


def fmt_ulp(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return "inf" if math.isinf(v) else f"{v:.3g}"


def overview(summary: pd.DataFrame, worst: int = 15) -> str:
    """The short table for stdout: statuses per implementation, then the worst failures."""
    counts = (summary.groupby(["impl", "status"]).size().unstack(fill_value=0)
              .reindex(columns=list(STATUSES), fill_value=0))
    lines = [counts.to_string()]
    bad = summary[summary["status"].isin(["fail", "error"])]
    if len(bad):
        bad = bad.assign(_u=bad["max_ulp"].fillna(-1)).sort_values("_u", ascending=False)
        cols = ["impl", "activation", "variant", "dtype", "check", "status", "max_ulp",
                "worst_input", "expected", "got"]
        shown = bad.head(worst)
        table = shown[cols].map(lambda v: _clip(v, 24) if isinstance(v, str) else v)
        table["max_ulp"] = shown["max_ulp"].map(fmt_ulp)
        table["detail"] = shown["detail"].map(lambda v: _clip(str(v), 100))
        lines += ["", f"failures and errors ({len(bad)}; the {min(worst, len(bad))} largest; "
                  "every one, whole, in summary.csv):",
                  tabulate(table, headers="keys", showindex=False, tablefmt="simple",
                           disable_numparse=True)]
    return "\n".join(lines)


def explain(row: pd.Series) -> str:
    """A row that did not pass, in the words of a test failure: where, by how much, its
    detail and its repro line (``row``: a row of the detailed results)."""
    variant = f" ({row['variant']})" if row["variant"] else ""
    ulp = "" if pd.isna(row["max_ulp"]) else f", {row['max_ulp']:.3g} ULP"
    lines = [f"{row['impl']}: {row['activation']}{variant} {row['dtype']} {row['check']} "
             f"{row['status']}{ulp}: input {row['worst_input']}, expected {row['expected']}, "
             f"got {row['got']}", f"  {row['detail']}"]
    repro = row.get("repro")
    if isinstance(repro, str) and repro:
        lines.append(f"  repro: {repro}")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
