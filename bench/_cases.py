"""What the benchmarks time: one `Case` per (implementation, activation, variant, dtype,
size, mode, platform), and how a case is made ready before any timing starts: its inputs
placed on the device, the function compiled and run once, with a timeout.

Elementwise activations take a vector of ``size`` elements; the axis functions (softmax,
logsumexp, standardize, ...) and glu a 2-D array of ``size`` elements in rows of
`ROW` (the common layout of logits: reduce along the last axis); one_hot takes ``size``
integer indices. ``fwd`` times the function; ``fwd+bwd`` times the value and the gradient
through `jax.vjp` (a random cotangent), as one jitted call, the way a training step
computes both.

The bandwidth baseline (impl `BASELINE`) is ``x + 1`` on the same device, dtype and size:
it reads and writes each element once, so it shows what the device can stream.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

from .. import catalog
from .._environment import processor
from ..catalog import Activation, Kind, variant_id
from ..checks._call import call
from ..checks._tolerances import DTYPES
from ..impl import Implementation

MODES = ("fwd", "fwd+bwd")
BASELINE = "baseline"
BASELINE_ACTIVATION = "x + 1"
ROW = 1024  # the last axis of the 2-D inputs of the axis functions

PROFILES: dict[str, dict[str, Any]] = {
    # a few sizes, every activation: minutes on a laptop
    "short": {"sizes": (1 << 10, 1 << 16, 1 << 20), "dtypes": ("float32", "bfloat16"),
              "max_time": 0.05},
    # every even power of two from 2^10 to 2^24, every dtype: pytest-benchmark's own timing
    "full": {"sizes": tuple(1 << k for k in range(10, 25, 2)), "dtypes": DTYPES,
             "max_time": 1.0},
}


@dataclass(frozen=True)
class Case:
    """One timing. ``params`` as sorted (name, value) pairs, so a case is hashable."""

    impl: str
    activation: str
    params: tuple[tuple[str, Any], ...]
    dtype: str
    size: int
    mode: str
    platform: str

    @property
    def variant(self) -> str:
        return variant_id(dict(self.params))

    @property
    def id(self) -> str:
        variant = f"({self.variant})" if self.variant else ""
        return (f"{self.impl}-{self.activation}{variant}-{self.dtype}-{self.size}-"
                f"{self.mode}-{self.platform}")

    @property
    def shape(self) -> tuple[int, ...]:
        if self.impl == BASELINE:
            return (self.size,)
        kind = catalog.get(self.activation).kind
        if kind in (Kind.AXIS, Kind.GATED):
            row = math.gcd(self.size, ROW)
            return (self.size // row, row)
        return (self.size,)


def platforms() -> list[str]:
    """The platforms JAX sees: ``cpu`` always, then its default backend's if another."""
    found = ["cpu"]
    default = jax.default_backend()
    if default != "cpu":
        found.append(default)
    return found


def cases(impls: Sequence[Implementation], activations: Iterable[Activation],
          dtypes: Sequence[str], sizes: Sequence[int], modes: Sequence[str],
          on: Sequence[str]) -> list[Case]:
    """Every case to time: the baseline first (per platform, dtype and size), then each
    activation's `bench_variants` for each implementation that provides it. The
    implementations of one case come one after the other, so that a ratio compares
    timings taken moments apart, whatever else the machine is doing over the run. one_hot
    has no ``fwd+bwd`` (integer indices have no gradient)."""
    out = [Case(BASELINE, BASELINE_ACTIVATION, (), d, n, "fwd", p)
           for p in on for d in dtypes for n in sizes]
    for act in activations:
        providers = [im.name for im in impls if im.get(act.name) is not None]
        for params, p, d, n, m in itertools.product(act.bench_variants(), on, dtypes, sizes,
                                                     modes):
            if m == "fwd+bwd" and act.grad is None:
                continue
            out.extend(Case(name, act.name, tuple(sorted(params.items())), d, n, m, p)
                       for name in providers)
    return out


@dataclass(frozen=True)
class Ready:
    """A compiled case with its inputs on the device: ``run()`` is one timed call."""

    run: Callable[[], Any]
    info: dict[str, Any]


def prepare(case: Case, fn: Callable[..., Any] | None, timeout: float) -> Ready:
    """Inputs on the case's device, the function compiled and run once (so that neither
    compilation nor the first call is timed). A raise or a hang raises `CallError`.
    Call it, and the ``run`` it returns, under the audit's `precision` (64-bit mode for
    float64)."""
    device = jax.devices(case.platform)[0]
    dtype = jnp.dtype(case.dtype)
    rng = np.random.default_rng(case.size)
    if case.impl == BASELINE:
        target, args = (lambda x: x + 1), (_floats(rng, case.shape, dtype, None),)
    else:
        act = catalog.get(case.activation)
        target, args = _target(act, fn, dict(case.params), case.shape, dtype, rng)
    if case.mode == "fwd+bwd":
        target, args = _with_gradient(target, args, rng)
    args = tuple(jax.device_put(a, device) for a in args)
    box: dict[str, Any] = {}

    def first_call() -> Any:
        box["compiled"] = jax.jit(target).lower(*args).compile()
        return box["compiled"](*args)

    out = call(first_call, timeout)
    compiled = box["compiled"]
    moved = sum(a.nbytes for a in jax.tree_util.tree_leaves((args, out)))

    def run() -> Any:
        return jax.block_until_ready(compiled(*args))

    return Ready(run, _info(case, device, moved))


def _target(act: Activation, fn: Callable[..., Any] | None, params: dict[str, Any],
            shape: tuple[int, ...], dtype: Any, rng: np.random.Generator,
            ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The function of the arrays it takes (x, then a mask or weights), and those arrays.
    Numbers and flags stay in the closure, as a caller's constants would be."""
    assert fn is not None
    if act.kind is Kind.INDEX:
        indices = rng.integers(0, params["num_classes"], shape).astype(np.int32)
        return (lambda i: fn(i, **params)), (indices,)
    low = act.domain[0] if math.isfinite(act.domain[0]) else None
    x = _floats(rng, shape, dtype, low)
    arrays = {}
    if params.get("where") == "random":
        arrays["where"] = rng.random(shape) < 0.8
    if isinstance(params.get("b"), str):
        b = rng.random(shape) * 2
        b[rng.random(shape) < 0.2] = 0.0
        if params["b"] == "mixed_sign":
            b *= rng.choice([-1.0, 1.0], shape)
        arrays["b"] = b.astype(dtype)
    fixed = {k: v for k, v in params.items() if k not in arrays}
    names = tuple(arrays)

    def target(x: Any, *extra: Any) -> Any:
        return fn(x, **fixed, **dict(zip(names, extra, strict=True)))

    return target, (x, *arrays.values())


def _floats(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any,
            low: float | None) -> np.ndarray:
    """Normal inputs with a spread of 3 (above ``low`` when the domain is bounded)."""
    x = rng.standard_normal(shape) * 3
    if low is not None:
        x = low + np.abs(x)
    return x.astype(dtype)


def _with_gradient(target: Callable[..., Any], args: tuple[Any, ...],
                   rng: np.random.Generator) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """(value, gradient with respect to x) through jax.vjp, with a random cotangent."""
    out = jax.eval_shape(target, *args)
    cotangent = jax.tree_util.tree_map(
        lambda s: rng.standard_normal(s.shape).astype(s.dtype), out)

    def fwd_bwd(x: Any, ct: Any, *extra: Any) -> Any:
        y, pullback = jax.vjp(lambda x: target(x, *extra), x)
        return y, pullback(ct)[0]

    return fwd_bwd, (args[0], cotangent, *args[1:])


def _info(case: Case, device: Any, moved: int) -> dict[str, Any]:
    """What pytest-benchmark's ``extra_info`` records for the case."""
    return {
        "impl": case.impl, "activation": case.activation, "variant": case.variant,
        "dtype": case.dtype, "size": case.size, "shape": "x".join(map(str, case.shape)),
        "mode": case.mode, "bytes": moved, "platform": device.platform,
        "device_kind": device.device_kind, "device": str(device),
        "processor": processor(), "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        "ml_dtypes": ml_dtypes.__version__,
    }
