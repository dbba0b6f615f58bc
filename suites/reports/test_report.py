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

from actaudit import catalog
from actaudit.catalog import Identity
from actaudit.checks import FILES

ACTIVATIONS = "sigmoid,relu,softmax"
DTYPES = "float16,float32"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "actaudit.cli", *args], capture_output=True,
                          text=True, timeout=900, cwd=cwd)


@pytest.fixture(scope="module")
def made(tmp_path_factory, oracle_cache):
    """reference and jax.nn audited on three activations in two dtypes; relu and softmax
    timed; the report of both."""
    root = tmp_path_factory.mktemp("report")
    audit = run("audit", "--impl", "reference", "--impl", "jax.nn", "--only", ACTIVATIONS,
                "--dtypes", DTYPES, "--out", str(root / "runs" / "audit"), "--quiet",
                "--exit-zero", "--cache-dir", str(oracle_cache), cwd=root)
    assert audit.returncode == 0, audit.stderr[-2000:]
    bench = run("bench", "--impl", "reference", "--only", "relu,softmax", "--sizes", "2^10",
                "--dtypes", "float32", "--modes", "fwd", "--out", str(root / "runs" / "bench"),
                cwd=root)
    assert bench.returncode == 0, bench.stderr[-2000:]
    done = run("report", str(root / "runs"), "--out", str(root / "report"), cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return root, done


class Page(HTMLParser):
    """The parts of index.html a test looks at: images, overview cells, and the findings
    (each with the rows it groups: variant, dtype, max_ulp, worst_input, expected, got,
    detail, repro)."""

    def __init__(self, text: str):
        super().__init__()
        self.images, self.cells, self.findings, self.colours = [], [], [], {}
        self._overview = self._row = self._cell = None
        self._finding: dict | None = None
        self._text: list[str] = []
        self._depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "div" and a.get("class") == "finding":
            self._finding = {k.removeprefix("data-"): v for k, v in a.items()
                             if k.startswith("data-")}
            self._finding["rows"] = []
            self.findings.append(self._finding)
            self._depth = 1
        elif tag == "div" and self._finding is not None:
            self._depth += 1
        elif tag == "table":
            self._overview = a.get("data-overview")
        elif tag == "tr":
            self._row = a.get("data-name")
            if self._finding is not None:
                self._finding["rows"].append([])
        elif tag == "td":
            self._text = []
            if self._overview and "data-status" in a:
                self._cell = (self._overview, self._row, a["data-dtype"], a["data-impl"],
                              a["data-status"])
                self.colours[self._cell[:4]] = a["style"].removeprefix("background:")

    def handle_data(self, data):
        self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td":
            text = "".join(self._text).strip()
            if self._cell:
                self.cells.append((*self._cell, text.split(" ")[0]))
                self._cell = None
            elif self._finding is not None and self._finding["rows"]:
                self._finding["rows"][-1].append(text)
        elif tag == "table":
            self._overview = None
        elif tag == "div" and self._finding is not None:
            self._depth -= 1
            if self._depth == 0:
                self._finding = None


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
    accuracy (gradient) check, its rows of every length and its search, and the worst
    status of the value (gradient) checks."""
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
            ulp = part.loc[part["check"].isin([main, f"{main}:rows", f"{main}:search"]),
                           "max_ulp"]
            worst = max(part["status"], key=order.index)
            out[(what, name, dtype, impl_name)] = (ulp.max() if len(ulp) else math.nan, worst)
    return out


def _shows(text: str, v: float) -> bool:
    """Whether a cell's number is the max ULP error ``v``, as far as its few digits go
    (three below 1000, two above: 2.0e3), ∞ for infinity, nothing for none."""
    if isinstance(v, float) and math.isnan(v):
        return text == ""
    if math.isinf(v):
        return text == "∞"
    return abs(float(text) - v) <= 0.05 * abs(v) + 0.005


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
        assert text == "" or _shows(text, ulp), (key, text, ulp)
    # a cell's colour is its verdict's: a failure is never drawn green, a pass never red
    from actaudit.reports._html import VERDICT_SCALE

    for key, (_, worst) in expected.items():
        assert page.colours[key] in [c for _, c, _ in VERDICT_SCALE[worst]], (key, worst)
    # the brief's defect is on the page: jax.nn's float16 sigmoid fails, ours passes
    assert shown[("value", "sigmoid", "float16", "jax.nn")][1] == "fail"
    assert shown[("value", "sigmoid", "float16", "reference")][1] == "pass"


def test_every_failure_is_listed_with_input_expected_got_and_repro(made):
    """Every row that failed or errored is on the page, in the finding of its
    implementation, activation and check, with its input, expected value, result and a
    repro line."""
    root, _ = made
    summary = pd.read_csv(root / "report" / "summary.csv", keep_default_na=False)
    bad = summary[summary["status"].isin(["fail", "error"])]
    assert len(bad) > 0
    page = Page((root / "report" / "index.html").read_text())
    listed = {}
    columns = ["variant", "dtype", "max_ulp", "worst_input", "expected", "got", "detail",
               "repro"]
    for finding in page.findings:
        if finding["status"] == "warn":  # (the warnings' blocks)
            continue
        for cells in finding["rows"][1:]:  # after the header row
            row = dict(zip(columns, cells, strict=True))
            key = (finding["impl"], finding["activation"], row["variant"], row["dtype"],
                   finding["check"])
            listed[key] = (finding["status"], row)
    assert set(listed) == set(bad[["impl", "activation", "variant", "dtype", "check"]]
                              .itertuples(index=False, name=None))
    for key, (status, row) in listed.items():
        match = bad.set_index(["impl", "activation", "variant", "dtype", "check"]).loc[key]
        assert status == match["status"]
        assert (row["worst_input"], row["expected"], row["got"]) == (
            match["worst_input"], match["expected"], match["got"])
        has_input = row["worst_input"] and (key[1] != "softmax"
                                            or row["worst_input"].startswith("["))
        identity = any(getattr(p, "name", None) == key[4].partition(":")[2] for p in
                       catalog.get(key[1]).properties if isinstance(p, Identity))
        if identity:  # its two sides, again: no oracle in it
            assert row["repro"].startswith("python -c ") and "sides(" in row["repro"], row
        elif has_input:  # (a softmax transform row names its slice instead)
            assert row["repro"].startswith(f"actaudit oracle {key[1]}"), row


def test_the_first_screen_ranks_findings_by_severity(made):
    """The verdict leads with the most severe findings, and each finding's row names what
    is wrong, where and how badly."""
    from actaudit.checks import Severity

    root, _ = made
    html = (root / "report" / "index.html").read_text()
    top = html[html.index('id="top"'):]
    top = top[: top.index("</table>")]
    kinds = [s.value for s in Severity if f">{s.value}: " in top]
    assert kinds, top[:500]
    assert [top.index(f">{k}: ") for k in kinds] == sorted(top.index(f">{k}: ") for k in kinds)
    assert "jax.nn" in top and "sigmoid" in top


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


def test_each_implementation_is_drawn_in_a_style_of_its_own():
    """Five implementations, five colours and dash patterns: curves that coincide (jax.nn
    and flax.nnx share functions) still show both, one drawn over the other."""
    from actaudit.reports._figures import error_curves, styles

    names = ["reference", "jax.nn", "flax.nnx", "torch", "scipy"]
    drawn = styles(names)
    assert len({(s.colour, s.dashes) for s in drawn.values()}) == len(names)
    x = np.linspace(-20, 20, 64)
    curves = pd.DataFrame([{"impl": n, "activation": "a", "variant": "", "dtype": "float32",
                            "what": "value", "x": v, "max_ulp": 1.0 + (n == "torch"),
                            "x_lo": v, "x_hi": v, "n": 1} for n in names for v in x])
    fig = error_curves(curves, {}, drawn, "a")
    lines = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]
    assert [ln.get_label() for ln in lines] == names  # one entry each, never "a = b"
    assert len({ln.get_color() for ln in lines}) == len(names)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_the_x_axis_gives_the_inputs_near_1_room(dtype):
    """Inputs from 1/2 to 2, where activations bend, take at least a tenth of each side
    of the axis in every format (on a log axis over float32's 76 decades they took 1%);
    0 is in the middle, the order of finite inputs is kept, and ±inf are the ends."""
    from actaudit.oracles import FORMATS
    from actaudit.reports._figures import _position

    fmt = FORMATS[dtype]
    end = float(_position(np.array([np.inf]), fmt)[0])
    at = _position(np.array([0.5, 2.0]), fmt)
    assert (at[1] - at[0]) / end >= 0.1
    xs = np.array([-np.inf, -fmt.max, -3.0, -1.0, -fmt.tiny, -fmt.true_min, 0.0,
                   fmt.true_min, fmt.tiny, 1e-3, 1.0, 3.0, 1e3, fmt.max, np.inf])
    where = _position(xs, fmt)
    assert np.all(np.diff(where[1:-1]) > 0) and where[6] == 0
    assert where[0] == -end and where[-1] == end  # ±inf at the ends (with ±max)


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
    assert {"torch", "pandas", "mpmath", "python-flint"} <= set(env)  # audited libraries too
    if env["torch"]:
        assert f"<td class=\"l\">{env['torch']}</td>" in page


def test_summary_md_has_the_same_overview(made):
    root, _ = made
    md = (root / "report" / "summary.md").read_text()
    summary = pd.read_csv(root / "report" / "summary.csv", keep_default_na=False)
    summary["max_ulp"] = pd.to_numeric(summary["max_ulp"], errors="coerce")
    ulp = summary[(summary["impl"] == "jax.nn") & (summary["activation"] == "sigmoid")
                  & (summary["dtype"] == "float16") & (summary["check"] == "accuracy")
                  ]["max_ulp"].iloc[0]
    line = next(ln for ln in md.splitlines() if ln.startswith("| sigmoid "))
    cells = [c.strip() for c in line.split("|")]
    assert any(c.endswith(" ✗") and _shows(c[:-2], ulp) for c in cells), line
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


WIDTH, HEIGHT = 1400, 900  # a laptop's window
TALLEST = 25_000  # px: a page a reader can scroll through (the main job's was 374,000)
LAYOUT = """() => ({
    height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
    nav: [...document.querySelectorAll('nav a')].map(a => a.getAttribute('href')),
    sections: [...document.querySelectorAll('section')].map(s => s.id),
})"""


def _open(index, look):
    """``look(page)`` on index.html in headless Chromium, as a reader opens it from disk;
    the requests it made and the errors it logged."""
    from playwright.sync_api import sync_playwright

    requests, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(index.as_uri(), wait_until="load")
            seen = look(page)
        finally:
            browser.close()
    assert all(url.startswith("file://") for url in requests), requests
    assert not errors, errors
    return seen


def _every_section_reachable(page) -> dict:
    """The page's size, and for each link of its navigation where its section's heading
    lands in the window once the link is followed (0: at its top)."""
    layout = page.evaluate(LAYOUT)
    landed = {}
    for href in layout["nav"]:
        page.evaluate(f"location.hash = '{href}'")
        landed[href] = page.evaluate(
            f"document.querySelector('{href} h2').getBoundingClientRect().top")
    return {**layout, "landed": landed}


def _check_layout(seen) -> None:
    assert seen["width"] <= WIDTH, f"the page is {seen['width']} px wide in a {WIDTH} px window"
    assert seen["height"] <= TALLEST, f"the page is {seen['height']} px tall"
    assert [h.lstrip("#") for h in seen["nav"]] == seen["sections"]
    for href, top in seen["landed"].items():  # followed, a link shows its section's heading
        assert -2 <= top < HEIGHT - 40, (href, top)


@pytest.mark.skipif(_browser() is None, reason="no Chromium installed (Debian: apt-get "
                    "install chromium) to render the report in")
def test_report_renders_in_headless_chromium(made):
    """Open index.html from disk, as a reader would: every plot loads and has pixels once
    its block is opened, no request leaves the disk, nothing is logged as an error, the
    tables are visible, nothing spills past the window's width, and every section is
    reached from the navigation."""
    root, _ = made
    index = (root / "report" / "index.html").resolve()
    pngs = sorted(str(p.relative_to(index.parent)) for p in index.parent.rglob("*.png"))

    def look(page):
        seen = _every_section_reachable(page)
        seen["visible"] = page.locator("table[data-overview='value']").is_visible()
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        seen["images"] = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getAttribute('src'), e.complete, "
            "e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width])")
        seen["shot"] = page.screenshot(full_page=True)
        return seen

    seen = _open(index, look)
    _check_layout(seen)
    assert sorted(src for src, *_ in seen["images"]) == pngs
    for src, complete, width, height, shown in seen["images"]:
        assert complete and width > 300 and height > 150 and shown > 100, src
    assert seen["visible"]
    # the screenshot is the page, not a blank: many distinct colours
    import io

    from matplotlib.image import imread

    pixels = imread(io.BytesIO(seen["shot"]), format="png")
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1])[::97], axis=0)) > 50


def _as_the_main_job(made, folder):
    """An audit the size of the main job's, from the small real one: its rows under five
    implementations (flax.nnx's the copies of jax.nn's, as they are there) and every
    activation in two variants, thousands of rows and over a thousand failures."""
    import json as json_

    from actaudit import catalog

    root, _ = made
    details = pd.read_parquet(root / "runs" / "audit" / FILES["details"])
    real = [details[details["activation"] == a] for a in ACTIVATIONS.split(",")]
    parts = []
    for k, name in enumerate(catalog.CATALOG):
        for extra in ("", "alpha=0.5"):
            base = real[k % len(real)].assign(activation=name)
            base["variant"] = [", ".join(p for p in (v, extra) if p) for v in base["variant"]]
            theirs = base[base["impl"] == "jax.nn"]
            parts += [base, theirs.assign(impl="flax.nnx", same_as="jax.nn"),
                      *(theirs.assign(impl=lib) for lib in ("torch", "scipy"))]
    big = pd.concat(parts, ignore_index=True)
    folder.mkdir(parents=True)
    big.to_parquet(folder / FILES["details"])
    (folder / FILES["environment"]).write_text(json_.dumps({"jax": "x"}))
    return big


@pytest.mark.skipif(_browser() is None, reason="no Chromium installed (Debian: apt-get "
                    "install chromium) to render the report in")
def test_a_report_the_size_of_the_main_jobs_stays_readable(made, tmp_path):
    """The main job's report was 374,000 px tall, its failures table 1,246 rows of which
    385 were flax.nnx's copies of jax.nn's. At that size the page stays within a few
    screens: findings grouped and folded, long blocks closed, nothing wider than the
    window, every section reachable; and the copies are named, not repeated."""
    big = _as_the_main_job(made, tmp_path / "runs" / "audit")
    failed = big["status"].isin(["fail", "error"])
    assert len(big) > 4000 and failed.sum() > 1000, (len(big), failed.sum())
    done = run("report", str(tmp_path / "runs"), "--out", str(tmp_path / "report"),
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    index = (tmp_path / "report" / "index.html").resolve()
    seen = _open(index, _every_section_reachable)
    _check_layout(seen)
    page = Page(index.read_text())
    assert page.findings and not any(f["impl"] == "flax.nnx" for f in page.findings)
    assert any(f["impl"] == "jax.nn" and f["copies"] == "flax.nnx" for f in page.findings)
    listed = sum(len(f["rows"]) - 1 for f in page.findings if f["status"] != "warn")
    assert listed == (failed & big["same_as"].isna()).sum()
