"""`actaudit report` as a user runs it: a real audit and a real benchmark run in, a report
folder out. What the page shows is checked against summary.csv, recomputed here from the
audit's own table; the page is then opened in headless Chromium, as a person would."""

import json
import math
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import jax
import numpy as np
import pandas as pd
import pytest

from actaudit.checks import FILES

ACTIVATIONS = "sigmoid,relu,softmax"
DTYPES = "float16,float32"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "actaudit.cli", *args], capture_output=True,
                          text=True, timeout=900, cwd=cwd)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """reference and jax.nn audited on three activations in two dtypes; relu and softmax
    timed; the report of both."""
    root = tmp_path_factory.mktemp("report")
    audit = run("audit", "--impl", "reference", "--impl", "jax.nn", "--only", ACTIVATIONS,
                "--dtypes", DTYPES, "--out", str(root / "runs" / "audit"), "--quiet",
                "--exit-zero", cwd=root)
    assert audit.returncode == 0, audit.stderr[-2000:]
    bench = run("bench", "--impl", "reference", "--only", "relu,softmax", "--sizes", "2^10",
                "--dtypes", "float32", "--modes", "fwd", "--out", str(root / "runs" / "bench"),
                cwd=root)
    assert bench.returncode == 0, bench.stderr[-2000:]
    done = run("report", str(root / "runs"), "--out", str(root / "report"), cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return root, done


class Page(HTMLParser):
    """The parts of index.html a test looks at: images, overview cells, failure rows."""

    def __init__(self, text: str):
        super().__init__()
        self.images, self.cells, self.failures = [], [], []
        self._overview = self._row = self._cell = None
        self._in_failures = False
        self._text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "table":
            self._overview = a.get("data-overview")
            self._in_failures = a.get("id") == "failures"
        elif tag == "tr":
            self._row = a.get("data-name")
            if self._in_failures:
                self.failures.append([])
        elif tag == "td":
            self._text = []
            if self._overview and "data-status" in a:
                self._cell = (self._overview, self._row, a["data-dtype"], a["data-impl"],
                              a["data-status"])

    def handle_data(self, data):
        self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td":
            text = "".join(self._text).strip()
            if self._cell:
                self.cells.append((*self._cell, text.split(" ")[0]))
                self._cell = None
            elif self._in_failures and self.failures:
                self.failures[-1].append(text)
        elif tag == "table":
            self._overview, self._in_failures = None, False


def test_report_folder_has_page_plots_markdown_and_summary(made):
    root, done = made
    report = root / "report"
    assert {p.name for p in report.iterdir()} == {"index.html", "summary.md", "summary.csv",
                                                 "curves", "bench", ".actaudit.json"}
    assert str((report / "index.html").resolve()) in done.stdout
    curves = {p.name for p in (report / "curves").iterdir()}
    assert curves == {"sigmoid.png", "relu.png"}  # softmax is checked on slices: no curve
    assert len(list((report / "bench").glob("cpu-*-fwd.png"))) == 1
    for png in report.rglob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_csv_is_the_audits(made):
    root, _ = made
    ours = pd.read_csv(root / "report" / "summary.csv", keep_default_na=False)
    theirs = pd.read_csv(root / "runs" / "audit" / "summary.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(ours, theirs)


def _expected_cells(summary: pd.DataFrame) -> dict:
    """Recomputed from summary.csv: per (what, name, dtype, impl), the max ULP error of the
    accuracy (gradient) check and the worst status of the value (gradient) checks."""
    order = ["skip", "pass", "warn", "fail", "error"]
    out = {}
    for (act, variant, dtype, impl_name), rows in summary.groupby(
            ["activation", "variant", "dtype", "impl"]):
        name = f"{act}({variant})" if variant else act
        grad = rows["check"].str.startswith("gradient") | (rows["check"] == "subnormal:gradient")
        for what, part, main in (("value", rows[~grad], "accuracy"),
                                 ("gradient", rows[grad], "gradient")):
            if part.empty:
                continue
            ulp = part.loc[part["check"] == main, "max_ulp"]
            worst = max(part["status"], key=order.index)
            out[(what, name, dtype, impl_name)] = (ulp.max() if len(ulp) else math.nan, worst)
    return out


def _as_shown(v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ""
    return "∞" if math.isinf(v) else format(v, ".3g")


def test_overview_shows_what_summary_csv_says(made):
    root, _ = made
    summary = pd.read_csv(root / "report" / "summary.csv", keep_default_na=False)
    summary["max_ulp"] = pd.to_numeric(summary["max_ulp"], errors="coerce")
    page = Page((root / "report" / "index.html").read_text())
    shown = {(w, n, d, i): (text, status) for w, n, d, i, status, text in page.cells}
    expected = _expected_cells(summary)
    assert set(shown) == set(expected)
    for key, (ulp, worst) in expected.items():
        text, status = shown[key]
        assert status == worst, key
        assert text in (_as_shown(ulp), ""), (key, text, ulp)
    # the brief's defect is on the page: jax.nn's float16 sigmoid fails, ours passes
    assert shown[("value", "sigmoid", "float16", "jax.nn")][1] == "fail"
    assert shown[("value", "sigmoid", "float16", "reference")][1] == "pass"


def test_every_failure_is_listed_with_input_expected_got_and_repro(made):
    root, _ = made
    summary = pd.read_csv(root / "report" / "summary.csv", keep_default_na=False)
    bad = summary[summary["status"].isin(["fail", "error"])]
    assert len(bad) > 0
    page = Page((root / "report" / "index.html").read_text())
    header = ["impl", "activation", "variant", "dtype", "check", "status", "max_ulp",
              "worst_input", "expected", "got", "detail", "repro"]
    rows = [r for r in page.failures if r]
    assert len(rows) == len(bad)
    listed = {tuple(r[:5]) for r in rows}
    assert listed == set(bad[header[:5]].itertuples(index=False, name=None))
    for r in rows:
        row = dict(zip(header, r, strict=True))
        match = bad[(bad["impl"] == row["impl"]) & (bad["activation"] == row["activation"])
                    & (bad["variant"] == row["variant"]) & (bad["dtype"] == row["dtype"])
                    & (bad["check"] == row["check"])].iloc[0]
        assert (row["worst_input"], row["expected"], row["got"]) == (
            match["worst_input"], match["expected"], match["got"])
        has_input = row["worst_input"] and (row["activation"] != "softmax"
                                            or row["worst_input"].startswith("["))
        if has_input:  # (a softmax transform row names its slice instead)
            assert row["repro"].startswith(f"actaudit oracle {row['activation']}"), row


def test_a_repro_line_reproduces_the_failure(made):
    """The brief's defect, by hand, from the report's own line: the oracle says the
    expected value, the implementation prints what the report says it got."""
    import shlex

    root, _ = made
    details = pd.read_parquet(root / "runs" / "audit" / FILES["details"])
    row = details[(details["impl"] == "jax.nn") & (details["activation"] == "sigmoid")
                  & (details["dtype"] == "float16") & (details["check"] == "subnormal")
                  ].iloc[0]
    assert row["status"] == "fail" and float(row["got"]) == 0.0
    oracle, python = row["repro"].split("; python -c ")
    args = shlex.split(oracle)[1:]  # oracle NAME [--param ...] -- X
    said = run(*args[:2], "--json", *args[2:], cwd=root)
    assert said.returncode == 0, said.stderr
    assert float(json.loads(said.stdout)["float16"]) == float(row["expected"]) > 0
    got = subprocess.run([sys.executable, "-c", shlex.split(python)[0]], capture_output=True,
                         text=True, timeout=300, cwd=root)
    assert got.returncode == 0, got.stderr
    assert float(got.stdout) == float(row["got"])


def test_curves_keep_each_checks_worst_error(made):
    """The curves are the accuracy and gradient checks' errors: each curve's largest
    error is its check's max_ulp, and its runs cover exactly the inputs checked."""
    root, _ = made
    audit = root / "runs" / "audit"
    curves = pd.read_parquet(audit / FILES["curves"])
    details = pd.read_parquet(audit / FILES["details"])
    checked = details[details["check"].isin(["accuracy", "gradient"])
                      & (details["activation"] != "softmax")]
    assert len(checked) == 2 * 2 * 2 * 2  # (sigmoid, relu) x impls x dtypes x (value, grad)
    for row in checked.itertuples():
        what = "value" if row.check == "accuracy" else "gradient"
        c = curves[(curves["impl"] == row.impl) & (curves["activation"] == row.activation)
                   & (curves["dtype"] == row.dtype) & (curves["what"] == what)]
        assert len(c) > 0
        assert c["max_ulp"].max() == row.max_ulp
        assert c["n"].sum() == row.n
        assert ((c["x_lo"] <= c["x"]) & (c["x"] <= c["x_hi"])).all()
        # runs in order of input (-0.0 and +0.0, both derivative inputs, compare equal)
        assert (c["x_hi"].to_numpy()[:-1] <= c["x_lo"].to_numpy()[1:]).all()
    assert (curves.loc[curves["dtype"] == "float16"].groupby(
        ["impl", "activation", "what"]).size() <= 512).all()


def test_environment_is_recorded_and_shown(made):
    root, _ = made
    env = json.loads((root / "runs" / "audit" / FILES["environment"]).read_text())
    assert env["jax"] == jax.__version__ and env["actaudit"]
    assert any(d["platform"] == "cpu" for d in env["devices"])
    page = (root / "report" / "index.html").read_text()
    for value in (env["jax"], env["jaxlib"], env["processor"], env["actaudit"]):
        assert value in page


def test_summary_md_has_the_same_overview(made):
    root, _ = made
    md = (root / "report" / "summary.md").read_text()
    summary = pd.read_csv(root / "report" / "summary.csv", keep_default_na=False)
    summary["max_ulp"] = pd.to_numeric(summary["max_ulp"], errors="coerce")
    ulp = summary[(summary["impl"] == "jax.nn") & (summary["activation"] == "sigmoid")
                  & (summary["dtype"] == "float16") & (summary["check"] == "accuracy")
                  ]["max_ulp"].iloc[0]
    line = next(ln for ln in md.splitlines() if ln.startswith("| sigmoid "))
    assert f"{_as_shown(ulp)} ✗" in line
    assert "Time over jax.nn's" in md or "time over jax.nn's" in md


def test_report_replaces_an_earlier_report_whole(made, tmp_path):
    """A report over an earlier one leaves none of its plots behind (and no staging
    folder); what a user put there is refused, in suites/cli/test_outputs.py."""
    root, _ = made
    out = tmp_path / "rep"
    assert run("report", str(root / "runs"), "--out", str(out), cwd=tmp_path).returncode == 0
    assert (out / "bench").is_dir()
    again = run("report", str(root / "runs" / "audit"), "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (out / "index.html").exists()
    assert not (out / "bench").exists()  # no benchmark given: no benchmark plots
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no staging folder left


@pytest.mark.parametrize("args, message", [
    (["no/such/folder"], "no such folder"),
    (["{empty}"], "no audit"),
    (["{audit}", "{audit}"], "two runs hold audit results for the same case"),
])
def test_bad_usage_is_one_line_and_status_2(made, tmp_path, args, message):
    root, _ = made
    (tmp_path / "empty").mkdir()
    paths = [a.format(empty=tmp_path / "empty", audit=root / "runs" / "audit") for a in args]
    done = run("report", *paths, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


@pytest.mark.skipif(_browser() is None, reason="no Chromium installed (Debian: apt-get "
                    "install chromium) to render the report in")
def test_report_renders_in_headless_chromium(made):
    """Open index.html from disk, as a reader would: every plot loads and has pixels, no
    request leaves the disk, nothing is logged as an error, and the tables are visible."""
    from playwright.sync_api import sync_playwright

    root, _ = made
    index = (root / "report" / "index.html").resolve()
    pngs = sorted(str(p.relative_to(index.parent)) for p in index.parent.rglob("*.png"))
    requests, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(index.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.getAttribute('src'), e.complete, "
                "e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width])")
            visible = page.locator("table[data-overview='value']").is_visible()
            shot = page.screenshot(full_page=True)
        finally:
            browser.close()
    assert sorted(src for src, *_ in images) == pngs
    for src, complete, width, height, shown in images:
        assert complete and width > 300 and height > 150 and shown > 100, src
    assert visible
    assert all(url.startswith("file://") for url in requests), requests
    assert not errors, errors
    # the screenshot is the page, not a blank: many distinct colours
    import io

    from matplotlib.image import imread

    pixels = imread(io.BytesIO(shot), format="png")
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1])[::97], axis=0)) > 50
