"""High-precision truth: exact, certified values of every catalog activation.

* `evaluate` — the value or derivative at one input, correctly rounded to each format;
* `digits` — certified decimal digits;
* `FORMATS`, `Format.round`, `ulp_error` — the formats and the ULP error of a result;
* `table` / `build_tables` — cached oracle tables over whole 16-bit formats and samples.
"""

from .engine import Disagreement, Exact, OracleError, Undecided
from .exact import digits, evaluate
from .formats import FORMATS, Format, ulp_error

__all__ = [
    "FORMATS", "Disagreement", "Exact", "Format", "OracleError", "Undecided", "digits",
    "evaluate", "ulp_error",
]
