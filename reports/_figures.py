"""The report's plots, drawn with matplotlib's object interface (a `Figure` saved to PNG
by the Agg renderer: no pyplot state, no screen needed).

* `error_curves`: per activation variant, the ULP error against the input, one panel per
  dtype for the value and for the derivative, every implementation on the same axes;
* `throughput`: per device and mode, elements per second against size, one panel per
  activation, every implementation and dtype, and the bandwidth baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..bench import BASELINE
from ..checks._tolerances import DTYPES
from ..oracles.formats import FORMATS, Format
from ._tables import name

FLOOR = 0.1  # an error of 0 (exact) is drawn here, on the log scale
CEILING = 1e20  # and infinite errors, or larger than this, at the top
LINESTYLES = ("-", "--", ":", "-.")
DASHES = ((), (5, 2), (1.5, 1.5), (6, 2, 1.5, 2), (3, 1, 1, 1, 1, 1))


@dataclass(frozen=True)
class Style:
    """How one implementation is drawn, the same in every plot of a report: its own
    colour, dash pattern and width, so that curves that coincide (two libraries with the
    same error) still show each one, the later drawn thinner over the earlier."""

    colour: str
    dashes: tuple[float, ...]
    width: float


def styles(impls: Sequence[str]) -> dict[str, Style]:
    """A distinct style per implementation, in the order given."""
    return {name: Style(f"C{i % 10}", DASHES[i % len(DASHES)], max(0.7, 2.4 - 0.45 * i))
            for i, name in enumerate(impls)}


def _top(errors: np.ndarray) -> float:
    """Where infinite errors (an overflow, a NaN for a number) are drawn: a decade above
    the largest finite one, at most `CEILING`."""
    finite = errors[np.isfinite(errors)]
    biggest = min(max(float(finite.max()) if len(finite) else 1.0, 10.0), CEILING / 10)
    return 10.0 ** (math.ceil(math.log10(biggest)) + 1)


def error_curves(curves: pd.DataFrame, tolerances: Mapping[tuple[str, str], float],
                 style: Mapping[str, Style], title: str) -> Figure:
    """One activation variant's curves (rows of the curves table): a row of panels per
    what (value, gradient, second), a column per dtype. ``tolerances`` maps (dtype, what) to the
    audit's tolerance, drawn as a dashed line."""
    whats = [w for w in ("value", "gradient", "second") if (curves["what"] == w).any()]
    dtypes = [d for d in DTYPES if (curves["dtype"] == d).any()]
    fig = Figure(figsize=(3.6 * len(dtypes) + 0.6, 2.7 * len(whats) + 0.8),
                 layout="constrained")
    axes = fig.subplots(len(whats), len(dtypes), squeeze=False)
    top = _top(curves["max_ulp"].to_numpy(np.float64))
    for r, what in enumerate(whats):
        for c, dtype in enumerate(dtypes):
            ax, fmt = axes[r][c], FORMATS[dtype]
            part = curves[(curves["what"] == what) & (curves["dtype"] == dtype)]
            core = _position(np.array([CORE[0], CORE[1]]), fmt)
            for sign in (-1, 1):  # the stretched core, shaded
                ax.axvspan(sign * core[0], sign * core[1], color="0.94", lw=0, zorder=0)
            for impl_name, line in part.groupby("impl", sort=False):
                line = line.sort_values("x", kind="stable")
                s = style[impl_name]
                ax.plot(_position(line["x"].to_numpy(np.float64), fmt),
                        np.clip(line["max_ulp"].to_numpy(np.float64), FLOOR, top),
                        color=s.colour, dashes=s.dashes, lw=s.width, label=impl_name,
                        drawstyle="steps-mid")
            tol = tolerances.get((dtype, what))
            if tol is not None:
                ax.axhline(tol, color="0.4", lw=0.8, ls="--")
            _ticks(ax, part["x"].to_numpy(np.float64), fmt)
            ax.set_yscale("log")
            ax.set_ylim(FLOOR / 1.5, top * 1.5)
            ax.set_title(f"{dtype} {'derivative' if what == 'gradient' else 'value'}",
                         fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", lw=0.3, alpha=0.5)
            if c == 0:
                ax.set_ylabel("max ULP error\n(∞ at the top, 0 at the bottom)", fontsize=7)
            if r == len(whats) - 1:
                ax.set_xlabel("input x (log each side of 0; shaded: 1/8 to 16, stretched)",
                              fontsize=7)
    fig.suptitle(title, fontsize=11)
    _legend(fig, axes)
    return fig


def _legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend under the panels, each label once."""
    handles: dict[str, Any] = {}
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(6, len(handles)), fontsize=8, handlelength=4)


# The x axis, per side of 0: below the smallest normal number a linear sliver; then the
# small magnitudes' decades, the core [1/8, 16] (where activations bend: a bump near 1 is
# easy to place), and the large magnitudes' decades up to the format's largest number,
# each part a fixed width, whatever the format's range.
CORE = (0.125, 16.0)
WIDTHS = (0.5, 2.0, 6.0, 2.0)  # subnormal, small, core, large


def _position(x: np.ndarray, fmt: Format) -> np.ndarray:
    """Where each input goes on the x axis (see `CORE` and `WIDTHS`), 0 in the middle."""
    a = np.abs(np.asarray(x, np.float64))
    sub, small, core, large = WIDTHS
    lo, hi = CORE
    with np.errstate(all="ignore"):  # each branch is computed everywhere, then chosen
        p = np.select(
            [a < fmt.tiny, a < lo, a <= hi],
            [a / fmt.tiny * sub,
             sub + np.log(np.maximum(a, fmt.tiny) / fmt.tiny) / math.log(lo / fmt.tiny) * small,
             sub + small + np.log(np.clip(a, lo, hi) / lo) / math.log(hi / lo) * core],
            sub + small + core
            + np.log(np.minimum(a, fmt.max) / hi) / math.log(fmt.max / hi) * large)
    return np.where(np.isinf(a), sub + small + core + large, p) * np.sign(x)


def _ticks(ax: Any, x: np.ndarray, fmt: Format) -> None:
    """0, the core's powers of two (1/8, 1, 4, 16) and the largest decade reached, on the
    sides that the inputs reach (the small magnitudes between 0 and 1/8 are too narrow a
    band to label)."""
    ticks = [0.0]
    for sign in (-1.0, 1.0):
        side = np.abs(x[np.isfinite(x) & (sign * x > 0)])
        if not len(side):
            continue
        mine = [0.125, 1.0, 4.0, 16.0]
        if side.max() > 1000:
            mine.append(10.0 ** math.floor(math.log10(min(side.max(), fmt.max))))
        ticks += [sign * t for t in mine]
    ticks = sorted(set(ticks))
    end = float(_position(np.array([np.inf]), fmt)[0])
    ax.set_xticks(_position(np.array(ticks), fmt), [_label(t) for t in ticks])
    ax.set_xlim(-end * 1.01, end * 1.01)


def _label(t: float) -> str:
    a = abs(t)
    sign = "−" if t < 0 else ""
    if a == 0:
        return "0"
    if a == 0.125:
        return f"{sign}⅛"
    if 1 <= a <= 16:
        return f"{sign}{a:g}"
    return f"{sign}$10^{{{round(math.log10(a))}}}$"


def throughput(bench: pd.DataFrame, styles: Mapping[str, Style], title: str) -> Figure:
    """One device and mode (rows of the bench table): elements per second against size,
    a panel per activation variant; colour for the implementation, line style for the
    dtype; the bandwidth baseline (x + 1) in grey."""
    timed = bench[bench["status"] == "pass"]
    base = timed[timed["impl"] == BASELINE]
    acts = timed[timed["impl"] != BASELINE]
    named = acts.assign(name=[name(a, v) for a, v in zip(acts["activation"], acts["variant"],
                                                         strict=True)])
    names = list(dict.fromkeys(named["name"]))
    dtypes = [d for d in DTYPES if (timed["dtype"] == d).any()]
    style = {d: LINESTYLES[i % len(LINESTYLES)] for i, d in enumerate(dtypes)}
    cols = min(6, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(2.6 * cols, 2.1 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for k, panel in enumerate(names):
        ax = axes[k // cols][k % cols]
        for dtype in dtypes:
            ref = base[base["dtype"] == dtype].sort_values("size")
            if len(ref):
                ax.plot(ref["size"], ref["elements_per_s"], color="0.6", lw=0.8,
                        ls=style[dtype])
            for impl_name, line in named[(named["name"] == panel) & (named["dtype"] == dtype)
                                         ].groupby("impl", sort=False):
                line = line.sort_values("size")
                ax.plot(line["size"], line["elements_per_s"], color=styles[impl_name].colour,
                        ls=style[dtype], marker=".", ms=3, lw=1,
                        label=f"{impl_name} {dtype}")
        ax.set_title(panel, fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(True, lw=0.3, alpha=0.5)
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("elements", fontsize=7)
    for row in axes:
        row[0].set_ylabel("elements / s", fontsize=7)
    fig.suptitle(f"{title} (grey: the bandwidth baseline, x + 1)", fontsize=11)
    _legend(fig, axes)
    return fig

