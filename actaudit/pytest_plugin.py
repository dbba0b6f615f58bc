"""The pytest plugin, installed with the package (entry point ``pytest11``): in any
repository, ``pytest --actaudit-impl my_pkg.kernels`` collects the audit's checks as test
items, one per (implementation, activation, variant, dtype, check), with ids such as
``actaudit::my_pkg.kernels-softplus-bfloat16-accuracy``.

Options (each also a key of ``[tool.actaudit]`` in the rootdir's pyproject.toml, which the
command line overrides): ``--actaudit-impl SPEC`` (repeatable; ``impl``), ``--actaudit-only``
(``only``), ``--actaudit-dtypes`` (``dtypes``), ``--actaudit-checks`` (``checks``),
``--actaudit-tolerances FILE`` (over ``[tool.actaudit.tolerances]``) and
``--actaudit-baseline FILE`` (``baseline``): judged against a baseline, only what got
worse fails; what is as before passes and is listed as known, what got better is listed.

The items carry the marker ``actaudit`` (``-m actaudit`` runs only them, ``-m "not
actaudit"`` leaves them out); ``-k``, ``-x``, ``--junitxml`` and xdist work as for any
test. One audit answers every check of an (implementation, activation, dtype): under
xdist, ``--dist loadgroup`` keeps its items on one worker.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

OPTIONS = ("impl", "only", "dtypes", "checks", "tolerances", "baseline")
MARK = "actaudit"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("actaudit", "actaudit: activation functions against the oracle")
    group.addoption("--actaudit-impl", action="append", default=None, metavar="SPEC",
                    help="audit this implementation (repeatable): reference, jax.nn, "
                    "pkg.module[:attr], path/to/file.py[:attr], an installed plug-in's name")
    group.addoption("--actaudit-only", metavar="NAMES", help="comma-separated activations")
    group.addoption("--actaudit-dtypes", metavar="LIST",
                    help="comma-separated dtypes (default: float16,bfloat16,float32,float64)")
    group.addoption("--actaudit-checks", metavar="LIST",
                    help="comma-separated categories or checks by name (default: all)")
    group.addoption("--actaudit-tolerances", metavar="FILE", help="TOML tolerance overrides")
    group.addoption("--actaudit-baseline", metavar="FILE",
                    help="judge against a baseline (actaudit audit --save-baseline): only "
                    "what got worse fails")


def _project(config: pytest.Config) -> dict[str, Any]:
    """``[tool.actaudit]`` of the rootdir's pyproject.toml (its tolerance table aside)."""
    path = config.rootpath / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            section = tomllib.load(f).get("tool", {}).get("actaudit", {})
    except (tomllib.TOMLDecodeError, OSError) as e:
        raise pytest.UsageError(f"actaudit: {path}: {e}") from None
    if not isinstance(section, dict):
        raise pytest.UsageError(f"actaudit: {path}: [tool.actaudit] must be a table")
    unknown = set(section) - set(OPTIONS)
    if unknown:
        raise pytest.UsageError(f"actaudit: {path}: unknown key(s) in [tool.actaudit]: "
                                f"{', '.join(sorted(unknown))}; known: {', '.join(OPTIONS)}")
    return {k: v for k, v in section.items() if not (k == "tolerances" and isinstance(v, dict))}


def _setting(config: pytest.Config, key: str, project: dict[str, Any]) -> Any:
    given = config.getoption(f"actaudit_{key}")
    value = given if given is not None else project.get(key)
    if key == "impl" and isinstance(value, str):
        value = [value]
    if isinstance(value, list) and key != "impl":
        value = ",".join(str(v) for v in value)
    if key in ("tolerances", "baseline") and value is not None and given is None:
        value = str(config.rootpath / value)  # a path in pyproject.toml: from the rootdir
    return value


@dataclasses.dataclass(eq=False)  # a plugin: pytest keeps it in sets, by identity
class _Session:
    """What the plugin holds for a pytest session: the plan, the baseline, the audits
    run so far, and what the items found against the baseline (registered as a plugin
    of its own, for the reports' hooks)."""

    plan: Any
    baseline: Any
    done: dict[tuple[str, str, str], tuple[Any, Any, list[str]]] = dataclasses.field(
        default_factory=dict)
    changes: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def results(self, spec: str, activation: str, dtype: str) -> tuple[Any, Any]:
        """The rows of one (implementation, activation, dtype), every variant: run once."""
        key = (spec, activation, dtype)
        if key not in self.done:
            from . import _api
            from .checks._baseline import KEY

            im = next(i for i in self.plan.impls if i.name == spec)
            act = next(a for a in self.plan.acts if a.name == activation)
            one = dataclasses.replace(self.plan, impls=(im,), acts=(act,), dtypes=(dtype,))
            result = _api.judged(one.run(progress=False), self.baseline)
            rows = set(result.summary[KEY].astype(str).itertuples(index=False, name=None))
            unseen = sorted(item_id(*r) for r in rows - set(rows_of(one)))  # else one hides
            self.done[key] = (result.summary, result.frame, unseen)
        summary, frame, unseen = self.done[key]
        if unseen:
            raise AuditFailure(f"the audit gave rows that no item was collected for (a "
                               f"defect of actaudit's plugin): {', '.join(unseen[:5])}")
        return summary, frame

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep what the items found against the baseline (from xdist's workers too)."""
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == "actaudit_baseline":
                self.changes.setdefault(str(value), []).append(report.nodeid)
            elif name == "actaudit_note":
                self.changes.setdefault("notes", []).append(str(value))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.baseline is None:
            return
        counted = {c: len(self.changes.get(c, [])) for c in ("regressed", "improved",
                                                            "same", "new")}
        terminalreporter.section("actaudit: against the baseline")
        terminalreporter.write_line(", ".join(f"{n} {c}" for c, n in counted.items()))
        for line in self.changes.get("notes", [])[:50]:
            terminalreporter.write_line(f"  {line}")


KEY = pytest.StashKey[_Session]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: a check of actaudit's audit "
                            "(--actaudit-impl)")
    project = _project(config)
    specs = _setting(config, "impl", project)
    if not specs:
        return
    from . import _api
    from .checks._baseline import load as load_baseline

    try:
        plan = _api.plan(list(specs), _setting(config, "only", project),
                         _setting(config, "dtypes", project),
                         _setting(config, "checks", project),
                         _setting(config, "tolerances", project))
        baseline_file = _setting(config, "baseline", project)
        baseline = load_baseline(baseline_file, "--actaudit-baseline") if baseline_file \
            else None
    except (KeyError, ValueError) as e:
        raise pytest.UsageError(f"actaudit: {e.args[0]}") from None
    config.stash[KEY] = _Session(plan, baseline)
    config.pluginmanager.register(config.stash[KEY], "actaudit-session")


def rows_of(plan: Any) -> Iterator[tuple[str, str, str, str, str]]:
    """(impl, activation, variant, dtype, check), summary.csv's key, of every row the
    audit gives."""
    from .catalog import variant_id
    from .checks._registry import applying

    for im in plan.impls:
        for act in plan.acts:
            for params in plan.variants(act):
                for dtype in plan.dtypes:
                    for c in applying(act, plan.checks, search=plan.search is not None,
                                      dtype=dtype, params=params):
                        yield im.name, act.name, variant_id(params), dtype, c.name


def item_id(spec: str, activation: str, variant: str, dtype: str, check: str) -> str:
    """``reference-elu-alpha=0.5-float32-accuracy``."""
    return "-".join(p for p in (spec, activation, variant.replace(" ", ""), dtype, check) if p)


class AuditCollector(pytest.Collector):
    """The audit's items: every row of the audit the options ask for."""

    def collect(self) -> Iterator[pytest.Item]:
        session = self.config.stash[KEY]
        grouped = self.config.pluginmanager.hasplugin("xdist")
        for row in rows_of(session.plan):
            item = CheckItem.from_parent(self, name=item_id(*row), row=row)
            item.add_marker(MARK)
            if grouped:  # one audit answers a case's items: keep them on one worker
                spec, activation, _, dtype, _ = row
                item.add_marker(pytest.mark.xdist_group(f"{spec}-{activation}-{dtype}"))
            yield item


class CheckItem(pytest.Item):
    """One row of the audit as a test: passes, fails with the row's input, expected
    value, result and repro line, or is skipped with the reason."""

    def __init__(self, *, row: tuple[str, str, str, str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.row = row

    def runtest(self) -> None:
        from .checks._results import explain

        spec, activation, variant, dtype, check = self.row
        session = self.config.stash[KEY]
        summary, details = session.results(spec, activation, dtype)
        mine = (summary["variant"] == variant) & (summary["check"] == check)
        rows = summary[mine]
        if rows.empty:
            pytest.skip(f"the audit gave no {check} row for this case")
        row = rows.iloc[0]
        change = details.loc[rows.index[0]].get("baseline") if "baseline" in details else None
        if isinstance(change, str):
            self.user_properties.append(("actaudit_baseline", change))
        if row["status"] == "skip":
            pytest.skip(str(row["detail"]))
        if row["status"] in ("fail", "error"):
            raise AuditFailure(explain(details.loc[rows.index[0]]))
        if change == "improved" or str(row["detail"]).startswith("known"):
            self.user_properties.append(("actaudit_note", f"{self.name}: {row['detail']}"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str:
        if isinstance(excinfo.value, AuditFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"actaudit: {self.name}"


class AuditFailure(Exception):
    """A row that failed: its message is the test's failure report."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """The audit's items, after the files' (before -k and -m select among them)."""
    if KEY not in config.stash:
        return
    collector = AuditCollector.from_parent(session, name="actaudit", nodeid="actaudit")
    report = collector.ihook.pytest_make_collect_report(collector=collector)
    session.ihook.pytest_collectreport(report=report)  # counted, and its errors shown
    if report.passed:
        items.extend(report.result)
