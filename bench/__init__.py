"""Benchmarks: how fast each implementation is, per device, next to how accurate it is.

* `cases`, `Case`, `prepare` — what is timed (implementation × activation × variant ×
  dtype × size × mode × platform) and how it is made ready (inputs on the device,
  compiled and run once);
* `run` — ``actaudit bench``: pytest-benchmark times the cases, one report per device;
* `frame`, `summary`, `load`, `compare` — the results as pandas tables and Markdown; a
  comparison of two runs with each ratio's spread.
"""

from ._cases import BASELINE, MODES, PROFILES, Case, cases, platforms, prepare
from ._run import run
from ._tables import (
    COLUMNS,
    claim_comparison,
    compare,
    comparison_summary,
    frame,
    geometric_mean,
    load,
    summary,
)

__all__ = [
    "BASELINE", "COLUMNS", "MODES", "PROFILES", "Case", "cases", "claim_comparison", "compare",
    "comparison_summary", "frame", "geometric_mean", "load", "platforms", "prepare", "run",
    "summary",
]
