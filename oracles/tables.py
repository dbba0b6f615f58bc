"""Oracle tables: exact values and derivatives of an elementwise activation variant over a
format's inputs (`samples.inputs`), cached on disk and reused by every later run.

A table is a DataFrame, one row per input: ``x`` (float64), then for the value and the
derivative the exact double-double (``value_hi``, ``value_lo``) and the correctly rounded
result in the table's format (``value``). Tables are written as parquet, atomically (a
temporary file renamed into place), never with pickle; the file name carries a key over
the catalog entry's definition, the sample set and the versions of mpmath, python-flint
and actaudit, so a change to any of them builds a new table.

Work is split into chunks run by worker processes: a local process pool by default, or a
dask.distributed cluster given its scheduler address.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import platformdirs

from .. import catalog
from .._progress import progress as progress_bar
from ..catalog import Activation, Kind, variant_id
from . import samples
from .exact import evaluate
from .formats import FORMATS

SCHEMA = 1
# The oracle's own version, in every cache key: bump it when what `evaluate` returns
# changes (a fixed formula, another backend). SCHEMA is the table's layout; a catalog
# entry's definition is in its fingerprint. (Not the package's version: that changes with
# every commit.)
ORACLE = "0.1.0"
CHUNK = 2048
COLUMNS = ("value_hi", "value_lo", "value", "grad_hi", "grad_lo", "grad")


def cache_dir(given: str | os.PathLike | None = None) -> Path:
    """``given``, else $ACTAUDIT_CACHE, else the user cache directory."""
    path = given or os.environ.get("ACTAUDIT_CACHE") or platformdirs.user_cache_dir("actaudit")
    return Path(path)


def table_key(act: Activation, params: dict, dtype: str) -> str:
    """A hash of everything a table's contents depend on."""
    act = catalog.canonical(act)
    blob = json.dumps({
        "schema": SCHEMA, "samples": samples.version(FORMATS[dtype]), "entry": act.fingerprint(),
        "params": variant_id(act.math_params(act.resolve(params))), "dtype": dtype,
        "mpmath": version("mpmath"), "flint": version("python-flint"), "actaudit": ORACLE,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def table_path(act: Activation, params: dict, dtype: str, root: Path) -> Path:
    act = catalog.canonical(act)
    slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", variant_id(act.math_params(params))) or "default"
    return root / f"{act.name}-{slug}-{dtype}-{table_key(act, params, dtype)}.parquet"


def compute_chunk(name: str, params: dict, dtype: str, xs: np.ndarray) -> np.ndarray:
    """Oracle results for ``xs``: an (n, 6) array in the order of `COLUMNS`. Runs in a
    worker process."""
    act, fmt = catalog.get(name), (FORMATS[dtype],)
    out = np.empty((len(xs), 6), dtype=np.float64)
    for i, x in enumerate(xs.tolist()):
        v = evaluate(act, x, params, formats=fmt)
        g = evaluate(act, x, params, grad=True, formats=fmt)
        out[i] = v.hi, v.lo, v.rounded[dtype], g.hi, g.lo, g.rounded[dtype]
    return out


def atomic(path: Path, write: Callable[[str], object]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it into place: a
    reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` as parquet, atomically."""
    atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def _frame(xs: np.ndarray, results: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"x": xs})
    for i, col in enumerate(COLUMNS):
        df[col] = results[:, i]
    return df


@contextmanager
def _executor(workers: int | None, scheduler: str | None) -> Iterator[Executor | None]:
    """A dask cluster's executor for a scheduler address, else a local process pool;
    None (run in this process) for one worker."""
    if scheduler:
        from dask.distributed import Client

        with Client(scheduler) as client:
            yield client.get_executor(pure=False)
        return
    n = workers or os.cpu_count() or 1
    if n == 1:
        yield None
        return
    # spawned, not forked: forking a process that has started JAX's threads can deadlock
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=spawn) as pool:
        yield pool


def elementwise_variants(names: Iterable[str] | None = None) -> list[tuple[Activation, dict]]:
    """(entry, params) for every variant of the elementwise entries, aliases resolved to
    the entry they stand for and each distinct table listed once."""
    acts = ([catalog.get(n) for n in names] if names else
            [a for a in catalog.CATALOG.values() if a.kind is Kind.ELEMENTWISE])
    seen, out = set(), []
    for act in acts:
        if act.kind is not Kind.ELEMENTWISE:
            raise ValueError(f"{act.name} is not elementwise: it has no oracle table")
        base = catalog.canonical(act)
        for params in act.variants():
            key = (base.name, variant_id(base.resolve(params)))
            if key not in seen:
                seen.add(key)
                out.append((base, params))
    return out


def build_tables(
    names: Iterable[str] | None = None,
    dtypes: Sequence[str] = samples.EXHAUSTIVE,
    *,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Build every missing table (all elementwise variants by default) and return one row
    per table: activation, variant, dtype, rows, path, and whether it was cached."""
    root = _cache(cache_dir)
    for d in dtypes:
        if d not in FORMATS:
            raise ValueError(f"unknown dtype {d!r}; known: {', '.join(FORMATS)}")
    jobs, summary = [], []
    for act, params in elementwise_variants(names):
        for dtype in dtypes:
            path = table_path(act, params, dtype, root)
            summary.append({"activation": act.name, "variant": variant_id(params),
                            "dtype": dtype, "path": str(path), "cached": path.exists()})
            if not path.exists():
                jobs.append((act, params, dtype, path))
    start = time.perf_counter()
    _run(jobs, workers, scheduler, progress)
    for row in summary:
        row["rows"] = len(pd.read_parquet(row["path"], columns=["x"]))
    out = pd.DataFrame(summary, columns=["activation", "variant", "dtype", "rows", "cached",
                                         "path"])
    out.attrs["seconds"] = time.perf_counter() - start
    return out


def _run(jobs: list, workers: int | None, scheduler: str | None, progress: bool) -> None:
    if not jobs:
        return
    chunks, expected = {}, {}
    for j, (act, params, dtype, _) in enumerate(jobs):
        xs = samples.inputs(act, FORMATS[dtype], params)
        starts = range(0, len(xs), CHUNK)
        expected[j] = len(starts)
        for start in starts:
            chunks[(j, start)] = (act.name, params, dtype, xs[start:start + CHUNK])
    parts: dict[int, dict[int, np.ndarray]] = {j: {} for j in range(len(jobs))}
    total = sum(len(c[3]) for c in chunks.values())
    with _executor(workers, scheduler) as ex, progress_bar(
        total=total, unit="pt", desc="oracle tables", enabled=progress, smoothing=0.05,
    ) as bar:
        def done(key: tuple[int, int], result: np.ndarray) -> None:
            j, start = key
            parts[j][start] = result
            bar.update(len(result))
            if len(parts[j]) == expected[j]:  # the table is complete: save it now
                path = jobs[j][3]
                xs = np.concatenate([chunks[(j, s)][3] for s in sorted(parts[j])])
                write_atomic(_frame(xs, np.concatenate(
                    [parts[j][s] for s in sorted(parts[j])])), path)
                parts[j].clear()

        if ex is None:
            for key, args in chunks.items():
                done(key, compute_chunk(*args))
            return
        futures = {ex.submit(compute_chunk, *args): key for key, args in chunks.items()}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())


def _cache(given: str | os.PathLike | None) -> Path:
    root = cache_dir(given)
    root.mkdir(parents=True, exist_ok=True)
    return root


def table(
    name: str, params: dict | None = None, dtype: str = "float16", *,
    cache_dir: str | os.PathLike | None = None, workers: int | None = None,
) -> pd.DataFrame:
    """The oracle table of one variant in one format, built first if it is not cached."""
    act = catalog.get(name)
    params = dict(params or {})
    act.resolve(params)
    root = _cache(cache_dir)
    path = table_path(act, params, dtype, root)
    if not path.exists():
        _run([(catalog.canonical(act), params, dtype, path)], workers, None, progress=False)
    return pd.read_parquet(path)
