"""Implementations under audit: this project's own (`reference`) and the plug-in SPECs.

>>> from actaudit import impl
>>> impl.load("reference").get("softplus")  # doctest: +ELLIPSIS
<function softplus at ...>
"""

from ._plugins import (
    BUILTINS,
    GROUP,
    Implementation,
    SpecError,
    available,
    load,
    providers,
    shared,
)

__all__ = [
    "BUILTINS", "GROUP", "Implementation", "SpecError", "available", "load", "providers",
    "shared",
]
