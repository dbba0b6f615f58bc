"""Rows of every length (`actaudit.checks._rows`): the rows, their truth, and three
blocked kernels with a bug that the six-entry slices cannot see and these rows must."""

import math
import shlex
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actaudit import catalog
from actaudit.checks import PATTERNS, _audit, _rows, audit, long_row
from actaudit.oracles import FORMATS, tables

PLUGINS = Path(__file__).parents[1] / "plugins"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("n", [1, 17, 4097])
def test_rows_are_the_format_s_and_do_what_they_say(n, dtype):
    fmt = FORMATS[dtype]
    for name in PATTERNS:
        x = long_row(name, n, dtype)
        assert x.shape == (n,) and x.dtype == np.float64
        assert np.array_equal(x.astype(fmt.dtype).astype(np.float64), x, equal_nan=True)
        assert np.array_equal(x, long_row(name, n, dtype), equal_nan=True)  # the same row
    assert np.all(np.diff(long_row("rising", n, dtype)) >= 0)
    assert np.argmax(long_row("max_last", n, dtype)) == n - 1
    assert len(set(long_row("ties", n, dtype))) == 1
    tail = long_row("neg_inf_tail", n, dtype)
    assert np.isfinite(tail[0]) and np.all(tail[max(1, n // 16):] == -np.inf)
    with pytest.raises(ValueError, match="unknown pattern"):
        long_row("nope", n, dtype)


def test_every_length_of_the_issue_is_called():
    softmax, glu = catalog.get("softmax"), catalog.get("glu")
    swept = _rows.lengths(softmax, {}, "bfloat16")
    assert {1, 2, 3, 97, 100_000} <= set(swept)
    assert {2**k + d for k in range(4, 16) for d in (-1, 0, 1)} <= set(swept)
    for dtype in ("float16", "float32", "float64"):  # the block edges, past 2**12 and 2**15
        edges = set(_rows.lengths(softmax, {}, dtype))
        assert {127, 128, 129, 1023, 1024, 1025, 4097, 32769, 100_000} <= edges
    assert all(n % 2 == 0 for n in _rows.lengths(glu, {}, "bfloat16"))
    assert _rows.lengths(softmax, {"where": "random"}, "bfloat16") == (4097,)
    plan = _rows.plan(softmax, {}, "bfloat16")
    assert {p for n, pats in plan for p in pats} == set(PATTERNS)
    assert all(len(pats) == 1 for n, pats in plan if n > _rows.ALL_PATTERNS_UP_TO)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_the_truth_of_a_long_row_of_ties_is_one_over_n(tmp_path, dtype):
    """softmax of n equal entries is 1/n exactly, rounded once: nothing from the formula."""
    act, fmt = catalog.get("softmax"), FORMATS[dtype]
    answers = tables.RowAnswers(act, {}, dtype, tmp_path)
    for n in (3, 2049, 32769):
        got = answers.get(long_row("ties", n, dtype), {}, grad=False)
        assert got.shape == (n, 3)
        assert np.all(got[:, 2] == fmt.round_fraction(Fraction(1, n)))
        assert np.all(got[:, 0] == float(Fraction(1, n)))


def test_row_answers_are_kept_and_a_damaged_file_is_recomputed(tmp_path):
    act = catalog.get("logsumexp")
    xs = long_row("random", 300, "float32")
    first = tables.RowAnswers(act, {}, "float32", tmp_path)
    first.fill([(xs, {}, False), (xs, {}, True)])
    assert first.path.exists()
    again = tables.RowAnswers(act, {}, "float32", tmp_path)
    assert set(again.answers) == set(first.answers)
    for k, v in first.answers.items():
        assert np.array_equal(again.answers[k], v)
    want = math.log(np.sum(np.exp(np.asarray(xs, np.float64))))
    assert again.get(xs, {}, grad=False)[0, 0] == pytest.approx(want, rel=1e-12)
    first.path.write_bytes(first.path.read_bytes()[:100])  # truncated
    with pytest.warns(tables.DamagedTable, match="row answers"):
        damaged = tables.RowAnswers(act, {}, "float32", tmp_path)
    assert damaged.answers == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(damaged.get(xs, {}, grad=False), first.answers[
            tables.RowAnswers.row_key(xs, {}, False)])


def _verdicts(spec: str, name: str, dtype: str) -> pd.DataFrame:
    result = audit([str(PLUGINS / spec)], [name], [dtype], checks=["accuracy"],
                   progress=False)
    details = result.details
    return details[details["variant"] == ""].set_index("check")


@pytest.mark.parametrize("spec, name, dtype", [
    ("softmax_in_dtype.py", "softmax", "bfloat16"),
    ("online_softmax_no_rescale.py", "softmax", "float16"),
    ("logsumexp_first_1024.py", "logsumexp", "float32"),
])
def test_blocked_kernel_bugs_pass_six_entries_and_fail_on_long_rows(spec, name, dtype):
    rows = _verdicts(spec, name, dtype)
    assert rows.loc["accuracy", "status"] == "pass"
    assert rows.loc["accuracy:rows", "status"] == "fail"
    worst = rows.loc["accuracy:rows", "worst_input"]
    n = int(worst.split(",")[1])
    assert n > 128, worst  # every bug is past the first block


def test_the_reference_passes_on_long_rows():
    result = audit(["reference"], ["softmax"], ["bfloat16"], checks=["accuracy"],
                   progress=False)
    rows = result.details[result.details["check"] == "accuracy:rows"]
    assert len(rows) == 3 and (rows["status"] == "pass").all(), rows  # every variant


def test_the_repro_line_prints_the_finding_s_numbers(tmp_path):
    rows = _verdicts("logsumexp_first_1024.py", "logsumexp", "float32")
    row = rows.loc["accuracy:rows"]
    line = row["repro"]
    assert line and line.startswith("python -c ")
    # run where a user would: not in the checkout, whose actaudit/ is not the package
    out = subprocess.run(shlex.split(line.replace("python", sys.executable, 1)),
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert [float(v) for v in out] == [float(row["expected"]), float(row["got"])]


def test_a_lost_rows_worker_errors_only_the_checks_on_long_rows():
    """The rows run in a worker of their own: losing it loses their rows, not the others."""
    from actaudit.checks import Finding
    from actaudit.checks._audit import _merged

    act = catalog.get("softmax")
    slices = [Finding("accuracy", "pass"), Finding("special", "pass")]
    merged, seconds = _merged(act, act.variants()[0], None, "float32", False,
                              [("", (slices, 2.0)),
                               ("rows", "the worker process died of SIGKILL")])
    status = {f.check: f.status for f in merged}
    assert status["accuracy"] == status["special"] == "pass"
    lost = {c for c, s in status.items() if s == "error"}
    assert set(_rows.CHECKS) - {"gradient:rows"} <= lost  # softmax is no reduction
    assert lost == {c for c in lost if _audit.part(c, act) == "rows"}  # and only those
    assert [f.check for f in merged][:2] == ["accuracy", "accuracy:rows"] and seconds == 2.0
