"""Implementations under audit: this project's own (`reference`) and the plug-in SPECs.

>>> from actaudit import impl
>>> impl.load("reference").get("softplus")  # doctest: +ELLIPSIS
<function softplus at ...>
"""

from ._plugins import (
    BUILTINS,
    GROUP,
    IN_MEMORY,
    Implementation,
    SpecError,
    available,
    in_memory,
    load,
    of,
    providers,
    shared,
    unpickled,
)

__all__ = [
    "BUILTINS", "GROUP", "IN_MEMORY", "Implementation", "SpecError", "available", "in_memory",
    "load", "of", "providers", "shared", "unpickled",
]
