"""`pytest suites --impl SPEC`: the audit's checks as tests, one per
(implementation, activation, variant, dtype, check), with ids like
``reference-softplus-float16-accuracy``. Without --impl these are skipped; the check
machinery itself is tested in suites/checks.
"""

from __future__ import annotations

import pytest

from actaudit import catalog, checks
from actaudit.catalog import variant_id
from actaudit.checks._registry import categories

_RESULTS: dict[tuple, object] = {}


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    specs = config.getoption("impl")
    names = [n for n in config.getoption("only").split(",") if n] or list(catalog.CATALOG)
    dtypes = [d for d in config.getoption("dtypes").split(",") if d]
    params, ids = [], []
    for spec in specs:
        for name in names:
            act = catalog.get(name)
            kinds = categories(act)
            for variant in act.variants():
                for dtype in dtypes:
                    # one audit answers every check of (spec, name, dtype): under xdist
                    # (`-n auto --dist loadgroup`, as tox runs it) its tests share a worker
                    group = pytest.mark.xdist_group(f"{spec}-{name}-{dtype}")
                    for check in kinds:
                        v = variant_id(variant).replace(" ", "")
                        params.append(pytest.param((spec, name, variant, dtype, check),
                                                   marks=group))
                        ids.append("-".join(p for p in (spec, name, v, dtype, check) if p))
    if not params:
        params, ids = [None], ["no-impl"]
    metafunc.parametrize("case", params, ids=ids)


def _findings(spec, name, variant, dtype):
    key = (spec, name, variant_id(variant), dtype)
    if key not in _RESULTS:
        summary, details, *_ = checks.audit([spec], [name], [dtype], progress=False)
        _RESULTS.update({
            (spec, name, v, dtype): (summary[summary["variant"] == v],
                                     details[details["variant"] == v])
            for v in summary["variant"].unique()})
    return _RESULTS[key]


def test_check(case):
    if case is None:
        pytest.skip("no implementation given: run `pytest suites/impl --impl SPEC`")
    spec, name, variant, dtype, check = case
    summary, details = _findings(spec, name, variant, dtype)
    rows = summary[summary["check"].str.partition(":")[0] == check]
    if rows.empty or (rows["status"] == "skip").all():
        pytest.skip(rows["detail"].iloc[0] if len(rows) else f"nothing to check: no {check} "
                    f"rows for {name} (the catalog declares none, or it has no derivative)")
    bad = rows[rows["status"].isin(["fail", "error"])]
    if len(bad):
        lines = []
        for i, r in bad.iterrows():
            repro = details.loc[i].get("repro") if i in details.index else None
            lines.append(f"{r['check']} {r['status']}: input {r['worst_input']}, expected "
                         f"{r['expected']}, got {r['got']} ({r['max_ulp']} ULP): {r['detail']}")
            if repro:
                lines.append(f"  repro: {repro}")
        pytest.fail("\n".join(lines), pytrace=False)
