"""The benchmark test: one pytest-benchmark timing per `Job` (a case and its function).

``actaudit bench`` runs this module with the `Selection` plugin, which chooses the jobs;
``suites/benchmarks`` collects the same test with its own small selection, timed with
``tox -e bench`` and run once, untimed, in the default test run. Imports are absolute:
pytest may load this file under a name of its own.
"""

import pytest

from actaudit.bench._cases import prepare
from actaudit.bench._plugin import Job
from actaudit.checks._audit import precision
from actaudit.checks._call import CallError


def test_speed(benchmark, job: Job) -> None:
    case = job.case
    benchmark.group = f"{case.activation} {case.variant} {case.dtype} {case.size} {case.mode}"
    with precision(case.dtype):
        try:
            ready = prepare(case, job.fn, job.timeout)
        except NotImplementedError as e:  # raised while its result's shape was taken
            pytest.skip(f"not supported: {e}")
        except CallError as e:
            if e.status == "skip":  # a mode or parameter the implementation does not support
                pytest.skip(str(e))
            raise
        benchmark.extra_info.update(ready.info)
        benchmark(ready.run)
