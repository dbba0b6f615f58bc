"""An audit: every check of every (implementation, activation, variant, dtype), as the
rows of summary.csv plus detailed results.

float64 runs with JAX's 64-bit mode switched on for the duration (`jax.enable_x64`); the
other dtypes run in JAX's default mode, as users run them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import jax
import pandas as pd

from .. import catalog, impl
from .._environment import describe
from .._progress import progress as progress_bar
from ..catalog import Activation, Kind, variant_id
from ..oracles import tables
from . import _curves, _elementwise, _vector, _worker
from ._call import TIMEOUT_S
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


def _skips(act: Activation, reason: str, checks: frozenset[str] | None,
           status: str = "skip") -> list[Finding]:
    """A row per check of ``act`` (of those wanted), each with ``status`` and ``reason``."""
    names = ELEMENTWISE_CHECKS if act.kind is Kind.ELEMENTWISE else VECTOR_CHECKS
    return [Finding(c, status, detail=reason) for c in names if checks is None or c in checks]


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
    timeout: float = TIMEOUT_S,
) -> Audit:
    """Every check of every (implementation, activation, variant, dtype) in ``specs`` ×
    ``names`` × variants × ``dtypes``, each implementation in a worker process of its own
    (`_worker`); a call into an implementation that runs over ``timeout`` seconds is
    stopped."""
    tol = tolerances or Tolerances()
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"unknown dtype {d!r}; known: {', '.join(DTYPES)}")
    if not 0 < timeout < math.inf:
        raise ValueError(f"the timeout must be a positive number of seconds, got {timeout!r}")
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
    cases = [(a, p, d) for a in acts for p in a.variants() for d in dtypes]
    same = impl.shared(impls, [a.name for a in acts])
    summary, details, curves = [], [], []
    bar = progress_bar(cases, desc="audit", unit="case", enabled=progress)
    for act, params, dtype in bar:
        bar.set_postfix_str(f"{act.name} {dtype}", refresh=False)
        found: dict[str, tuple[list[Finding], float]] = {}
        jobs = {}
        for im in impls:
            if im.get(act.name) is None:
                found[im.name] = (_skips(act, f"{im.name} does not provide {act.name}",
                                         wanted), 0.0)
            elif (im.name, act.name) not in same:
                jobs[im.name] = _worker.Job(act.name, params, dtype, tol, strict_subnormals,
                                            wanted, None if cache_dir is None
                                            else str(cache_dir), timeout)
        for name, outcome in _worker.run(jobs).items():  # a str: the worker was lost
            found[name] = ((_skips(act, outcome, wanted, "error"), 0.0)
                           if isinstance(outcome, str) else outcome)
        for im in impls:  # the same function as another SPEC's: its results
            owner = same.get((im.name, act.name))
            if owner is not None:
                found[im.name] = (_as_owner(found[owner][0], owner), 0.0)
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


def run_case(im: impl.Implementation, act: Activation, params: dict[str, Any], dtype: str,
             tol: Tolerances, strict_subnormals: bool, wanted: frozenset[str] | None,
             cache_dir: str | None) -> list[Finding]:
    """One implementation's findings for one (activation, variant, dtype) that it
    provides; run in its worker."""
    fn = im.get(act.name)
    with precision(dtype):
        if act.kind is Kind.ELEMENTWISE:
            table = tables.table(act.name, params, dtype, cache_dir=cache_dir)
            return _elementwise.check(im.name, fn, act, params, dtype, table, tol,
                                      strict_subnormals=strict_subnormals, checks=wanted)
        return _vector.check(im.name, fn, act, params, dtype, tol, checks=wanted)


def _as_owner(findings: list[Finding], owner: str) -> list[Finding]:
    """``owner``'s findings, for an implementation whose function is the same object."""
    note = f"the same function as {owner}'s: its results"
    return [dataclasses.replace(f, detail=f"{f.detail}; {note}" if f.detail else note)
            for f in findings]


def _extra(extra: dict[str, Any]) -> dict[str, Any]:
    keep = ("histogram", "n", "correctly_rounded", "tolerance", "repro", "vjp_jvp_disagree")
    return {k: extra.get(k) for k in keep}
