"""actaudit: does an activation function compute what it should, to the last ULP?

The flow: `actaudit.catalog` (what each activation is) -> `actaudit.oracles` (its exact,
certified values) -> implementations under audit -> checks -> results -> reports.

The Python entry points (docs/README.md): `audit` (what ``actaudit audit`` runs) and
`check` (one assertion in a test), both returning a `Result`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("actaudit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from ._api import Result, audit, check

__all__ = ["Result", "__version__", "audit", "check"]


def __getattr__(name: str) -> Any:
    """`audit`, `check` and `Result` load JAX and pandas: only when first used, so that
    ``import actaudit`` (the command line's start) stays quick."""
    if name in ("audit", "check", "Result"):
        from . import _api

        return getattr(_api, name)
    raise AttributeError(f"module 'actaudit' has no attribute {name!r}")
