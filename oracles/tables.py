"""Oracle tables: exact values and derivatives of an elementwise activation variant over a
format's inputs (`samples.inputs`), cached on disk and reused by every later run.

A table is a DataFrame, one row per input: ``x`` (float64), then for the value and the
derivative the double-double (``value_hi``, ``value_lo``: the correctly rounded float64
and the remainder, together within 2**-105 of the exact value, relative, or within the
float64 subnormal spacing below the normal range) and the correctly rounded result in the
table's format (``value``). The second derivative has tables of its own, over the same
inputs (``second_hi``, ``second_lo``, ``second``), so that the first ones, and what they
cost, are kept as they are. Tables are written as parquet, atomically (a temporary file
renamed into place), never with pickle.

The file name carries a key over what the values are a function of, and nothing else: the
catalog entry's definition (its formulas with every helper and constant they use, its
limits, kinks and breakpoints: `catalog._fingerprint`; not its documentation), the
variant, the sampler's code for the sampled formats, the table's layout and the oracle's
version (the engine's code is keyed by ``ORACLE``, bumped by hand).
Not the versions of mpmath and python-flint: a certified, correctly rounded value is a
fact about the definition, which no library version changes (Arb certifies it and mpmath
must agree, or the oracle raises); the versions that built a table are recorded in it.

Each file also records the SHA-256 of its columns, checked whenever it is read: a table
that is truncated, corrupt or edited is rebuilt, with a warning that names it
(`DamagedTable`), never used.

Work is split into chunks run by worker processes: a local process pool by default, or a
dask.distributed cluster given its scheduler address.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import re
import signal
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platformdirs
import pyarrow as pa
import pyarrow.parquet as pq

from .. import catalog
from .._files import atomic
from .._progress import progress as progress_bar
from ..catalog import Activation, Kind, _fingerprint, variant_id
from . import filter as boxes
from . import samples
from .engine import Exact
from .exact import evaluate
from .formats import FORMATS, Format

SCHEMA = 2  # 2: a checksum in every file, no library versions in the key
# The oracle's own version, in every cache key: bump it when what `evaluate` returns
# changes (a fixed formula, another backend). SCHEMA is the table's layout; a catalog
# entry's definition is in its fingerprint. (Not the package's version: that changes with
# every commit.)
ORACLE = "0.2.0"  # 0.2.0: zero signs certified, hi + lo a double-double, Offsets
CHUNK = 2048
COLUMNS = ("value_hi", "value_lo", "value", "grad_hi", "grad_lo", "grad")
SECOND = ("second_hi", "second_lo", "second")  # a second-derivative table's columns


def columns(second: bool = False) -> tuple[str, ...]:
    return SECOND if second else COLUMNS


def cache_dir(given: str | os.PathLike | None = None) -> Path:
    """``given``, else $ACTAUDIT_CACHE, else the user cache directory."""
    path = given or os.environ.get("ACTAUDIT_CACHE") or platformdirs.user_cache_dir("actaudit")
    return Path(path)


def _key(act: Activation, params: dict, dtype: str, **more: Any) -> str:
    """A hash of what an oracle answer depends on: the entry's definition, the parameters
    that change values, the format, the layout and the oracle's version (and ``more``)."""
    blob = json.dumps({
        "schema": SCHEMA, "entry": act.fingerprint(), "dtype": dtype, "actaudit": ORACLE,
        "params": variant_id(act.math_params(act.resolve(params))), **more,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def table_key(act: Activation, params: dict, dtype: str, second: bool = False) -> str:
    """A hash of everything a table's contents depend on, its inputs included (for the
    second derivative's table, also what defines that: `Activation.second_fingerprint`)."""
    act = catalog.canonical(act)
    more = {"second": act.second_fingerprint()} if second else {}
    return _key(act, params, dtype, samples=samples.version(FORMATS[dtype]),
                sampler="" if dtype in samples.EXHAUSTIVE else _fingerprint.module(samples),
                **more)


def table_path(act: Activation, params: dict, dtype: str, root: Path,
               second: bool = False) -> Path:
    act = catalog.canonical(act)
    slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", variant_id(act.math_params(params))) or "default"
    kind = "-second" if second else ""
    return root / (f"{act.name}-{slug}-{dtype}{kind}-{table_key(act, params, dtype, second)}"
                   ".parquet")


def compute_chunk(name: str, params: dict, dtype: str, xs: np.ndarray, second: bool = False,
                  ) -> np.ndarray:
    """Oracle results for ``xs``: an (n, 6) array in the order of `COLUMNS` (with
    ``second``, (n, 3) in that of `SECOND`). Runs in a worker process. The filter's
    roundings witness Arb's where they decide them, in place of mpmath's cross-check
    (`engine.decide`): the same certified values, every table of an empty cache in 0.72
    of the time."""
    act, fmt = catalog.get(name), (FORMATS[dtype],)
    orders = (2,) if second else (0, 1)
    out = np.empty((len(xs), 3 * len(orders)), dtype=np.float64)
    for k, order in enumerate(orders):
        witness = _witnesses(act, params, FORMATS[dtype], xs, order)
        for i, x in enumerate(xs.tolist()):
            e = evaluate(act, x, params, order=order, formats=fmt, witness=witness[i])
            out[i, 3 * k:3 * k + 3] = e.hi, e.lo, e.rounded[dtype]
    return out


def _witnesses(act: Activation, params: dict, fmt: Format, xs: np.ndarray, order: int,
               ) -> list[dict[str, float] | None]:
    """The filter's rounding to ``fmt`` of the value, derivative or second derivative
    (``order``) at each finite input where its box decides one, else None."""
    out: list[dict[str, float] | None] = [None] * len(xs)
    finite = np.flatnonzero(np.isfinite(xs))
    rounded, decided = boxes.decide(boxes.enclose(act, xs[finite], params, fmt.name,
                                                  order=order), fmt)
    for i, r in zip(finite[decided].tolist(), rounded[decided].tolist(), strict=True):
        out[i] = {fmt.name: r}
    return out


class DamagedTable(UserWarning):
    """A cached table that could not be read, or whose contents do not match the checksum
    written with it: it is rebuilt."""


META = b"actaudit"


def checksum(df: pd.DataFrame) -> str:
    """SHA-256 over the table's columns, names and float64 bytes, in order (every NaN as
    one NaN: parquet keeps no payloads)."""
    digest = hashlib.sha256()
    for col in df.columns:
        values = df[col].to_numpy(np.float64)
        values = np.where(np.isnan(values), np.nan, values).astype("<f8")
        digest.update(col.encode() + b"\0" + values.tobytes())
    return digest.hexdigest()


def write_table(df: pd.DataFrame, path: Path) -> None:
    """``df`` as parquet, atomically, with its checksum and the versions that built it."""
    meta = {"sha256": checksum(df), "rows": len(df), "schema": SCHEMA, "oracle": ORACLE,
            "mpmath": version("mpmath"), "python-flint": version("python-flint")}
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           META: json.dumps(meta).encode()})
    atomic(path, lambda tmp: pq.write_table(arrow, tmp))


def read_table(path: Path) -> pd.DataFrame:
    """A cached table, checked against its checksum; `DamagedTable` (raised, as an
    exception) naming what is wrong where it cannot be read or does not match."""
    try:
        arrow = pq.read_table(path)
        meta = json.loads((arrow.schema.metadata or {}).get(META, b"{}"))
        df = arrow.to_pandas()
    except (OSError, ValueError, pa.ArrowException) as e:  # truncated, corrupt, not parquet
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DamagedTable(f"{path}: unreadable ({first})") from None
    if list(df.columns) not in (["x", *COLUMNS], ["x", *SECOND]) or "sha256" not in meta:
        raise DamagedTable(f"{path}: not an oracle table of this layout")
    if checksum(df) != meta["sha256"]:
        raise DamagedTable(f"{path}: its contents do not match the checksum written with it")
    return df


def _cached(path: Path) -> pd.DataFrame | None:
    """The table at ``path`` if it is there and sound; a damaged one is reported (a
    `DamagedTable` warning) and None returned, so that it is rebuilt."""
    if not path.exists():
        return None
    try:
        return read_table(path)
    except DamagedTable as e:
        warnings.warn(DamagedTable(f"the oracle table {e}; rebuilding it"), stacklevel=3)
        return None


def _frame(xs: np.ndarray, results: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"x": xs})
    for i, col in enumerate(columns(results.shape[1] == len(SECOND))):
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
    pool = ProcessPoolExecutor(max_workers=n, mp_context=spawn, initializer=_quiet_worker)
    try:
        yield pool
    except BaseException:
        # Ctrl-C or an error: the chunks not begun are dropped and the workers end now,
        # not after every chunk queued (as leaving the executor's `with` would wait for)
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown()


def _quiet_worker() -> None:
    """A pool worker leaves Ctrl-C to its parent, which ends it: no traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    second: bool = False,
) -> pd.DataFrame:
    """Build every missing table (all elementwise variants by default; with ``second``
    the second derivative's tables too) and return one row per table: activation,
    variant, dtype, what it holds, rows, path, and whether it was cached."""
    root = _cache(cache_dir)
    for d in dtypes:
        if d not in FORMATS:
            raise ValueError(f"unknown dtype {d!r}; known: {', '.join(FORMATS)}")
    jobs, summary = [], []
    for act, params in elementwise_variants(names):
        for dtype, kind in itertools.product(dtypes, (False, True) if second else (False,)):
            path = table_path(act, params, dtype, root, kind)
            found = _cached(path)
            summary.append({"activation": act.name, "variant": variant_id(params),
                            "dtype": dtype, "holds": "second" if kind else "value, grad",
                            "path": str(path), "cached": found is not None,
                            "rows": None if found is None else len(found)})
            if found is None:
                jobs.append((act, params, dtype, path, kind))
    start = time.perf_counter()
    _run(jobs, workers, scheduler, progress)
    for row in summary:
        if row["rows"] is None:
            row["rows"] = len(read_table(Path(row["path"])))
    out = pd.DataFrame(summary, columns=["activation", "variant", "dtype", "holds", "rows",
                                         "cached", "path"])
    out.attrs["seconds"] = time.perf_counter() - start
    return out


def _run(jobs: list, workers: int | None, scheduler: str | None, progress: bool) -> None:
    if not jobs:
        return
    chunks, expected = {}, {}
    for j, (act, params, dtype, _, second) in enumerate(jobs):
        xs = samples.inputs(act, FORMATS[dtype], params)
        starts = range(0, len(xs), CHUNK)
        expected[j] = len(starts)
        for start in starts:
            chunks[(j, start)] = (act.name, params, dtype, xs[start:start + CHUNK], second)
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
                write_table(_frame(xs, np.concatenate(
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
    second: bool = False,
) -> pd.DataFrame:
    """The oracle table of one variant in one format (with ``second``, its second
    derivative's), built first if it is not cached."""
    act = catalog.get(name)
    params = dict(params or {})
    act.resolve(params)
    root = _cache(cache_dir)
    path = table_path(act, params, dtype, root, second)
    found = _cached(path)
    if found is None:
        _run([(catalog.canonical(act), params, dtype, path, second)], workers, None,
             progress=False)
        found = read_table(path)
    return found


class SliceAnswers:
    """The oracle's answers for the slices of one vector variant in one format (softmax,
    logsumexp, ...: no table of inputs, a fixed set of slices), kept in the cache as JSON
    beside the tables, under a key like theirs: computed once per audit (and per cache),
    not once per implementation's worker. `get` computes what the file lacks; `save`
    writes it back atomically if anything was added. A damaged file is recomputed."""

    def __init__(self, act: Activation, params: dict, dtype: str,
                 cache: str | os.PathLike | None = None):
        self.act, self.fmt = catalog.canonical(act), FORMATS[dtype]
        # the parameters that change values: axis and keepdims variants share answers
        self.params = self.act.math_params(self.act.resolve(params))
        key = _key(self.act, self.params, dtype, kind="slices")
        self.path = _cache(cache) / f"{self.act.name}-slices-{dtype}-{key}.json"
        self.answers: dict[str, Any] = {}
        self.added = False
        if self.path.exists():
            try:
                self.answers = json.loads(self.path.read_text())["answers"]
            except (ValueError, KeyError, TypeError):
                warnings.warn(DamagedTable(f"the oracle's slice answers {self.path} are "
                                           "damaged; computing them again"), stacklevel=2)

    def get(self, xs: np.ndarray, grad: bool, along: np.ndarray | None = None) -> Any:
        """The `evaluate` answer for the slice ``xs`` (value, or Jacobian with ``grad``;
        with ``along``, the Jacobian's derivative along that direction: rows of
        Hessian-vector products)."""
        k = f"{'grad' if grad else 'value'}:{np.asarray(xs, np.float64).tobytes().hex()}"
        if along is not None:
            k = f"second:{np.asarray(along, np.float64).tobytes().hex()}:{k}"
        if k not in self.answers:
            found = evaluate(self.act, np.asarray(xs).tolist(), self.params,
                             order=2 if along is not None else int(grad),
                             along=None if along is None else np.asarray(along).tolist(),
                             formats=(self.fmt,))
            self.answers[k] = _tree(found, lambda e: [e.hi, e.lo, e.rounded[self.fmt.name]])
            self.added = True
        return _tree(self.answers[k], lambda v: Exact(v[0], v[1], {self.fmt.name: v[2]}),
                     leaf=lambda v: isinstance(v, list) and len(v) == 3
                     and not isinstance(v[0], list))

    def save(self) -> None:
        if self.added:
            text = json.dumps({"answers": self.answers})
            atomic(self.path, lambda p: Path(p).write_text(text))
            self.added = False


def _tree(tree: Any, fn: Any, leaf: Any = None) -> Any:
    """``fn`` on each leaf of a nested list (an `Exact` by default)."""
    is_leaf = leaf or (lambda v: not isinstance(v, list))
    return fn(tree) if is_leaf(tree) else [_tree(t, fn, leaf) for t in tree]


ROW_COLUMNS = ("hi", "lo", "rounded")


def compute_row(name: str, params: dict, dtype: str, xs: list[float], grad: bool
                ) -> np.ndarray:
    """The oracle's answer for one row of a vector activation: its outputs' (hi, lo,
    rounded) as an (n, 3) array, or with ``grad`` the first output's Jacobian row (a
    reduction's gradient). Runs in a worker process."""
    found = evaluate(catalog.get(name), xs, params, grad=grad, formats=(FORMATS[dtype],))
    flat = found[0] if grad else found
    return np.array([[e.hi, e.lo, e.rounded[dtype]] for e in flat], np.float64).reshape(-1, 3)


class RowAnswers:
    """The oracle's answers for long rows of one vector variant in one format, cached as
    parquet beside the tables (a row of 100,000 entries is 100,000 certified outputs): one
    file per variant and format, one entry per row, keyed by the row's bytes, its concrete
    parameters (a mask, a b) and whether it is the value or the gradient. `fill` computes
    what the file lacks, in worker processes, and writes the file again atomically; a
    damaged file is recomputed, with a warning."""

    def __init__(self, act: Activation, params: dict, dtype: str,
                 cache: str | os.PathLike | None = None):
        self.act, self.dtype = catalog.canonical(act), dtype
        key = _key(self.act, self.act.math_params(self.act.resolve(params)), dtype,
                   kind="rows")
        self.path = _cache(cache) / f"{self.act.name}-rows-{dtype}-{key}.parquet"
        self.answers: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                self.answers = _read_rows(self.path)
            except DamagedTable as e:
                warnings.warn(DamagedTable(f"the oracle's row answers {e}; computing them "
                                           "again"), stacklevel=2)

    @staticmethod
    def row_key(xs: np.ndarray, concrete: dict, grad: bool) -> str:
        blob = np.asarray(xs, "<f8").tobytes() + repr(sorted(concrete.items())).encode()
        return f"{'grad' if grad else 'value'}:{hashlib.sha256(blob).hexdigest()[:32]}"

    def fill(self, wanted: Sequence[tuple[np.ndarray, dict, bool]], workers: int | None = None,
             ) -> None:
        """Compute the answers of the rows (xs, concrete parameters, grad) not cached yet,
        and save them."""
        todo = {}
        for xs, concrete, grad in wanted:
            k = self.row_key(xs, concrete, grad)
            if k not in self.answers:
                todo[k] = (self.act.name, concrete, self.dtype, np.asarray(xs).tolist(), grad)
        if not todo:
            return
        size = sum(len(args[3]) for args in todo.values())
        with _executor(workers if size > 20_000 else 1, None) as ex:
            if ex is None:
                found = {k: compute_row(*args) for k, args in todo.items()}
            else:
                futures = {k: ex.submit(compute_row, *args) for k, args in todo.items()}
                found = {k: f.result() for k, f in futures.items()}
        self.answers.update(found)
        _write_rows(self.answers, self.path)

    def get(self, xs: np.ndarray, concrete: dict, grad: bool) -> np.ndarray:
        """The (n, 3) answer of one row (`fill` first, or it is computed here)."""
        k = self.row_key(xs, concrete, grad)
        if k not in self.answers:
            self.fill([(xs, concrete, grad)], workers=1)
        return self.answers[k]


def _rows_frame(answers: dict[str, np.ndarray]) -> pd.DataFrame:
    keys = sorted(answers)
    data = np.concatenate([answers[k] for k in keys]) if keys else np.empty((0, 3))
    df = pd.DataFrame({"row": np.repeat(np.array(keys, object),
                                        [len(answers[k]) for k in keys])})
    for i, col in enumerate(ROW_COLUMNS):
        df[col] = data[:, i]
    return df


def _rows_checksum(df: pd.DataFrame) -> str:
    digest = hashlib.sha256("\n".join(df["row"].astype(str)).encode())
    for col in ROW_COLUMNS:
        values = df[col].to_numpy(np.float64)
        digest.update(np.where(np.isnan(values), np.nan, values).astype("<f8").tobytes())
    return digest.hexdigest()


def _write_rows(answers: dict[str, np.ndarray], path: Path) -> None:
    df = _rows_frame(answers)
    meta = {"sha256": _rows_checksum(df), "schema": SCHEMA, "oracle": ORACLE}
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           META: json.dumps(meta).encode()})
    atomic(path, lambda tmp: pq.write_table(arrow, tmp, compression="zstd"))


def _read_rows(path: Path) -> dict[str, np.ndarray]:
    try:
        arrow = pq.read_table(path)
        meta = json.loads((arrow.schema.metadata or {}).get(META, b"{}"))
        df = arrow.to_pandas()
    except (OSError, ValueError, pa.ArrowException) as e:
        raise DamagedTable(f"{path}: unreadable ({type(e).__name__})") from None
    if list(df.columns) != ["row", *ROW_COLUMNS] or _rows_checksum(df) != meta.get("sha256"):
        raise DamagedTable(f"{path}: its contents do not match the checksum written with it")
    keys = df["row"].to_numpy(object)
    data = df[list(ROW_COLUMNS)].to_numpy(np.float64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else []
    bounds = [*map(int, starts), len(keys)]
    return {str(keys[a]): data[a:b] for a, b in itertools.pairwise(bounds)}
