"""What actaudit writes: files that appear whole, readable by others as the user's umask
allows, and output folders that never lose anything actaudit did not write itself.

* `atomic` writes a file through a temporary one beside it, renamed into place: a reader
  (or a run that is interrupted) sees the old file or the new one, never half of one.
* An output folder (``audit --out``, ``bench --out``, ``report --out``) carries a manifest,
  `MANIFEST`: the kind of run that wrote it and the SHA-256 of every file it wrote.
  `claim` checks a folder before any work starts and refuses, with one line, a path that
  is a file, cannot be written, or holds a file that actaudit did not write (or that was
  changed since): `OutputError`, bad usage, unless the user says ``--force``.
* `Folder` writes a run's files into its folder. The manifest accepts the old and the new
  hash of each file while they are renamed into place, so a run killed halfway leaves a
  folder that the next run still recognises as its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

MANIFEST = ".actaudit.json"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give: mkstemp's own is 0600
DIR_MODE = 0o777 & ~_umask()


class OutputError(ValueError):
    """An output path that cannot be used: bad usage, exit status 2, before any work."""


def _temporary(path: Path) -> str:
    """An empty temporary file beside ``path`` (its folder made first), to be renamed
    onto it once written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return tmp


def _written(tmp: str, write: Callable[[str], object]) -> None:
    write(tmp)
    os.chmod(tmp, FILE_MODE)


def atomic(path: Path, write: Callable[[str], object]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it into place: a
    reader never sees a half-written file. The file gets the mode a plain open() gives."""
    tmp = _temporary(path)
    try:
        _written(tmp, write)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict | None:
    """The folder's manifest, or None where it has none (or one that is not ours)."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def _files_below(folder: Path) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            rel = Path(root, name).relative_to(folder).as_posix()
            if rel != MANIFEST:
                yield rel


def foreign(folder: Path, kind: str, names: Iterable[str] | None = None) -> list[str]:
    """The files under ``folder`` (only ``names``, where given) that actaudit did not
    write as a run of ``kind``, or that changed since it did."""
    data = _manifest(folder)
    ours = data["files"] if data is not None and data.get("kind") == kind else {}
    candidates = _files_below(folder) if names is None else (
        n for n in names if (folder / n).exists())
    out = []
    for rel in candidates:
        path = folder / rel
        hashes = ours.get(rel, [])
        if not path.is_file() or not hashes or sha256(path) not in hashes:
            out.append(rel)
    return out


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def writable(folder: str | os.PathLike, option: str) -> Path:
    """``folder``, created if missing, where a file can be written; `OutputError` (one
    line, naming ``option``) otherwise."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {str(path)!r} is a file, not a folder: choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=path, prefix=".actaudit-probe-").close()
    except OSError as e:
        raise OutputError(f"{option} {str(path)!r} cannot be written: "
                          f"{e.strerror or type(e).__name__}") from None
    return path


def claim(folder: str | os.PathLike, kind: str, *, names: Iterable[str] | None = None,
          force: bool = False, option: str = "--out") -> Path:
    """``folder`` made ready for a run of ``kind``, before any work: created if missing,
    and checked to be a writable folder holding nothing that the run would replace
    without actaudit having written it. ``names``: the files the run writes into it
    (None: the run replaces the folder whole, so every file in it counts). ``force``
    accepts a folder with foreign files. `OutputError` (one line) otherwise."""
    path = writable(folder, option)
    if names is None:  # a folder replaced whole is built beside it
        writable(path.parent, f"{option}'s parent")
    data = _manifest(path)
    if data is not None and data.get("kind") != kind and not force:
        raise OutputError(f"{option} {str(path)!r} holds what `actaudit {data.get('kind')}` "
                          f"wrote, not `actaudit {kind}`: choose another folder")
    theirs = foreign(path, kind, names)
    if theirs and not force:
        what = "replace" if names is None else "write into"
        raise OutputError(f"refusing to {what} {option} {str(path)!r}: it holds "
                          f"{_listing(theirs)}, which actaudit did not write (or which "
                          "changed since, or which an actaudit without manifests wrote); "
                          "choose another folder, or add --force")
    return path


class Folder:
    """Writes files into a run's folder, atomically, and keeps its manifest."""

    def __init__(self, folder: str | os.PathLike, kind: str):
        self.path, self.kind = Path(folder), kind

    def write(self, files: dict[str, Callable[[str], object]]) -> None:
        """Each relative name in ``files`` written by its function (given a temporary
        path), then renamed into place together."""
        old = _manifest(self.path)
        known = dict(old["files"]) if old is not None and old.get("kind") == self.kind else {}
        staged: dict[str, tuple[str, str]] = {}
        try:
            for rel, write in files.items():
                tmp = _temporary(self.path / rel)
                staged[rel] = (tmp, "")
                _written(tmp, write)
                staged[rel] = (tmp, sha256(Path(tmp)))
            # while they are renamed, a file is ours with its old hash or its new one
            self._save({**known, **{rel: [*known.get(rel, []), h]
                                    for rel, (_, h) in staged.items()}})
            for rel, (tmp, _) in staged.items():
                os.replace(tmp, self.path / rel)
            staged_hashes = {rel: [h] for rel, (_, h) in staged.items()}
            staged = {}
            self._save({**{r: h for r, h in known.items() if (self.path / r).is_file()},
                        **staged_hashes})
        finally:
            for tmp, _ in staged.values():
                Path(tmp).unlink(missing_ok=True)

    def _save(self, files: dict[str, list[str]]) -> None:
        text = json.dumps({"kind": self.kind, "files": files}, indent=1, sort_keys=True)
        atomic(self.path / MANIFEST, lambda p: Path(p).write_text(text))


def replace_folder(out: Path, staging: Path, kind: str, force: bool = False) -> None:
    """Move the finished folder ``staging`` (its manifest written) into place at ``out``;
    the old one, checked once more for foreign files, goes only once the new one is
    there."""
    old = None
    if out.exists():
        theirs = foreign(out, kind)
        if theirs and not force:
            raise OutputError(f"refusing to replace --out {str(out)!r}: it now holds "
                              f"{_listing(theirs)}, which actaudit did not write")
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        out.rename(old / out.name)
    staging.chmod(DIR_MODE)  # mkdtemp's is 0700: the folder is for reading
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def manifest_of(folder: Path, kind: str) -> None:
    """Write the manifest of a folder built whole (every file in it is the run's)."""
    files = {rel: [sha256(folder / rel)] for rel in _files_below(folder)}
    Folder(folder, kind)._save(files)
