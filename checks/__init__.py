"""Checks: an implementation against the oracles, as rows of the result table.

* `audit` — every check of every (implementation, activation, variant, dtype); `Plan`,
  its settings checked before any work starts;
* `Tolerances`, `load_tolerances` — the ULP tolerance table and its overrides;
* `Audit`, `Finding`, `COLUMNS`, `write`, `status_code` — results: summary.csv and the
  detailed tables beside it.
"""

from ._audit import Plan, audit, select
from ._results import COLUMNS, FILES, KIND, Audit, Finding, frame, overview, status_code, write
from ._tolerances import DEFAULT, ToleranceError, Tolerances
from ._tolerances import load as load_tolerances

__all__ = [
    "COLUMNS", "DEFAULT", "FILES", "KIND", "Audit", "Finding", "Plan", "ToleranceError",
    "Tolerances", "audit", "frame", "load_tolerances", "overview", "select", "status_code", "write",
]
