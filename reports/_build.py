"""``actaudit report``: the runs' tables in, a folder out: index.html with its plots,
summary.md and summary.csv, all from the same DataFrames.

The folder is built beside ``out`` and moved into place whole, so that a report is never
half written and an older one never keeps stale plots. It replaces only a report: an
``out`` that holds anything an actaudit report did not write (or changed since), or that
is or holds one of the runs read, is refused before any work (`_files.claim`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from .._files import claim, manifest_of, replace_folder
from ..bench import MODES
from ..bench._tables import device_dir
from ..checks import FILES
from . import _html, _markdown, _tables
from ._figures import colours, error_curves, throughput
from ._runs import RunError, Runs, load

TITLE = "actaudit report"
KIND = "report"  # what a report's folder says it holds (`_files.claim`)


@dataclass(frozen=True)
class Report:
    """What `build` wrote: the folder, its three files, and how many plots."""

    folder: Path
    index: Path
    markdown: Path
    summary: Path
    plots: int


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_") or "default"


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def _curve_plots(runs: Runs, folder: Path, colour: dict[str, str]) -> list[tuple[str, str]]:
    """One PNG per activation variant with curves: (file, title)."""
    tol = _tables.tolerances(runs.results)
    made = []
    for (act, variant), part in runs.curves.groupby(["activation", "variant"], sort=False):
        title = _tables.name(act, variant)
        limits = {(d, w): t for (a, v, d, w), t in tol.items() if (a, v) == (act, variant)}
        src = f"curves/{_slug(title)}.png"
        _save(error_curves(part, limits, colour, title), folder / src)
        made.append((src, title))
    return made


def _accuracy_sections(runs: Runs, folder: Path, colour: dict[str, str]
                       ) -> dict[str, tuple[str, str]]:
    results = runs.results
    if results.empty:
        note = '<p class="muted">No audit among these runs.</p>'
        return {"overview": ("Accuracy overview", note)}
    parts = [_html.plain_table(_tables.counts(results), index=True), _html.legend()]
    for what, heading in (("value", "Values"), ("gradient", "Derivatives")):
        ulp, worst, notes = _tables.overview(results, what)
        if not ulp.empty:
            parts += [f"<h3>{heading}</h3>", _html.overview_table(ulp, worst, notes, what)]
    plots = _curve_plots(runs, folder, colour)
    curves = ['<p class="muted">Per activation variant and dtype, the worst ULP error in each '
              "run of consecutive inputs (every float16 and bfloat16 input; the float32 and "
              "float64 samples), for the value and the derivative, every implementation on "
              "the same axes; the dashed line is the tolerance. The functions of a whole "
              "slice (softmax, logsumexp, ...) have no single input axis: their results are "
              "in the overview and the failures.</p>"]
    curves += [_html.figure(src, f"ULP error against the input: {title}") for src, title in plots]
    bad = _tables.failures(results)
    fail_html = ('<p class="muted">Every check that failed or errored: the input, the '
                 "correctly rounded value, what the implementation gave, and a line to "
                 f"reproduce it. {len(bad)} in all.</p>"
                 + _html.plain_table(bad, code=("repro", "worst_input", "expected", "got"),
                                     wrap=("detail",), table_id="failures"))
    return {"overview": ("Accuracy overview", "".join(parts)),
            "curves": ("ULP error against the input", "".join(curves)),
            "failures": ("Failing checks", fail_html)}


def _bench_section(runs: Runs, folder: Path, colour: dict[str, str]) -> str:
    if runs.bench.empty:
        return '<p class="muted">No benchmarks among these runs.</p>'
    parts = ['<p class="muted">Medians of pytest-benchmark rounds. <em>Time over '
             "jax.nn's</em>: below 1, faster than jax.nn on the same case, timed in the same "
             "run. <em>Fraction of the baseline</em>: bytes moved per second over what "
             "<code>x + 1</code> streams at the same dtype and size.</p>"]
    for platform, kind, part in _tables.devices(runs.bench):
        parts.append(f"<h3>{escape(platform)}: {escape(kind)} "
                     f"({escape(str(part.iloc[0]['processor']))})</h3>")
        for mode in MODES:
            rows = part[part["mode"].isin([mode]) | (part["impl"] == "baseline")]
            if (rows["mode"] == mode).any():
                device = device_dir(platform, kind, str(part.iloc[0]["processor"]))
                src = f"bench/{device}-{_slug(mode)}.png"
                _save(throughput(rows, colour, f"{platform} ({kind}), {mode}"), folder / src)
                parts.append(_html.figure(src, f"throughput against size, {platform} {mode}"))
        sizes = ", ".join(f"{d} {n:,}" for d, n in _tables.sizes_timed(part).items())
        ratio = _tables.at_largest(part, "ratio_vs_jax_nn", skip=("jax.nn",))
        if not ratio.empty:
            parts += [f"<h4>Time over jax.nn's, at the largest size ({sizes} elements)</h4>",
                      _html.ratio_table(ratio, _html.RATIO_SCALE)]
        frac = _tables.at_largest(part, "roofline_fraction")
        if not frac.empty:
            parts += ["<h4>Fraction of the bandwidth baseline, at the largest size</h4>",
                      _html.ratio_table(frac, None)]
        missing = _tables.untimed(part)
        if len(missing):
            parts += ["<h4>Not timed</h4>", _html.plain_table(missing, wrap=("detail",))]
    return "".join(parts)


def _markdown_page(runs: Runs, when: str) -> str:
    lines = [f"# {TITLE}", "", f"Built {when}. The plots are in index.html.", ""]
    if not runs.results.empty:
        lines += ["## Checks per status", "", _tables.counts(runs.results).to_markdown(), ""]
        for what, heading in (("value", "Values"), ("gradient", "Derivatives")):
            ulp, worst, _ = _tables.overview(runs.results, what)
            if not ulp.empty:
                lines += [f"## {heading}: max ULP error and worst status", "",
                          _markdown.overview(ulp, worst), ""]
        lines += ["## Failing checks", "", _markdown.failures(_tables.failures(runs.results)),
                  ""]
    for platform, kind, part in _tables.devices(runs.bench):
        ratio = _tables.at_largest(part, "ratio_vs_jax_nn", skip=("jax.nn",))
        lines += [f"## Benchmarks: {platform} ({kind}): time over jax.nn's, largest size", "",
                  _markdown.numbers(ratio), ""]
    env = _tables.environment(runs.environments, runs.bench)
    if not env.empty:
        lines += ["## Environment", "", env.to_markdown(), ""]
    return "\n".join(lines)


def build(paths: list[str | Path], out: str | Path, *, force: bool = False) -> Report:
    """The report of the runs under ``paths``, in the folder ``out`` (replaced whole,
    where it is an earlier report). `RunError` for runs that cannot be read,
    `_files.OutputError` for an ``out`` that cannot be used, both before any work."""
    out = Path(out)
    target = out.resolve()
    for given in paths:
        run = Path(given).resolve()
        if target == run or target in run.parents:
            raise RunError(f"--out {str(out)!r} is or holds the run {str(given)!r} it would "
                           "be built from: choose another folder")
    runs = load(paths)
    claim(out, KIND, force=force)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    impls = list(dict.fromkeys([*runs.results["impl"], *runs.bench["impl"]]))
    colour = colours(impls)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        sections = _accuracy_sections(runs, staging, colour)
        sections["bench"] = ("Benchmarks", _bench_section(runs, staging, colour))
        env = _tables.environment(runs.environments, runs.bench)
        sections["environment"] = ("Environment", _html.plain_table(env, index=True)
                                   if not env.empty else "")
        sources = ", ".join(f"<code>{escape(str(p))}</code>" for p in paths)
        intro = f'<p class="muted">Built {when} from {sources}.</p>'
        (staging / "index.html").write_text(_html.page(TITLE, sections, intro))
        (staging / "summary.md").write_text(_markdown_page(runs, when))
        runs.summary.to_csv(staging / FILES["summary"], index=False, na_rep="")
        plots = len(list(staging.rglob("*.png")))
        manifest_of(staging, KIND)
        replace_folder(out, staging, KIND, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Report(out, out / "index.html", out / "summary.md", out / FILES["summary"], plots)
