"""Two audits side by side: what got worse, what got better, what is as before.

`compare` classes each row of one audit against the same row (impl, activation, variant,
dtype, check) of an earlier one. It is shared by ``actaudit diff RUN_A RUN_B`` and by
baselines:

* `save` writes a baseline, ``--save-baseline FILE``: per row, the status, the max ULP,
  whether the result held a NaN the truth does not, and a hash of the worst input; plain
  JSON, one row per line, so that a review reads its diff. Writing one is always an
  explicit command: a baseline that regenerates itself hides regressions.
* `judge` (``--baseline FILE``) turns an audit's rows into verdicts against it: what got
  worse fails and says by how much ("was 1.9 ULP, now 6.0"); what is as before is known
  and warns instead of failing; what got better is said, so that the baseline is updated
  on purpose; a row the baseline has never seen is judged as it is.

A max ULP counts as changed only beyond the baseline's `Slack`: larger than ``ratio``
times the old one and than the old one plus ``ulp``, both. A sampled max ULP is a lower
bound; the slack keeps what moves it without a change of the code (another platform's
libm) from failing. A search's max ULP moves from run to run (its examples reach
different inputs): a ``:search`` row is compared by its status and NaNs alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._files import atomic

KEY = ["impl", "activation", "variant", "dtype", "check"]
FORMAT = "actaudit-baseline"
VERSION = 1
RANK = {"pass": 0, "warn": 1, "fail": 2, "error": 2}  # skip: no verdict, compared apart
CHANGES = ("regressed", "improved", "new", "gone", "same")


class BaselineError(ValueError):
    """A baseline file that cannot be read or written: bad usage, exit status 2."""


@dataclass(frozen=True)
class Slack:
    """How much a max ULP may move before it counts as a change: beyond ``ratio`` times
    the old one and beyond the old one plus ``ulp``, both."""

    ratio: float = 1.25
    ulp: float = 1.0

    def worse(self, old: float, new: float) -> bool:
        if math.isnan(old) or math.isnan(new):
            return False
        if math.isinf(new):
            return not math.isinf(old)
        return new > old * self.ratio and new > old + self.ulp

    def better(self, old: float, new: float) -> bool:
        return self.worse(new, old)


SLACK = Slack()  # what a new baseline states (each file states its own)


def digest(text: Any) -> str:
    """A short hash of a worst input: whether it moved, without keeping a long row."""
    return hashlib.sha256(str(text).encode()).hexdigest()[:12]


def _nan(row: pd.Series) -> bool:
    """Whether the result holds a NaN where the truth does not."""
    got, want = str(row.get("got", "")).lower(), str(row.get("expected", "")).lower()
    return "nan" in got and "nan" not in want


def reduced(summary: pd.DataFrame) -> pd.DataFrame:
    """The columns a comparison needs, from a summary (summary.csv's columns)."""
    if summary.empty:
        return pd.DataFrame(columns=[*KEY, "status", "max_ulp", "nan", "worst"])
    out = summary[KEY].astype(str).copy()
    out["status"] = summary["status"].astype(str)
    out["max_ulp"] = pd.to_numeric(summary["max_ulp"], errors="coerce")
    out["nan"] = summary.apply(_nan, axis=1).astype(bool)
    out["worst"] = summary["worst_input"].fillna("").map(digest)
    return out.drop_duplicates(KEY, keep="last")


def _ulp(v: float) -> str:
    if math.isnan(v):
        return "no ULP figure"
    return "inf ULP" if math.isinf(v) else f"{v:.3g} ULP"


def _was(old: pd.Series, new: pd.Series) -> str:
    """"was fail, 1.9 ULP, now fail, 6.0 ULP"."""
    return (f"was {old['status']}, {_ulp(old['max_ulp'])}; "
            f"now {new['status']}, {_ulp(new['max_ulp'])}")


def _class(old: pd.Series, new: pd.Series, slack: Slack, check: str) -> tuple[str, str]:
    """One row's change and why. A search's max ULP (``:search``) is what one run's
    examples reached, and the next run's reach others: it counts only through the row's
    status and NaNs."""
    s0, s1 = old["status"], new["status"]
    if s0 == "skip" and s1 == "skip":
        return "same", ""
    if s1 == "skip":
        return "regressed", f"{_was(old, new)}: no longer checked"
    if s0 == "skip":
        return "new", "skipped before"
    if RANK[s1] > RANK[s0]:
        return "regressed", _was(old, new)
    if new["nan"] and not old["nan"]:
        return "regressed", f"a new NaN; {_was(old, new)}"
    searched = check.endswith(":search")
    if slack.worse(old["max_ulp"], new["max_ulp"]) and not searched:
        return "regressed", _was(old, new)
    if RANK[s1] < RANK[s0] or (slack.better(old["max_ulp"], new["max_ulp"])
                               and not searched) or (old["nan"] and not new["nan"]):
        return "improved", _was(old, new)
    moved = "; the worst input moved" if old["worst"] != new["worst"] else ""
    return "same", f"{_was(old, new)}{moved}"


def compare(before: pd.DataFrame, after: pd.DataFrame, slack: Slack = SLACK
            ) -> pd.DataFrame:
    """Each row of ``before`` and ``after`` (reduced or summary tables), outer-joined on
    `KEY`: both sides' status and max ULP, the ``change`` (`CHANGES`) and ``why``."""
    a = before if "worst" in before else reduced(before)
    b = after if "worst" in after else reduced(after)
    both = a.merge(b, on=KEY, how="outer", suffixes=("_before", "_after"), indicator=True)
    changes, why = [], []
    for _, r in both.iterrows():
        if r["_merge"] == "left_only":
            changes.append("gone")
            why.append("not in the later audit")
            continue
        new = pd.Series({k: r[f"{k}_after"] for k in ("status", "max_ulp", "nan", "worst")})
        if r["_merge"] == "right_only":
            changes.append("new")
            why.append("not in the earlier audit")
            continue
        old = pd.Series({k: r[f"{k}_before"] for k in ("status", "max_ulp", "nan", "worst")})
        change, reason = _class(old, new, slack, str(r["check"]))
        changes.append(change)
        why.append(reason)
    both["change"], both["why"] = changes, why
    cols = [*KEY, "status_before", "status_after", "max_ulp_before", "max_ulp_after",
            "change", "why"]
    return both[cols].reset_index(drop=True)


def counts(diff: pd.DataFrame) -> str:
    """"2 regressed, 1 improved, 40 same" (the classes present, in `CHANGES` order)."""
    n = diff["change"].value_counts()
    return ", ".join(f"{n[c]} {c}" for c in CHANGES if c in n) or "no rows"


@dataclass(frozen=True)
class Baseline:
    """A reviewed baseline: its rows (`reduced`'s columns) and its slack."""

    rows: pd.DataFrame
    slack: Slack
    path: str = ""


def _json_row(r: pd.Series) -> str:
    ulp = r["max_ulp"]
    value: Any = None if math.isnan(ulp) else ("inf" if math.isinf(ulp) else float(ulp))
    return json.dumps({**{k: r[k] for k in KEY}, "status": r["status"], "max_ulp": value,
                       "nan": bool(r["nan"]), "worst": r["worst"]})


def save(path: str | os.PathLike, summary: pd.DataFrame, version: str, slack: Slack = SLACK
         ) -> None:
    """Write ``summary``'s rows as a baseline at ``path`` (atomically); check the path
    with `claim` first."""
    rows = reduced(summary).sort_values(KEY)
    head = json.dumps({"format": FORMAT, "version": VERSION, "written_by": f"actaudit "
                       f"{version}", "slack": {"ratio": slack.ratio, "ulp": slack.ulp}})
    body = ",\n".join(f"  {_json_row(r)}" for _, r in rows.iterrows())
    text = head[:-1] + ', "rows": [\n' + body + "\n]}\n"
    atomic(Path(path), lambda p: Path(p).write_text(text))


def claim(path: str | os.PathLike, option: str = "--save-baseline") -> Path:
    """``path`` checked, before any work, as somewhere a baseline can be written: a new
    file, or a baseline written before (replacing it is what the command asks for).
    Anything else there is refused (`BaselineError`)."""
    p = Path(path)
    if p.is_dir():
        raise BaselineError(f"{option} {str(p)!r} is a folder: give a file name")
    if p.exists():
        try:
            load(p, option)
        except BaselineError:
            raise BaselineError(f"refusing to replace {option} {str(p)!r}: it is not a "
                                "baseline actaudit wrote; choose another file") from None
    elif not p.parent.is_dir():
        raise BaselineError(f"{option} {str(p)!r}: no folder {str(p.parent)!r}")
    return p


def load(path: str | os.PathLike, option: str = "--baseline") -> Baseline:
    """A baseline file, checked; `BaselineError` (one line) where it is not one."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise BaselineError(f"{option}: no such file {str(p)!r}") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BaselineError(f"{option} {str(p)!r} is not a baseline (not JSON: {e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f"{option} {str(p)!r} is not a baseline (no \"format\": "
                            f"\"{FORMAT}\"); write one with --save-baseline")
    if data.get("version") != VERSION:
        raise BaselineError(f"{option} {str(p)!r}: baseline version {data.get('version')!r}, "
                            f"this actaudit reads {VERSION}")
    try:
        s = data.get("slack", {})
        slack = Slack(float(s.get("ratio", Slack.ratio)), float(s.get("ulp", Slack.ulp)))
        rows = pd.DataFrame(data["rows"], columns=[*KEY, "status", "max_ulp", "nan", "worst"])
        bad = ~rows["status"].isin([*RANK, "skip"])
        if bad.any():
            raise ValueError(f"unknown status {rows['status'][bad].iloc[0]!r}")
        rows[KEY] = rows[KEY].astype(str)
        rows["max_ulp"] = pd.to_numeric(rows["max_ulp"].map(
            lambda v: math.inf if v == "inf" else (math.nan if v is None else v)))
        rows["nan"] = rows["nan"].astype(bool)
        rows["worst"] = rows["worst"].astype(str)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BaselineError(f"{option} {str(p)!r}: malformed baseline ({e})") from None
    if not (slack.ratio >= 1 and slack.ulp >= 0):
        raise BaselineError(f"{option} {str(p)!r}: the slack needs ratio >= 1 and ulp >= 0")
    return Baseline(rows, slack, str(p))


def judge(summary: pd.DataFrame, details: pd.DataFrame, baseline: Baseline
          ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``summary`` and ``details`` judged against ``baseline``, and the comparison: a
    regression fails and says what it was; a failing row as before warns as known; an
    improvement says what it was; a row the baseline lacks keeps its status. ``details``
    gains a ``baseline`` column, the row's change, and ``found``, its status before it
    was judged."""
    diff = compare(baseline.rows, summary, baseline.slack)
    here = diff[diff["change"] != "gone"].set_index(KEY)
    summary, details = summary.copy(), details.copy()
    labels = []
    for i, row in summary.iterrows():
        key = tuple(str(row[k]) for k in KEY)
        change, why = (here.loc[key, "change"], here.loc[key, "why"]) if key in here.index \
            else ("new", "")
        labels.append(change)
        note = ""
        if change == "regressed":
            summary.at[i, "status"] = "fail"
            note = f"regressed since the baseline: {why}"
        elif change == "improved":
            note = (f"improved since the baseline: {why} (update the baseline with "
                    "--save-baseline to hold it)")
        elif change == "new" and why != "skipped before":
            note = "not in the baseline"
        if change in ("same", "improved") and row["status"] in ("fail", "error"):
            summary.at[i, "status"] = "warn"
            note = note or f"known: as in the baseline ({why})"
        if note:
            text = str(row["detail"]) if pd.notna(row["detail"]) else ""
            summary.at[i, "detail"] = f"{note}; {text}" if text else note
    if len(details) == len(summary):
        details["found"] = details["status"]  # as the checks gave it (`actaudit diff`)
        details["status"] = summary["status"].to_numpy()
        details["detail"] = summary["detail"].to_numpy()
        details["baseline"] = labels
    return summary, details, diff
