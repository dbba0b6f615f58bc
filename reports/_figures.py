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
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..bench import BASELINE
from ..checks._tolerances import DTYPES
from ..oracles.formats import FORMATS
from ._tables import name

FLOOR = 0.1  # an error of 0 (exact) is drawn here, on the log scale
CEILING = 1e20  # and infinite errors, or larger than this, at the top
LINESTYLES = ("-", "--", ":", "-.")


def colours(impls: Sequence[str]) -> dict[str, str]:
    """One colour per implementation, the same in every plot of a report."""
    palette = [f"C{i}" for i in range(10)]
    return {name: palette[i % len(palette)] for i, name in enumerate(impls)}


def _top(errors: np.ndarray) -> float:
    """Where infinite errors (an overflow, a NaN for a number) are drawn: a decade above
    the largest finite one, at most `CEILING`."""
    finite = errors[np.isfinite(errors)]
    biggest = min(max(float(finite.max()) if len(finite) else 1.0, 10.0), CEILING / 10)
    return 10.0 ** (math.ceil(math.log10(biggest)) + 1)


def error_curves(curves: pd.DataFrame, tolerances: Mapping[tuple[str, str], float],
                 colour: Mapping[str, str], title: str) -> Figure:
    """One activation variant's curves (rows of the curves table): a row of panels per
    what (value, gradient), a column per dtype. ``tolerances`` maps (dtype, what) to the
    audit's tolerance, drawn as a dashed line."""
    whats = [w for w in ("value", "gradient") if (curves["what"] == w).any()]
    dtypes = [d for d in DTYPES if (curves["dtype"] == d).any()]
    fig = Figure(figsize=(3.6 * len(dtypes) + 0.6, 2.7 * len(whats) + 0.7),
                 layout="constrained")
    axes = fig.subplots(len(whats), len(dtypes), squeeze=False)
    top = _top(curves["max_ulp"].to_numpy(np.float64))
    for r, what in enumerate(whats):
        for c, dtype in enumerate(dtypes):
            ax = axes[r][c]
            part = curves[(curves["what"] == what) & (curves["dtype"] == dtype)]
            for names, (x, err) in _distinct(part).items():
                ax.plot(_position(x, FORMATS[dtype].tiny), np.clip(err, FLOOR, top), lw=0.9,
                        color=colour[names[0]], label=" = ".join(names),
                        drawstyle="steps-mid")
            tol = tolerances.get((dtype, what))
            if tol is not None:
                ax.axhline(tol, color="0.4", lw=0.8, ls="--")
            _decade_ticks(ax, part["x"].to_numpy(np.float64), FORMATS[dtype].tiny)
            ax.set_yscale("log")
            ax.set_ylim(FLOOR / 1.5, top * 1.5)
            ax.set_title(f"{dtype} {'derivative' if what == 'gradient' else 'value'}",
                         fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", lw=0.3, alpha=0.5)
            if c == 0:
                ax.set_ylabel("max ULP error\n(∞ at the top, 0 at the bottom)", fontsize=7)
            if r == len(whats) - 1:
                ax.set_xlabel("input x (log scale each side of 0)", fontsize=7)
    fig.suptitle(title, fontsize=11)
    _legend(fig, axes)
    return fig


def _distinct(part: pd.DataFrame) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]:
    """Each implementation's curve (x, error) in order of x, implementations with the
    same curve (flax.nnx and jax.nn share functions) drawn once, under both names."""
    found: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    for impl_name, line in part.groupby("impl", sort=False):
        line = line.sort_values("x", kind="stable")
        curve = (line["x"].to_numpy(np.float64), line["max_ulp"].to_numpy(np.float64))
        same = next((k for k, (x, e) in found.items()
                     if np.array_equal(x, curve[0]) and np.array_equal(e, curve[1],
                                                                       equal_nan=True)), None)
        if same is None:
            found[(impl_name,)] = curve
        else:
            found[(*same, impl_name)] = found.pop(same)
    return found


def _legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend under the panels, each label once."""
    handles: dict[str, Any] = {}
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(6, len(handles)), fontsize=8)


def _position(x: np.ndarray, tiny: float) -> np.ndarray:
    """Where an input goes on the x axis: a symmetric log scale, linear below the smallest
    normal number ``tiny`` (one unit wide) and a unit per decade above it. Computed here
    rather than by matplotlib's symlog, whose limits overflow across float64's range."""
    a = np.abs(x)
    far = np.sign(x) * (1.0 + np.log10(np.maximum(a, tiny)) - math.log10(tiny))
    return np.where(a >= tiny, far, np.clip(x, -tiny, tiny) / tiny)


def _decade_ticks(ax, x: np.ndarray, tiny: float, per_side: int = 2) -> None:
    """A few powers of ten on each side that the inputs reach, and 0 (every decade would
    be unreadable across float32's 76)."""
    ticks = [0.0]
    for sign in (-1.0, 1.0):
        side = np.abs(x[np.isfinite(x) & (sign * x > 0)])
        if not len(side) or side.max() < tiny:
            continue
        lo, hi = math.ceil(math.log10(tiny)), math.floor(math.log10(side.max()))
        # not the smallest decade, whose label would sit on 0's
        decades = ({round(e) for e in np.linspace(lo, hi, per_side + 1)[1:]} if hi > lo
                   else {hi})
        ticks += [sign * 10.0 ** e for e in decades]
    ticks.sort()
    ax.set_xticks(_position(np.array(ticks), tiny), [_power(t) for t in ticks])


def _power(t: float) -> str:
    if t == 0:
        return "0"
    e = round(math.log10(abs(t)))
    return f"{'−' if t < 0 else ''}$10^{{{e}}}$"


def throughput(bench: pd.DataFrame, colour: Mapping[str, str], title: str) -> Figure:
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
                ax.plot(line["size"], line["elements_per_s"], color=colour[impl_name],
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

