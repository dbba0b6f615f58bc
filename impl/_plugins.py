"""Resolving a SPEC (docs/README.md) into an `Implementation`: activation name -> function.

A SPEC is a built-in name, an entry point of the ``actaudit.implementations`` group, a
``path/to/file.py[:attr]``, or a ``package.module[:attr]``; the object found is a module,
any object with attributes, or a mapping, whose members carry jax.nn's names. Names it
lacks are simply not provided (the audit gives them `skip` rows).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import catalog

GROUP = "actaudit.implementations"


class SpecError(ValueError):
    """A SPEC that names nothing loadable: bad usage, exit status 2."""


@dataclass(frozen=True)
class Implementation:
    """What a SPEC resolved to: its name in results, and the functions it provides."""

    name: str
    functions: Mapping[str, Callable[..., Any]] = field(repr=False)
    origin: str = ""
    # the functions pickled (cloudpickle), for one given in memory: what its worker loads
    payload: bytes | None = field(default=None, repr=False, compare=False)

    def get(self, activation: str) -> Callable[..., Any] | None:
        return self.functions.get(activation)

    @property
    def provides(self) -> list[str]:
        return sorted(self.functions)


def _members(obj: Any) -> dict[str, Callable[..., Any]]:
    """The catalog names that ``obj`` (module, object or mapping) provides as callables."""
    found = {}
    for name in catalog.CATALOG:
        fn = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if callable(fn):
            found[name] = fn
    return found


def _builtin(name: str) -> Mapping[str, Callable[..., Any]] | None:
    from . import _adapters

    makers = {
        "reference": _adapters.reference,
        "jax.nn": _adapters.jax_nn,
        "flax.nnx": _adapters.flax_nnx,
        "flax.linen": _adapters.flax_linen,
        "scipy": _adapters.scipy,
        "torch": _adapters.torch,
    }
    make = makers.get(name)
    if make is None:
        return None
    try:
        return make()
    except ImportError as e:
        raise SpecError(f"{name}: needs {e.name or 'a library that is not installed'} "
                        f"(pip install 'actaudit[{name.split('.')[0]}]')") from None


BUILTINS = ("reference", "jax.nn", "flax.nnx", "flax.linen", "scipy", "torch")


def _attr(obj: Any, path: str, spec: str) -> Any:
    for part in path.split(".") if path else ():
        try:
            obj = obj[part] if isinstance(obj, Mapping) else getattr(obj, part)
        except (AttributeError, KeyError):
            raise SpecError(f"{spec}: no attribute {part!r}") from None
    return obj


def _from_file(path: str, spec: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise SpecError(f"{spec}: no such file {path!r}")
    name = f"actaudit_plugin_{abs(hash(str(file.resolve())))}"
    loader = importlib.util.spec_from_file_location(name, file)
    if loader is None or loader.loader is None:
        raise SpecError(f"{spec}: cannot load {path!r} as Python")
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    try:
        loader.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise SpecError(f"{spec}: importing {path!r} raised {type(e).__name__}: {e}") from None
    return module


def _from_module(name: str, spec: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise SpecError(f"{spec}: cannot import {name!r} ({e})") from None
    except Exception as e:
        raise SpecError(f"{spec}: importing {name!r} raised {type(e).__name__}: {e}") from None


def load(spec: str) -> Implementation:
    """The implementation a SPEC names; `SpecError` (one line) if there is none."""
    spec = spec.strip()
    if not spec:
        raise SpecError("empty implementation SPEC")
    builtin = _builtin(spec)
    if builtin is not None:
        return Implementation(spec, dict(builtin), "built-in")
    for ep in entry_points(group=GROUP):
        if ep.name == spec:
            try:
                obj = ep.load()
            except Exception as e:
                raise SpecError(f"{spec}: entry point {ep.value!r} raised "
                                f"{type(e).__name__}: {e}") from None
            return _implementation(spec, obj() if isinstance(obj, type) else obj,
                                   f"entry point {ep.value}")
    target, _, attr = spec.partition(":")
    if target.endswith(".py") or "/" in target or "\\" in target:
        obj = _from_file(target, spec)
    else:
        obj = _from_module(target, spec)
    return _implementation(spec, _attr(obj, attr, spec), target)


IN_MEMORY = "in memory"


def of(obj: Any, name: str | None = None) -> Implementation:
    """An implementation from what a Python caller holds (`actaudit.audit`): a SPEC
    string; an `Implementation`; a module, loaded by its import name (or its file) so
    that a worker and a repro line load it the same way; or a mapping (or any object)
    of functions named like jax.nn's, kept in memory and sent to its worker pickled
    (cloudpickle: lambdas and a notebook's functions too). ``name``: its name in the
    results (for a mapping; "functions" by default)."""
    if isinstance(obj, Implementation):
        return obj
    if isinstance(obj, str):
        return load(obj)
    if isinstance(obj, ModuleType):
        importable = obj.__name__ != "__main__" and _findable(obj.__name__)
        if importable and name is None:
            return load(obj.__name__)
        if getattr(obj, "__file__", None) and name is None and obj.__name__ != "__main__":
            return load(str(obj.__file__))
    return in_memory(name or getattr(obj, "__name__", None) or "functions", obj)


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def in_memory(name: str, obj: Any) -> Implementation:
    """The functions of ``obj`` under ``name``, pickled for a worker; `SpecError` where
    they cannot be."""
    import cloudpickle

    found = _implementation(name, obj, IN_MEMORY).functions
    try:
        payload = cloudpickle.dumps(dict(found))
    except Exception as e:
        raise SpecError(f"{name}: its functions cannot be sent to a worker process "
                        f"({type(e).__name__}: {e}); give a module or a SPEC instead, or "
                        "isolate=False") from None
    return Implementation(name, found, IN_MEMORY, payload)


def unpickled(name: str, payload: bytes) -> Implementation:
    """The implementation `in_memory` pickled, in a worker."""
    import cloudpickle

    return Implementation(name, cloudpickle.loads(payload), IN_MEMORY, payload)


def available() -> list[Implementation]:
    """The built-in SPECs whose libraries are installed, then every installed plug-in
    (entry point) that loads."""
    found = []
    for spec in dict.fromkeys([*BUILTINS, *(ep.name for ep in entry_points(group=GROUP))]):
        try:
            found.append(load(spec))
        except SpecError:
            continue
    return found


LIBRARIES = ("jax", "jaxlib", "flax", "torch", "scipy", "numpy")


def _providers_key() -> str:
    """A hash of what `available` finds: actaudit's version and adapters' source, the
    libraries' versions, and the installed plug-ins (entry points, their versions)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return ""

    here = Path(__file__).parent
    sources = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.rglob("*.py"))))
    plugins = sorted((ep.name, ep.value, ep.dist.version if ep.dist else "")
                     for ep in entry_points(group=GROUP))
    blob = json.dumps({"actaudit": __version__, "adapters": sources.hexdigest(),
                       "libraries": {n: installed(n) for n in LIBRARIES}, "plugins": plugins,
                       "catalog": sorted(catalog.CATALOG), "python": sys.version},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def providers(cache: Path | None = None) -> dict[str, list[str]]:
    """Each available implementation's name -> the activations it provides. Finding out
    imports every library (seconds: torch alone takes several), so the answer is kept in
    ``cache`` under a key that changes with anything that could change it."""
    path = None if cache is None else cache / f"providers-{_providers_key()}.json"
    if path is not None and path.is_file():
        try:
            return dict(json.loads(path.read_text()))
        except ValueError:
            pass
    found = {im.name: im.provides for im in available()}
    if path is not None:
        from .._files import atomic

        text = json.dumps(found)
        try:
            atomic(path, lambda p: Path(p).write_text(text))
        except OSError:  # a cache that cannot be written only costs the time
            pass
    return found


def _implementation(spec: str, obj: Any, origin: str) -> Implementation:
    functions = _members(obj)
    if not functions:
        raise SpecError(f"{spec}: provides none of the catalog's activations "
                        f"(expected members named like jax.nn's: relu, softplus, ...)")
    return Implementation(spec, functions, origin)


def shared(impls: Sequence[Implementation], activations: Iterable[str]
           ) -> dict[tuple[str, str], str]:
    """(implementation, activation) -> the implementation whose function it is: the same
    Python object under two SPECs (flax.nnx re-exports jax.nn's activations), checked or
    timed once. jax.nn owns what it shares; otherwise the first SPEC given does."""
    owners_first = sorted(impls, key=lambda im: im.name != "jax.nn")
    out: dict[tuple[str, str], str] = {}
    for name in activations:
        owner: dict[int, str] = {}
        for im in owners_first:
            fn = im.get(name)
            if fn is not None:
                first = owner.setdefault(id(fn), im.name)
                if first != im.name:
                    out[(im.name, name)] = first
    return out
