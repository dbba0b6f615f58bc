"""One line to reproduce a finding by hand: the oracle's answer (``actaudit oracle``) and
the implementation's, at the input where the check found the worst."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import Activation, Kind
from ._results import Finding, literal

GRADIENT_CHECKS = ("gradient", "gradient:special", "gradient:kinks", "subnormal:gradient")


def _cli_value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, tuple | list):
        return ",".join(_cli_value(e) for e in v)
    return "none" if v is None else str(v)


def _py_float(v: float) -> str:
    text = literal(v)
    return f"float('{text}')" if text in ("inf", "-inf", "nan") else text


def _py_value(v: Any, dtype: str) -> str:
    if isinstance(v, tuple | list) and all(isinstance(e, bool) for e in v):
        return f"jnp.asarray({v!r})"
    if isinstance(v, tuple | list):
        return f"jnp.asarray([{', '.join(_py_float(e) for e in v)}], jnp.{dtype})"
    return repr(v)


def repro(spec: str, act: Activation, params: Mapping[str, Any], dtype: str,
          x: float | Sequence[float], grad: bool = False) -> str:
    """``x`` is a number for an elementwise activation, a slice (a list) otherwise;
    ``params`` are concrete (a mask or a b as a tuple)."""
    p = "".join(f" --param {k}={_cli_value(v)}" for k, v in params.items())
    call_args = ", ".join(["x", *(f"{k}={_py_value(v, dtype)}" for k, v in params.items())])
    f = f"lambda x: load({spec!r}).get({act.name!r})({call_args})"
    if grad:
        f = f"jax.jacfwd({f})" if act.kind is not Kind.ELEMENTWISE else f"jax.grad({f})"
    else:
        f = f"({f})"
    vector = not isinstance(x, int | float)
    arg = ",".join(literal(v) for v in x) if vector else literal(x)
    py = f"[{', '.join(_py_float(v) for v in x)}]" if vector else _py_float(x)
    where = "int32" if act.kind is Kind.INDEX else dtype
    return (f"actaudit oracle {act.name}{p}{' --grad' if grad else ''} -- {arg}; "
            f"python -c \"import jax, jax.numpy as jnp; from actaudit.impl import load; "
            f"print({f}(jnp.asarray({py}, jnp.{where})))\"")


def _parse(text: str, vector: bool) -> float | list[float] | None:
    """A worst_input back as numbers (inf and nan are spelled out), or None where it is
    not one (a slice's name)."""
    try:
        if vector:
            if not (text.startswith("[") and text.endswith("]")):
                return None
            return [float(v) for v in text[1:-1].split(",") if v.strip()]
        return float(text)
    except ValueError:
        return None


def add(spec: str, act: Activation, params: Mapping[str, Any], dtype: str,
        found: list[Finding]) -> list[Finding]:
    """``found``, with a repro line on each finding that did not pass, has an input and
    lacks one. ``params`` are concrete (a vector check's mask or b as a tuple)."""
    for f in found:
        if f.extra.get("repro") or f.status == "pass" or not f.worst_input:
            continue
        x = _parse(f.worst_input, act.kind is not Kind.ELEMENTWISE)
        if x is not None:
            f.extra["repro"] = repro(spec, act, params, dtype, x,
                                     grad=f.check in GRADIENT_CHECKS)
    return found
