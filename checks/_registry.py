"""The checks, each declared once: its name, category, what its failures mean (a
`Severity`), the activations it applies to and whether it needs a derivative. The audit,
``--checks``, summary.csv's ``check`` column, the report's ordering and the ids of the
pytest plugin's items (`actaudit.pytest_plugin`) all come from `CHECKS`.

A finding's status follows from its severity (`status`): ``fail`` for what a user would
call wrong, ``warn`` for what a user may accept, unless the audit is strict about that
class (``--strict-subnormals``, ``--strict-conventions``). A check that finds something
worse than its own kind says so on the finding (a NaN result in an accuracy check is
`Severity.NONFINITE`; a zero of the wrong sign, `Severity.CONVENTION`), see `classify`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..catalog import CATALOG, Activation, Bounds, Identity, Kind, Monotone, Saturation


class Severity(enum.Enum):
    """What a finding means, most severe first (the report's order)."""

    NONFINITE = "NaN or ∞ where the truth is finite"
    WRONG = "wrong value or derivative beyond tolerance"
    IGNORED = "a parameter or axis ignored"
    CRASH = "raised, hung or returned the wrong shape"
    PROMOTION = "output dtype not the family's documented rule"
    CONVENTION = "documented convention broken (sign of zero, subgradient, refused input)"
    SUBNORMAL = "subnormals flushed to zero"
    ROUNDING = "a property broken by less than the value tolerance (rounding)"

    @property
    def key(self) -> str:
        """The short name: results.parquet's ``severity`` column, ``--strict-*`` flags."""
        return self.name.lower()

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


# what a user may accept: warn, unless the audit is strict about it (the flag's name)
LENIENT = {Severity.SUBNORMAL: "--strict-subnormals", Severity.CONVENTION: "--strict-conventions",
           Severity.ROUNDING: ""}


def status(severity: Severity, strict: Iterable[Severity] = ()) -> str:
    """The status of a finding that did not pass, from its severity."""
    if severity is Severity.CRASH:
        return "error"
    return "warn" if severity in LENIENT and severity not in set(strict) else "fail"


def by_key(key: str) -> Severity:
    return Severity[key.upper()]


def meaning(check: str, status: str, given: Severity | None = None) -> Severity | None:
    """What a finding means: None where it passed or was skipped, a crash where it
    errored, else ``given`` (what the finding showed) or its check's declared severity
    (by category for a check name since split, such as ``property``)."""
    if status in ("pass", "skip"):
        return None
    if status == "error":
        return Severity.CRASH
    if given is not None:
        return given
    found = BY_NAME.get(check) or next(
        (c for c in CHECKS if c.category == check.partition(":")[0]), None)
    return found.severity if found else Severity.WRONG


ELEMENTWISE = frozenset({Kind.ELEMENTWISE})
VECTOR = frozenset({Kind.AXIS, Kind.GATED, Kind.INDEX})
ROWS = frozenset({Kind.AXIS, Kind.GATED})  # a row of any length (not one_hot's indices)
EVERY = ELEMENTWISE | VECTOR


@dataclass(frozen=True)
class Check:
    """One check. ``needs``: what else the activation's entry must have for the check to
    apply (its kinks, a property)."""

    name: str
    severity: Severity
    kinds: frozenset[Kind]
    derivative: bool
    doc: str
    needs: Callable[[Activation], bool] | None = None
    search: bool = False  # run only with a search profile (`_search`)
    dtypes: tuple[str, ...] | None = None  # run only in these (None: in every dtype)
    asked: bool = False  # run only where --checks names it or its category

    @property
    def category(self) -> str:
        return self.name.partition(":")[0]

    def applies(self, act: Activation) -> bool:
        return (act.kind in self.kinds and (not self.derivative or act.grad is not None)
                and (self.needs is None or self.needs(act)))


def _has(prop: type) -> Callable[[Activation], bool]:
    return lambda act: any(isinstance(p, prop) for p in act.properties)


def _declares(name: str) -> Callable[[Activation], bool]:
    return lambda act: any(isinstance(p, Identity) and p.name == name for p in act.properties)


def _identities() -> tuple[Check, ...]:
    """A check per name of the catalog's identities (`Identity`), for the kinds that
    declare one: ``property:reflection`` says f(x) + f(−x) = 1 for σ, f(x) − f(−x) = x for
    softplus (`_properties`)."""
    found: dict[str, list[tuple[Activation, Identity]]] = {}
    for act in CATALOG.values():
        for p in act.properties:
            if isinstance(p, Identity):
                found.setdefault(p.name, []).append((act, p))
    return tuple(
        Check(f"property:{name}", Severity.WRONG, frozenset(a.kind for a, _ in pairs), False,
              "without the oracle, the implementation's results keep "
              + "; ".join(dict.fromkeys(p.text for _, p in pairs)), _declares(name))
        for name, pairs in sorted(found.items()))


CHECKS: tuple[Check, ...] = (
    Check("accuracy", Severity.WRONG, EVERY, False,
          "the value in ULP against the correctly rounded truth"),
    Check("subnormal", Severity.SUBNORMAL, ELEMENTWISE, False,
          "subnormal inputs and results: a flushed result warns, a wrong one fails"),
    Check("accuracy:rows", Severity.WRONG, ROWS, False,
          "the value on rows of 1 to 100,000 entries, in patterns that break blocked "
          "kernels (a new maximum in each block, ties, a long tail of −inf)"),
    Check("accuracy:search", Severity.WRONG, ELEMENTWISE | ROWS, False,
          "the worst value hypothesis finds, steered by the ULP error (float32 and float64 "
          "inputs; rows of every dtype, length and shape, masks and b drawn too)",
          search=True),
    Check("special", Severity.WRONG, EVERY, False,
          "±0, ±inf, NaN and infinite or NaN truths, bit for bit"),
    Check("special:rows", Severity.WRONG, ROWS, False,
          "infinite and NaN truths on those rows (a tail of −inf), bit for bit"),
    Check("gradient", Severity.WRONG, EVERY, True,
          "the derivative (vjp and jvp; a vector function's Jacobian) in ULP"),
    Check("gradient:rows", Severity.WRONG, ROWS, True,
          "a reduction's gradient (logsumexp's) on rows of 1 to 100,000 entries",
          lambda act: act.reduces),
    Check("gradient:search", Severity.WRONG, ELEMENTWISE | ROWS, True,
          "the worst derivative hypothesis finds (a reduction's gradient on rows)",
          lambda act: act.kind is Kind.ELEMENTWISE or act.reduces, search=True),
    Check("gradient:special", Severity.WRONG, ELEMENTWISE, True,
          "the derivative at ±inf and where it is infinite or NaN"),
    Check("gradient:kinks", Severity.CONVENTION, ELEMENTWISE, True,
          "the catalog's subgradient at each kink", lambda act: bool(act.kinks)),
    Check("subnormal:gradient", Severity.SUBNORMAL, ELEMENTWISE, True,
          "the derivative at subnormal inputs and results"),
    Check("gradient:second", Severity.WRONG, ELEMENTWISE | ROWS, True,
          "the second derivative (reverse over reverse and forward over reverse, the worse "
          "of the two) in ULP; at ±inf its limit, at kinks and bends the catalog's "
          "convention (warn), subnormal results as for the derivative; along an axis, "
          "Hessian-vector products along every unit vector and 2 random directions, "
          "forward over reverse and reverse over forward; where asked for "
          "(--checks gradient, or by name)", asked=True),
    Check("dtype", Severity.PROMOTION, EVERY, False,
          "the output dtype: the input's, or JAX's promotion with array parameters"),
    Check("transform", Severity.WRONG, EVERY, False,
          "jit agrees with eager, and vmap with a loop"),
    *(Check(f"transform:{name}", Severity.WRONG, ELEMENTWISE, True,
            f"the derivative by {text} agrees with the plain one (jax.vjp under jit) within "
            "the gradient tolerance; a NaN or ∞ where that is finite fails (in float32: a "
            "composition's rules are the same in every dtype; where asked for, --checks "
            "transform or by name)", dtypes=("float32",), asked=True)
      for name, text in (
          ("jit_grad", "jax.jit of jax.grad"), ("grad_jit", "jax.grad of a jitted function"),
          ("vmap_grad", "jax.vmap of jax.grad"), ("grad_vmap", "jax.grad of a vmapped function"),
          ("jacfwd_jacrev", "jax.jacfwd and by jax.jacrev (a diagonal Jacobian, the same "
           "both ways)"),
          ("linear_transpose", "jax.linear_transpose of the JVP"))),
    Check("property:monotone", Severity.WRONG, ELEMENTWISE, False,
          "non-decreasing where the catalog says so", _has(Monotone)),
    Check("property:bounds", Severity.WRONG, ELEMENTWISE | ROWS, False,
          "within the catalog's bounds (on rows: bounds of the row, max ≤ logsumexp ≤ "
          "max + log n)", _has(Bounds)),
    Check("property:saturation", Severity.WRONG, ELEMENTWISE, False,
          "exactly ±1 where the truth rounds there (tanh, σ)", _has(Saturation)),
    *_identities(),
)
BY_NAME = {c.name: c for c in CHECKS}
CATEGORIES = tuple(dict.fromkeys(c.category for c in CHECKS))
DERIVATIVE = frozenset(c.name for c in CHECKS if c.derivative)


def declared(name: str) -> Check:
    """The declaration of a check by its row name (``property:monotone``)."""
    return BY_NAME[name]


def categories(act: Activation) -> tuple[str, ...]:
    """The categories with at least one check for ``act``'s kind (the pytest ids)."""
    return tuple(dict.fromkeys(c.category for c in CHECKS if act.kind in c.kinds))


def applying(act: Activation, wanted: frozenset[str] | None = None, *, search: bool = False,
             dtype: str | None = None, params: Mapping[str, Any] | None = None
             ) -> tuple[Check, ...]:
    """The checks that apply to ``act`` in ``dtype`` (`Check.dtypes`), of those ``wanted``
    (all by default, but those run only where ``wanted`` names them or their category,
    `Check.asked`): categories (``gradient``), or checks by name (``gradient:second``);
    with ``search``, the search's too where it adds anything in ``dtype`` (`searched`;
    any dtype where None); at the variant ``params``, those checked there (`at_variant`;
    any variant where None)."""
    return tuple(c for c in CHECKS if c.applies(act) and _wanted(c, wanted)
                 and (c.dtypes is None or dtype is None or dtype in c.dtypes)
                 and (not c.search or (search and searched(act, dtype)))
                 and (params is None or at_variant(c, act, params)))


def at_variant(c: Check, act: Activation, params: Mapping[str, Any]) -> bool:
    """Whether ``c`` is checked at the variant ``params`` of ``act``: a property of a
    function of a slice (softmax, glu) is checked on the rows of every length
    (`_properties.on_rows`), at the activation's defaults alone."""
    if c.category != "property" or act.kind not in (Kind.AXIS, Kind.GATED):
        return True
    return dict(params) == act.variants()[0]


def _wanted(c: Check, wanted: frozenset[str] | None) -> bool:
    """Whether ``wanted`` (None: the default run) asks for ``c``, by name or category."""
    named = wanted is not None and (c.category in wanted or c.name in wanted)
    return named or (wanted is None and not c.asked)


def searched(act: Activation, dtype: str | None) -> bool:
    """Whether a search adds anything: not for an elementwise function in float16 or
    bfloat16, whose every input the other checks take."""
    return act.kind is not Kind.ELEMENTWISE or dtype not in ("float16", "bfloat16")


def classify(want: np.ndarray, got: np.ndarray, default: Severity,
             nan_in: np.ndarray | None = None) -> np.ndarray:
    """Each disagreement's severity rank: NaN or ∞ where the truth is finite; a convention
    where the two differ only in the sign of a zero, or where the truth is NaN by the
    catalog's convention (the input holds no NaN: softmax of a slice with +inf, log1mexp
    below 0) and the implementation defines a value; else the check's ``default``.
    ``nan_in``: where the input holds a NaN (NaN in, NaN out is no convention)."""
    with np.errstate(invalid="ignore"):
        nonfinite = np.isfinite(want) & ~np.isfinite(got)
        zero_sign = (want == 0) & (got == 0)
        defined = np.isnan(want) & ~np.isnan(got)
    if nan_in is not None:
        defined &= ~nan_in
    else:
        defined[:] = False
    convention = zero_sign | defined
    return np.where(nonfinite, Severity.NONFINITE.rank,
                    np.where(convention, Severity.CONVENTION.rank, default.rank))


def worst(ranks: np.ndarray) -> Severity:
    return list(Severity)[int(np.min(ranks))]
