"""An audit's journal: each case's rows kept on disk as soon as the case is done, so that
an audit that is interrupted (Ctrl-C, a CI time limit, a crash) resumes where it stopped
when it is run again with the same settings.

The journal is a folder (``OUT/.actaudit-partial`` for ``actaudit audit``) holding one
JSON file per finished case, written atomically, under a key over the audit's settings:
the SPECs and what each one loads (the file's or module's SHA-256), the cases, the
checks, the tolerances, the strictness, the timeout and actaudit's version. Cases
recorded under another key are never reused. JSON, never pickle: a journal is data, and
Python's json keeps inf and nan.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from .._files import atomic, sha256

FOLDER = ".actaudit-partial"

Case = tuple[str, str, str]  # (activation, variant, dtype)


def _origin(spec: str) -> str:
    """What a SPEC loads, as a hash of its source where there is one file to hash."""
    target = spec.partition(":")[0]
    path = Path(target)
    if not path.is_file():
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            found = None
        path = Path(found.origin) if found is not None and found.origin else Path()
    return sha256(path) if path.is_file() else ""


def key(settings: Mapping[str, Any], specs: Sequence[str]) -> str:
    blob = json.dumps({**settings, "specs": {s: _origin(s) for s in specs},
                       "actaudit": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Journal:
    """The finished cases of one audit, under ``folder``."""

    def __init__(self, folder: str | Path, settings: Mapping[str, Any], specs: Sequence[str]):
        self.root = Path(folder)
        self.dir = self.root / key(settings, specs)
        if self.root.is_dir():  # what another audit's settings left is of no use here
            for other in self.root.iterdir():
                if other != self.dir:
                    shutil.rmtree(other, ignore_errors=True) if other.is_dir() else (
                        other.unlink(missing_ok=True))

    def _file(self, case: Case) -> Path:
        name = hashlib.sha256(json.dumps(case).encode()).hexdigest()[:20]
        return self.dir / f"{name}.json"

    def done(self, case: Case) -> tuple[list[dict[str, Any]], pd.DataFrame] | None:
        """The rows and curves of ``case`` if an earlier run finished it."""
        try:
            data = json.loads(self._file(case).read_text())
        except (OSError, ValueError):
            return None
        if data.get("case") != list(case):
            return None
        return data["rows"], pd.DataFrame(data["curves"])

    def record(self, case: Case, rows: list[dict[str, Any]], curves: pd.DataFrame) -> None:
        text = json.dumps({"case": list(case), "rows": rows,
                           "curves": curves.to_dict(orient="list")}, default=_plain)
        atomic(self._file(case), lambda p: Path(p).write_text(text))

    def finished(self) -> int:
        return len(list(self.dir.glob("*.json"))) if self.dir.is_dir() else 0

    def close(self) -> None:
        """The audit's results are written: the journal goes."""
        shutil.rmtree(self.root, ignore_errors=True)


def _plain(v: Any) -> Any:
    """NumPy scalars as Python numbers."""
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(f"cannot record {type(v).__name__} in the journal")
