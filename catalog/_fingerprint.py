"""What an oracle table's cache key hashes: the code and data that define its values, and
nothing else.

A formula's fingerprint is its source, as tokens (comments, blank lines, indentation and
docstrings dropped, so that documentation never moves a key), followed by the
fingerprints of everything it uses from its module: each helper function of this package
(followed in turn), and each constant (``GELU_CUBIC``, ``SELU_ALPHA``), by its ``repr``.
Libraries (math, mpmath) and the backend namespace ``B``, which every formula receives
as an argument, are the oracle's, keyed by its version (`oracles.tables.ORACLE`).
"""

from __future__ import annotations

import inspect
import io
import textwrap
import tokenize
import types
from collections.abc import Iterator
from typing import Any

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENDMARKER}
PACKAGE = __name__.split(".")[0]  # "actaudit": helpers of our own are followed


def tokens(source: str) -> str:
    """``source`` as its significant tokens, one per line: no comments, no layout, no
    docstrings (a string that is a statement of its own). A fragment (a lambda cut out
    of a call) is read as far as it goes."""
    kept: list[str] = []
    toks: list[tokenize.TokenInfo] = []
    try:
        toks.extend(tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline))
    except (tokenize.TokenError, IndentationError):
        pass
    for i, tok in enumerate(toks):
        if tok.type in _SKIP:
            continue
        if tok.type == tokenize.STRING and _statement(toks, i):
            continue
        kept.append(tok.string)
    return " ".join(kept)


def _statement(toks: list[tokenize.TokenInfo], i: int) -> bool:
    """Whether the string at ``i`` is a statement of its own (a docstring)."""
    before = next((t for t in reversed(toks[:i]) if t.type not in (tokenize.NL,
                                                                     tokenize.COMMENT)), None)
    after = next((t for t in toks[i + 1:] if t.type not in (tokenize.NL, tokenize.COMMENT)),
                 None)
    starts = before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT,
                                               tokenize.DEDENT)
    ends = after is None or after.type in (tokenize.NEWLINE, tokenize.ENDMARKER)
    return starts and ends


def _names(code: types.CodeType) -> Iterator[str]:
    """The global names ``code`` and the code nested in it refer to."""
    yield from code.co_names
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _names(c)


def _source(obj: Any) -> str:
    try:
        return tokens(inspect.getsource(obj))
    except (OSError, TypeError):  # no source (a builtin, a function made at run time)
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) if code is not None else repr(obj)


def of(value: Any, seen: set[int] | None = None) -> str:
    """The fingerprint of a value an entry holds: a function's source and what it uses,
    else its ``repr``."""
    seen = set() if seen is None else seen
    if not isinstance(value, types.FunctionType):
        return repr(value)
    if id(value) in seen:
        return f"<{value.__qualname__}>"
    seen.add(id(value))
    parts = [_source(value)]
    scope = value.__globals__
    for name in sorted(set(_names(value.__code__))):
        if name not in scope:
            continue  # an attribute (B.exp), a builtin
        used = scope[name]
        if isinstance(used, types.FunctionType):
            if used.__module__.split(".")[0] == PACKAGE:
                parts.append(f"{name} = {of(used, seen)}")
        elif isinstance(used, int | float | complex | str | bytes | tuple | frozenset):
            parts.append(f"{name} = {used!r}")
    return "\n".join(parts)


def module(mod: types.ModuleType) -> str:
    """A whole module's significant tokens (the sampler: it picks the inputs)."""
    return tokens(inspect.getsource(mod))
