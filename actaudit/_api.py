"""The Python entry points: `audit` (what ``actaudit audit`` runs) and `check` (one
assertion in a user's own test), and the `Result` they return."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from . import __version__
from .checks import Audit, Plan, Tolerances, load_tolerances, status_code, strictness
from .checks import write as write_tables
from .checks._baseline import SLACK, Baseline, Slack, counts
from .checks._baseline import claim as claim_baseline
from .checks._baseline import judge as judge_baseline
from .checks._baseline import load as load_baseline
from .checks._baseline import save as save_baseline
from .checks._call import TIMEOUT_S
from .checks._results import COLUMNS, FILES, KIND, explain, overview
from .checks._search import DEFAULT as SEARCH
from .checks._tolerances import DTYPES
from .impl import IN_MEMORY, Implementation

Impl = str | ModuleType | Mapping[str, Any] | Implementation
JSON_SUMMARY = "summary.json"  # beside summary.csv: counts and the verdict, for CI


@dataclass(frozen=True)
class Result:
    """An audit's results. ``frame``: one row per (impl, activation, variant, dtype,
    check), summary.csv's columns first, then the details (severity, repro line, ULP
    histogram, ...); ``status``: the exit status the command would give (0: nothing
    failed or errored, 1: something did); ``comparison``: with a baseline, each row
    against it (`actaudit.checks._baseline.compare`), else None."""

    tables: Audit
    comparison: pd.DataFrame | None = None
    found: pd.DataFrame | None = None  # with a baseline: summary.csv as the checks gave it

    @property
    def frame(self) -> pd.DataFrame:
        return self.tables.details

    @property
    def summary(self) -> pd.DataFrame:
        """summary.csv's table."""
        return self.tables.summary

    @property
    def findings(self) -> pd.DataFrame:
        """The rows that did not pass or skip (fail, error, warn), the worst first."""
        f = self.frame[self.frame["status"].isin(["fail", "error", "warn"])]
        order = f["status"].map({"fail": 0, "error": 0, "warn": 1})
        return f.assign(_o=order).sort_values(["_o", "max_ulp"], ascending=[True, False],
                                              na_position="last").drop(columns="_o")

    @property
    def status(self) -> int:
        return status_code(self.summary)

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def verdict(self) -> str:
        """"pass" where nothing failed or errored, else "fail"."""
        return "pass" if self.ok else "fail"

    @property
    def regressions(self) -> pd.DataFrame:
        """With a baseline: the rows that got worse; empty otherwise."""
        if self.comparison is None:
            return pd.DataFrame(columns=[*COLUMNS[:5], "change", "why"])
        return self.comparison[self.comparison["change"] == "regressed"]

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        n = self.summary["status"].value_counts()
        return {s: int(n.get(s, 0)) for s in ("pass", "fail", "warn", "error", "skip")}

    def json_summary(self) -> dict[str, Any]:
        """What a CI step reads: the verdict, the counts, and each failing row."""
        bad = self.summary[self.summary["status"].isin(["fail", "error"])]
        out: dict[str, Any] = {
            "actaudit": __version__, "status": self.status,
            "verdict": self.verdict, "counts": self.counts(),
            "failures": json.loads(bad.to_json(orient="records")),
        }
        if self.comparison is not None:
            changes = self.comparison["change"].value_counts()
            out["baseline"] = {c: int(v) for c, v in changes.items()}
        return out

    def __str__(self) -> str:
        text = overview(self.summary)
        if self.comparison is not None:
            text += f"\n\nagainst the baseline: {counts(self.comparison)}"
        return text

    def save(self, folder: str | os.PathLike, *, force: bool = False) -> Path:
        """Write summary.csv, summary.json and the detailed tables into ``folder``;
        refused (`actaudit._files.OutputError`) where it holds files actaudit did not
        write, unless ``force``."""
        from ._files import claim

        out = claim(folder, KIND, names=[*FILES.values(), JSON_SUMMARY], force=force)
        self.write(out)
        return out

    def write(self, out: Path) -> None:
        """The tables into ``out``, claimed already (`save` checks it first)."""
        from ._files import Folder

        write_tables(out, self.tables)
        text = json.dumps(self.json_summary(), indent=1)
        Folder(out, KIND).write({JSON_SUMMARY: lambda p: Path(p).write_text(text)})

    def to_html(self) -> str:
        """The report's page of these results (`actaudit report`), one self-contained
        HTML document: the plots inlined."""
        import base64
        import re

        from .reports import build

        with tempfile.TemporaryDirectory(prefix="actaudit-html-") as tmp:
            run = Path(tmp) / "run"
            self.save(run)
            made = build([run], Path(tmp) / "report", source="a Result of actaudit's API")
            html = made.index.read_text()

            def inline(m: re.Match[str]) -> str:
                data = base64.b64encode((made.folder / m.group(1)).read_bytes()).decode()
                return f'src="data:image/png;base64,{data}"'

            return re.sub(r'src="([^"]+\.png)"', inline, html)

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_baseline(self, path: str | os.PathLike, slack: Slack = SLACK) -> Path:
        """These results as a baseline file (`--save-baseline`): the rows as they were
        found, before any judging against an earlier baseline."""
        p = claim_baseline(path)
        save_baseline(p, self.unjudged, __version__, slack)
        return p

    @property
    def unjudged(self) -> pd.DataFrame:
        """summary.csv's rows as the checks gave them, before a baseline judged them."""
        return self.tables.summary if self.found is None else self.found


def tolerances_of(given: Tolerances | str | os.PathLike | Mapping[str, Any] | None
                  ) -> Tolerances:
    """Tolerances from a `Tolerances`, a TOML file, or a mapping of the file's shape,
    laid over the defaults and ``[tool.actaudit.tolerances]`` of ./pyproject.toml."""
    if isinstance(given, Tolerances):
        return given
    if isinstance(given, Mapping):
        return load_tolerances(None).merged(given, "tolerances")
    return load_tolerances(given)


def _names(given: str | Iterable[str] | None) -> list[str] | None:
    if given is None:
        return None
    items = given.split(",") if isinstance(given, str) else list(given)
    return [n.strip() for n in items if n.strip()] or None


def plan(impl: Impl | Sequence[Impl], only: str | Iterable[str] | None = None,
         dtypes: str | Iterable[str] | None = None, checks: str | Iterable[str] | None = None,
         tolerances: Tolerances | str | os.PathLike | Mapping[str, Any] | None = None, *,
         strict_subnormals: bool = False, strict_conventions: bool = False,
         timeout: float = TIMEOUT_S, exhaustive: str | None = None,
         search: str | None = SEARCH, isolate: bool = True, name: str | None = None,
         variant: dict[str, Any] | None = None) -> Plan:
    """The audit's settings checked, every implementation loaded: ValueError (KeyError
    for an unknown activation) saying what is wrong, before any work."""
    from .impl import of

    many = isinstance(impl, list | tuple)
    given = list(impl) if many else [impl]  # type: ignore[arg-type]
    impls = [of(i, name if not many else None) for i in given]
    return Plan.of(impls, _names(only), _names(dtypes) or list(DTYPES),
                   checks=_names(checks), tolerances=tolerances_of(tolerances),
                   strict=strictness(subnormals=strict_subnormals,
                                     conventions=strict_conventions),
                   timeout=timeout, exhaustive=exhaustive, search=search, isolate=isolate,
                   variant=variant)


def judged(tables: Audit, baseline: Baseline | None) -> Result:
    """``tables`` as a `Result`, judged against ``baseline`` where one is given."""
    if baseline is None:
        return Result(tables)
    summary, details, diff = judge_baseline(tables.summary, tables.details, baseline)
    return Result(tables._replace(summary=summary, details=details), diff, tables.summary)


def audit(impl: Impl | Sequence[Impl], only: str | Iterable[str] | None = None,
          dtypes: str | Iterable[str] | None = None,
          checks: str | Iterable[str] | None = None,
          tolerances: Tolerances | str | os.PathLike | Mapping[str, Any] | None = None, *,
          baseline: Baseline | str | os.PathLike | None = None,
          strict_subnormals: bool = False, strict_conventions: bool = False,
          search: str | None = SEARCH, timeout: float = TIMEOUT_S,
          cache_dir: str | os.PathLike | None = None, workers: int | None = None,
          progress: bool = False, isolate: bool = True, name: str | None = None) -> Result:
    """Audit ``impl`` against the oracle, as ``actaudit audit`` does.

    ``impl``: a SPEC string (``"reference"``, ``"jax.nn"``, ``"my_pkg.kernels"``,
    ``"path/to/file.py"``), a module, or a mapping of functions named like jax.nn's
    (``{"softplus": my_softplus}``, under ``name``), or a list of them. ``only``,
    ``dtypes``, ``checks``: names, as lists or comma-separated (all by default).
    ``tolerances``: a TOML file or a mapping of its shape, over the defaults.
    ``baseline``: a file written by `Result.save_baseline` (``--save-baseline``): only
    what got worse fails. ``isolate``: each implementation in worker processes of its
    own (the default: a crash or a hang of the implementation is an ``error`` row);
    False runs it in this process. Bad settings raise ValueError before any work."""
    p = plan(impl, only, dtypes, checks, tolerances, strict_subnormals=strict_subnormals,
             strict_conventions=strict_conventions, timeout=timeout, search=search,
             isolate=isolate, name=name)
    base = baseline if baseline is None or isinstance(baseline, Baseline) \
        else load_baseline(baseline)
    tables = p.run(cache_dir=cache_dir, workers=workers, progress=progress)
    return judged(tables, base)


def check(fn: Any, name: str, *, dtype: str = "float32", max_ulp: float | None = None,
          checks: str | Iterable[str] | None = "accuracy",
          tolerances: Tolerances | str | os.PathLike | Mapping[str, Any] | None = None,
          cache_dir: str | os.PathLike | None = None, **params: Any) -> Result:
    """Assert that ``fn`` computes activation ``name`` (with ``params``) in ``dtype``
    within ``max_ulp`` ULP of the correctly rounded value (the dtype's default
    tolerance where None): AssertionError otherwise, saying where and by how much.

    By default only the ``accuracy`` checks run (the value against the oracle); give
    ``checks=None`` for every check, or a list (``"accuracy,gradient"``). It runs in
    this process, with no worker: a function that hangs is abandoned after a timeout."""
    from .catalog import get

    act = get(name)
    tol = tolerances_of(tolerances)
    if max_ulp is not None:
        tol = tol.merged({"activations": {act.name: {"value": {dtype: max_ulp}}}},
                         "max_ulp")
    label = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "fn"
    mine = Implementation(label, {act.name: fn}, IN_MEMORY)  # in this process: not pickled
    p = plan(mine, [act.name], [dtype], checks, tol, search=None, isolate=False,
             variant=params)
    # one process: a missing oracle table is built here, not in a pool that a script
    # without a __main__ guard could not start
    result = judged(p.run(cache_dir=cache_dir, workers=1, progress=False), None)
    bad = result.frame[result.frame["status"].isin(["fail", "error"])]
    if len(bad):
        raise AssertionError("\n".join(explain(r) for _, r in bad.iterrows()))
    return result
