"""``actaudit bench``: the chosen cases timed by pytest-benchmark, in this process, then one
report per device: the raw pytest-benchmark JSON, the table (parquet and CSV) and a
Markdown summary, each written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import jax
import pandas as pd
import pytest

from .. import catalog, impl
from .._environment import processor
from .._files import Folder, claim
from ..checks._call import TIMEOUT_S
from ..checks._tolerances import DTYPES
from . import _suite
from ._cases import MODES, PROFILES, cases, platforms
from ._plugin import Selection, jobs
from ._tables import TABLE, device_dir, frame, summary, with_shared


def run(specs: Sequence[str], out: str | Path, *, only: Sequence[str] | None = None,
        dtypes: Sequence[str] | None = None, sizes: Sequence[int] | None = None,
        modes: Sequence[str] = MODES, profile: str = "short", timeout: float = TIMEOUT_S,
        pytest_args: Sequence[str] = (), force: bool = False,
        ) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Time ``specs`` (jax.nn is always timed too: every ratio is to it, measured in the
    same run) and write one report per device under ``out``. A case whose compilation or
    first call raises, or takes over ``timeout`` seconds, is an ``error`` row. Returns the
    table and the folder of each device. Bad choices raise ValueError (or
    `impl.SpecError`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (profiles: {', '.join(PROFILES)})")
    settings = PROFILES[profile]
    dtypes = list(dtypes or settings["dtypes"])
    sizes = list(sizes or settings["sizes"])
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"unknown dtype {d!r} (dtypes: {', '.join(DTYPES)})")
    if not modes:
        raise ValueError(f"no mode chosen (modes: {', '.join(MODES)})")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mode {m!r} (modes: {', '.join(MODES)})")
    for n in sizes:
        if n < 2:
            raise ValueError(f"a size is a number of elements, at least 2: got {n}")
    acts = [catalog.get(n) for n in only] if only else [
        a for a in catalog.CATALOG.values() if not a.same_as]
    names = list(dict.fromkeys([*specs, "jax.nn"]))
    impls = [impl.load(s) for s in names]
    on = platforms()
    kinds = {p: jax.devices(p)[0].device_kind for p in on}
    claim(out, KIND, force=force, names=[f"{device_dir(p, kinds[p], processor())}/{f}"
                                         for p in on for f in FILES])
    same = impl.shared(impls, [a.name for a in acts])
    chosen = [c for c in cases(impls, acts, dtypes, sizes, modes, on)
              if (c.impl, c.activation) not in same]
    selection = Selection(jobs(chosen, impls, timeout))
    with tempfile.TemporaryDirectory(prefix="actaudit-bench-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")  # the user's own pytest configuration stays out
        raw_path = Path(tmp) / "benchmarks.json"
        # pytest collects a copy, outside any package: the module's own path may lie in a
        # source folder that is a package of another name (an editable install)
        suite = Path(tmp) / "test_speed.py"
        suite.write_text(Path(_suite.__file__).read_text())
        args = [str(suite), "-c", str(ini), "--rootdir", tmp, "-p", "no:cacheprovider",
                "--import-mode=importlib", "-q", "-p", "no:xdist", "--benchmark-quiet",
                f"--benchmark-json={raw_path}", "--benchmark-disable-gc",
                f"--benchmark-max-time={settings['max_time']}", "--benchmark-min-rounds=5",
                *pytest_args]
        with _outside_xdist():
            code = pytest.main(args, plugins=[selection])
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            raise RuntimeError(f"pytest stopped with exit status {int(code)}")
        raw = json.loads(raw_path.read_text()) if raw_path.exists() else {"benchmarks": []}
    table = with_shared(frame(raw, selection.problems, kinds), same)
    return table, write(table, raw, out)


@contextlib.contextmanager
def _outside_xdist() -> Iterator[None]:
    """pytest-benchmark disables itself in any process that pytest-xdist named a worker
    (``PYTEST_XDIST_WORKER``), as it must for the tests xdist spreads over processes; the
    timings run here, in one process, are not those: a bench called from a user's own
    xdist-run tests still times."""
    worker = os.environ.pop("PYTEST_XDIST_WORKER", None)
    try:
        yield
    finally:
        if worker is not None:
            os.environ["PYTEST_XDIST_WORKER"] = worker


KIND = "bench"  # what a bench run's folder says it holds (`_files.claim`)
FILES = ("benchmarks.json", TABLE, "bench.csv", "summary.md")  # in each device's folder


def write(table: pd.DataFrame, raw: dict, out: str | Path) -> dict[str, Path]:
    """Per device, under ``out``: benchmarks.json (pytest-benchmark's, that device's
    timings), bench.parquet, bench.csv and summary.md, with the folder's manifest."""
    folders, files = {}, {}
    for (platform, kind), part in table.groupby(["platform", "device_kind"], sort=False):
        device = device_dir(platform, kind, processor())
        mine = [b for b in raw.get("benchmarks", [])
                if (b["extra_info"]["platform"], b["extra_info"]["device_kind"])
                == (platform, kind)]
        text, md = json.dumps({**raw, "benchmarks": mine}, indent=1), summary(part)
        files.update({
            f"{device}/benchmarks.json": lambda p, t=text: Path(p).write_text(t),
            f"{device}/{TABLE}": lambda p, d=part: d.to_parquet(p, index=False),
            f"{device}/bench.csv": lambda p, d=part: d.to_csv(p, index=False),
            f"{device}/summary.md": lambda p, t=md: Path(p).write_text(t)})
        folders[platform] = Path(out) / device
    Folder(out, KIND).write(files)
    return folders
