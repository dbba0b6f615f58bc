"""An audit: every check of every (implementation, activation, variant, dtype), as the
rows of summary.csv plus detailed results.

float64 runs with JAX's 64-bit mode switched on for the duration (`jax.enable_x64`); the
other dtypes run in JAX's default mode, as users run them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import jax
import pandas as pd

from .. import catalog, impl
from .._environment import describe
from .._progress import progress as progress_bar
from ..catalog import Activation, Kind, variant_id
from ..oracles import tables
from . import _curves, _elementwise, _vector
from ._results import CATEGORIES, COLUMNS, Audit, Finding, frame
from ._tolerances import DTYPES, Tolerances

ELEMENTWISE_CHECKS = ("accuracy", "subnormal", "special", "gradient", "dtype", "transform",
                      "property")
VECTOR_CHECKS = ("accuracy", "special", "gradient", "dtype", "transform")


def select(names: Iterable[str] | None) -> list[Activation]:
    """Catalog entries by name (all by default); KeyError names the unknown one."""
    if not names:
        return list(catalog.CATALOG.values())
    return [catalog.get(n) for n in names]


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    if dtype == "float64":
        with jax.enable_x64(True):
            yield
    else:
        yield


def _skips(act: Activation, reason: str, checks: frozenset[str] | None) -> list[Finding]:
    names = ELEMENTWISE_CHECKS if act.kind is Kind.ELEMENTWISE else VECTOR_CHECKS
    return [Finding(c, "skip", detail=reason) for c in names if checks is None or c in checks]


def audit(
    specs: Sequence[str],
    names: Iterable[str] | None = None,
    dtypes: Sequence[str] = DTYPES,
    *,
    checks: Iterable[str] | None = None,
    tolerances: Tolerances | None = None,
    cache_dir: str | os.PathLike | None = None,
    strict_subnormals: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> Audit:
    """Every check of every (implementation, activation, variant, dtype) in ``specs`` ×
    ``names`` × variants × ``dtypes``."""
    tol = tolerances or Tolerances()
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"unknown dtype {d!r}; known: {', '.join(DTYPES)}")
    wanted = frozenset(checks) if checks else None
    for c in wanted or ():
        if c not in CATEGORIES:
            raise ValueError(f"unknown check {c!r}; known: {', '.join(CATEGORIES)}")
    impls = [impl.load(s) for s in specs]
    acts = select(names)
    elementwise = [a.name for a in acts if a.kind is Kind.ELEMENTWISE]
    if elementwise:  # build what the cache lacks first, on every core
        tables.build_tables(elementwise, list(dtypes), cache_dir=cache_dir, workers=workers,
                            progress=progress)
    jobs = [(a, p, d) for a in acts for p in a.variants() for d in dtypes]
    same = impl.shared(impls, [a.name for a in acts])
    summary, details, curves = [], [], []
    bar = progress_bar(jobs, desc="audit", unit="case", enabled=progress)
    for act, params, dtype in bar:
        bar.set_postfix_str(f"{act.name} {dtype}", refresh=False)
        table = None
        if act.kind is Kind.ELEMENTWISE:
            table = tables.table(act.name, params, dtype, cache_dir=cache_dir)
        found: dict[str, tuple[list[Finding], float]] = {}
        # owners first: an implementation that shares another's function takes its results
        for im in sorted(impls, key=lambda im: (im.name, act.name) in same):
            owner = same.get((im.name, act.name))
            if owner is not None:
                found[im.name] = (_as_owner(found[owner][0], owner), 0.0)
                continue
            start = time.perf_counter()
            out = _check(im.name, im.get(act.name), act, params, dtype, table, tol,
                         strict_subnormals, wanted)
            found[im.name] = (out, time.perf_counter() - start)
        for im in impls:  # rows in the order the SPECs were given
            key = {"impl": im.name, "activation": act.name, "variant": variant_id(params),
                   "dtype": dtype}
            out, seconds = found[im.name]
            for f in out:
                row = {**key, "check": f.check, "status": f.status, "max_ulp": f.max_ulp,
                       "worst_input": f.worst_input, "expected": f.expected, "got": f.got,
                       "detail": f.detail}
                summary.append(row)
                details.append({**row, "seconds": seconds, **_extra(f.extra)})
                if "curve" in f.extra:
                    curves.append(_curves.frame(key, f.check, *f.extra["curve"]))
    detail_frame = pd.DataFrame(details)
    for col in COLUMNS:
        if col not in detail_frame:
            detail_frame[col] = pd.Series(dtype=object)
    curve_frame = pd.concat(curves, ignore_index=True) if curves else _curves.empty()
    return Audit(frame(summary), detail_frame, curve_frame, describe())


def _check(name: str, fn: Any, act: Activation, params: dict[str, Any], dtype: str,
           table: pd.DataFrame | None, tol: Tolerances, strict_subnormals: bool,
           wanted: frozenset[str] | None) -> list[Finding]:
    """One implementation's findings for one (activation, variant, dtype)."""
    if fn is None:
        return _skips(act, f"{name} does not provide {act.name}", wanted)
    with precision(dtype):
        if table is not None:
            return _elementwise.check(name, fn, act, params, dtype, table, tol,
                                      strict_subnormals=strict_subnormals, checks=wanted)
        return _vector.check(name, fn, act, params, dtype, tol, checks=wanted)


def _as_owner(findings: list[Finding], owner: str) -> list[Finding]:
    """``owner``'s findings, for an implementation whose function is the same object."""
    note = f"the same function as {owner}'s: its results"
    return [dataclasses.replace(f, detail=f"{f.detail}; {note}" if f.detail else note)
            for f in findings]


def _extra(extra: dict[str, Any]) -> dict[str, Any]:
    keep = ("histogram", "n", "correctly_rounded", "tolerance", "repro", "vjp_jvp_disagree")
    return {k: extra.get(k) for k in keep}
