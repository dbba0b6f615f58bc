"""summary.md: the report's tables as Markdown, for a pull request or a terminal."""

from __future__ import annotations

import pandas as pd

from . import _tables
from ._html import GLYPH, compact, number

WORST = 40  # findings listed here; every one is in index.html


def _flat(columns: pd.Index) -> list[str]:
    if isinstance(columns, pd.MultiIndex):
        return [" ".join(str(p) for p in c) for c in columns]
    return [str(c) for c in columns]


def _cell(v: float, status: object) -> str:
    return f"{compact(v)} {GLYPH[status if isinstance(status, str) else 'skip']}"


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


def findings(groups: pd.DataFrame) -> str:
    if groups.empty:
        return "None."
    shown = _tables.headline(groups.head(WORST))
    shown["max ULP"] = shown["max ULP"].map(number)
    more = (f"\n\nThe first {WORST} of {len(groups)}; every one, with its rows and repro "
            "lines, is in index.html (and each row in summary.csv).") if len(groups) > WORST else ""
    return shown.to_markdown() + more
