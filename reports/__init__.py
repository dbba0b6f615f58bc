"""Reports: the audits' and benchmarks' tables turned into pages people look at.

* `build` — ``actaudit report``: index.html with its plots, summary.md and summary.csv,
  from the same DataFrames;
* `diff`, `Diff` — ``actaudit diff``: what changed between two audits, a table and a page;
* `load`, `Runs`, `RunError` — the runs under the folders given, as pandas tables.
"""

from ._build import Report, build
from ._diff import Diff, diff
from ._runs import RunError, Runs, load

__all__ = ["Diff", "Report", "RunError", "Runs", "build", "diff", "load"]
