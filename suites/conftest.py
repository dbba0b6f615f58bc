"""Shared pytest configuration: hypothesis profiles (derandomized on CI)."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def oracle_cache(tmp_path_factory):
    """One oracle cache for the whole session, so that a table several modules need (the
    float16 relu6, say) is built once; tests of the cache itself use fresh folders."""
    return tmp_path_factory.mktemp("oracle-cache")


def pytest_addoption(parser):
    group = parser.getgroup("actaudit")
    group.addoption("--impl", action="append", default=[], metavar="SPEC",
                    help="audit (suites/impl) or time (suites/benchmarks) this "
                    "implementation: reference, jax.nn, ...")
    group.addoption("--only", default="",
                    help="suites/impl, suites/benchmarks: comma-separated activations")
    group.addoption("--dtypes", default="float16,bfloat16,float32,float64",
                    help="suites/impl, suites/benchmarks: comma-separated dtypes")
    group.addoption("--sizes", default="1024", help="suites/benchmarks: element counts")
    group.addoption("--modes", default="fwd,fwd+bwd", help="suites/benchmarks: fwd, fwd+bwd")
