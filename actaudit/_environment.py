"""What a run ran on, recorded beside its results: the versions that decide the numbers,
the devices JAX sees, the CPU, and which actaudit (version and git commit)."""

from __future__ import annotations

import platform
import re
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import __version__

PACKAGES = ("jax", "jaxlib", "ml_dtypes", "numpy", "mpmath", "python-flint", "flax", "scipy",
            "torch", "pandas")


@cache
def processor() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for telling hosts apart."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    """The git commit this actaudit was built from, as setuptools-scm recorded it at build
    time ("+uncommitted changes" where the tree had some), or "" where it was not built
    from a git checkout."""
    local = re.search(r"\+g([0-9a-f]+)(\.d\d+)?", __version__)
    if not local:
        return ""
    return local.group(1) + (" +uncommitted changes" if local.group(2) else "")


def _version_of(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def describe() -> dict[str, Any]:
    """The environment as plain data (JSON-ready)."""
    import jax

    devices = [{"platform": d.platform, "kind": d.device_kind, "id": d.id}
               for backend in dict.fromkeys(["cpu", jax.default_backend()])
               for d in jax.devices(backend)]
    return {
        "actaudit": __version__, "commit": commit(),
        "python": sys.version.split()[0], "system": f"{platform.system()} {platform.machine()}",
        "processor": processor(), "devices": devices,
        **{name: _version_of(name) for name in PACKAGES},
    }
