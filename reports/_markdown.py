"""summary.md: the report's tables as Markdown, for a pull request or a terminal."""

from __future__ import annotations

import pandas as pd

from ._html import GLYPH, number

WORST = 40  # failures listed here; every one is in index.html and summary.csv


def _flat(columns: pd.Index) -> list[str]:
    if isinstance(columns, pd.MultiIndex):
        return [" ".join(str(p) for p in c) for c in columns]
    return [str(c) for c in columns]


def _cell(v: float, status: object) -> str:
    return f"{number(v)} {GLYPH[status if isinstance(status, str) else 'skip']}"


def overview(ulp: pd.DataFrame, worst: pd.DataFrame) -> str:
    cells = pd.DataFrame([[_cell(ulp.at[n, c], worst.at[n, c]) for c in ulp.columns]
                          for n in ulp.index], index=ulp.index, columns=_flat(ulp.columns))
    cells.index.name = "activation"
    return cells.to_markdown()


def numbers(table: pd.DataFrame, spec: str = ".2f") -> str:
    if table.empty:
        return ""
    out = table.map(lambda v: number(v, spec))
    out.columns = _flat(table.columns)
    return out.to_markdown()


def failures(bad: pd.DataFrame) -> str:
    if bad.empty:
        return "None."
    first = bad.assign(_e=bad["status"] == "error").sort_values(
        ["_e", "max_ulp"], ascending=False, na_position="last", kind="stable")
    shown = first.head(WORST).assign(max_ulp=lambda d: d["max_ulp"].map(number))
    cols = ["impl", "activation", "variant", "dtype", "check", "max_ulp", "worst_input",
            "expected", "got"]
    more = (f"\n\nThe first {WORST} of {len(bad)} (errors, then the largest ULP errors); "
            "every one, with its repro line, is in index.html and summary.csv."
            ) if len(bad) > WORST else ""
    return shown[cols].to_markdown(index=False) + more
