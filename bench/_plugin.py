"""The pytest plugin that chooses what `_suite` times, and remembers what could not be
timed (an implementation that raised or hung while compiling or on its first call) so
that it becomes an ``error`` row of the table instead of a missing one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from ..checks._call import TIMEOUT_S
from ..impl import Implementation
from ._cases import BASELINE, Case


@dataclass(frozen=True)
class Job:
    """A case with the function it times (None for the baseline)."""

    case: Case
    fn: Callable[..., Any] | None
    timeout: float = TIMEOUT_S


def jobs(cases: Iterable[Case], impls: Iterable[Implementation],
         timeout: float = TIMEOUT_S) -> list[Job]:
    found = {im.name: im for im in impls}
    return [Job(c, None if c.impl == BASELINE else found[c.impl].get(c.activation), timeout)
            for c in cases]


class Selection:
    """Parametrizes the ``job`` argument of the benchmark test with ``jobs``; after the
    run, ``problems`` maps each case that could not be timed to ("error", one line), or
    ("skip", why) where the implementation does not support it."""

    def __init__(self, chosen: Iterable[Job]) -> None:
        self.jobs = list(chosen)
        self.problems: dict[Case, tuple[str, str]] = {}
        self._cases: dict[str, Case] = {}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "job" in metafunc.fixturenames:
            metafunc.parametrize("job", self.jobs, ids=[j.case.id for j in self.jobs])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            job = getattr(item, "callspec", None) and item.callspec.params.get("job")
            if isinstance(job, Job):
                self._cases[item.nodeid] = job.case

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = self._cases.get(report.nodeid)
        if case is None or report.passed:
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self.problems[case] = ("skip", str(reason).removeprefix("Skipped: ")[:300])
            return
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(report.longrepr)
        self.problems[case] = ("error", text.strip().splitlines()[0][:300])
