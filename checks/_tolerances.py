"""Tolerances, in ULP, in one table keyed by dtype: values, gradients, second derivatives.

Defaults: values within 1 ULP in float16 and bfloat16 (correctly rounded but for the odd
double rounding), 4 ULP in float32 and float64; gradients and second derivatives looser,
2 and 16; a few activations looser where their catalog entry says why
(`ACTIVATION_DEFAULTS`). Users
override any entry from a TOML file (``--tolerances FILE``) or ``[tool.actaudit.tolerances]``
in ./pyproject.toml, with the same shape::

    [value]
    float32 = 8
    [gradient]
    float64 = 32
    [second]
    bfloat16 = 4
    [activations.gelu.gradient]   # one activation (all its variants)
    float32 = 64
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DTYPES = ("float16", "bfloat16", "float32", "float64")
WHAT = ("value", "gradient", "second")

DEFAULT: dict[str, dict[str, float]] = {
    "value": {"float16": 1, "bfloat16": 1, "float32": 4, "float64": 4},
    "gradient": {"float16": 2, "bfloat16": 2, "float32": 16, "float64": 16},
    "second": {"float16": 2, "bfloat16": 2, "float32": 16, "float64": 16},
}


# Per-activation defaults, each justified by a convention of the catalog entry ("tolerance:")
_INTERIOR_ZERO = {"gradient": {"float32": 64, "float64": 64}}
ACTIVATION_DEFAULTS: dict[str, dict[str, dict[str, float]]] = {
    "silu": _INTERIOR_ZERO, "swish": _INTERIOR_ZERO, "beta_swish": _INTERIOR_ZERO,
    "mish": _INTERIOR_ZERO,
    "gelu": {**_INTERIOR_ZERO, "value": {"float32": 8, "float64": 24}},
}


class ToleranceError(ValueError):
    """A malformed tolerance table: bad usage, exit status 2."""


@dataclass(frozen=True)
class Tolerances:
    table: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT)
    activations: Mapping[str, Mapping[str, Mapping[str, float]]] = field(
        default_factory=lambda: ACTIVATION_DEFAULTS)

    def ulps(self, activation: str, dtype: str, what: str = "value") -> float:
        """The largest ULP error accepted for ``activation``'s ``what`` in ``dtype``."""
        own = self.activations.get(activation, {}).get(what, {})
        return own.get(dtype, self.table[what][dtype])

    def merged(self, data: Mapping[str, Any], source: str) -> Tolerances:
        """These tolerances with the entries of a parsed TOML table laid over them."""
        table = {w: dict(self.table[w]) for w in WHAT}
        acts = {a: {w: dict(v) for w, v in t.items()} for a, t in self.activations.items()}
        for key, sub in data.items():
            if key in WHAT:
                table[key].update(_entries(sub, f"{source}: [{key}]"))
            elif key == "activations":
                from .. import catalog

                for name, per in _table(sub, f"{source}: [activations]").items():
                    if name not in catalog.CATALOG:
                        raise ToleranceError(f"{source}: unknown activation {name!r}")
                    for what, entries in _table(per, f"{source}: [activations.{name}]").items():
                        if what not in WHAT:
                            raise ToleranceError(
                                f"{source}: [activations.{name}.{what}]: expected value, "
                                "gradient or second")
                        acts.setdefault(name, {}).setdefault(what, {}).update(
                            _entries(entries, f"{source}: [activations.{name}.{what}]"))
            else:
                raise ToleranceError(f"{source}: unknown key {key!r} (expected value, "
                                     "gradient, second or activations)")
        return Tolerances(table, acts)


def _table(sub: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(sub, Mapping):
        raise ToleranceError(f"{where} must be a table")
    return sub


def _entries(sub: Any, where: str) -> dict[str, float]:
    out = {}
    for dtype, v in _table(sub, where).items():
        if dtype not in DTYPES:
            raise ToleranceError(f"{where}: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0 or math.isnan(v):
            raise ToleranceError(f"{where}: {dtype} must be a number of ULP >= 0, got {v!r}")
        out[dtype] = float(v)
    return out


def load(file: str | os.PathLike | None = None, project: str | os.PathLike = "pyproject.toml"
         ) -> Tolerances:
    """The defaults, then ``[tool.actaudit.tolerances]`` of ``project`` if it has one, then
    ``file``."""
    tol = Tolerances()
    pyproject = Path(project)
    if pyproject.is_file():
        data = _read(pyproject)
        section = data.get("tool", {}).get("actaudit", {}).get("tolerances")
        if section is not None:
            tol = tol.merged(_table(section, f"{pyproject}: [tool.actaudit.tolerances]"),
                             str(pyproject))
    if file is not None:
        tol = tol.merged(_read(Path(file)), str(file))
    return tol


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ToleranceError(f"no such tolerance file: {str(path)!r}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ToleranceError(f"{path}: not valid TOML ({e})") from None
