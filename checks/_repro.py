"""One line to reproduce a finding by hand: the oracle's answer (``actaudit oracle``), then
the implementation's, computed the way the check computed it, printing exactly the number
the row reports as ``got``.

How the check computed the reported number is the finding's ``via`` (in ``extra``):

* ``value``: the function under jit (an elementwise one on a one-element array);
* ``vjp`` / ``jvp``: the derivative by reverse or forward mode, whichever the row reports
  (an elementwise check computes both and reports the worse);
* ``grad2`` / ``jvp_grad``: the second derivative, ``jax.grad`` of ``jax.grad`` or
  ``jax.jvp`` of ``jax.grad`` (`_elementwise.second_derivatives`);
* ``jvp_jacrev`` / ``jacrev_jvp``: a vector function's Jacobian differentiated along a
  direction, forward over reverse or reverse over forward (`_hessians`), with ``at``
  (row, column, direction);
* a composition of a ``transform:NAME`` row (``jit_grad``, ``vmap_grad``, ...): the
  derivative that way, then the plain one (jax.vjp under jit), in the order got,
  expected, with no oracle (the row compares the implementation with itself);
* ``eager vs jit``, ``vmap vs loop``: the two results a `transform` row compares, in the
  order got, expected;
* ``monotone``: the function at the two inputs where a `property:monotone` row saw it
  decrease (``extra["inputs"]``), in the order expected, got.

A vector finding also says where in the output it is (``extra["at"]``): the position in
the slice's flattened outputs, or (row, column) of the Jacobian. float64 lines switch on
JAX's 64-bit mode first, as the audit does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import Activation, Kind
from ._registry import DERIVATIVE
from ._results import Finding, literal

PLAIN = "float(jax.jit(lambda x: jax.vjp(f, x)[1](jnp.ones_like(x))[0])(x)[0])"
COMPOSED = {  # transform:NAME's derivative at x[0], as `_elementwise._composed` computes it
    "jit_grad": "jax.jit(jax.grad(lambda x: jnp.sum(f(x))))(x)[0]",
    "grad_jit": "jax.jit(jax.grad(lambda x: jnp.sum(jax.jit(f)(x))))(x)[0]",
    "vmap_grad": "jax.jit(jax.vmap(jax.grad(f)))(x)[0]",
    "grad_vmap": "jax.jit(jax.grad(lambda x: jnp.sum(jax.vmap(f)(x))))(x)[0]",
    "linear_transpose": "jax.jit(lambda x: jax.linear_transpose(lambda t: jax.jvp(f, (x,), "
                        "(t,))[1], x)(jnp.ones_like(x))[0])(x)[0]",
}

HESSIAN = {  # a vector function's second derivative along V, as `_hessians` computes it
    "jvp_jacrev": "lambda x: jax.jvp(jax.jacrev({g}), (x,), ({v},))[1]",
    "jacrev_jvp": "jax.jacrev(lambda x: jax.jvp({g}, (x,), ({v},))[1])",
}


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


def _printed(act: Activation, via: str, at: Any, params: Mapping[str, Any]) -> str:
    """The expression that prints the reported number(s), of ``f`` at the array ``x``."""
    if act.kind is Kind.ELEMENTWISE:
        return {
            "value": "float(jax.jit(f)(x)[0])",
            "vjp": "float(jax.jit(lambda x: jax.vjp(f, x)[1](jnp.ones_like(x))[0])(x)[0])",
            "jvp": "float(jax.jit(lambda x: jax.jvp(f, (x,), (jnp.ones_like(x),))[1])(x)[0])",
            "grad2": "float(jax.jit(jax.grad(jax.grad(lambda x: f(x[None])[0])))(x[0]))",
            "jvp_grad": "float(jax.jit(lambda x: jax.jvp(jax.grad(lambda x: f(x[None])[0]), "
                        "(x,), (jnp.ones_like(x),))[1])(x[0]))",
            "eager vs jit": "float(f(x)[0]), float(jax.jit(f)(x)[0])",
            "vmap vs loop": "float(jax.vmap(f)(x[None])[0, 0]), float(f(x)[0])",
            "monotone": "*[float(v) for v in jax.jit(f)(x)]",
            **{how: f"float({expr}), {PLAIN}" for how, expr in COMPOSED.items()},
            "jacfwd_jacrev": "float(jax.jit(jax.jacrev(f))(x)[0, 0]), "
                             "float(jax.jit(jax.jacfwd(f))(x)[0, 0])",
        }[via]
    if via in HESSIAN:  # the first output's Jacobian differentiated along v: (row, col, v)
        row, col, v = at
        way = HESSIAN[via].format(
            g="lambda x: jax.tree.leaves(f(x))[0]",
            v=f"jnp.asarray([{', '.join(_py_float(t) for t in v)}], x.dtype)")
        return f"float(jnp.atleast_2d(jax.jit({way})(x))[{row}, {col}])"
    if via in ("jvp", "vjp"):  # the Jacobian of the first output, one row per output
        mode = "jacfwd" if via == "jvp" else "jacrev"
        row, col = at
        return (f"float(jnp.atleast_2d(jax.jit(jax.{mode}(lambda x: jax.tree.leaves(f(x))[0]))"
                f"(x))[{row}, {col}])")
    if act.kind is Kind.INDEX and params.get("axis", -1) == 0:  # classes first: as rows
        return f"float(jnp.ravel(jax.jit(f)(x).T)[{at}])"
    return (f"float(jnp.concatenate([jnp.ravel(o) for o in jax.tree.leaves(jax.jit(f)(x))])"
            f"[{at}])")


def repro(spec: str, act: Activation, params: Mapping[str, Any], dtype: str,
          x: float | Sequence[float], via: str = "value", at: Any = 0) -> str:
    """``x`` is a number for an elementwise activation (two, for ``monotone``), a slice (a
    list) otherwise; ``params`` are concrete (a mask or a b as a tuple)."""
    p = "".join(f" --param {k}={_cli_value(v)}" for k, v in params.items())
    call_args = ", ".join(["x", *(f"{k}={_py_value(v, dtype)}" for k, v in params.items())])
    vector = act.kind is not Kind.ELEMENTWISE
    xs = list(x) if isinstance(x, list | tuple) else [x]
    where = "int32" if act.kind is Kind.INDEX else dtype
    x64 = "jax.config.update('jax_enable_x64', True); " if dtype == "float64" else ""
    python = (f"import jax, jax.numpy as jnp; {x64}from actaudit.impl import load; "
              f"f = lambda x: load({spec!r}).get({act.name!r})({call_args}); "
              f"x = jnp.asarray([{', '.join(_py_float(v) for v in xs)}], jnp.{where}); "
              f"print({_printed(act, via, at, params)})")
    grad = {"vjp": " --grad", "jvp": " --grad", "grad2": " --second",
            "jvp_grad": " --second"}.get(via, "")
    if via in HESSIAN:
        grad = f" --second --along {','.join(literal(t) for t in at[2])}"
    if via in ("monotone", "jacfwd_jacrev", *COMPOSED):  # expected: its own result
        oracle = ""
    else:
        arg = ",".join(literal(v) for v in xs) if vector else literal(xs[0])
        oracle = f"actaudit oracle {act.name}{p}{grad} -- {arg}; "
    return f"{oracle}python -c \"{python}\""


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
    """``found``, with a repro line on each finding that did not pass and has an input.
    ``params`` are concrete (a vector check's mask or b as a tuple)."""
    for f in found:
        if f.extra.get("repro") or f.status == "pass" or not f.worst_input:
            continue
        via = f.extra.get("via") or ("vjp" if f.check in DERIVATIVE else "value")
        x = f.extra.get("inputs") or _parse(f.worst_input, act.kind is not Kind.ELEMENTWISE)
        if x is not None:
            f.extra["repro"] = repro(spec, act, params, dtype, x, via, f.extra.get("at", 0))
    return found
