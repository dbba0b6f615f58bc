"""Shared pytest configuration: hypothesis profiles (derandomized on CI)."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def oracle_cache():
    """The oracle cache the command uses ($ACTAUDIT_CACHE, else the user cache directory):
    a table is built once for every module, every tox environment and every later run
    (tox runs `reference`, which builds them all, first). Tables are certified facts, keyed
    by what they depend on and checked on every read, so sharing them cannot change a
    result; tests of the cache itself use fresh folders."""
    from actaudit.oracles.tables import cache_dir

    path = cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_addoption(parser):
    # the audit's own options are the installed plugin's (--actaudit-impl, ...)
    group = parser.getgroup("benchmarks")
    group.addoption("--impl", action="append", default=[], metavar="SPEC",
                    help="suites/benchmarks: time this implementation: reference, jax.nn, ...")
    group.addoption("--only", default="", help="suites/benchmarks: comma-separated activations")
    group.addoption("--dtypes", default="float16,bfloat16,float32,float64",
                    help="suites/benchmarks: comma-separated dtypes")
    group.addoption("--sizes", default="1024", help="suites/benchmarks: element counts")
    group.addoption("--modes", default="fwd,fwd+bwd", help="suites/benchmarks: fwd, fwd+bwd")
