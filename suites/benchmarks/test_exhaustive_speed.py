"""What the exhaustive float32 audit and the oracle tables cost.

* `test_exhaustive_cost`: an implementation's elementwise variant over sub-chunks of 2**18
  inputs, one in each of 64 equal strata of float32's 2**32 bit patterns, every
  exhaustive check;
  ``extra_info`` holds the extrapolation to all 2**32 inputs (an estimate: a class of
  inputs narrower than a stratum is hit or missed): core-seconds by part (implementation,
  filter, oracle, checks) and escalations to the oracle (values, derivatives).
* `test_table_build`: the oracle tables' builder over float16 inputs of every
  elementwise variant, with the filter witnessing Arb's roundings and with mpmath's
  cross-check alone, side by side.

Timed only with --benchmark-enable, for instance::

    pytest suites/benchmarks/test_exhaustive_speed.py --benchmark-enable \\
        --impl reference --impl jax.nn --only sigmoid,silu --benchmark-json=cost.json

(no --only: every elementwise variant). In the default test run each case runs once,
untimed, on one small sub-chunk of two variants.
"""

import numpy as np
import pytest

from actaudit import catalog, impl
from actaudit.checks import _exhaustive as X
from actaudit.checks._elementwise import Case
from actaudit.checks._tolerances import Tolerances
from actaudit.oracles import FORMATS, tables

# timed: 64 sub-chunks of 2**18 inputs (2**24 of 2**32). A sub-chunk pays a chunk's fixed
# costs (calls into the implementation, about 4 ms): at 2**14 inputs they were most of it,
# and the extrapolation to 2**32 counted them 2**18 times where a run (chunks of 2**22)
# pays them 1,024 times
SPREAD, SIZE = 64, 1 << 18
REPRESENTATIVE = ("sigmoid", "gelu")


def pytest_generate_tests(metafunc):
    if "target" not in metafunc.fixturenames:
        return
    opt = metafunc.config.getoption
    timed = opt("benchmark_enable", False)
    names = [n for n in opt("only").split(",") if n] or ([] if timed else list(REPRESENTATIVE))
    loaded = [impl.load(spec) for spec in dict.fromkeys(opt("impl") or ["reference"])]
    variants = tables.elementwise_variants(names or None)
    found = [(im.name, act, params) for im in loaded for act, params in variants
             if im.get(act.name) is not None]  # what an implementation lacks is not timed
    metafunc.parametrize("target", found, ids=[
        f"{s}-{a.name}-{catalog.variant_id(p) or 'default'}" for s, a, p in found])


def test_exhaustive_cost(benchmark, target):
    spec, act, params = target
    case = Case(spec, act, params, "float32", Tolerances())
    checks = tuple(c for c in X.CHECKS if c in case.names())
    spread, size = (SPREAD, SIZE) if not benchmark.disabled else (1, 1 << 10)
    # one sub-chunk at a random place in each of `spread` equal strata of the bit
    # patterns (seeded): an unbiased estimate of the whole, as a fixed grid is not (it
    # would always hold bit pattern 0, the positive subnormals)
    stratum = X.TOTAL // spread
    offsets = np.random.default_rng(0).integers(0, (stratum - size) // size, spread) * size
    starts = np.arange(spread, dtype=np.int64) * stratum + offsets
    tols = {w: case.limit(w) for w in ("value", "gradient", "second")}
    jobs = [X.Job(spec, act.name, dict(params), int(s), int(s) + size, tols, checks, 60.0)
            for s in starts]
    X.run(jobs[0])  # the implementation loaded and compiled, outside the timing
    stats: dict = {}

    def run():
        results = [X.run(job) for job in jobs]
        assert all(not t.get("error") for r in results for t in r["tallies"].values())
        stats.update(X._stats(results))

    benchmark.pedantic(run, rounds=1, iterations=1)
    scale = X.TOTAL / (len(jobs) * size)
    benchmark.extra_info.update(
        impl=spec, activation=act.name, variant=catalog.variant_id(params),
        inputs=len(jobs) * size,
        core_seconds_per_2_32={k: round(v * scale, 1) for k, v in stats["seconds"].items()},
        escalated_per_2_32={k: round(v * scale) for k, v in stats["escalated"].items()})


@pytest.mark.parametrize("witness", [True, False], ids=["filter-witness", "mpmath-only"])
def test_table_build(benchmark, monkeypatch, witness):
    n = 4 if benchmark.disabled else tables.CHUNK  # a worker's chunk: the filter runs on as many
    f16 = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64)
    xs = np.random.default_rng(0).choice(f16[np.isfinite(f16)], n, replace=False)
    if not witness:
        monkeypatch.setattr(tables, "_witnesses", lambda *a: [None] * len(xs))
    variants = tables.elementwise_variants()
    fmt = FORMATS["float16"].name

    def run():
        for act, params in variants:
            tables.compute_chunk(act.name, params, fmt, xs)

    benchmark.extra_info.update(points=n * len(variants), witness=witness)
    benchmark.pedantic(run, rounds=1, iterations=1)
