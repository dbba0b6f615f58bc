"""The result table: one `Finding` per check, rows of summary.csv (INTERFACE.md)."""

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

COLUMNS = ["impl", "activation", "variant", "dtype", "check", "status", "max_ulp",
           "worst_input", "expected", "got", "detail"]
STATUSES = ("pass", "fail", "warn", "error", "skip")
CATEGORIES = ("accuracy", "subnormal", "special", "gradient", "dtype", "transform", "property")


@dataclass
class Finding:
    """One check's verdict. ``extra`` goes to the detailed results only (histograms,
    counts, the repro command)."""

    check: str
    status: str
    max_ulp: float | None = None
    worst_input: str = ""
    expected: str = ""
    got: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.check.partition(":")[0] not in CATEGORIES:
            raise ValueError(f"unknown check category {self.check!r}")


class Audit(NamedTuple):
    """An audit's results: ``summary`` (INTERFACE.md's columns), ``details`` (the same
    rows with the histogram, the share correctly rounded, the repro line and the time
    taken), ``curves`` (the ULP error against the input, see `_curves`) and
    ``environment`` (versions, devices, CPU, actaudit's commit)."""

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


# The kinds of defect a finding shows, most severe first: how the report ranks findings.
DEFECTS = (
    "NaN or ∞ where the truth is finite",
    "wrong value",
    "wrong derivative",
    "crashed or raised",
    "wrong special value",
    "broken property",
    "jit or vmap disagree",
    "wrong subnormals",
    "wrong dtype",
    "convention broken",
)
_BY_CHECK = {"accuracy": "wrong value", "gradient": "wrong derivative",
             "special": "wrong special value", "gradient:special": "wrong special value",
             "gradient:kinks": "convention broken", "transform": "jit or vmap disagree",
             "subnormal": "wrong subnormals", "subnormal:gradient": "wrong subnormals",
             "dtype": "wrong dtype", "property": "broken property"}


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def defect(check: str, status: str, expected: Any, got: Any) -> str:
    """The kind of defect a finding that did not pass shows (one of `DEFECTS`), from
    its check and what it found: a NaN or ∞ where the truth is a finite number outranks
    the check's own kind, and a zero of the wrong sign is a convention broken."""
    if status == "error":
        return "crashed or raised"
    want, have = _number(expected), _number(got)
    if want is not None and have is not None:
        if math.isfinite(want) and not math.isfinite(have):
            return "NaN or ∞ where the truth is finite"
        if want == have == 0:  # equal but for the sign of zero
            return "convention broken"
    kind = _BY_CHECK.get(check) or _BY_CHECK.get(check.partition(":")[0], "wrong value")
    return kind


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The summary table: the INTERFACE columns, in order; max_ulp numeric or empty."""
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


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
