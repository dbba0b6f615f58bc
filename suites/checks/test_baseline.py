"""Baselines and the comparison of two audits (`checks._baseline`): rows built by hand,
each class of change decided as a user reading the two rows would decide it."""

import json
import math

import pandas as pd
import pytest

from actaudit.checks._baseline import (
    BaselineError,
    Slack,
    claim,
    compare,
    judge,
    load,
    save,
)
from actaudit.checks._results import COLUMNS


def row(check="accuracy", status="pass", max_ulp=0.5, got="1.0", expected="1.0",
        worst="0.5", activation="softplus", dtype="float32", detail=""):
    return {"impl": "k", "activation": activation, "variant": "", "dtype": dtype,
            "check": check, "status": status, "max_ulp": max_ulp, "worst_input": worst,
            "expected": expected, "got": got, "detail": detail}


def table(*rows):
    return pd.DataFrame(list(rows), columns=COLUMNS)


def change(before, after):
    diff = compare(table(before), table(after))
    assert len(diff) == 1
    return diff.iloc[0]["change"], diff.iloc[0]["why"]


@pytest.mark.parametrize("before, after, expected", [
    (row(max_ulp=1.9, status="fail"), row(max_ulp=6.0, status="fail"), "regressed"),
    (row(max_ulp=0.5), row(max_ulp=3.0, status="fail"), "regressed"),  # a new fail
    (row(max_ulp=0.5), row(max_ulp=1.4), "same"),  # within 1 ULP of slack
    (row(max_ulp=1e7, status="fail"), row(max_ulp=1.2e7, status="fail"), "same"),  # 25%
    (row(max_ulp=1e7, status="fail"), row(max_ulp=2e7, status="fail"), "regressed"),
    (row(max_ulp=3.0), row(max_ulp=math.inf, status="fail"), "regressed"),
    (row(max_ulp=6.0, status="fail"), row(max_ulp=1.9, status="fail"), "improved"),
    (row(status="fail", max_ulp=9.0), row(status="pass", max_ulp=9.0), "improved"),
    (row(status="warn"), row(status="pass"), "improved"),
    (row(status="pass"), row(status="skip", max_ulp=math.nan), "regressed"),  # gone from
    (row(status="skip", max_ulp=math.nan), row(status="pass"), "new"),  # newly provided
    (row(check="special", max_ulp=math.nan), row(check="special", max_ulp=math.nan,
                                                 got="nan"), "regressed"),  # a new NaN
    # a search's max ULP is what that run's examples reached: only its status counts
    (row(check="accuracy:search", status="fail", max_ulp=1e30),
     row(check="accuracy:search", status="fail", max_ulp=4e31), "same"),
    (row(check="accuracy:search", max_ulp=0.6),
     row(check="accuracy:search", status="fail", max_ulp=40.0), "regressed"),
])
def test_each_change_is_classed_as_a_reader_would(before, after, expected):
    got, why = change(before, after)
    assert got == expected, why


def test_a_regression_says_what_it_was_and_is():
    _, why = change(row(max_ulp=1.9, status="fail"), row(max_ulp=6.0, status="fail"))
    assert why == "was fail, 1.9 ULP; now fail, 6 ULP"


def test_rows_on_one_side_only_are_new_or_gone():
    diff = compare(table(row(dtype="float32")), table(row(dtype="bfloat16")))
    assert sorted(diff["change"]) == ["gone", "new"]


def test_the_slack_needs_both_the_ratio_and_the_ulps():
    slack = Slack(ratio=2.0, ulp=1.0)
    assert not slack.worse(0.5, 1.2)  # over twice, but within 1 ULP
    assert not slack.worse(10.0, 15.0)  # over 1 ULP, but within twice
    assert slack.worse(10.0, 21.0)
    assert slack.better(21.0, 10.0)
    assert not slack.worse(math.nan, 3.0)


def test_a_baseline_round_trips_through_its_file(tmp_path):
    found = table(row(max_ulp=1.9, status="fail"), row(check="special", max_ulp=math.nan),
                  row(dtype="bfloat16", max_ulp=math.inf, status="fail"))
    path = tmp_path / "baseline.json"
    save(path, found, "test", Slack(1.5, 2.0))
    text = path.read_text()
    assert len(text.splitlines()) == 5  # the head, a line per row, the close: a diffable file
    back = load(path)
    assert back.slack == Slack(1.5, 2.0)
    assert sorted(f"{v}" for v in back.rows["max_ulp"]) == ["1.9", "inf", "nan"]
    assert (compare(back.rows, found)["change"] == "same").all()


def test_only_a_baseline_is_replaced_by_save_baseline(tmp_path):
    theirs = tmp_path / "notes.json"
    theirs.write_text(json.dumps({"mine": 1}))
    with pytest.raises(BaselineError, match="refusing to replace"):
        claim(theirs)
    assert json.loads(theirs.read_text()) == {"mine": 1}
    ours = tmp_path / "baseline.json"
    save(ours, table(row()), "test")
    assert claim(ours) == ours  # a baseline written before: replacing it is the command
    with pytest.raises(BaselineError, match="is a folder"):
        claim(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("{", "not JSON"),
    ('{"format": "other"}', "is not a baseline"),
    ('{"format": "actaudit-baseline", "version": 99, "rows": []}', "version 99"),
    ('{"format": "actaudit-baseline", "version": 1, "rows": [{"status": "odd"}]}',
     "malformed"),
])
def test_a_file_that_is_not_a_baseline_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(BaselineError, match=message):
        load(path)


def test_judged_rows_fail_only_where_something_got_worse(tmp_path):
    before = table(row("accuracy", "fail", 1.9), row("special", "pass", math.nan),
                   row("subnormal", "fail", 4.0), row("gradient", "fail", 30.0))
    save(tmp_path / "b.json", before, "test")
    after = table(row("accuracy", "fail", 6.0, detail="d1"),  # worse: fails
                  row("special", "pass", math.nan),  # as before
                  row("subnormal", "fail", 4.0, detail="d3"),  # known: warns
                  row("gradient", "fail", 3.0, detail="d4"),  # better, still failing
                  row("dtype", "fail", math.nan, detail="d5"))  # new: as it is
    details = after.assign(severity=None)
    summary, judged, _ = judge(after, details, load(tmp_path / "b.json"))
    status = dict(zip(summary["check"], summary["status"], strict=True))
    assert status == {"accuracy": "fail", "special": "pass", "subnormal": "warn",
                      "gradient": "warn", "dtype": "fail"}
    detail = dict(zip(summary["check"], summary["detail"], strict=True))
    assert detail["accuracy"].startswith("regressed since the baseline: was fail, 1.9 ULP; "
                                         "now fail, 6 ULP; d1")
    assert detail["subnormal"].startswith("known: as in the baseline")
    assert detail["gradient"].startswith("improved since the baseline: was fail, 30 ULP")
    assert detail["dtype"].startswith("not in the baseline")
    assert list(judged["found"]) == list(after["status"])  # as the checks found them
    assert list(judged["baseline"]) == ["regressed", "same", "same", "improved", "new"]
