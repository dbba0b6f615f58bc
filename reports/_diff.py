"""``actaudit diff RUN_A RUN_B``: what changed between two audits (two versions of a
library, two commits of a kernel), row by row (`checks._baseline.compare`): a table on
stdout, and with ``--out`` a page drawn by the report's renderer and diff.csv.

Either side is a folder `actaudit audit` wrote (its summary.csv, with the statuses as the
checks found them where it was judged against a baseline) or a baseline file.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from tabulate import tabulate

from .._files import claim, manifest_of, replace_folder
from ..checks import FILES
from ..checks._baseline import CHANGES, KEY, SLACK, Slack, compare, counts, reduced
from ..checks._baseline import load as load_baseline
from . import _html
from ._runs import RunError

KIND = "diff"  # what a diff's folder says it holds (`_files.claim`)
TITLE = "actaudit diff"
SHOWN = ("regressed", "improved", "new", "gone")  # the changes listed; "same" only counted


@dataclass(frozen=True)
class Diff:
    """The comparison, its text for stdout, and the page written (None without --out)."""

    table: pd.DataFrame
    text: str
    page: Path | None


def side(path: str | Path) -> tuple[pd.DataFrame, Slack | None]:
    """One side's rows (`reduced`), from an audit's folder or a baseline file, and the
    baseline's slack (None for a folder)."""
    p = Path(path)
    if p.is_dir():
        csv = p / FILES["summary"]
        if not csv.is_file():
            raise RunError(f"{str(p)!r} holds no audit (no {FILES['summary']}): give a "
                           "folder `actaudit audit` wrote, or a baseline file")
        try:
            summary = pd.read_csv(csv, keep_default_na=False, dtype=str)
            details = p / FILES["details"]
            # judged against a baseline: the statuses as the checks found them
            if details.is_file() and "found" in pq.read_schema(details).names:
                found = pd.read_parquet(details, columns=["found"])["found"]
                if len(found) == len(summary):
                    summary["status"] = found.to_numpy()
            return reduced(summary), None
        except (ValueError, KeyError, OSError) as e:
            raise RunError(f"{csv}: not an audit's summary ({e})") from None
    if p.is_file():  # a baseline, or a one-line error saying it is not one
        base = load_baseline(p, "diff")
        return base.rows, base.slack
    raise RunError(f"no such audit folder or baseline file: {str(path)!r}")


def _text(table: pd.DataFrame, a: str, b: str) -> str:
    lines = [f"A = {a}, B = {b}: {counts(table)}"]
    shown = table[table["change"].isin(SHOWN)]
    if len(shown):
        order = {c: i for i, c in enumerate(CHANGES)}
        shown = shown.sort_values("change", key=lambda c: c.map(order), kind="stable")
        cols = [*KEY, "change", "why"]
        lines += ["", tabulate(shown[cols].map(lambda v: v if len(str(v)) < 70
                                                else str(v)[:69] + "…"),
                               headers="keys", showindex=False, disable_numparse=True)]
    return "\n".join(lines)


def _page(table: pd.DataFrame, a: str, b: str, slack: Slack) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = (f'<p class="muted">Built {when}. A: <code>{escape(a)}</code>, B: '
             f"<code>{escape(b)}</code>. A max ULP counts as changed only beyond the slack: "
             f"over {slack.ratio:g} times the earlier one and {slack.ulp:g} ULP more, both. "
             "A search's row (<code>:search</code>) counts by its status alone: its examples "
             "reach other inputs in every run.</p>")
    counted = pd.DataFrame({"rows": table["change"].value_counts()}).reindex(
        [c for c in CHANGES if c in set(table["change"])])
    sections = {"counts": ("Rows by change", _html.plain_table(counted, index=True))}
    for change in SHOWN:
        part = table[table["change"] == change]
        if len(part):
            sections[change] = (f"{change.capitalize()} ({len(part)})", _html.plain_table(
                part.drop(columns="change"), wrap=("why",)))
    return _html.page(TITLE, sections, intro)


def diff(a: str | Path, b: str | Path, out: str | Path | None = None, *,
         force: bool = False) -> Diff:
    """Compare the audits at ``a`` and ``b``; with ``out``, write index.html and diff.csv
    there (a folder replaced whole; one holding anything else is refused first)."""
    (before, slack), (after, _) = side(a), side(b)
    slack = slack or SLACK  # a baseline's own, where A is one
    if out is not None:
        claim(out, KIND, force=force)
    table = compare(before, after, slack)
    text = _text(table, str(a), str(b))
    if out is None:
        return Diff(table, text, None)
    target = Path(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        (staging / "index.html").write_text(_page(table, str(a), str(b), slack))
        table.to_csv(staging / "diff.csv", index=False)
        manifest_of(staging, KIND)
        replace_folder(target, staging, KIND, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Diff(table, text, target / "index.html")
