"""The ULP error against the input, kept for plots: per (implementation, activation,
variant, dtype) and for the value and the derivative, the inputs of the `accuracy` (or
`gradient`) check in order of value, cut into runs of consecutive inputs, each run's worst
error and where it happened.

A run keeps its maximum, so no spike is lost however many inputs a run covers: the
largest ``max_ulp`` of a curve is the check's own ``max_ulp``. For the exhaustive 16-bit
tables (65,536 inputs) a run is a few hundred consecutive floats; the float32 and float64
samples are small enough to keep whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BINS = 512
KEY = ["impl", "activation", "variant", "dtype", "what"]
COLUMNS = [*KEY, "x", "max_ulp", "x_lo", "x_hi", "n"]
WHAT = {"accuracy": "value", "gradient": "gradient", "gradient:second": "second"}  # a curve's check


def runs(x: np.ndarray, err: np.ndarray, bins: int = BINS) -> dict[str, np.ndarray]:
    """Columns x (where the run's worst error is), max_ulp, x_lo, x_hi and n, one row per
    run of consecutive inputs (at most ``bins`` runs of nearly equal length). A NaN error
    (a NaN where the truth is a number) counts as infinite."""
    order = np.argsort(x, kind="stable")
    xs = np.asarray(x, np.float64)[order]
    es = np.where(np.isnan(err), np.inf, np.asarray(err, np.float64))[order]
    n = len(xs)
    if n == 0:
        return {c: np.empty(0) for c in COLUMNS[len(KEY):]}
    starts = np.unique(np.linspace(0, n, min(bins, n) + 1).astype(np.int64)[:-1])
    stops = np.append(starts[1:], n)
    worst = np.array([s + int(np.argmax(es[s:e])) for s, e in zip(starts, stops, strict=True)])
    return {"x": xs[worst], "max_ulp": es[worst], "x_lo": xs[starts], "x_hi": xs[stops - 1],
            "n": stops - starts}


def frame(key: dict[str, Any], check: str, x: np.ndarray, err: np.ndarray) -> pd.DataFrame:
    """One curve as rows of the curves table, for the row ``key`` of ``check``."""
    cols = runs(x, err)
    rows = pd.DataFrame(cols, columns=COLUMNS[len(KEY):])
    for k in reversed(KEY[:-1]):
        rows.insert(0, k, key[k])
    rows.insert(len(KEY) - 1, "what", WHAT[check])
    return rows


def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in KEY else "float64")
                         for c in COLUMNS})
