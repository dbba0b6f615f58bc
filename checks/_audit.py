"""An audit: every check of every (implementation, activation, variant, dtype), as the
rows of summary.csv plus detailed results.

float64 runs with JAX's 64-bit mode switched on for the duration (`jax.enable_x64`); the
other dtypes run in JAX's default mode, as users run them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import jax
import pandas as pd
from tqdm import tqdm

from .. import catalog, impl
from ..catalog import Activation, Kind, variant_id
from ..oracles import tables
from . import _elementwise, _vector
from ._results import CATEGORIES, COLUMNS, Finding, frame
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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, details): summary has INTERFACE.md's columns; details adds, per row, the
    histogram, the share correctly rounded, the repro line, and timings."""
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
    summary, details = [], []
    # disable=None: no bar where stderr is not a terminal (CI logs)
    bar = tqdm(jobs, desc="audit", unit="case", disable=None if progress else True)
    for act, params, dtype in bar:
        bar.set_postfix_str(f"{act.name} {dtype}", refresh=False)
        table = None
        if act.kind is Kind.ELEMENTWISE:
            table = tables.table(act.name, params, dtype, cache_dir=cache_dir)
        for im in impls:
            fn = im.get(act.name)
            start = time.perf_counter()
            with precision(dtype):
                if fn is None:
                    found = _skips(act, f"{im.name} does not provide {act.name}", wanted)
                elif table is not None:
                    found = _elementwise.check(im.name, fn, act, params, dtype, table, tol,
                                               strict_subnormals=strict_subnormals,
                                               checks=wanted)
                else:
                    found = _vector.check(im.name, fn, act, params, dtype, tol, checks=wanted)
            seconds = time.perf_counter() - start
            key = {"impl": im.name, "activation": act.name, "variant": variant_id(params),
                   "dtype": dtype}
            for f in found:
                row = {**key, "check": f.check, "status": f.status, "max_ulp": f.max_ulp,
                       "worst_input": f.worst_input, "expected": f.expected, "got": f.got,
                       "detail": f.detail}
                summary.append(row)
                details.append({**row, "seconds": seconds, **_extra(f.extra)})
    out = frame(summary)
    detail_frame = pd.DataFrame(details)
    for col in COLUMNS:
        if col not in detail_frame:
            detail_frame[col] = pd.Series(dtype=object)
    return out, detail_frame


def _extra(extra: dict[str, Any]) -> dict[str, Any]:
    keep = ("histogram", "n", "correctly_rounded", "repro", "vjp_jvp_disagree")
    return {k: extra.get(k) for k in keep}
