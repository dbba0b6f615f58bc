"""index.html: one static page (inline CSS, no script, no network), its plots beside it as
PNG files, so that it opens from disk in any browser."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

import pandas as pd

from ._tables import SEVERITY

GLYPH = {"pass": "✓", "warn": "!", "fail": "✗", "error": "E", "skip": "–"}
# max ULP error: correctly rounded, within 1, within 4, 16, 256, 65536, beyond (or ∞)
ULP_SCALE = ((0.5, "#1a9850"), (1, "#66bd63"), (4, "#a6d96a"), (16, "#fee08b"),
             (256, "#fdae61"), (65536, "#f46d43"), (math.inf, "#d73027"))
RATIO_SCALE = ((1.0, "#66bd63"), (1.25, "#d9ef8b"), (2.0, "#fee08b"), (math.inf, "#fdae61"))
NONE = "#eeeeee"

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1500px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
td.wrap { white-space: normal; max-width: 38em; text-align: left; }
code { font-size: 11px; word-break: break-all; }
figure { margin: 0.8em 0 1.6em; } figure img { max-width: 100%; border: 1px solid #ddd; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 4px; }
.muted { color: #666; }
"""


def colour(value: float, scale: Sequence[tuple[float, str]]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NONE
    return next(c for edge, c in scale if value <= edge)


def number(v: float, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return "∞" if math.isinf(v) else format(v, spec)


def _header(columns: pd.Index) -> str:
    """Header rows for (possibly multi-level) columns, equal neighbours merged."""
    if not isinstance(columns, pd.MultiIndex):
        return "<tr><th></th>" + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + "</tr>"
    rows = []
    for level in range(columns.nlevels):
        cells, labels = [], [tuple(c[: level + 1]) for c in columns]
        i = 0
        while i < len(labels):
            j = i
            while j < len(labels) and labels[j] == labels[i]:
                j += 1
            cells.append(f'<th colspan="{j - i}">{escape(str(labels[i][-1]))}</th>')
            i = j
        rows.append("<tr><th></th>" + "".join(cells) + "</tr>")
    return "".join(rows)


def overview_table(ulp: pd.DataFrame, worst: pd.DataFrame, notes: pd.DataFrame,
                   what: str) -> str:
    """Cells coloured by max ULP error, with the worst status's mark; the checks that did
    not pass in the tooltip."""
    body = []
    for name in ulp.index:
        cells = []
        for col in ulp.columns:
            v, status = ulp.at[name, col], worst.at[name, col]
            status = status if isinstance(status, str) else "skip"
            note = notes.at[name, col]
            tip = escape(note if isinstance(note, str) else status, quote=True)
            bg = NONE if status == "skip" else colour(v, ULP_SCALE)
            dtype, impl = col
            cells.append(f'<td style="background:{bg}" title="{tip}" data-status="{status}" '
                         f'data-dtype="{escape(dtype, quote=True)}" '
                         f'data-impl="{escape(impl, quote=True)}">{number(v)} {GLYPH[status]}'
                         "</td>")
        body.append(f'<tr data-name="{escape(name, quote=True)}"><th class="l">'
                    f'{escape(name)}</th>{"".join(cells)}</tr>')
    return (f'<table data-overview="{what}">{_header(ulp.columns)}{"".join(body)}'
            "</table>")


def ratio_table(table: pd.DataFrame, scale: Sequence[tuple[float, str]] | None) -> str:
    body = []
    for name, row in table.iterrows():
        cells = "".join(
            f'<td style="background:{colour(v, scale) if scale else "#fff"}">'
            f"{number(v, '.2f')}</td>" for v in row)
        body.append(f'<tr><th class="l">{escape(str(name))}</th>{cells}</tr>')
    return f"<table>{_header(table.columns)}{''.join(body)}</table>"


def plain_table(df: pd.DataFrame, code: Sequence[str] = (), wrap: Sequence[str] = (),
                index: bool = False, table_id: str = "") -> str:
    head = "".join(f'<th class="l">{escape(str(c))}</th>' for c in df.columns)
    head = ("<th></th>" if index else "") + head
    body = []
    for key, row in df.iterrows():
        cells = [f'<th class="l">{escape(str(key))}</th>'] if index else []
        for col in df.columns:
            v = row[col]
            text = number(v) if isinstance(v, float) else escape(str(v))
            if col in code and text:
                text = f"<code>{text}</code>"
            cls = "wrap" if col in wrap or col in code else "l"
            cells.append(f'<td class="{cls}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><tr>{head}</tr>{''.join(body)}</table>"


def legend() -> str:
    labels = ["≤ 0.5 (correctly rounded)", "≤ 1", "≤ 4", "≤ 16", "≤ 256", "≤ 65536",
              "more, or ∞"]
    spans = "".join(f'<span style="background:{c}">{escape(t)}</span>'
                    for (_, c), t in zip(ULP_SCALE, labels, strict=True))
    marks = ", ".join(f"{GLYPH[s]} {s}" for s in reversed(SEVERITY))
    return (f'<p class="legend">Max ULP error: {spans}</p><p class="muted">Mark: the worst '
            f"status among the cell's checks ({escape(marks)}); hover a cell for the checks "
            "that did not pass.</p>")


def figure(src: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img src="{escape(src, quote=True)}" alt="{escape(alt, quote=True)}">'
            f"{cap}</figure>")


def page(title: str, sections: Mapping[str, tuple[str, str]], intro: str) -> str:
    """The whole page: ``sections`` maps an id to (heading, HTML)."""
    nav = "".join(f'<a href="#{i}">{escape(h)}</a>' for i, (h, _) in sections.items())
    body = "".join(f'<section id="{i}"><h2>{escape(h)}</h2>{html}</section>'
                   for i, (h, html) in sections.items())
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1>{intro}<nav>{nav}</nav>{body}</body></html>\n")
