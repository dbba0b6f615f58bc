"""Reports: the audits' and benchmarks' tables turned into pages people look at.

* `build` — ``actaudit report``: index.html with its plots, summary.md and summary.csv,
  from the same DataFrames;
* `load`, `Runs`, `RunError` — the runs under the folders given, as pandas tables.
"""

from ._build import Report, build
from ._runs import RunError, Runs, load

__all__ = ["Report", "RunError", "Runs", "build", "load"]
