"""Checks: an implementation against the oracles, as rows of the result table.

* `audit` — every check of every (implementation, activation, variant, dtype);
* `Tolerances`, `load_tolerances` — the ULP tolerance table and its overrides;
* `Audit`, `Finding`, `COLUMNS`, `write`, `status_code` — results: summary.csv and the
  detailed tables beside it.
"""

from ._audit import audit, select
from ._results import COLUMNS, FILES, Audit, Finding, frame, overview, status_code, write
from ._tolerances import DEFAULT, ToleranceError, Tolerances
from ._tolerances import load as load_tolerances

__all__ = [
    "COLUMNS", "DEFAULT", "FILES", "Audit", "Finding", "ToleranceError", "Tolerances",
    "audit", "frame", "load_tolerances", "overview", "select", "status_code", "write",
]
