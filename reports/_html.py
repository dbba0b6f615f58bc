"""index.html: one static page (inline CSS, no script, no network), its plots beside it as
PNG files, so that it opens from disk in any browser."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

import pandas as pd

from ._tables import EXHAUSTIVE

GLYPH = {"pass": "✓", "warn": "!", "fail": "✗", "error": "E", "skip": "–"}
# An overview cell's colour is its verdict (the worst status of its checks); its shade,
# the max ULP error: greens for a pass (darker: correctly rounded), amber for a warning,
# orange to red for a failure (redder: larger), purple for an error, grey for a skip.
VERDICT_SCALE: dict[str, tuple[tuple[float, str, str], ...]] = {
    "pass": ((0.5, "#1a9850", "correctly rounded"), (1, "#66bd63", "≤ 1 ULP"),
             (math.inf, "#a6d96a", "more")),
    "warn": ((math.inf, "#fee08b", ""),),
    "fail": ((16, "#fdae61", "≤ 16 ULP, or another check"), (65536, "#f46d43", "≤ 65536"),
             (math.inf, "#d73027", "more, or ∞")),
    "error": ((math.inf, "#b8a9d9", ""),),
    "skip": ((math.inf, "#eeeeee", ""),),
}
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
td.wrap { white-space: normal; min-width: 12em; max-width: 34em; text-align: left; }
table.overview td, table.overview th { padding: 1px 3px; font-size: 11px; }
table.overview th.v { writing-mode: vertical-rl; transform: rotate(180deg);
                      text-align: left; padding: 4px 1px; }
code { font-size: 11px; overflow-wrap: anywhere; }
pre.repro { white-space: pre; overflow-x: auto; font-size: 11px; background: #f6f8fa;
            border: 1px solid #e1e4e8; padding: 3px 6px; margin: 2px 0 6px; max-width: 100%; }
.scroll { overflow-x: auto; max-width: 100%; }
details { margin: 0.3em 0; } details > summary { cursor: pointer; }
details[open] > summary { margin-bottom: 0.4em; }
figure { margin: 0.8em 0 1.6em; } figure img { max-width: 100%; border: 1px solid #ddd; }
.legend span { display: inline-block; padding: 1px 8px; margin: 0 4px 2px 0; }
.muted { color: #666; } .fail { color: #b2182b; } .error { color: #5e3c99; }
.warn { color: #8c6d00; }
tr.group th { background: #fbeaea; color: #67001f; text-align: left; }
"""


def colour(value: float, scale: Sequence[tuple[float, str]]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NONE
    return next(c for edge, c in scale if value <= edge)


def verdict_colour(status: str, ulp: float) -> str:
    """An overview cell's background: its verdict's hue, shaded by the max ULP error."""
    scale = VERDICT_SCALE[status]
    if ulp is None or (isinstance(ulp, float) and math.isnan(ulp)):
        return scale[0][1]
    return next(c for edge, c, _ in scale if ulp <= edge)


def number(v: float, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return "∞" if math.isinf(v) else format(v, spec)


def compact(v: float) -> str:
    """A ULP error in at most five characters: 0.5, 1.91, 12.5, 256, 2.0e3, 1.5e7."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if math.isinf(v):
        return "∞"
    if v < 1000:
        return format(v, ".3g")
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _header(columns: pd.Index, vertical_last: bool = False) -> str:
    """Header rows for (possibly multi-level) columns, equal neighbours merged; with
    ``vertical_last`` the last level's labels are set vertically, so that a column is as
    narrow as its numbers."""
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
            cls = ' class="v"' if vertical_last and level == columns.nlevels - 1 else ""
            cells.append(f'<th colspan="{j - i}"{cls}>{escape(str(labels[i][-1]))}</th>')
            i = j
        rows.append("<tr><th></th>" + "".join(cells) + "</tr>")
    return "".join(rows)


def overview_table(ulp: pd.DataFrame, worst: pd.DataFrame, notes: pd.DataFrame,
                   what: str) -> str:
    """Cells coloured by their verdict (the worst status of their checks) and shaded by
    the max ULP error, with the verdict's mark; the checks that did not pass in the
    tooltip."""
    body = []
    for name in ulp.index:
        cells = []
        for col in ulp.columns:
            v, status = ulp.at[name, col], worst.at[name, col]
            status = status if isinstance(status, str) else "skip"
            note = notes.at[name, col]
            tip = escape(note if isinstance(note, str) else status, quote=True)
            every = isinstance(note, str) and EXHAUSTIVE in note
            dtype, impl = col
            cells.append(f'<td style="background:{verdict_colour(status, v)}" title="{tip}" '
                         f'data-status="{status}" data-dtype="{escape(dtype, quote=True)}" '
                         f'data-impl="{escape(impl, quote=True)}">'
                         f"{compact(v)}{' ∀' if every else ''} {GLYPH[status]}</td>")
        body.append(f'<tr data-name="{escape(name, quote=True)}"><th class="l">'
                    f'{escape(name)}</th>{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="overview" data-overview="{what}">'
            f'{_header(ulp.columns, vertical_last=True)}{"".join(body)}</table></div>')


def ratio_table(table: pd.DataFrame, scale: Sequence[tuple[float, str]] | None) -> str:
    body = []
    for name, row in table.iterrows():
        cells = "".join(
            f'<td style="background:{colour(v, scale) if scale else "#fff"}">'
            f"{number(v, '.2f')}</td>" for v in row)
        body.append(f'<tr><th class="l">{escape(str(name))}</th>{cells}</tr>')
    return f"<table>{_header(table.columns)}{''.join(body)}</table>"


def plain_table(df: pd.DataFrame, code: Sequence[str] = (), wrap: Sequence[str] = (),
                index: bool = False, table_id: str = "", pre: Sequence[str] = ()) -> str:
    """A table of ``df``: ``code`` columns as inline code, ``wrap`` columns wrapped
    (prose), ``pre`` columns as a block that keeps its line and scrolls (a command)."""
    head = "".join(f'<th class="l">{escape(str(c))}</th>' for c in df.columns)
    head = ("<th></th>" if index else "") + head
    body = []
    for key, row in df.iterrows():
        cells = [f'<th class="l">{escape(str(key))}</th>'] if index else []
        for col in df.columns:
            v = row[col]
            text = number(v) if isinstance(v, float) else escape(str(v))
            if col in pre and text:
                text = f'<pre class="repro">{text}</pre>'
            elif col in code and text:
                text = f"<code>{text}</code>"
            cls = "wrap" if col in wrap or col in pre else "l"
            cells.append(f'<td class="{cls}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return f'<div class="scroll"><table{ident}><tr>{head}</tr>{"".join(body)}</table></div>'


def grouped_table(df: pd.DataFrame, by: str, code: Sequence[str] = (),
                  wrap: Sequence[str] = (), table_id: str = "") -> str:
    """A numbered table of ``df`` in runs of equal ``by``, each run under a header row
    that names it (the column itself is not repeated on every row)."""
    cols = [c for c in df.columns if c != by]
    head = "<th></th>" + "".join(f'<th class="l">{escape(str(c))}</th>' for c in cols)
    body, last = [], None
    for key, row in df.iterrows():
        if row[by] != last:
            last = row[by]
            body.append(f'<tr class="group"><th class="l" colspan="{len(cols) + 1}">'
                        f"{escape(str(last))}</th></tr>")
        cells = [f'<th class="l">{escape(str(key))}</th>']
        for col in cols:
            v = row[col]
            text = number(v) if isinstance(v, float) else escape(str(v))
            if col in code and text:
                text = f"<code>{text}</code>"
            cells.append(f'<td class="{"wrap" if col in wrap else "l"}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return f'<div class="scroll"><table{ident}><tr>{head}</tr>{"".join(body)}</table></div>'


def details(summary: str, body: str, *, open_: bool = False, attrs: str = "") -> str:
    """A section the reader opens (no script: the browser's own <details>)."""
    flag = " open" if open_ else ""
    return f"<details{flag}{attrs}><summary>{summary}</summary>{body}</details>"


def legend() -> str:
    spans = []
    for status in ("pass", "warn", "fail", "error", "skip"):
        for _, c, label in VERDICT_SCALE[status]:
            text = f"{GLYPH[status]} {status}" + (f": {label}" if label else "")
            spans.append(f'<span style="background:{c}">{escape(text)}</span>')
    return (f'<p class="legend">{"".join(spans)}</p><p class="muted">A cell\'s colour and '
            "mark are its verdict: the worst status among its checks (✗ fail, E error, "
            "! warn, ✓ pass, – skip); its number is the max ULP error of the accuracy (or "
            "derivative) check, with its rows of every length for softmax and the like "
            "and the worst input the search found, which shades the colour: over every "
            "16-bit input, and over a sample of float32 and float64, the slices and rows "
            "called and the search's examples (the largest error seen, a lower bound) "
            "except "
            "where ∀ marks it as over every input (<code>--exhaustive float32</code>: the "
            "true maximum). Hover a cell for the checks that did not pass.</p>")


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
