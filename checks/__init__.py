"""Checks: an implementation against the oracles, as rows of the result table.

* `CHECKS` — every check, declared once (`Check`: name, category, `Severity`, the
  activations it applies to); `strictness` — the classes that fail instead of warning;
* `audit` — every check of every (implementation, activation, variant, dtype); `Plan`,
  its settings checked before any work starts;
* `long_row`, `PATTERNS` — the rows of every length the vector checks call (the worst
  input of an ``accuracy:rows`` finding is written as ``long_row(...)``);
* `sides` — the two sides of a catalog identity with an implementation's functions, as a
  ``property:NAME`` row's repro line prints them;
* `Tolerances`, `load_tolerances` — the ULP tolerance table and its overrides;
* `Audit`, `Finding`, `COLUMNS`, `write`, `status_code` — results: summary.csv and the
  detailed tables beside it.
"""

from ._audit import Plan, audit, select, strictness
from ._properties import sides
from ._registry import CATEGORIES, CHECKS, Check, Severity
from ._results import COLUMNS, FILES, KIND, Audit, Finding, frame, overview, status_code, write
from ._rows import PATTERNS, long_row
from ._tolerances import DEFAULT, ToleranceError, Tolerances
from ._tolerances import load as load_tolerances

__all__ = [
    "CATEGORIES", "CHECKS", "COLUMNS", "DEFAULT", "FILES", "KIND", "PATTERNS", "Audit", "Check",
    "Finding", "Plan", "Severity", "ToleranceError", "Tolerances", "audit", "frame",
    "load_tolerances", "long_row", "overview", "select", "sides", "status_code", "strictness",
    "write",
]
