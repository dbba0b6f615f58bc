"""Checks: an implementation against the oracles, as rows of the result table.

* `audit` — every check of every (implementation, activation, variant, dtype);
* `Tolerances`, `load_tolerances` — the ULP tolerance table and its overrides;
* `Finding`, `COLUMNS`, `write`, `status_code` — results and summary.csv.
"""

from ._audit import audit, select
from ._results import COLUMNS, Finding, frame, overview, status_code, write
from ._tolerances import DEFAULT, ToleranceError, Tolerances
from ._tolerances import load as load_tolerances

__all__ = [
    "COLUMNS", "DEFAULT", "Finding", "ToleranceError", "Tolerances", "audit", "frame",
    "load_tolerances", "overview", "select", "status_code", "write",
]
