"""Progress for long runs: a tqdm bar on a terminal; elsewhere (a CI log, or under tox,
which pipes its commands' output) a plain line about every 30 seconds, so that a long run
still shows that it moves and how long it has left."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import tqdm

LOG_EVERY_S = 30.0


class _Lines:
    """A stream for tqdm that turns its carriage-return redraws into whole lines."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str,
             unit: str, enabled: bool = True, **kw: Any) -> tqdm:
    """A tqdm progress bar over ``iterable`` (or ``total`` updates)."""
    if not enabled:
        return tqdm(iterable, total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(iterable, total=total, desc=desc, unit=unit, **kw)
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=_Lines(sys.stderr),
                mininterval=LOG_EVERY_S, maxinterval=LOG_EVERY_S, ascii=True, ncols=90, **kw)
