"""actaudit: does an activation function compute what it should, to the last ULP?

The flow: `actaudit.catalog` (what each activation is) -> `actaudit.oracles` (its exact,
certified values) -> implementations under audit -> checks -> results -> reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actaudit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
