"""An audit: every check of every (implementation, activation, variant, dtype), as the
rows of summary.csv plus detailed results.

float64 runs with JAX's 64-bit mode switched on for the duration (`_call.precision`); the
other dtypes run in JAX's default mode, as users run them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import catalog, impl
from .._environment import describe
from .._progress import progress as progress_bar
from ..catalog import Activation, Kind, variant_id
from ..oracles import OracleError, tables
from . import (
    _curves,
    _elementwise,
    _exhaustive,
    _journal,
    _properties,
    _rows,
    _search,
    _vector,
    _worker,
)
from ._call import TIMEOUT_S, precision
from ._registry import BY_NAME, CATEGORIES, CHECKS, Severity, applying, declared
from ._results import COLUMNS, Audit, Finding, frame, settle
from ._tolerances import DTYPES, Tolerances


def select(names: Iterable[str] | None) -> list[Activation]:
    """Catalog entries by name (all by default); KeyError names the unknown one."""
    if not names:
        return list(catalog.CATALOG.values())
    return [catalog.get(n) for n in names]


def _skips(act: Activation, params: dict[str, Any], reason: str,
           checks: frozenset[str] | None, dtype: str, search: bool, status: str = "skip"
           ) -> list[Finding]:
    """A row per check of ``act`` at ``params`` in ``dtype`` (of those wanted, the
    search's with ``search``), each with ``status`` and ``reason``."""
    return [Finding(c.name, status, detail=reason)
            for c in applying(act, checks, search=search, dtype=dtype, params=params)]


def part(check: str, act: Activation) -> str:
    """The worker a check runs in, beside the case's others: "rows" (`_rows`, and a
    vector activation's properties, on the same rows), "search" (`_search`), else the
    case's main one."""
    if check in _rows.CHECKS or (check.startswith("property:") and _rows.applies(act)):
        return "rows"
    return "search" if declared(check).search else ""


def audit(
    specs: Sequence[str],
    names: Iterable[str] | None = None,
    dtypes: Sequence[str] = DTYPES,
    *,
    checks: Iterable[str] | None = None,
    tolerances: Tolerances | None = None,
    cache_dir: str | os.PathLike | None = None,
    strict_subnormals: bool = False,
    strict_conventions: bool = False,
    workers: int | None = None,
    progress: bool = True,
    timeout: float = TIMEOUT_S,
    journal: str | os.PathLike | None = None,
    exhaustive: str | None = None,
    scheduler: str | None = None,
    record: str | os.PathLike | None = None,
    search: str | None = _search.DEFAULT,
) -> Audit:
    """Every check of every (implementation, activation, variant, dtype) in ``specs`` ×
    ``names`` × variants × ``dtypes``, each implementation in a worker process of its own
    (`_worker`); a call into an implementation that runs over ``timeout`` seconds is
    stopped. With a ``journal`` folder, each finished case is kept there at once, and the
    cases an interrupted audit with the same settings finished are taken from it
    (`_journal`). A finding of a class the audit is ``strict_*`` about fails instead of
    warning (`_registry.LENIENT`). ``exhaustive="float32"``: every float32 input, on a Dask
    cluster (``scheduler``, else a LocalCluster of ``workers``), its finished chunks kept
    in ``record`` (`_exhaustive`). ``search``: the profile of hypothesis's search for
    the worst input (`_search.PROFILES`), None (or "off") for none. Bad arguments raise
    ValueError before any work starts."""
    plan = Plan.of(specs, names, dtypes, checks=checks, tolerances=tolerances,
                   strict=strictness(subnormals=strict_subnormals,
                                     conventions=strict_conventions), timeout=timeout,
                   exhaustive=exhaustive, search=search)
    book = plan.journal(journal) if journal is not None else None
    result = plan.run(cache_dir=cache_dir, workers=workers, progress=progress, journal=book,
                      scheduler=scheduler, record=record)
    if book is not None:
        book.close()
    return result


def strictness(*, subnormals: bool = False, conventions: bool = False) -> frozenset[Severity]:
    """The classes that fail instead of warning (``--strict-subnormals``, ...)."""
    on = {Severity.SUBNORMAL: subnormals, Severity.CONVENTION: conventions}
    return frozenset(s for s, wanted in on.items() if wanted)


@dataclasses.dataclass(frozen=True)
class Plan:
    """An audit's settings, checked: what `audit` runs."""

    impls: tuple[impl.Implementation, ...]
    acts: tuple[Activation, ...]
    dtypes: tuple[str, ...]
    checks: frozenset[str] | None
    tolerances: Tolerances
    strict: frozenset[Severity]
    timeout: float
    exhaustive: str | None = None  # "float32": every input of that dtype (`_exhaustive`)
    search: str | None = None  # the search's profile (`_search.PROFILES`)
    isolate: bool = True  # each implementation in worker processes; False: in this one
    variant: dict[str, Any] | None = None  # only this variant (of the only activation)

    @classmethod
    def of(cls, specs: Sequence[str | impl.Implementation], names: Iterable[str] | None = None,
           dtypes: Sequence[str] = DTYPES, *, checks: Iterable[str] | None = None,
           tolerances: Tolerances | None = None, strict: frozenset[Severity] = frozenset(),
           timeout: float = TIMEOUT_S, exhaustive: str | None = None,
           search: str | None = None, isolate: bool = True,
           variant: dict[str, Any] | None = None) -> Plan:
        """The settings, or ValueError (KeyError for an unknown activation) saying which
        one is wrong; every SPEC is loaded once, here (an `impl.Implementation` is taken
        as it is)."""
        if not specs:
            raise ValueError("no implementation given")
        if not dtypes:
            raise ValueError(f"no dtype given; known: {', '.join(DTYPES)}")
        for d in dtypes:
            if d not in DTYPES:
                raise ValueError(f"unknown dtype {d!r}; known: {', '.join(DTYPES)}")
        if not 0 < timeout < math.inf:
            raise ValueError(f"the timeout must be a positive number of seconds, got "
                             f"{timeout!r}")
        wanted = frozenset(checks) if checks else None
        for c in wanted or ():
            if c not in CATEGORIES and c not in BY_NAME:
                raise ValueError(f"unknown check {c!r}; known: {', '.join(CATEGORIES)}, or a "
                                 "check by name (gradient:second)")
        if exhaustive is not None and exhaustive != "float32":
            raise ValueError(f"--exhaustive takes float32 (every input of the 16-bit formats "
                             f"is always checked), got {exhaustive!r}")
        if exhaustive and "float32" not in dtypes:
            raise ValueError("--exhaustive float32 needs float32 among --dtypes")
        search = None if search == "off" else search
        if search is not None:
            _search.profile(search)
        if exhaustive and not isolate:
            raise ValueError("--exhaustive runs on Dask workers: it cannot run in-process")
        impls = tuple(impl.of(s) for s in specs)
        if exhaustive and any(im.payload for im in impls):
            raise ValueError("--exhaustive needs implementations its Dask workers can load "
                             "by SPEC: give a module or a SPEC, not functions in memory")
        names_seen = [im.name for im in impls]
        for n in names_seen:
            if names_seen.count(n) > 1:
                raise ValueError(f"two implementations named {n!r}: give each its own name")
        acts = tuple(select(names))
        if variant is not None:
            if len(acts) != 1:
                raise ValueError("a variant is given for one activation: name it alone")
            known = {p.name for p in acts[0].params}
            for k in variant:
                if k not in known:
                    raise ValueError(f"{acts[0].name} has no parameter {k!r} (parameters: "
                                     f"{', '.join(sorted(known)) or 'none'})")
            variant = {**acts[0].variants()[0], **variant}
        return cls(impls, acts, tuple(dict.fromkeys(dtypes)), wanted,
                   tolerances or Tolerances(), strict, timeout, exhaustive, search, isolate,
                   variant)

    def settings(self) -> dict[str, Any]:
        """What the results depend on, for the journal's key."""
        return {"acts": [a.name for a in self.acts], "dtypes": list(self.dtypes),
                "checks": sorted(self.checks or ()), "strict": sorted(s.key for s in self.strict),
                "timeout": self.timeout, "tolerances": [dict(self.tolerances.table),
                                                        dict(self.tolerances.activations)],
                "search": self.search,
                **({"variant": repr(self.variant)} if self.variant is not None else {})}

    def variants(self, act: Activation) -> list[dict[str, Any]]:
        """The parameter sets of ``act`` to audit: the given one, else every variant."""
        return [self.variant] if self.variant is not None else act.variants()

    def journal(self, folder: str | os.PathLike) -> _journal.Journal:
        """The journal of this audit's finished cases in ``folder``."""
        return _journal.Journal(folder, self.settings(), [im.name for im in self.impls])

    def record(self, folder: str | os.PathLike) -> _exhaustive.Record:
        """The record of an exhaustive run's finished chunks under ``folder``, in a
        subfolder keyed like the journal, so that other settings never reuse them."""
        book = _journal.key({**self.settings(), "exhaustive": self.exhaustive,
                             "chunk": _exhaustive.CHUNK, "version": _exhaustive.VERSION},
                            [im.name for im in self.impls])
        return _exhaustive.Record(Path(folder) / book)

    def run(self, *, cache_dir: str | os.PathLike | None = None, workers: int | None = None,
            progress: bool = True, journal: _journal.Journal | None = None,
            scheduler: str | None = None, record: str | os.PathLike | None = None,
            span: tuple[int, int] | None = None, chunk: int | None = None) -> Audit:
        """Every case, those in ``journal`` taken from it and the others recorded in it
        as each is done (the journal is left for the caller to close once the results
        are saved); with `exhaustive`, the float32 rows those runs give replaced by
        every input's, on a Dask cluster, with its chunks kept in ``record`` (``span``
        and ``chunk``: a range of bit patterns and the chunk size, for tests)."""
        impls, acts = list(self.impls), self.acts
        elementwise = [a.name for a in acts if a.kind is Kind.ELEMENTWISE]
        if elementwise:  # build what the cache lacks first, on every core
            tables.build_tables(elementwise, list(self.dtypes), cache_dir=cache_dir,
                                workers=workers, progress=progress,
                                second=any(c.name == "gradient:second" for a in acts
                                           for c in applying(a, self.checks)))
        if journal is not None and journal.finished():
            n = journal.finished()
            print(f"actaudit: resuming: {n} case{'s' if n != 1 else ''} finished by an "
                  f"interrupted run of the same audit (kept in {journal.root})",
                  file=sys.stderr)
        cases = [(a, p, d) for a in acts for p in self.variants(a) for d in self.dtypes]
        same = impl.shared(impls, [a.name for a in acts])
        details: list[dict[str, Any]] = []
        curves: list[pd.DataFrame] = []
        bar = progress_bar(cases, desc="audit", unit="case", enabled=progress)
        for act, params, dtype in bar:
            bar.set_postfix_str(f"{act.name} {dtype}", refresh=False)
            case = (act.name, variant_id(params), dtype)
            kept = journal.done(case) if journal is not None else None
            if kept is None:
                rows, curve = self._case(impls, same, act, params, dtype, cache_dir)
                if journal is not None:
                    journal.record(case, rows, curve)
            else:
                rows, curve = kept
            details += rows
            curves.append(curve)
        if self.exhaustive:
            details, curves = self._exhaustive(details, curves, same, scheduler, workers,
                                               progress, record, span, chunk)
        detail_frame = pd.DataFrame(details)
        for col in COLUMNS:
            if col not in detail_frame:
                detail_frame[col] = pd.Series(dtype=object)
        curves = [c for c in curves if len(c)]
        curve_frame = pd.concat(curves, ignore_index=True) if curves else _curves.empty()
        summary = frame([{k: row[k] for k in COLUMNS} for row in details])
        return Audit(summary, detail_frame, curve_frame, describe())

    def _case(self, impls: list[impl.Implementation], same: dict[tuple[str, str], str],
              act: Activation, params: dict[str, Any], dtype: str,
              cache_dir: str | os.PathLike | None) -> tuple[list[dict[str, Any]],
                                                            pd.DataFrame]:
        """One (activation, variant, dtype) for every implementation: the detailed rows,
        in the order the SPECs were given, and the curves."""
        wanted, search = self.checks, self.search is not None
        found: dict[str, tuple[list[Finding], float]] = {}
        jobs = {}
        # the checks on long rows, and the search, in workers of their own, beside the others
        applied = applying(act, wanted, search=search, dtype=dtype, params=params)
        rows = {c.name for c in applied} & _rows.CHECKS
        parts = tuple(dict.fromkeys(part(c.name, act) for c in applied)) or ("",)
        for im in impls:
            if im.get(act.name) is None:
                found[im.name] = (_skips(act, params, f"{im.name} does not provide "
                                         f"{act.name}", wanted, dtype, search), 0.0)
            elif (im.name, act.name) not in same:
                for p in parts:
                    jobs[_worker.key(im.name, p)] = _worker.Job(
                        act.name, params, dtype, self.tolerances, wanted,
                        None if cache_dir is None else str(cache_dir), self.timeout, p,
                        self.search)
        if jobs and act.kind is not Kind.ELEMENTWISE:  # the truth once, for every worker
            # an answer the oracle cannot give stops no audit: the workers meet it again,
            # and the checks that need it are `error` rows that say so
            with precision(dtype), contextlib.suppress(OracleError):
                _vector.prefill(act, params, dtype, cache_dir,
                                second=any(c.name == "gradient:second" for c in applied))
                if rows:
                    _rows.prefill(act, params, dtype, cache_dir,
                                  grad="gradient:rows" in rows)
        outcomes = (_worker.run(jobs, {im.name: im.payload for im in impls if im.payload})
                    if self.isolate else _worker.inline(jobs, {im.name: im for im in impls}))
        for im in impls:
            done = [(p, outcomes[_worker.key(im.name, p)]) for p in parts
                    if _worker.key(im.name, p) in outcomes]
            if done:  # the parts' findings, in the order of the checks; the longer time
                found[im.name] = _merged(act, params, wanted, dtype, search, done)
        for im in impls:  # the same function as another SPEC's: its results
            owner = same.get((im.name, act.name))
            if owner is not None:
                found[im.name] = (_as_owner(found[owner][0], owner), 0.0)
        rows, curves = [], []
        for im in impls:
            key = {"impl": im.name, "activation": act.name, "variant": variant_id(params),
                   "dtype": dtype}
            out, seconds = found[im.name]
            if im.origin == impl.IN_MEMORY:
                out = _unrunnable(out, im.name)
            more_rows, more_curves = self._rows(key, out, seconds)
            rows += more_rows
            curves += more_curves
        return rows, (pd.concat(curves, ignore_index=True) if curves else _curves.empty())

    def _rows(self, key: dict[str, Any], out: list[Finding], seconds: float,
              ) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
        """The detailed rows of one implementation's findings for the case ``key``, their
        statuses settled, and their curves."""
        settle(out, self.strict)
        rows, curves = [], []
        for f in out:
            rows.append({**key, "check": f.check, "status": f.status,
                         "max_ulp": f.max_ulp, "worst_input": f.worst_input,
                         "expected": f.expected, "got": f.got, "detail": f.detail,
                         "severity": f.severity.key if f.severity else None,
                         "seconds": seconds, **_extra(f.extra)})
            if "curve" in f.extra:
                curves.append(_curves.frame(key, f.check, *f.extra["curve"]))
        return rows, curves

    def _exhaustive(self, details: list[dict[str, Any]], curves: list[pd.DataFrame],
                    same: dict[tuple[str, str], str], scheduler: str | None,
                    workers: int | None, progress: bool,
                    record: str | os.PathLike | None, span: tuple[int, int] | None = None,
                    chunk: int | None = None,
                    ) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
        """``details`` and ``curves`` with the float32 rows of the exhaustive checks in
        place of the sampled ones, for every elementwise case an implementation provides
        (one whose function is another SPEC's takes that one's rows)."""
        import tempfile

        targets, owners = [], {}
        for act in (a for a in self.acts if a.kind is Kind.ELEMENTWISE):
            for params in self.variants(act):
                case = _elementwise.Case("", act, params, "float32", self.tolerances,
                                         self.checks)
                names = tuple(c for c in _exhaustive.CHECKS if c in case.names())
                for im in self.impls:
                    if im.get(act.name) is None or not names:
                        continue
                    owner = same.get((im.name, act.name))
                    if owner is not None:
                        owners[(im.name, act.name, variant_id(params))] = owner
                        continue
                    targets.append(_exhaustive.Target(
                        im.name, act, dict(params),
                        {w: case.limit(w) for w in ("value", "gradient", "second")}, names))
        if not targets:
            return details, curves
        with contextlib.ExitStack() as stack:
            folder = record if record is not None else stack.enter_context(
                tempfile.TemporaryDirectory(prefix="actaudit-exhaustive-"))
            found = _exhaustive.run_all(targets, self.record(folder), timeout=self.timeout,
                                        scheduler=scheduler, workers=workers,
                                        progress=progress, span=span or (0, _exhaustive.TOTAL),
                                        size=chunk or _exhaustive.CHUNK)
        by_case = {(t.spec, t.act.name, variant_id(t.params)): found[t.slug] for t in targets}
        for (name, act_name, variant), owner in owners.items():
            if (owner, act_name, variant) in by_case:
                f, stats = by_case[(owner, act_name, variant)]
                by_case[(name, act_name, variant)] = (_as_owner(f, owner), stats)
        replaced = {(i, a, v, c) for (i, a, v), (f, _) in by_case.items() for c in
                    (x.check for x in f)}
        keep = [r for r in details if r["dtype"] != "float32" or
                (r["impl"], r["activation"], r["variant"], r["check"]) not in replaced]
        new_rows, new_curves = [], []
        for (name, act_name, variant), (f, stats) in by_case.items():
            key = {"impl": name, "activation": act_name, "variant": variant, "dtype": "float32"}
            rows, cs = self._rows(key, f, float(stats.get("seconds", {}).get("total", 0.0)))
            for r in rows:
                r["exhaustive"] = True
                r["escalated"] = stats.get("escalated", {}).get(_exhaustive.column(r["check"]))
            new_rows += rows
            new_curves += cs
        order = {(r["impl"], r["activation"], r["variant"], r["dtype"], r["check"]): i
                 for i, r in enumerate(details)}
        merged = sorted(keep + new_rows, key=lambda r: order.get(
            (r["impl"], r["activation"], r["variant"], r["dtype"], r["check"]), len(order)))
        dropped = {(k["impl"], k["activation"], k["variant"], "float32") for k in new_rows}
        case_of = ["impl", "activation", "variant", "dtype"]
        kept_curves = [c[~pd.MultiIndex.from_frame(c[case_of].astype(str)).isin(list(dropped))]
                       if len(c) else c for c in curves]
        return merged, kept_curves + new_curves


def run_case(im: impl.Implementation, act: Activation, params: dict[str, Any], dtype: str,
             tol: Tolerances, wanted: frozenset[str] | None,
             cache_dir: str | None, part: str = "", search: str | None = None
             ) -> list[Finding]:
    """One implementation's findings for one (activation, variant, dtype) that it
    provides; run in its worker. Their statuses are settled by the caller (`settle`).
    ``part`` (`part`): "rows", only the checks on long rows; "search", the search's
    (with the profile ``search``); "", the others."""
    fn = im.get(act.name)
    case = _elementwise.Case(im.name, act, params, dtype, tol, wanted, cache_dir,
                             search if part == "search" else None)
    with precision(dtype):
        if part == "search":
            return _search.check(case, fn)
        if act.kind is Kind.ELEMENTWISE:
            table = tables.table(act.name, params, dtype, cache_dir=cache_dir)
            second = (tables.table(act.name, params, dtype, cache_dir=cache_dir, second=True)
                      if _elementwise.SECOND in case.names() else None)
            return (_elementwise.check(case, fn, table, second)
                    + _properties.on_table(case, im.get, table["x"].to_numpy(),
                                           _elementwise.judged(case, table)))
        if part == "rows":
            return _rows.check(case, fn) + _properties.on_rows(case, im.get)
        found = _vector.check(case, fn)
        if act.kind is Kind.INDEX:
            found += _properties.on_slices(case, im.get, _vector.batch(act, params,
                                                                       case.fmt).xs)
        return found


def _merged(act: Activation, params: dict[str, Any], wanted: frozenset[str] | None,
            dtype: str, search: bool, done: list[tuple[str, _worker.Outcome]]
            ) -> tuple[list[Finding], float]:
    """One case's findings from the outcomes of its parts (a str: that part's worker was
    lost, and its checks are `error` rows), in the order of the checks."""
    findings, seconds = [], 0.0
    for p, outcome in done:
        if isinstance(outcome, str):
            lost = _skips(act, params, outcome, wanted, dtype, search, "error")
            findings += [f for f in lost if part(f.check, act) == p]
        else:
            findings += outcome[0]
            seconds = max(seconds, outcome[1])
    order = {c.name: i for i, c in enumerate(CHECKS)}
    return sorted(findings, key=lambda f: order.get(f.check, len(order))), seconds


def _as_owner(findings: list[Finding], owner: str) -> list[Finding]:
    """``owner``'s findings, for an implementation whose function is the same object."""
    note = f"the same function as {owner}'s: its results"
    return [dataclasses.replace(f, detail=f"{f.detail}; {note}" if f.detail else note,
                                extra={**f.extra, "same_as": owner}) for f in findings]


def _unrunnable(findings: list[Finding], name: str) -> list[Finding]:
    """An implementation given in memory has no SPEC a shell could load: its repro lines
    keep the oracle's half, and say to call its own function at the input."""
    for f in findings:
        line = f.extra.get("repro")
        if line and 'python -c "' in line:
            oracle = line.partition('python -c "')[0].rstrip("; ")
            call = f"then call {name} at {f.worst_input}, as the {f.check} check does"
            f.extra["repro"] = f"{oracle}  # {call}" if oracle else f"# {call}"
    return findings


def _extra(extra: dict[str, Any]) -> dict[str, Any]:
    keep = ("histogram", "n", "correctly_rounded", "tolerance", "repro", "vjp_jvp_disagree",
            "same_as")
    return {k: extra.get(k) for k in keep}
