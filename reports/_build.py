"""``actaudit report``: the runs' tables in, a folder out: index.html with its plots,
summary.md and summary.csv, all from the same DataFrames.

The folder is built beside ``out`` and moved into place whole, so that a report is never
half written and an older one never keeps stale plots. It replaces only a report: an
``out`` that holds anything an actaudit report did not write (or changed since), or that
is or holds one of the runs read, is refused before any work (`_files.claim`).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .._files import claim, manifest_of, replace_folder
from ..bench import MODES
from ..bench._tables import device_dir
from ..checks import FILES
from . import _html, _markdown, _tables
from ._figures import Style, error_curves, styles, throughput
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


def _curve_plots(runs: Runs, folder: Path, style: dict[str, Style]
                 ) -> list[tuple[str, str, str]]:
    """One PNG per activation variant with curves: (file, title, its worst error)."""
    tol = _tables.tolerances(runs.results)
    made = []
    for (act, variant), part in runs.curves.groupby(["activation", "variant"], sort=False):
        title = _tables.name(act, variant)
        limits = {(d, w): t for (a, v, d, w), t in tol.items() if (a, v) == (act, variant)}
        src = f"curves/{_slug(title)}.png"
        _save(error_curves(part, limits, style, title), folder / src)
        worst = part.loc[part["max_ulp"].fillna(math.inf).idxmax()]
        what = {"value": "value", "second": "second derivative"}.get(worst["what"],
                                                                    "derivative")
        made.append((src, title, f"worst: {_html.compact(float(worst['max_ulp']))} ULP, "
                                 f"{worst['impl']} {worst['dtype']} {what}"))
    return made


TOP = 3  # findings of each severity on the first screen; every one is below


def _verdict_section(runs: Runs, groups: pd.DataFrame, warnings: pd.DataFrame) -> str:
    """The first screen: what is wrong, where and how badly, the worst first."""
    results = runs.results
    parts = [_html.plain_table(_tables.counts(results), index=True)]
    if groups.empty:
        parts.append('<p>No check failed or errored.</p>')
    else:
        table = _tables.headline(groups)
        kinds = table["severity"]
        counts = kinds.value_counts()
        top = table[table.groupby("severity", sort=False).cumcount() < TOP]
        top = top.assign(**{"severity": top["severity"].map(
            lambda k: f"{k}: {counts[k]} finding{'s' if counts[k] > 1 else ''}"
                      + (f", the {TOP} largest" if counts[k] > TOP else ""))})
        parts.append(f"<p>{len(groups)} findings: checks that failed or errored, each "
                     "implementation's, activation's and check's rows grouped across dtypes "
                     "and variants. By severity, the most severe first, and the largest "
                     f"errors of each; every finding, with its rows and repro lines, in "
                     '<a href="#findings">Findings by activation</a>.</p>')
        parts.append(_html.grouped_table(top, "severity", code=(
            "worst input", "expected", "got"), wrap=("got",), table_id="top"))
    if not warnings.empty:
        parts.append(f'<p class="muted">And {len(warnings)} warnings (deviations a user may '
                     'accept), in <a href="#warnings">Warnings</a>.</p>')
    return "".join(parts)


def _finding_blocks(groups: pd.DataFrame, kind: str) -> str:
    """Per activation, worst first, a block to open: its findings, and in each finding
    the rows it groups, with their repro lines."""
    if groups.empty:
        return '<p class="muted">None.</p>'
    out = []
    for act, part in groups.groupby("activation", sort=False):
        first = part.iloc[0]
        summary = (f"<b>{escape(act)}</b>: {len(part)} {kind}{'s' if len(part) > 1 else ''};"
                   f" worst: {escape(first['defect'])}, "
                   f"{escape(_tables.impl_label(first['impl'], first['copies']))} "
                   f"{escape(first['check'])} {escape(first['dtype'])}"
                   + (f", {_html.compact(first['max_ulp'])} ULP"
                      if first["max_ulp"] == first["max_ulp"] else ""))
        items = []
        for _, g in part.iterrows():
            head = (f'<span class="{g["status"]}">{g["status"]}</span> · '
                    f"{escape(g['defect'])} · "
                    f"<b>{escape(_tables.impl_label(g['impl'], g['copies']))}</b> · "
                    f"{escape(g['check'])} · {escape(g['dtypes'])} · {escape(g['variants'])}")
            rows = g["rows"][["variant", "dtype", "max_ulp", "worst_input", "expected", "got",
                              "detail", "repro"]]
            attrs = "".join(f' data-{k}="{escape(str(g[k]), quote=True)}"'
                            for k in ("impl", "copies", "activation", "check", "status"))
            items.append(f'<div class="finding"{attrs}>{head}'
                         + _html.plain_table(rows, code=("worst_input", "expected", "got"),
                                             wrap=("detail",), pre=("repro",))
                         + "</div>")
        out.append(_html.details(summary, "".join(items),
                                 attrs=f' data-activation="{escape(act, quote=True)}"'))
    return "".join(out)


def _accuracy_sections(runs: Runs, folder: Path, style: dict[str, Style],
                       groups: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """The audit's sections; ``groups``, the findings (`_tables.findings`)."""
    results = runs.results
    if results.empty:
        note = '<p class="muted">No audit among these runs.</p>'
        return {"verdict": ("Verdict", note)}
    warnings = _tables.findings(_tables.failures(results, ("warn",)))
    parts = [_html.legend()]
    for what, heading in (("value", "Values"), ("gradient", "Derivatives")):
        ulp, worst, notes = _tables.overview(results, what)
        if not ulp.empty:
            parts += [f"<h3>{heading}</h3>", _html.overview_table(ulp, worst, notes, what)]
    plots = _curve_plots(runs, folder, style)
    curves = ['<p class="muted">Per activation variant and dtype, the worst ULP error in each run '
              'of consecutive inputs (every float16 and bfloat16 input; the float32 and float64 '
              'samples, or every float32 input where the audit was exhaustive, from the largest '
              'error of each block of 65,536 inputs), for the value and the derivative, every '
              'implementation on the same axes; the dashed line is the tolerance. The x axis is '
              'logarithmic on each side of 0, with the decades from 1/8 to 16 stretched: most '
              'activations bend there. The functions of a whole slice (softmax, logsumexp, ...) '
              'have no single input axis: their results are in the overview and the findings. Open '
              "a plot by its name.</p>"]
    curves += [_html.details(f"{escape(title)} <span class=\"muted\">({escape(worst)})</span>",
                             _html.figure(src, f"ULP error against the input: {title}"))
               for src, title, worst in plots]
    findings = ('<p class="muted">Every finding, by activation (the one with the most severe '
                "finding first): open one to see each check that failed or errored, with its "
                "input, the correctly rounded value, what the implementation gave, and a "
                "line to reproduce it. Rows an implementation shares with another (flax.nnx "
                "re-exports jax.nn's functions) are shown once, under the owner, as "
                "<em>jax.nn (= flax.nnx)</em>.</p>" + _finding_blocks(groups, "finding"))
    return {"verdict": ("Verdict", _verdict_section(runs, groups, warnings)),
            "findings": ("Findings by activation", findings),
            "warnings": ("Warnings", _finding_blocks(warnings, "warning")),
            "overview": ("Accuracy overview", "".join(parts)),
            "curves": ("ULP error against the input", "".join(curves))}


FRACTION = ("<em>Fraction of the baseline</em>: the bytes a case moves (its inputs and "
            "outputs, once each) per second, over what <code>x + 1</code> streams at the same "
            "dtype and size. Near 1, the case runs at the speed of memory; below, it computes "
            "more than it moves. Above 1 it moved its bytes faster than <code>x + 1</code>: "
            "at small sizes both times are the cost of a call, not of memory traffic, and a "
            "backward pass that XLA fuses reads fewer bytes than counted, so there the "
            "fraction says little.")


def _bench_section(runs: Runs, folder: Path, style: dict[str, Style]) -> str:
    if runs.bench.empty:
        return '<p class="muted">No benchmarks among these runs.</p>'
    parts = ['<p class="muted">Medians of pytest-benchmark rounds. <em>Time over '
             "jax.nn's</em>: below 1, faster than jax.nn on the same case, timed in the same "
             f"run. {FRACTION}</p>"]
    for platform, kind, part in _tables.devices(runs.bench):
        parts.append(f"<h3>{escape(platform)}: {escape(kind)} "
                     f"({escape(str(part.iloc[0]['processor']))})</h3>")
        for mode in MODES:
            rows = part[part["mode"].isin([mode]) | (part["impl"] == "baseline")]
            if (rows["mode"] == mode).any():
                device = device_dir(platform, kind, str(part.iloc[0]["processor"]))
                src = f"bench/{device}-{_slug(mode)}.png"
                _save(throughput(rows, style, f"{platform} ({kind}), {mode}"), folder / src)
                parts.append(_html.figure(src, f"throughput against size, {platform} {mode}"))
        sizes = ", ".join(f"{d} {n:,}" for d, n in _tables.sizes_timed(part).items())
        ratio = _tables.at_largest(part, "ratio_vs_jax_nn", skip=("jax.nn",))
        if not ratio.empty:
            parts += [f"<h4>Time over jax.nn's, at the largest size ({sizes} elements)</h4>",
                      _html.ratio_table(ratio, _html.RATIO_SCALE)]
        frac = _tables.at_largest(part, "roofline_fraction")
        if not frac.empty:
            parts.append(_html.details("Fraction of the bandwidth baseline, at the largest "
                                       "size", f'<p class="muted">{FRACTION}</p>'
                                       + _html.ratio_table(frac, None)))
        missing = _tables.untimed(part)
        if len(missing):
            parts.append(_html.details(f"Not timed ({len(missing)} cases)",
                                       _html.plain_table(missing, wrap=("detail",))))
    return "".join(parts)


def _markdown_page(runs: Runs, when: str, groups: pd.DataFrame) -> str:
    lines = [f"# {TITLE}", "", f"Built {when}. The plots are in index.html.", ""]
    if not runs.results.empty:
        lines += ["## Checks per status", "", _tables.counts(runs.results).to_markdown(), "",
                  "## Findings, the most severe first", "", _markdown.findings(groups), ""]
        for what, heading in (("value", "Values"), ("gradient", "Derivatives")):
            ulp, worst, _ = _tables.overview(runs.results, what)
            if not ulp.empty:
                lines += [f"## {heading}: max ULP error and worst status", "",
                          _markdown.overview(ulp, worst), ""]
    for platform, kind, part in _tables.devices(runs.bench):
        ratio = _tables.at_largest(part, "ratio_vs_jax_nn", skip=("jax.nn",))
        lines += [f"## Benchmarks: {platform} ({kind}): time over jax.nn's, largest size", "",
                  _markdown.numbers(ratio), ""]
    env = _tables.environment(runs.environments, runs.bench)
    if not env.empty:
        lines += ["## Environment", "", env.to_markdown(), ""]
    return "\n".join(lines)


def build(paths: list[str | Path], out: str | Path, *, force: bool = False,
          source: str | None = None) -> Report:
    """The report of the runs under ``paths``, in the folder ``out`` (replaced whole,
    where it is an earlier report); the page says it was built from ``source`` (the
    paths by default). `RunError` for runs that cannot be read, `_files.OutputError` for
    an ``out`` that cannot be used, both before any work."""
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
    style = styles(impls)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        groups = _tables.findings(_tables.failures(runs.results))
        sections = _accuracy_sections(runs, staging, style, groups)
        sections["bench"] = ("Benchmarks", _bench_section(runs, staging, style))
        env = _tables.environment(runs.environments, runs.bench)
        sections["environment"] = ("Environment", _html.plain_table(env, index=True)
                                   if not env.empty else "")
        sources = ", ".join(f"<code>{escape(str(p))}</code>" for p in paths) \
            if source is None else escape(source)
        intro = f'<p class="muted">Built {when} from {sources}.</p>'
        (staging / "index.html").write_text(_html.page(TITLE, sections, intro))
        (staging / "summary.md").write_text(_markdown_page(runs, when, groups))
        runs.summary.to_csv(staging / FILES["summary"], index=False, na_rep="")
        plots = len(list(staging.rglob("*.png")))
        manifest_of(staging, KIND)
        replace_folder(out, staging, KIND, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Report(out, out / "index.html", out / "summary.md", out / FILES["summary"], plots)
