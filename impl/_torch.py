"""The `torch` SPEC: torch.nn.functional and torch's own activations, on the CPU, called
from JAX through `_host.on_host`.

Arrays cross as NumPy, bfloat16 bit for bit as torch's own bfloat16. Derivatives come from
torch.autograd: an elementwise function's is its backward pass for a cotangent of ones, a
vector function's is each slice's Jacobian (`torch.func.jacrev`, reverse mode).
jax.nn's names and signatures map to torch's functions; where torch has no such activation
(squareplus, sparse_plus, log1mexp, ...) the name is not provided, and where it lacks a
parameter (softmax's ``where``, logsumexp's ``b``) the call is a ``skip``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import torch
import torch.nn.functional as F

from .. import catalog
from ._host import on_host

Lacks = Callable[[dict[str, Any]], str | None]


def to_torch(a: np.ndarray) -> torch.Tensor:
    """A copy (JAX's buffers are read-only, torch's tensors writable)."""
    a = np.array(a, order="C")
    if a.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _params(kw: dict[str, Any]) -> dict[str, Any]:
    """Parameters given as 0-d arrays, as the Python numbers torch takes."""
    return {k: v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v
            for k, v in kw.items()}


def _on_numpy(fn: Callable[..., torch.Tensor]) -> Callable[..., np.ndarray]:
    def run(x: np.ndarray, **kw: Any) -> np.ndarray:
        with torch.no_grad():
            return to_numpy(fn(to_torch(x), **_params(kw)))
    return run


def _derivative(fn: Callable[..., torch.Tensor]) -> Callable[..., np.ndarray]:
    """dy/dx by torch's backward pass, for a cotangent of ones."""
    def run(x: np.ndarray, **kw: Any) -> np.ndarray:
        xt = to_torch(x).requires_grad_(True)
        y = fn(xt, **_params(kw))
        (g,) = torch.autograd.grad(y, xt, torch.ones_like(y))
        return to_numpy(g)
    return run


def _second(fn: Callable[..., torch.Tensor]) -> Callable[..., np.ndarray]:
    """d²y/dx² by torch's backward pass through its own backward pass (create_graph);
    0 where the derivative is piecewise constant (no graph to differentiate)."""
    def run(x: np.ndarray, **kw: Any) -> np.ndarray:
        xt = to_torch(x).requires_grad_(True)
        y = fn(xt, **_params(kw))
        (g,) = torch.autograd.grad(y, xt, torch.ones_like(y), create_graph=True)
        if not g.requires_grad:
            return to_numpy(torch.zeros_like(g))
        (h,) = torch.autograd.grad(g, xt, torch.ones_like(g), allow_unused=True)
        return to_numpy(torch.zeros_like(g) if h is None else h)
    return run


def _jacobian(fn: Callable[..., torch.Tensor]) -> Callable[..., np.ndarray]:
    """Each slice's Jacobian along ``axis``, (batch..., m, n), by torch's reverse mode
    (torch.func.jacrev, vmapped over the slices)."""
    def run(x: np.ndarray, axis: int | None, **kw: Any) -> np.ndarray:
        kw = _params(kw)
        xt = to_torch(x)
        moved = xt.reshape(-1) if axis is None else torch.movedim(xt, axis, -1)
        rows = moved.reshape(-1, moved.shape[-1])

        def one(row: torch.Tensor) -> torch.Tensor:
            return fn(row.unsqueeze(0), axis=-1, **kw).reshape(-1)

        jac = torch.func.vmap(torch.func.jacrev(one))(rows)
        return to_numpy(jac.reshape(*moved.shape[:-1], *jac.shape[1:]))
    return run


def _none(*names: str) -> Lacks:
    """What torch lacks: any of ``names`` given (not None)."""
    return lambda kw: next((f"{n}=" for n in names if kw.get(n) is not None), None)


def _one_axis(none_is_all: bool = False) -> Lacks:
    """What torch lacks: an axis that is not one int dim (nor None, where that means all)."""
    def lacks(kw: dict[str, Any]) -> str | None:
        axis = kw["axis"]
        ok = isinstance(axis, int) or (none_is_all and axis is None)
        return None if ok else f"axis={axis!r} (one int dim only)"
    return lacks


def _all(*checks: Lacks) -> Lacks:
    return lambda kw: next((m for c in checks if (m := c(kw)) is not None), None)


def _prelu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """torch.nn.PReLU's function: its weight is a float32 parameter (the default dtype),
    cast to x's dtype with the module, the same slope as Flax's PReLU."""
    weight = torch.as_tensor(negative_slope, dtype=torch.float32).reshape(1)
    return F.prelu(x, weight.to(x.dtype))


def _gelu(x: torch.Tensor, approximate: bool = True) -> torch.Tensor:
    return F.gelu(x, approximate="tanh" if approximate else "none")


def _logsumexp(a: torch.Tensor, axis: Any = None, b: Any = None, keepdims: bool = False,
               return_sign: bool = False, where: Any = None) -> torch.Tensor:
    return torch.logsumexp(a, dim=tuple(range(a.ndim)) if axis is None else axis,
                           keepdim=keepdims)


def _standardize(x: torch.Tensor, axis: int = -1, mean: Any = None, variance: Any = None,
                 epsilon: float = 1e-5, where: Any = None, algorithm: str = "fast",
                 ) -> torch.Tensor:
    """torch's layer_norm over the one dim ``axis``, without an affine part."""
    moved = torch.movedim(x, axis, -1)
    return torch.movedim(F.layer_norm(moved, moved.shape[-1:], eps=epsilon), -1, axis)


def _one_hot(x: torch.Tensor, num_classes: int, *, dtype: Any = None, axis: int = -1,
             ) -> torch.Tensor:
    return F.one_hot(x.long(), num_classes)  # int64; crosses back as jax.nn's dtype


# jax.nn's name -> torch's function, with jax.nn's signature
ELEMENTWISE: dict[str, Callable[..., torch.Tensor]] = {
    "relu": F.relu,
    "relu6": F.relu6,
    "sigmoid": torch.sigmoid,
    "log_sigmoid": F.logsigmoid,
    "softplus": F.softplus,
    "silu": F.silu,
    "swish": F.silu,
    "gelu": _gelu,
    "elu": lambda x, alpha=1.0: F.elu(x, alpha=alpha),
    "celu": lambda x, alpha=1.0: F.celu(x, alpha=alpha),
    "selu": F.selu,
    "leaky_relu": lambda x, negative_slope=0.01: F.leaky_relu(x, negative_slope),
    "prelu": _prelu,
    "hard_tanh": F.hardtanh,
    "hard_sigmoid": F.hardsigmoid,
    "hard_silu": F.hardswish,
    "hard_swish": F.hardswish,
    "mish": F.mish,
    "soft_sign": F.softsign,
    "tanh": torch.tanh,
    "identity": torch.nn.Identity(),
    "hard_shrink": lambda x, lambd=0.5: F.hardshrink(x, lambd),
    "soft_shrink": lambda x, lambd=0.5: F.softshrink(x, lambd),
    "tanh_shrink": F.tanhshrink,
    "threshold": lambda x, threshold, value: F.threshold(x, threshold, value),
}
# the functions of slices: (torch's function, what torch lacks of jax.nn's parameters)
VECTOR: dict[str, tuple[Callable[..., torch.Tensor], Lacks | None]] = {
    "softmax": (lambda x, axis=-1, where=None: F.softmax(x, dim=axis),
                _all(_one_axis(), _none("where"))),
    "softmin": (lambda x, axis=-1, where=None: F.softmin(x, dim=axis),
                _all(_one_axis(), _none("where"))),
    "log_softmax": (lambda x, axis=-1, where=None: F.log_softmax(x, dim=axis),
                    _all(_one_axis(), _none("where"))),
    "logsumexp": (_logsumexp, _all(
        _one_axis(none_is_all=True), _none("b", "where"),
        lambda kw: "return_sign=True" if kw.get("return_sign") else None)),
    "glu": (lambda x, axis=-1: F.glu(x, dim=axis), None),
    "standardize": (_standardize, _all(_one_axis(), _none("mean", "variance", "where"))),
    "one_hot": (_one_hot, lambda kw: None if kw["axis"] == -1
                else f"axis={kw['axis']!r} (one_hot's classes are last)"),
}


def functions() -> dict[str, Callable[..., Any]]:
    """jax.nn's names, each as a JAX function computed by torch, with torch.autograd's
    derivative where the catalog has one (one_hot has none)."""
    table = {**{name: (fn, None) for name, fn in ELEMENTWISE.items()}, **VECTOR}
    out = {}
    for name, (fn, lacks) in table.items():
        act = catalog.get(name)
        elementwise = act.kind is catalog.Kind.ELEMENTWISE
        grad = _derivative if elementwise else _jacobian
        out[name] = on_host(_on_numpy(fn), name, "torch", lacks,
                            None if act.grad is None else grad(fn),
                            _second(fn) if elementwise and act.grad is not None else None)
    return out
