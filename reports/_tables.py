"""The report's tables, computed once from the runs' DataFrames and rendered twice (HTML
and Markdown), so that the two pages and summary.csv cannot disagree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import catalog
from ..bench import BASELINE
from ..catalog import variant_id
from ..checks._registry import DERIVATIVE, Severity, by_key, meaning
from ..checks._tolerances import DTYPES

# the checks summed up in each overview (those of the derivative, `Check.derivative`, or
# the others), and the one whose max_ulp colours it (with its ``:rows`` on long rows and
# the worst input its ``:search`` found)
GROUPS = {
    "value": ("accuracy", lambda c: c not in DERIVATIVE),
    "gradient": ("gradient", lambda c: c in DERIVATIVE),
}
SEVERITY = ("skip", "pass", "warn", "fail", "error")  # the worst status of a cell shows
FAILURE_COLUMNS = ["impl", "activation", "variant", "dtype", "check", "status", "max_ulp",
                   "worst_input", "expected", "got", "detail", "repro"]


def name(activation: str, variant: str) -> str:
    return f"{activation}({variant})" if variant else activation


def ordered(values: pd.Series, order: tuple[str, ...]) -> list[str]:
    seen = set(values)
    return [v for v in order if v in seen] + sorted(seen - set(order))


def overview(results: pd.DataFrame, what: str) -> tuple[pd.DataFrame, pd.DataFrame,
                                                        pd.DataFrame]:
    """Activation variants down, (dtype, implementation) across: the max ULP error of the
    `accuracy` (or `gradient`) check, its rows of every length and its search, the worst
    status of the cell's checks, and the checks that did not pass (for the cell's
    tooltip)."""
    main, member = GROUPS[what]
    rows = results[results["check"].map(member)].assign(
        name=lambda d: [name(a, v) for a, v in zip(d["activation"], d["variant"],
                                                    strict=True)],
        rank=lambda d: d["status"].map(SEVERITY.index))
    index = list(dict.fromkeys(rows["name"]))
    columns = pd.MultiIndex.from_tuples(
        [(d, i) for d in ordered(rows["dtype"], DTYPES)
         for i in dict.fromkeys(rows["impl"])], names=["dtype", "impl"])
    measured = rows[rows["check"].isin([main, f"{main}:rows", f"{main}:search"])]
    ulp = (measured.pivot_table(index="name", columns=["dtype", "impl"], values="max_ulp",
                                aggfunc="max", dropna=False)
           .reindex(index=index, columns=columns))
    worst = (rows.groupby(["name", "dtype", "impl"])["rank"].max().map(lambda r: SEVERITY[r])
             .unstack(["dtype", "impl"]).reindex(index=index, columns=columns))
    every = rows["detail"].astype(str).str.contains(EXHAUSTIVE_DETAIL, regex=False) & (
        rows["check"] == main)
    noted = rows[~rows["status"].isin(["pass", "skip"]) | every].assign(
        note=lambda d: np.where(every[d.index], EXHAUSTIVE, d["check"] + ": " + d["status"]))
    notes = (noted.groupby(["name", "dtype", "impl"])["note"].agg("; ".join)
             .unstack(["dtype", "impl"]).reindex(index=index, columns=columns))
    return ulp, worst, notes


EXHAUSTIVE_DETAIL = "exhaustive over all"  # in the detail of a row over every input
EXHAUSTIVE = "every input (exhaustive)"  # a cell's note: its max ULP is the true maximum


def counts(results: pd.DataFrame) -> pd.DataFrame:
    """Checks per status, per implementation."""
    return (results.groupby(["impl", "status"]).size().unstack(fill_value=0)
            .reindex(columns=list(SEVERITY[1:] + SEVERITY[:1]), fill_value=0))


def failures(results: pd.DataFrame, statuses: tuple[str, ...] = ("fail", "error")
             ) -> pd.DataFrame:
    """Every check with one of ``statuses``, each with its severity (`severity`) and
    the implementations whose results are copies of its own (flax.nnx's of jax.nn's:
    ``copies``; the copies' own rows left out), ranked as `findings` ranks them."""
    bad = results[results["status"].isin(statuses)].copy()
    for col in ("repro", "same_as"):
        if col not in bad:
            bad[col] = None
    bad["repro"] = bad["repro"].fillna("")
    said = bad["detail"].astype(str).str.extract(r"the same function as (\S+)'s: its results")[0]
    bad["same_as"] = bad["same_as"].fillna(said)  # (runs before same_as was a column)
    copies = (bad.dropna(subset=["same_as"]).groupby(["same_as", "activation"])["impl"]
              .agg(lambda v: ", ".join(dict.fromkeys(v))))
    bad = bad[bad["same_as"].isna()]
    bad["copies"] = [copies.get((i, a), "") for i, a in zip(bad["impl"], bad["activation"],
                                                              strict=True)]
    given = bad["severity"] if "severity" in bad else pd.Series(None, index=bad.index)
    bad["defect"] = [severity(c, s, g).value for c, s, g in zip(
        bad["check"], bad["status"], given, strict=True)]
    return _ranked(bad)[[*FAILURE_COLUMNS, "defect", "copies"]].reset_index(drop=True)


def severity(check: str, status: str, key: Any) -> Severity | None:
    """A finding's severity: as results.parquet records it, else (a run from before it
    did) what its check and status say (`_registry.meaning`)."""
    return meaning(check, status, by_key(key) if isinstance(key, str) and key else None)


_RANK = {s.value: s.rank for s in Severity}


def _ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """Fails and errors before warnings, then by severity (`Severity`, most severe
    first), then the largest error first."""
    return rows.assign(
        _w=rows["status"].eq("warn"), _d=rows["defect"].map(_RANK),
        _u=-rows["max_ulp"].fillna(-1.0).astype(float),
    ).sort_values(["_w", "_d", "_u", "activation", "impl", "variant", "dtype"],
                  kind="stable").drop(columns=["_w", "_d", "_u"])


def _variants(activation: str, variants: pd.Series) -> str:
    """The variants of a finding: "every variant", or those it holds (defaults first)."""
    found = list(dict.fromkeys(variants))
    try:
        known = [variant_id(v) for v in catalog.get(activation).variants()]
    except KeyError:
        known = found
    if len(known) > 1 and set(known) <= set(found):
        return "every variant"
    if len(found) > 2:
        return f"{len(found)} of {len(known)} variants"
    return "; ".join(v or "defaults" for v in found)


def impl_label(impl: str, copies: str) -> str:
    return f"{impl} (= {copies})" if copies else impl


HEADLINE = ["severity", "implementation", "activation", "check", "dtypes", "max ULP",
            "worst input", "expected", "got"]


def dtype_list(dtypes: list[str]) -> str:
    return "every dtype" if set(DTYPES) <= set(dtypes) else ", ".join(dtypes)


def _short(text: Any, width: int = 28) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def headline(groups: pd.DataFrame) -> pd.DataFrame:
    """The findings as the first screen shows them, numbered: the severity, the
    implementation with its copies, the activation with the variants affected, and the
    worst row's input (shortened), expected value and result."""
    table = pd.DataFrame({
        "severity": groups["defect"],
        "implementation": [impl_label(i, c) for i, c in zip(groups["impl"], groups["copies"],
                                                             strict=True)],
        "activation": [a if v == "defaults" else f"{a} ({v})"
                       for a, v in zip(groups["activation"], groups["variants"], strict=True)],
        "check": [c if s == "fail" else f"{c} ({s})"
                  for c, s in zip(groups["check"], groups["status"], strict=True)],
        "dtypes": groups["dtypes"], "max ULP": groups["max_ulp"],
        "worst input": groups["worst_input"].map(_short),
        "expected": groups["expected"].map(_short),
        "got": [_short(d, 90) if s == "error" else _short(g)  # an error: what happened
                for g, d, s in zip(groups["got"], groups["detail"], groups["status"],
                                   strict=True)],
    }, columns=HEADLINE)
    table.index = range(1, len(table) + 1)
    return table


def findings(bad: pd.DataFrame) -> pd.DataFrame:
    """The rows of `failures` grouped: one finding per (implementation, activation,
    check, status, severity) across its dtypes and variants, its worst row standing
    for it (``variant``, ``dtype``, ``worst_input``, ``expected``, ``got``, ``repro``
    are that row's), ``rows`` holding the group's rows; ranked as the rows are."""
    if bad.empty:
        return pd.DataFrame(columns=[*FAILURE_COLUMNS, "defect", "copies", "dtypes",
                                     "variants", "n", "rows"])
    keys = ["impl", "activation", "check", "status", "defect", "copies"]
    groups = []
    for _, part in bad.groupby(keys, sort=False):
        first = part.iloc[0].to_dict()  # ranked: the worst of the group
        first["dtypes"] = dtype_list(ordered(part["dtype"], DTYPES))
        first["variants"] = _variants(first["activation"], part["variant"])
        first["n"] = len(part)
        first["rows"] = part
        groups.append(first)
    return _ranked(pd.DataFrame(groups)).reset_index(drop=True)


def tolerances(results: pd.DataFrame) -> dict[tuple[str, str, str, str], float]:
    """(activation, variant, dtype, what) to the tolerance the audit applied."""
    if "tolerance" not in results:
        return {}
    what = {"accuracy": "value", "gradient": "gradient", "gradient:second": "second"}
    rows = results[results["check"].isin(list(what))].dropna(subset=["tolerance"])
    return {(a, v, d, what[c]): float(t)
            for a, v, d, c, t in zip(rows["activation"], rows["variant"], rows["dtype"],
                                     rows["check"], rows["tolerance"], strict=True)}


def devices(bench: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(platform, device kind, its rows) per device timed."""
    return [(p, k, part) for (p, k), part in
            bench.groupby(["platform", "device_kind"], sort=False)]


def at_largest(bench: pd.DataFrame, value: str, *, skip: tuple[str, ...] = ()
               ) -> pd.DataFrame:
    """Activation variants down, (implementation, dtype, mode) across: ``value`` at the
    largest size timed for each dtype."""
    timed = bench[(bench["status"] == "pass") & ~bench["impl"].isin((BASELINE, *skip))]
    if timed.empty:
        return pd.DataFrame()
    largest = timed.groupby("dtype")["size"].transform("max")
    at = timed[timed["size"] == largest].assign(
        name=lambda d: [name(a, v) for a, v in zip(d["activation"], d["variant"],
                                                    strict=True)])
    table = at.pivot_table(index="name", columns=["impl", "dtype", "mode"], values=value,
                           aggfunc="first", sort=False)
    return table.reindex(index=list(dict.fromkeys(at["name"])))


def sizes_timed(bench: pd.DataFrame) -> dict[str, int]:
    timed = bench[bench["status"] == "pass"]
    return {d: int(s) for d, s in timed.groupby("dtype")["size"].max().items()}


def untimed(bench: pd.DataFrame) -> pd.DataFrame:
    return bench.loc[bench["status"] != "pass",
                     ["impl", "activation", "variant", "dtype", "size", "mode", "status",
                      "detail"]].reset_index(drop=True)


def environment(envs: list[dict[str, Any]], bench: pd.DataFrame) -> pd.DataFrame:
    """One column per audit run and per device timed: what each ran on."""
    cols: dict[str, dict[str, str]] = {}
    for env in envs:
        flat = {k: v for k, v in env.items() if k not in ("run", "devices")}
        flat["devices"] = ", ".join(f"{d['platform']}:{d['id']} ({d['kind']})"
                                    for d in env.get("devices", []))
        cols[f"audit: {env['run']}"] = {k: str(v) for k, v in flat.items()}
    for platform, kind, part in devices(bench):
        first = part.iloc[0]
        cols[f"bench: {platform} ({kind})"] = {
            "processor": str(first["processor"]), "jax": str(first["jax"]),
            "jaxlib": str(first["jaxlib"]), "devices": f"{platform} ({kind})"}
    return pd.DataFrame(cols).fillna("")
