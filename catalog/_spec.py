"""The data model of the catalog: one `Activation` per function, described once.

Formulas are written once against an *exact-arithmetic namespace* ``B`` (see
`actaudit.oracles.backends`): the oracle evaluates them with mpmath and, independently,
with Arb balls to certify the rounding. Inside a formula:

* ``x`` (or each entry of a vector) is exact: a finite input is a backend number, a
  non-finite one a Python float; parameters are backend numbers holding the exact decimal
  literal (``alpha=0.01`` means 1/100, not the binary float nearest to it), or, for a
  parameter the library rounds (`Param.taken_as`), the binary number it rounds it to;
* a value that is an exact number plus a far smaller remainder is returned as
  ``B.near(base, remainder)`` (see `actaudit.oracles.backends`);
* the formulas also run in float64 interval arithmetic (`actaudit.oracles.filter`), for
  every float32 input: there a difference that cancels (x − tanh(x) near 0) is also given
  as its alternating series, ``B.alternating(x, terms, exact)``; a value whose
  factors underflow far out is written as a product (σ(x)(1 + x·σ(−x)), not a sum), so
  that its sign, and so its rounding to ±0.0, is still known; and a value beside a tie
  of the format (x·σ(x) = x/2 + x²/4 at an odd subnormal x) as ``B.near(x/2, rest)``,
  whose sign the filter then uses;
* comparisons on inputs and parameters are exact, so piecewise definitions are plain ``if``;
* a formula may return a Python number (an exact value: ``0``, ``math.inf``, ``math.nan``).
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _fingerprint

Formula = Callable[..., Any]


class Kind(enum.Enum):
    """How an activation maps inputs to outputs."""

    ELEMENTWISE = "elementwise"  # y[i] = f(x[i])
    AXIS = "axis"  # y along an axis depends on the whole slice (softmax, logsumexp, ...)
    GATED = "gated"  # the axis is split in two halves, one gating the other (glu)
    INDEX = "index"  # integer indices in, one-hot rows out


class ZeroSign(enum.Enum):
    """What f(-0.0) must be, for functions with f(0) = 0."""

    ODD = "odd"  # f(±0) = ±0, as IEEE 754 asks of tanh, expm1, ...: the sign is checked
    ANY = "any"  # either sign is accepted (undocumented: relu's max(x, 0))


@dataclass(frozen=True)
class Param:
    """A parameter of an activation, its default and the values the suites exercise.

    ``variants`` are the non-default values to exercise; for array-valued parameters
    (``type`` "mask" or "floats") they name patterns the suites generate ("random",
    "with_zeros", "mixed_sign"). Parameters with ``affects_value=False`` (axis, keepdims,
    dtype, algorithm) place results or choose a method, not the mathematical value: the
    oracle, working on one 1-D slice, never sees them. A ``required`` parameter has no
    default; its first variant stands in for one where the suites need a default, and the
    command line asks for it. ``minimum``: the smallest valid value (one_hot's
    num_classes is at least 1). ``taken_as``: the formats the library documents rounding
    the parameter through before it computes with it, in order, ``"x"`` standing for the
    input's dtype. jax.nn converts a Python float to x's dtype (JAX's weak typing), so its
    leaky_relu multiplies a float16 input by float16(0.01); Flax's PReLU stores its slope
    as a float32 parameter and casts that to x's dtype. The oracle's truth uses the
    parameter so rounded: that rounding is the library's documented choice, not an error
    of the kernel. Empty: the exact decimal as written (0.01 is 1/100). ``bench``: its
    values take different code paths (a mask, a method, an approximation), so the
    benchmarks time each variant; a parameter that only changes a number (alpha, beta) is
    timed at its default. It is left out of ``repr``, and so of the oracle tables' cache
    keys: it changes no value.
    """

    name: str
    default: Any
    variants: tuple[Any, ...] = ()
    doc: str = ""
    affects_value: bool = True
    keyword_only: bool = False
    required: bool = False
    type: str = ""
    minimum: float | None = None
    taken_as: tuple[str, ...] = ()
    bench: bool = field(default=False, repr=False)

    @property
    def kind(self) -> str:
        """float, int, bool, str, mask, floats or dtype: the declared ``type``, else the
        default's, except that an int default with a float among the variants (squareplus's
        b = 4, b = 1.0) is a float."""
        if self.type:
            return self.type
        if self.default is None:
            return "float"
        if (type(self.default) is int
                and any(isinstance(v, float) for v in self.variants)):
            return "float"
        return type(self.default).__name__


# `Param.taken_as` for a Python float parameter that jax.nn takes in x's dtype (weak typing)
IN_X = ("x",)


@dataclass(frozen=True)
class Kink:
    """A point where the derivative jumps, and the subgradient taken there.

    ``at`` is a number, or a function of the parameters (``lambda lambd: lambd``) for a kink
    that moves with one (hard_shrink's ±λ); ``grad`` is the convention's value: a number,
    or a formula ``(B, **params)``; ``documented`` says whether the library documents it
    (jax.nn documents relu'(0) = 0) or it is only what its code gives (measured with
    jax.grad, or torch.autograd for torch's functions).
    """

    at: float | Callable[..., float]
    grad: float | Formula
    documented: bool = False
    second: float | Formula = 0.0


@dataclass(frozen=True)
class Bend:
    """A point where the second derivative jumps though the first does not (celu's 0,
    sparse_plus's ±1, soft_sign's 0), or is infinite (log1mexp's 0), and the value taken
    there (``second``: a number, or a formula ``(B, **params)``). At a `Kink` its
    ``second`` says the same. The catalog's rule for both: the one-sided second
    derivative of the piece the convention (the subgradient, or the formula's branch at
    the point) takes, 0 where that piece is linear (relu's, hard_tanh's), or the limit
    within the domain at its end (log1mexp's −inf at 0). ``documented``: as for `Kink`.
    """

    at: float | Callable[..., float]
    second: float | Formula
    documented: bool = False


@dataclass(frozen=True)
class Limits:
    """Values at -inf and +inf: numbers, or formulas ``(B, **params) -> value``."""

    neg: float | Formula
    pos: float | Formula


@dataclass(frozen=True)
class Bounds:
    """Every value lies in [lo, hi] (so does every correctly rounded one: an implementation
    outside them, a sigmoid above 1, fails even within tolerance). For a vector activation
    a bound may be a function of the row (float64, its finite entries), ``(xs) -> float``:
    max ≤ logsumexp ≤ max + log n; a result past such a bound by less than the value
    tolerance is a rounding wobble, since the truth may be the bound itself (a row of
    ties), by more a wrong value."""

    lo: float | Callable[[Any], float]
    hi: float | Callable[[Any], float]


@dataclass(frozen=True)
class Monotone:
    """Non-decreasing wherever defined (correct rounding keeps that: so must an
    implementation, at neighbouring inputs too)."""


@dataclass(frozen=True)
class Identity:
    """A relation between an implementation's own results that holds in exact arithmetic,
    checked without the oracle (``property:NAME``): ``sides(F, x, **params)`` returns its
    two sides. In a side, ``F.self(z)`` is the activation under audit (at the case's
    parameters), ``F.NAME(z)`` the same implementation's NAME at its defaults; the rest is
    exact arithmetic on inputs and those results (``x * F.sigmoid(x)``), and what ``F``
    offers for rows (`checks._properties.Calls`: sums, halves, a permutation, a shift).
    Each result may be off by the tolerance of its activation, so the sides agree within
    the sum of those allowances; a larger difference means one of the results is wrong.

    exact: correct rounding keeps the identity exactly (tanh(−x) = −tanh(x), softmax of a
    row shifted exactly): a difference within the tolerance is a rounding wobble (warn).
    strict: any difference is wrong (a change in one row moving another).
    grid: x is first put on a grid where the shift ``F.c`` of each row is exact.
    rows: checked on the rows of `checks._rows` at the default parameters (a vector
    activation's); otherwise on every input of the elementwise tables, at every variant.
    """

    name: str
    text: str
    sides: Callable[..., tuple[Any, Any]]
    exact: bool = False
    strict: bool = False
    grid: bool = False


@dataclass(frozen=True)
class Saturation:
    """Where the correctly rounded truth is one of ``levels`` (tanh's ±1, σ's 1 far out),
    the result is that level exactly: a result a rounding away from it is a wobble (warn),
    one farther a wrong value."""

    levels: tuple[float, ...]


Property = Bounds | Monotone | Identity | Saturation


@dataclass(frozen=True)
class Activation:
    """One catalog entry.

    value, grad: the formula and its analytic derivative (for ELEMENTWISE: ``(x, B,
    **params)``; for the vector kinds: ``(xs, B, **params)`` returning a list, the grad a
    Jacobian as a list of rows).

    properties: `Bounds`, `Monotone`, `Saturation` and each `Identity`, checked on every
    input of a table, or on rows (``property:NAME``).

    second_limits: the second derivative at ±inf (elementwise entries; None: 0 at both,
    as for every entry whose derivative levels off). bends: the `Bend`s, points where
    only the second derivative jumps; at a `Kink` its ``second`` gives it.

    slice_scale: where a slice's outputs are differences of larger terms, the size of
    those terms, ``(xs, outputs, params) -> float`` on float64 arrays (the slice, its
    correctly rounded outputs, the parameters with a mask or b as tuples): errors count in
    ulps of the larger of each output and this size. standardize's x − mean cancels (its
    slice's largest output, `largest_output`); logsumexp's max + log Σ exp(x − max)
    cancels where the max is far from the result (the largest entry that counts,
    `largest_entry`): a result near 0 from entries near 8 is ulps of 8 off in any
    working precision, as its condition number says (an input's last bit moves it as
    much). A size, not a truth: float64 suffices.

    grad_scale: for a derivative that is a sum of terms which cancel where it crosses
    zero (silu′ = σ(x) + x·σ(x)σ(−x), zero at −1.278), the size of those terms, a formula
    ``(x, B, **params)``: its errors count in ulps of the larger of the derivative and
    that size. Beside the zero no fixed precision gets closer (float32's silu′ at the
    float32 nearest the root is millions of its own ulps off, an ulp of σ(x)).

    second_scale: the same for the second derivative, where it crosses zero between
    representable inputs as a sum of terms that cancel (silu″ = σ′(x)(2 − x·tanh(x/2)),
    zero at ±2.3994): the size of those terms.

    reduces: one output per slice (logsumexp): its Jacobian is a single row, the
    gradient, which is checked on rows of every length (a full Jacobian only on short
    slices).

    promotes: the output dtype with array parameters is JAX's promotion of x's dtype and
    theirs (`jnp.result_type`), as jax.nn's arithmetic gives it (float16 x, a float32
    negative_slope: float32); False where the library documents casting the parameter to
    x's dtype (Flax's PReLU). With Python scalars it is x's dtype either way.
    """

    name: str
    kind: Kind
    formula: str
    value: Formula
    grad: Formula | None
    params: tuple[Param, ...] = ()
    limits: Limits | None = None
    grad_limits: Limits | None = None
    second_limits: Limits | None = None
    zero_sign: ZeroSign | None = None
    kinks: tuple[Kink, ...] = ()
    bends: tuple[Bend, ...] = ()
    breakpoints: tuple[float | Callable[..., float], ...] = ()
    domain: tuple[float, float] = (-math.inf, math.inf)
    conventions: tuple[str, ...] = ()
    source: str = "jax.nn"
    same_as: str | None = None
    slice_scale: Callable[..., float] | None = None
    reduces: bool = False
    grad_scale: Formula | None = None
    second_scale: Formula | None = None
    promotes: bool = True
    properties: tuple[Property, ...] = ()
    signature: str = field(default="")

    def __post_init__(self) -> None:
        if not self.signature:
            args = ["x"] + [p.name if p.required else f"{p.name}={p.default!r}"
                            for p in self.params]
            object.__setattr__(self, "signature", f"{self.name}({', '.join(args)})")

    @property
    def defaults(self) -> dict[str, Any]:
        """Every parameter's default; a required one takes its first variant."""
        return {p.name: p.variants[0] if p.required else p.default for p in self.params}

    def variants(self) -> list[dict[str, Any]]:
        """Non-default parameter sets: the defaults first ({}), then each parameter at each
        of its other values (required parameters always given)."""
        base = {p.name: p.variants[0] for p in self.params if p.required}
        out = [base]
        for p in self.params:
            out.extend({**base, p.name: v} for v in p.variants if base.get(p.name) != v)
        return out

    def bench_variants(self) -> list[dict[str, Any]]:
        """The variants timed by the benchmarks: the defaults, and each variant of a
        parameter marked ``bench``."""
        marked = {p.name for p in self.params if p.bench}
        base, *others = self.variants()
        return [base] + [v for v in others
                         if any(v.get(k) != base.get(k) for k in marked)]

    def resolve(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """All parameters, defaults filled in; unknown names raise ValueError."""
        unknown = set(overrides) - {p.name for p in self.params}
        if unknown:
            known = ", ".join(p.name for p in self.params) or "none"
            raise ValueError(
                f"{self.name} has no parameter {', '.join(sorted(unknown))} (parameters: {known})"
            )
        for p in self.params:
            v = overrides.get(p.name)
            if (p.minimum is not None and isinstance(v, int | float)
                    and not isinstance(v, bool) and not v >= p.minimum):
                raise ValueError(f"{self.name}: {p.name} must be at least {p.minimum:g}, "
                                 f"got {v!r}")
        return {**self.defaults, **overrides}

    def kinks_at(self, params: Mapping[str, Any]) -> list[tuple[float, Kink]]:
        """Each kink with where it is for these parameters (defaults filled in)."""
        return [(_at(k.at, self.math_params(self.resolve(params))), k) for k in self.kinks]

    def bends_at(self, params: Mapping[str, Any]) -> list[tuple[float, Kink | Bend]]:
        """Each point whose second derivative is a convention (a `Kink` or a `Bend`), with
        where it is for these parameters."""
        kw = self.math_params(self.resolve(params))
        return [(_at(k.at, kw), k) for k in (*self.kinks, *self.bends)]

    def breakpoints_at(self, params: Mapping[str, Any]) -> list[float]:
        """Where the definition changes branch, for these parameters."""
        kw = self.math_params(self.resolve(params))
        return [_at(b, kw) for b in self.breakpoints]

    def math_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters that change values (those placing results dropped)."""
        placing = {p.name for p in self.params if not p.affects_value}
        return {k: v for k, v in params.items() if k not in placing}

    def fingerprint(self) -> str:
        """Everything that defines this entry's values and the inputs its tables sample,
        for cache keys (`_fingerprint`): the formulas with the helpers and constants they
        use, the limits, kinks, breakpoints, domain, the sign of f(-0.0) and what each
        parameter is (its default, type, rounding); not its documentation."""
        params = [(p.name, p.default, p.kind, p.affects_value, p.taken_as) for p in self.params]
        parts = [repr((self.name, self.kind.value, params, self.domain, self.zero_sign))]
        parts += [f"breakpoint {_fingerprint.of(b)}" for b in self.breakpoints]
        parts += [_fingerprint.of(fn) for fn in (self.value, self.grad)]
        for lim in (self.limits, self.grad_limits):
            parts += [_fingerprint.of(end) for end in ((lim.neg, lim.pos) if lim else ())]
        parts += [f"kink {_fingerprint.of(k.at)} {_fingerprint.of(k.grad)}" for k in self.kinks]
        return "\n".join(parts)

    def second_fingerprint(self) -> str:
        """`fingerprint`, and what defines the second derivative beyond it: its limits and
        the conventions at kinks and bends."""
        lim = self.second_limits
        parts = [self.fingerprint()]
        parts += [_fingerprint.of(end) for end in ((lim.neg, lim.pos) if lim else ())]
        parts += [f"second {_fingerprint.of(k.at)} {_fingerprint.of(k.second)}"
                  for k in (*self.kinks, *self.bends)]
        return "\n".join(parts)


def _at(where: float | Callable[..., float], params: Mapping[str, Any]) -> float:
    """A kink's or breakpoint's place: a number, or its function of the parameters (given
    the ones it names)."""
    if not callable(where):
        return float(where)
    names = inspect.signature(where).parameters
    return float(where(**{k: v for k, v in params.items() if k in names}))


def variant_id(params: Mapping[str, Any]) -> str:
    """Canonical variant text: sorted ``k=v`` Python literals, comma-separated ('' for defaults).

    >>> variant_id({"approximate": False, "alpha": 0.5})
    'alpha=0.5, approximate=False'
    """
    return ", ".join(f"{k}={params[k]!r}" for k in sorted(params))
