"""The catalog: every activation described once, shared by oracles, suites and reports.

>>> from actaudit import catalog
>>> catalog.get("elu").signature
'elu(x, alpha=1.0)'
"""

from ._elementwise import ALIASES, ELEMENTWISE
from ._spec import (
    Activation,
    Bend,
    Bounds,
    Identity,
    Kind,
    Kink,
    Limits,
    Monotone,
    Param,
    Property,
    Saturation,
    ZeroSign,
    variant_id,
)
from ._vector import VECTOR

CATALOG: dict[str, Activation] = {a.name: a for a in sorted(
    (*ELEMENTWISE, *ALIASES, *VECTOR), key=lambda a: a.name)}


def get(name: str) -> Activation:
    """The entry called ``name``; KeyError with the known names otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown activation {name!r}; known: {', '.join(CATALOG)}") from None


def canonical(act: Activation) -> Activation:
    """The entry an alias stands for (swish -> silu), else the entry itself."""
    return CATALOG[act.same_as] if act.same_as else act


__all__ = [
    "CATALOG", "Activation", "Bend", "Bounds", "Identity", "Kind", "Kink", "Limits", "Monotone",
    "Param", "Property", "Saturation", "ZeroSign", "canonical", "get",
    "variant_id",
]
