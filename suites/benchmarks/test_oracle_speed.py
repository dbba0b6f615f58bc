"""Oracle evaluations per second per activation (value and derivative, float16 inputs).

Timed only with `tox -e bench` (pytest --benchmark-enable); in the default run the
benchmark code is exercised once with timing disabled.
"""

import numpy as np
import pytest

from actaudit import catalog
from actaudit.catalog import Kind
from actaudit.oracles import FORMATS, evaluate

XS = np.random.default_rng(0).choice(
    np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64), 64).tolist()
F16 = (FORMATS["float16"],)
ENTRIES = [a for a in catalog.CATALOG.values() if a.kind is Kind.ELEMENTWISE and not a.same_as]


@pytest.mark.parametrize("act", ENTRIES, ids=lambda a: a.name)
def test_oracle_throughput(benchmark, act):
    def run():
        for x in XS:
            evaluate(act, x, formats=F16)
            evaluate(act, x, grad=True, formats=F16)

    benchmark.extra_info.update(activation=act.name, evaluations=2 * len(XS))
    benchmark(run)
