"""The report's tables, computed once from the runs' DataFrames and rendered twice (HTML
and Markdown), so that the two pages and summary.csv cannot disagree."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..bench import BASELINE
from ..checks._tolerances import DTYPES

# the checks summed up in each overview, and the one whose max_ulp colours it
GROUPS = {
    "value": ("accuracy", lambda c: not (c.startswith("gradient")
                                         or c == "subnormal:gradient")),
    "gradient": ("gradient", lambda c: c.startswith("gradient") or c == "subnormal:gradient"),
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
    `accuracy` (or `gradient`) check, the worst status of the cell's checks, and the
    checks that did not pass (for the cell's tooltip)."""
    main, member = GROUPS[what]
    rows = results[results["check"].map(member)].assign(
        name=lambda d: [name(a, v) for a, v in zip(d["activation"], d["variant"],
                                                    strict=True)],
        rank=lambda d: d["status"].map(SEVERITY.index))
    index = list(dict.fromkeys(rows["name"]))
    columns = pd.MultiIndex.from_tuples(
        [(d, i) for d in ordered(rows["dtype"], DTYPES)
         for i in dict.fromkeys(rows["impl"])], names=["dtype", "impl"])
    ulp = (rows[rows["check"] == main].pivot_table(index="name", columns=["dtype", "impl"],
                                                  values="max_ulp", aggfunc="max", dropna=False)
           .reindex(index=index, columns=columns))
    worst = (rows.groupby(["name", "dtype", "impl"])["rank"].max().map(lambda r: SEVERITY[r])
             .unstack(["dtype", "impl"]).reindex(index=index, columns=columns))
    notes = (rows[~rows["status"].isin(["pass", "skip"])]
             .assign(note=lambda d: d["check"] + ": " + d["status"])
             .groupby(["name", "dtype", "impl"])["note"].agg("; ".join)
             .unstack(["dtype", "impl"]).reindex(index=index, columns=columns))
    return ulp, worst, notes


def counts(results: pd.DataFrame) -> pd.DataFrame:
    """Checks per status, per implementation."""
    return (results.groupby(["impl", "status"]).size().unstack(fill_value=0)
            .reindex(columns=list(SEVERITY[1:] + SEVERITY[:1]), fill_value=0))


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """Every check that failed or errored, largest error first within an implementation."""
    bad = results[results["status"].isin(["fail", "error"])].copy()
    if "repro" not in bad:
        bad["repro"] = ""
    bad["repro"] = bad["repro"].fillna("")
    bad = bad.assign(_u=bad["max_ulp"].fillna(-1.0)).sort_values(
        ["impl", "_u", "activation", "variant", "dtype"], ascending=[True, False, True, True,
                                                                     True], kind="stable")
    return bad[FAILURE_COLUMNS].reset_index(drop=True)


def tolerances(results: pd.DataFrame) -> dict[tuple[str, str, str, str], float]:
    """(activation, variant, dtype, what) to the tolerance the audit applied."""
    if "tolerance" not in results:
        return {}
    rows = results[results["check"].isin(["accuracy", "gradient"])].dropna(
        subset=["tolerance"])
    return {(a, v, d, "value" if c == "accuracy" else "gradient"): float(t)
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
