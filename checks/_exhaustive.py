"""Exhaustive float32 checks: every one of the 2**32 inputs of an elementwise activation
variant through the implementation under audit, against a certified truth.

The work is cut into chunks of `CHUNK` consecutive bit patterns (`chunk`, run in a
worker). In a chunk the truth comes from the filter (`oracles.filter`: the catalog's own
formula over the whole chunk in float64 interval arithmetic). Where the filter's box
does not decide what a check needs, the input is escalated to the certified oracle
(`oracles.evaluate`): where the box does not decide the correct rounding (beside a
rounding boundary, a zero of unknown sign), where the ULP error's bounds straddle the
tolerance, where the input's class (normal, subnormal) depends on where in the box the
value lies, and where the input may hold the chunk's largest error. So every count over
the tolerance is exact, as are the correctly rounded share and the classes; a histogram
bin is exact but for errors within `MAX_SLACK` of its edge, which may count in the bin
beside it; and every maximum is the certified error of the input where it occurs, as
the sampled check would compute it. Each escalated input also
checks the filter: a certified value outside its box is a `filter.FilterError`.

Inputs are classed as the sampled checks class them (`_elementwise`): ``special`` (±0,
±inf, NaN, or an infinite or NaN truth), ``subnormal``, ``accuracy``; derivatives
likewise, with the catalog's kinks left to ``gradient:kinks``. A chunk's findings are
kept as a `Tally` per check: counts, histograms, the worst cases (ties broken by bit
pattern, so that the order chunks finish in changes nothing), which merge associatively
into one row per check, with the same statuses, severities and details as a sampled row,
marked as exhaustive.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic
from ..catalog import Activation, ZeroSign, variant_id
from ..oracles import evaluate
from ..oracles import filter as boxes
from ..oracles.formats import FORMATS, log_ulp_of, ulp_error
from . import _repro
from ._call import CallError
from ._elementwise import (
    HIST_EDGES,
    Evaluation,
    _read_as_zero,
    _same,
    _subnormal_cases,
    histogram,
    one_row,
)
from ._registry import Severity, classify, declared
from ._results import Finding, literal

F32 = FORMATS["float32"]
FOLDER = ".actaudit-exhaustive"  # under --out: the record of finished chunks
VERSION = 3  # of the chunks' record: bump when what a chunk computes changes
CHUNK = 1 << 22  # inputs a chunk: 1,024 chunks over float32's 2**32 bit patterns
TOTAL = 1 << 32
SECOND = "gradient:second"
CHECKS = ("accuracy", "subnormal", "special", "gradient", "gradient:special",
          "subnormal:gradient", SECOND)  # the rows an exhaustive run gives for sampled ones
VALUE = ("accuracy", "subnormal", "special")
MAX_SLACK = 2.0**-20  # ULP: how far an error not certified may be from the true one
BLOCK = 1 << 16  # inputs checked at a time: the arrays of a block stay in the CPU's cache
LABELS = [f"<={e:g}" for e in HIST_EDGES] + [f">{HIST_EDGES[-1]:g}"]


def chunks(total: int = TOTAL, size: int = CHUNK) -> list[tuple[int, int]]:
    return [(s, min(s + size, total)) for s in range(0, total, size)]


def column(check: str) -> str:
    """The tolerance table's column that holds a check (or a part of ``gradient:second``:
    ``gradient:second:bends``): value, gradient or second."""
    return "value" if check in VALUE else "second" if check.startswith(SECOND) else "gradient"


ORDER = {"value": 0, "gradient": 1, "second": 2}  # of the derivative, by `column`


# --- the truth over a chunk ----------------------------------------------------------

_ROUNDS_TO_ZERO = 2.0**-150  # half float32's least subnormal: below it, a value rounds to 0


@dataclass
class Truth:
    """The truth at a chunk's inputs: the rounded value ``want``, a float64 ``hi`` (and
    ``lo``: hi + lo the certified double-double where ``certified``, else the box's
    midpoint and 0) and the filter's box, to bound the ULP error where not certified;
    ``scale``: the magnitude whose ulp errors count in at least (a derivative's
    `grad_scale`, else 0). ``order``: of the value (0), the derivative (1) or the
    second derivative (2). ``tie``: inputs whose rounding is left open (`of`), each sent
    to the oracle only where its error is wanted closer than its box gives it."""

    x: np.ndarray
    want: np.ndarray
    hi: np.ndarray
    lo: np.ndarray
    box_lo: np.ndarray
    box_hi: np.ndarray
    known: np.ndarray
    certified: np.ndarray
    scale: np.ndarray
    act: Activation
    params: Mapping[str, Any]
    order: int
    tie: np.ndarray
    escalated: int = 0
    seconds: float = 0.0  # spent in the oracle

    @classmethod
    def of(cls, act: Activation, params: Mapping[str, Any], x: np.ndarray, order: int,
           exact: np.ndarray) -> Truth:
        """The filter's truth (of the derivative of ``order``) at every input, and the
        oracle's where ``exact`` (special inputs, kinks) or where the filter's box does
        not decide the rounding."""
        n = len(x)
        enc = boxes.enclose(act, x, params, F32.name, where=None if not exact.any() else ~exact,
                            order=order)
        want, decided = boxes.decide(enc, F32)
        box_lo, box_hi, known = enc.lo, enc.hi, enc.known
        # a box of unknown sign whose ends both round to 0 (a sum of terms that underflow
        # float64: silu″ far out) is a truth of ±0 whose sign alone is unknown; no count
        # depends on it (errors and "correctly rounded" compare values, and special
        # inputs and kinks go to the oracle), so it is taken as 0, not sent to the oracle
        with np.errstate(invalid="ignore"):
            zero = (~decided & (known > 0) & (np.abs(box_lo) < _ROUNDS_TO_ZERO)
                    & (np.abs(box_hi) < _ROUNDS_TO_ZERO))
        want[zero], decided[zero] = 0.0, True
        # a box across a rounding boundary whose values are all subnormal results, of a
        # known sign (σ″(x) ≈ −x/8 at tiny x, a tie of float32 for one input in eight
        # of the lowest binades: millions of them): such inputs are judged only by the
        # subnormal check, which counts errors, not correct roundings, and the error of
        # either neighbour is known from the box; the oracle decides it only where an
        # error is wanted closer (`errors`)
        with np.errstate(invalid="ignore"):
            tie = (~decided & ~exact & (known > 0) & (np.abs(box_lo) < 2 * F32.tiny)
                   & (np.abs(box_hi) < 2 * F32.tiny) & (np.sign(box_lo) == np.sign(box_hi)))
        want[tie], decided[tie] = boxes.round_to(box_lo[tie], F32), True
        with np.errstate(invalid="ignore", over="ignore"):
            hi = np.where(decided, box_lo + (box_hi - box_lo) / 2, np.nan)
        scale = boxes.grad_scale(act, x, params, F32.name, order) if order else np.zeros(n)
        t = cls(x, want, hi, np.zeros(n), box_lo, box_hi, known, np.zeros(n, bool), scale,
                act, params, order, tie)
        t.escalate(np.flatnonzero(~decided | exact))
        return t

    def escalate(self, idx: np.ndarray) -> None:
        """The certified oracle at the inputs ``idx`` (once each); a value outside the
        filter's box is a `FilterError`. Special inputs (±0, ±inf, NaN: the catalog's
        data answers them) share one answer per value and are not counted."""
        idx = idx[~self.certified[idx]]
        if not len(idx):
            return
        t0 = time.perf_counter()
        x = self.x[idx]
        with np.errstate(invalid="ignore"):
            plain = np.isfinite(x) & (x != 0)
        for v in (np.nan, np.inf, -np.inf, 0.0, -0.0):
            same = (np.isnan(x) if np.isnan(v) else (x == v) & (np.signbit(x) == np.signbit(v))
                    ) & ~plain
            if same.any():
                e = evaluate(self.act, v, self.params, order=self.order, formats=(F32,))
                at = idx[same]
                self.want[at], self.hi[at], self.lo[at] = e.rounded[F32.name], e.hi, e.lo
        for i in idx[plain].tolist():
            e = evaluate(self.act, float(self.x[i]), self.params, order=self.order,
                         formats=(F32,))
            self.want[i], self.hi[i], self.lo[i] = e.rounded[F32.name], e.hi, e.lo
        self.certified[idx] = True
        self.tie[idx] = False
        self.escalated += int(plain.sum())
        self.seconds += time.perf_counter() - t0
        ok = boxes.contains(self.box_lo[idx], self.box_hi[idx], self.known[idx], self.hi[idx])
        if not ok.all():
            i = int(idx[np.flatnonzero(~ok)[0]])
            name = self.act.name + "'" * self.order
            raise boxes.FilterError(
                f"the filter's box [{self.box_lo[i]!r}, {self.box_hi[i]!r}] for "
                f"{name}({float(self.x[i])!r}) misses the certified {self.hi[i]!r}")

    def errors(self, got: np.ndarray, tol: float, where: np.ndarray,
               groups: np.ndarray | None = None) -> np.ndarray:
        """The ULP errors of ``got`` at the inputs ``where`` (a mask): certified where
        escalated, else within `MAX_SLACK` of the truth (a box across a power of two:
        the upper bound of its bin) where an error may be the largest of its group
        (``groups``: a label per input, whose maxima are each wanted; one group by
        default), and elsewhere within its bin. So that counts are exact, inputs whose
        error bounds straddle the tolerance (beside a power of two, any histogram edge)
        are escalated first, and so are those wider than `MAX_SLACK` elsewhere that may
        be a group's largest or straddle a histogram edge.

        A correctly rounded result is within half an ulp: its bin is the first, and it is
        not over a tolerance of half an ulp or more. Its error is only wanted for the
        maximum, so it is computed only where no other result is worse than half an ulp
        (most inputs of a good implementation are correctly rounded: this is most of the
        work saved)."""
        idx = np.flatnonzero(where)
        g, w = got[idx], self.want[idx]
        with np.errstate(invalid="ignore"):
            right = ((g == w) & (np.signbit(g) == np.signbit(w)) & (tol >= 0.5)
                     & ~self.tie[idx])
        wrong = np.flatnonzero(~right)
        if not len(wrong):
            return self._right_errors(g, idx, tol)
        err = np.full(len(idx), 0.5)
        err[wrong] = self._errors(g[wrong], idx[wrong], tol,
                                  None if groups is None else groups[where][wrong])
        if not np.any(err[wrong] > 0.5):
            err[right] = self._right_errors(g[right], idx[right], tol)
        return err

    def _right_errors(self, g: np.ndarray, idx: np.ndarray, tol: float) -> np.ndarray:
        """`errors` of correctly rounded results, of which only the largest is wanted (each
        is in the first bin, under the tolerance). First a bound from the box, the result
        being within an ulp of the value: an error it puts within MAX_SLACK takes that
        bound (σ(x) = 1/2 + x/4 at every tiny x: 0 within 2**-20 ULP, and more work to tell
        apart). The others are bounded closer (`_right_bounds`); `_errors` computes those
        that may be the largest, and the rest take their lower bound, below it."""
        if not len(idx):
            return np.zeros(0)
        mid, half = self.hi[idx], (self.box_hi[idx] - self.box_lo[idx]) / 2
        q_scale = log_ulp_of(self.scale[idx], F32)
        with np.errstate(invalid="ignore", over="ignore"):
            # the value's ulp is at least |g|·2**-25, float32's subnormal spacing, and the
            # scale's ulp
            least = np.maximum(np.maximum(np.abs(g) * 2.0**-25, _SPACING), np.ldexp(1.0, q_scale))
            up = (np.abs(g - mid) + half) / least
            small = (up <= MAX_SLACK) & ~self.certified[idx]
        err = np.minimum(up, 0.5)
        rest = np.flatnonzero(~small)
        if not len(rest):
            return err
        lower, upper = _right_bounds(g[rest], mid[rest], half[rest], q_scale[rest])
        certified = self.certified[idx[rest]]
        with np.errstate(invalid="ignore"):
            lower = np.where(certified | np.isnan(lower), 0.0, lower)
            upper = np.where(certified | np.isnan(upper), np.inf, upper)
            # an error known within MAX_SLACK below the top one's lower bound is never
            # the largest, nor the first of equal ones, as `_errors` computes them
            maybe = upper >= lower.max() - 2 * MAX_SLACK
        err[rest] = np.minimum(lower, 0.5)
        at = rest[maybe]
        err[at] = self._errors(g[at], idx[at], tol)
        return err

    def _errors(self, g: np.ndarray, idx: np.ndarray, tol: float,
                groups: np.ndarray | None = None) -> np.ndarray:
        """`errors` of the results ``g`` at the inputs ``idx``: each one to within
        MAX_SLACK that may be its group's largest; the others within their bins."""
        open_ = ~self.certified[idx]
        half = np.where(open_, (self.box_hi[idx] - self.box_lo[idx]) / 2, 0.0)
        err, spread, settled, cross = _fast_errors(g, self.hi[idx], half,
                                                   log_ulp_of(self.scale[idx], F32))
        with np.errstate(invalid="ignore"):
            low, high = np.maximum(err - spread, 0.0), err + spread
            # a decided rounding settles the first bin: a correctly rounded result is
            # within 0.5 ULP, any other beyond it (a tie's box decides nothing)
            decided = open_ & ~self.tie[idx]
            right = g == self.want[idx]
            high = np.where(decided & right, np.minimum(high, 0.5), high)
            low = np.where(decided & ~right, np.maximum(low, np.nextafter(0.5, 1.0)), low)
            # the bins of err <= edge: low and high differ in bin where the greatest edge
            # below high (-inf where none) is not below low
            edges = np.unique(np.array([tol, *HIST_EDGES]))
            below = np.concatenate(([-np.inf], edges))[np.searchsorted(edges, high, "left")]
            # the tolerance is always settled; another edge only beside a power of two,
            # where the bounds are far apart: elsewhere an error within MAX_SLACK of an
            # edge may count in either bin beside it (a truth within 1e-27 of a float32
            # and a result an ulp off, as x·(x + 3)/6 for every tiny x, would each need
            # the oracle to tell 1 − 1e-27 from 1 + 1e-27)
            across = (low <= tol) & (tol < high) | cross & (low <= below)
            # a box across a power of two, its bounds within one bin, counts with its
            # upper bound (the float64 box cannot tell on which side of P the value is:
            # σ'(x) = 1/4 - x²/16 for every tiny x); any other error is known to MAX_SLACK
            err = np.where(cross, high, np.clip(err, low, high))
            # an error wider than MAX_SLACK is wanted closer only where it may be its
            # group's largest (or the first of equal ones): elsewhere its bin is enough
            # (gelu's tanh form below −8, where σ(2u)'s argument is a few ulps of 66
            # wide and half the results are an ulp off: each is 3e-6 ULP wide)
            wide = (spread > MAX_SLACK) & ~cross
            unsure = open_ & (~settled | across | wide & ((low <= below)
                                                          | _maybe_top(low, high, groups)))
        self.escalate(idx[unsure & open_])
        exact = self.certified[idx]
        if exact.any():  # certified inputs: the double-double, as the sampled check does
            at = idx[exact]
            err[exact] = ulp_error(g[exact], self.hi[at], self.lo[at], F32, self.scale[at])
        return err

    def settle_classes(self, low: float) -> None:
        """Escalate inputs whose class depends on where the value lies in its box: a box
        across twice the smallest normal number (the subnormal check's bound)."""
        with np.errstate(invalid="ignore"):
            a, b = np.abs(self.box_lo), np.abs(self.box_hi)
            across = ~self.certified & (np.minimum(a, b) < low) & (np.maximum(a, b) >= low)
        self.escalate(np.flatnonzero(across))


def _maybe_top(low: np.ndarray, high: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Where an error in [low, high] may be the largest of its group, or the first of
    equal ones once each is known to within MAX_SLACK: its upper bound is not that far
    below the group's greatest lower bound (NaN bounds: unknown, maybe)."""
    maybe = np.isnan(high) | np.isnan(low)
    labels = np.zeros(len(low), np.int8) if groups is None else groups
    for label in np.unique(labels):
        at = labels == label
        lows = low[at & ~np.isnan(low)]
        if len(lows):
            maybe |= at & (high >= lows.max() - 2 * MAX_SLACK)
        else:
            maybe |= at
    return maybe


_Q_MIN = F32.emin - F32.precision + 1  # log2 of float32's smallest ulp
_MANTISSA = (1 << 52) - 1
_SPACING = 2.0**_Q_MIN
_EDGE = 2.0 ** (F32.emax + 1)  # where ulp_error places values past float32's range


def _right_bounds(got: np.ndarray, mid: np.ndarray, half: np.ndarray, q_scale: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the ULP errors of correctly rounded float32 results ``got`` against
    values in [mid − half, mid + half]. Such a value has the ulp of its result, or half
    of it where the result is a power of two (above the smallest normal) and the value
    lies below it in magnitude; a box across that power of two is bounded with both. No
    ulp is below 2**q_scale (`Truth.scale`)."""
    a = np.abs(got)
    bits = a.view(np.int64)
    e = (bits >> 52) - 1023
    q = np.maximum(e, F32.emin) - F32.precision + 1
    with np.errstate(invalid="ignore", over="ignore"):
        power = ((bits & _MANTISSA) == 0) & (e > F32.emin)
        m = np.abs(mid)
        below = power & (m + half < a)
        across = power & ~below & (m - half < a)
        d = np.abs(got - mid)
        lower = np.ldexp(np.maximum(d - half, 0.0), -np.maximum(q - below, q_scale))
        upper = np.ldexp(d + half, -np.maximum(q - below - across, q_scale))
    return lower, upper


def _fast_errors(got: np.ndarray, v: np.ndarray, half: np.ndarray, q_scale: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ULP errors of float32 results ``got`` against float64 values ``v`` known to within
    ``half``: (error, its uncertainty, where these are settled: values in float32's
    finite range; and where the box crosses a power of two). A box across a power of two
    P has an ulp on each side: its error bounds are taken over each side apart, the error
    being linear in the value on each. A result of ±inf or NaN takes `ulp_error`'s error
    (±inf as 2**128: as linear in the value as any other; NaN: ∞ whatever it is);
    elsewhere (a value beyond float32's range) its uncertainty is unknown. A value of NaN
    is NaN exactly, and so is the error. No ulp is below 2**q_scale (`Truth.scale`): a
    power of two below it is no boundary."""
    def q_of(w: np.ndarray) -> np.ndarray:
        e = (np.abs(w).view(np.int64) >> 52) - 1023  # the sign bit is clear
        return np.maximum(np.maximum(e, F32.emin) - F32.precision + 1, q_scale)

    with np.errstate(invalid="ignore", over="ignore"):
        q = q_of(v)
        err = np.ldexp(np.abs(got - v), -q)
        spread = np.ldexp(half, -q)
        q_lo, q_hi = q_of(np.abs(v) - half), q_of(np.abs(v) + half)
        cross = q_lo < q_hi
        if cross.any():
            # in ulps below P, the error is at most `up` on either side; where that is
            # within twice MAX_SLACK (a result at P for a value beside it: sigmoid(x) =
            # 1/2 + x/4 for every tiny x) it settles the error, else each side apart
            up = np.ldexp(np.abs(got - v) + half, 1 - q_hi) / 2
            near = cross & (up <= MAX_SLACK)
            err, spread = np.where(near, up, err), np.where(near, up, spread)
            far = np.flatnonzero(cross & ~near)
            if len(far):
                err[far], spread[far] = _across(got[far], v[far], half[far], q_hi[far])
        inside = np.isfinite(v) & (q <= F32.emax - F32.precision + 1)
        # a box wholly past float32's range: `ulp_error` puts every value there at the
        # edge 2**128, so the error is known exactly (log1mexp' = 1/expm1(x) ≈ 1/x at
        # every subnormal x)
        beyond = np.abs(v) - half >= _EDGE
        # a NaN value is NaN exactly (a domain's convention: log1mexp below 0, at
        # subnormal inputs too): the error is 0 for a NaN result, ∞ for any other
        nan = np.isnan(v)
        plain = np.isfinite(got) & inside
        settled = (inside & ~(cross & np.isinf(got))) | beyond | nan
    if not plain.all():
        odd = ~plain
        exact = beyond[odd] | nan[odd]
        err[odd] = ulp_error(got[odd], v[odd], np.zeros(int(odd.sum())), F32)
        known = np.where(np.isnan(got[odd]) | exact, 0.0, spread[odd])
        spread[odd] = np.where(inside[odd] | exact, known, np.inf)
    return err, spread, settled, cross


def _across(got, v, half, q_hi) -> tuple[np.ndarray, np.ndarray]:
    """(midpoint, half-width) of the ULP error over a box across the power of two P =
    2**(q_hi + 23): below P in ulps of 2**(q_hi - 1), from P on in ulps of 2**q_hi (the
    value's sign taken out; every difference here is exact in float64)."""
    s = np.where(v < 0, -1.0, 1.0)
    g, a = got * s, np.abs(v)
    p = np.ldexp(1.0, q_hi + F32.precision - 1)
    fine, coarse = np.ldexp(1.0, q_hi - 1), np.ldexp(1.0, q_hi)
    bounds = []
    for w0, w1, u in ((a - half, p, fine), (p, a + half, coarse)):
        d0, d1 = np.abs(g - w0), np.abs(g - w1)
        inside = (w0 <= g) & (g <= w1)
        bounds.append((np.where(inside, 0.0, np.minimum(d0, d1)) / u, np.maximum(d0, d1) / u))
    low = np.minimum(bounds[0][0], bounds[1][0])
    high = np.maximum(bounds[0][1], bounds[1][1])
    return (low + high) / 2, (high - low) / 2


# --- tallies: a check's findings over some chunks, merged ----------------------------


def _case(err: float, bits: int, x: float, want: float, got: float, via: Any = None
          ) -> list[Any]:
    """A case as a tally keeps it; ``via``: how the result was computed, where the check
    took the worse of two ways (`_repro`: grad2 or jvp_grad)."""
    return [err, bits, x, want, got] + ([str(via)] if via is not None else [])


def _better(a: list | None, b: list | None) -> list | None:
    """The larger error; the lower bit pattern on a tie."""
    if a is None or b is None:
        return a if b is None else b
    if (b[0] > a[0]) or (b[0] == a[0] and b[1] < a[1]):
        return b
    return a


@dataclass
class Tally:
    """One check's findings over some inputs, as plain data (JSON), merged by `merge`."""

    kind: str  # "worst", "subnormal" or "exact"
    n: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    top: list | None = None  # [err, bits, x, want, got]: the worst (subnormal: real) case
    top_bad: list | None = None  # subnormal: the worst case beyond tolerance
    peak: float | None = None  # subnormal: the largest error
    rank: int | None = None  # the most severe rank among failures
    cases: list = field(default_factory=list)  # exact: [rank, bits, x, want, got], <= 4
    curve: list = field(default_factory=list)  # [x, err] of each chunk's worst
    error: str | None = None

    def merge(self, other: Tally) -> Tally:
        out = Tally(self.kind, self.n + other.n)
        keys = set(self.counts) | set(other.counts)
        for k in sorted(keys):
            a, b = self.counts.get(k), other.counts.get(k)
            if k == "min_bad_x":
                out.counts[k] = b if a is None else (a if b is None else min(a, b))
            else:
                out.counts[k] = (a or 0) + (b or 0)
        out.top = _better(self.top, other.top)
        out.top_bad = _better(self.top_bad, other.top_bad)
        peaks = [p for p in (self.peak, other.peak) if p is not None]
        out.peak = max(peaks) if peaks else None
        ranks = [r for r in (self.rank, other.rank) if r is not None]
        out.rank = min(ranks) if ranks else None
        out.cases = sorted(self.cases + other.cases, key=lambda c: (c[0], c[1]))[:4]
        out.curve = sorted(self.curve + other.curve)
        out.error = self.error or other.error
        return out

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "counts": self.counts, "top": self.top,
                "top_bad": self.top_bad, "peak": self.peak, "rank": self.rank, "cases": self.cases,
                "curve": self.curve, "error": self.error}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Tally:
        return cls(**d)


def _kind(check: str) -> str:
    return {"accuracy": "worst", "gradient": "worst", SECOND: "worst",
            "subnormal": "subnormal", "subnormal:gradient": "subnormal"}.get(check, "exact")


def tally_worst(x, bits, err, want, got, tol, check: str, extra: dict | None = None,
                via: np.ndarray | None = None) -> Tally:
    t = Tally("worst", len(err))
    if not len(err):
        return t
    e = np.where(np.isnan(err), np.inf, err)
    i = int(np.flatnonzero(e == e.max())[0])
    t.top = _case(float(err[i]), int(bits[i]), float(x[i]), float(want[i]), float(got[i]),
                  None if via is None else via[i])
    t.curve = [[float(x[i]), float(err[i])]]
    over = err > tol
    hist = histogram(err)
    t.counts = {"correct": int(np.sum(got == want)), "over": int(over.sum()),
                **{f"hist{label}": hist[label] for label in LABELS}, **(extra or {})}
    if over.any():
        ranks = classify(want[over], got[over], declared(check).severity)
        t.rank = int(ranks.min())
        with np.errstate(invalid="ignore"):
            bad = over & np.isfinite(want) & ~np.isfinite(got)
        if bad.any():
            t.counts["nonfinite"] = int(bad.sum())
            t.counts["min_bad_x"] = float(np.abs(x[bad]).min())
    return t


def tally_subnormal(x, bits, sub, err, got, want, flushed, tol,
                    via: np.ndarray | None = None) -> Tally:
    """``err``, ``flushed``: at the subnormal cases ``sub`` only; ``via``: at every input."""
    t = Tally("subnormal", int(sub.sum()))
    if not sub.any():
        return t
    bad = err > tol
    real = bad & ~flushed
    t.counts = {"bad": int(bad.sum()), "real": int(real.sum())}
    xs, ws, gs, bs = x[sub], want[sub], got[sub], bits[sub]
    vs = None if via is None else via[sub]
    e = np.where(np.isnan(err), np.inf, err)
    t.peak = float(e.max())

    def worst_of(mask: np.ndarray) -> list:
        j = np.flatnonzero(mask)
        k = int(j[np.flatnonzero(e[j] == e[j].max())[0]])
        return _case(float(err[k]), int(bs[k]), float(xs[k]), float(ws[k]), float(gs[k]),
                     None if vs is None else vs[k])

    if real.any():
        t.top = worst_of(real)
        t.rank = int(classify(ws[real], gs[real], Severity.WRONG).min())
    if bad.any():
        t.top_bad = worst_of(bad)
    return t


def tally_exact(x, bits, want, got, ok, check: str, nan_in=None) -> Tally:
    t = Tally("exact", len(x))
    bad = np.flatnonzero(~ok)
    t.counts = {"bad": len(bad)}
    if len(bad):
        if nan_in is None:
            nan_in = np.isnan(x)
        ranks = classify(want[bad], got[bad], declared(check).severity, nan_in[bad])
        order = np.lexsort((bits[bad], ranks))[:4]
        t.rank = int(ranks.min())
        t.cases = [[int(ranks[j]), int(bits[bad][j]), float(x[bad][j]), float(want[bad][j]),
                    float(got[bad][j])] for j in order]
    return t


# --- one chunk -------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What a worker needs for one chunk of one (implementation, activation, variant)."""

    spec: str
    activation: str
    params: dict[str, Any]
    start: int
    stop: int
    tols: Mapping[str, float]  # the tolerance of each column: value, gradient, second
    checks: tuple[str, ...]
    timeout: float


_LOADED: dict[str, Any] = {}  # in a worker: each SPEC loaded once
_BOUND: dict[tuple, Any] = {}


def run(job: Job) -> dict[str, Any]:
    """A chunk's tallies (as JSON data), and how much was escalated and how long each part
    took; the implementation's failures are `error` tallies, never an exception."""

    from .. import catalog, impl
    from . import _call

    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    if not _LOADED:
        from ._cluster import keep_freed_memory
        keep_freed_memory()
    if job.spec not in _LOADED:
        _LOADED[job.spec] = impl.load(job.spec)
    act = catalog.get(job.activation)
    bound = (job.spec, job.activation, repr(sorted(job.params.items())))
    if bound not in _BOUND:  # one function object per variant: compiled once (`jitted`)
        fn = _LOADED[job.spec].get(job.activation)
        _BOUND[bound] = partial(fn, **job.params) if job.params else fn
    fn = _BOUND[bound]
    _call.TIMEOUT_S = job.timeout
    bits = np.arange(job.start, job.stop, dtype=np.uint64).astype(np.uint32)
    with np.errstate(invalid="ignore"):
        x = bits.view(np.float32).astype(np.float64)
    ev = Evaluation(fn, {}, F32, x)
    out: dict[str, Any] = {"escalated": {}, "seconds": clock}
    tallies: dict[str, Tally] = {}
    # the value, the derivative (vjp and jvp), the second derivative (two ways): each
    # computed over the chunk, then judged block by block
    parts = [(0, [c for c in job.checks if c in VALUE], lambda: (ev.values(),), _values),
             (1, [c for c in job.checks if column(c) == "gradient"], ev.gradients,
              _gradients),
             (2, [c for c in job.checks if c == SECOND], ev.seconds, _seconds)]
    for order, names, compute, judge in parts:
        if not names:
            continue
        try:
            t = time.perf_counter()
            got = compute()
            zeros = _own_at_zero(fn, order)
            clock["implementation"] = clock.get("implementation", 0) + time.perf_counter() - t
        except CallError as e:
            tallies.update({c: Tally(_kind(c), error=str(e)) for c in names})
            continue
        _blocks(tallies, len(x), lambda sl, got=got, names=names, judge=judge, zeros=zeros:
                judge(act, job, x[sl], bits[sl], *(g[sl] for g in got), names, clock, out,
                      zeros))
    clock["total"] = time.perf_counter() - t0
    out["tallies"] = {k: v.to_json() for k, v in tallies.items()}
    return out


def _blocks(tallies: dict[str, Tally], n: int, check: Any) -> None:
    """``check(slice)`` on each block of the chunk, its tallies merged into ``tallies``."""
    for s in range(0, n, BLOCK):
        for k, t in check(slice(s, s + BLOCK)).items():
            tallies[k] = tallies[k].merge(t) if k in tallies else t


_AT_ZERO: dict[tuple, tuple[float, float]] = {}


def _zeros(act, params, order, x, own) -> tuple[np.ndarray, np.ndarray]:
    """What an input read as ±0 gives: the truth at ±0 and the implementation's own
    result there (``own``: at +0 and -0), per input by its sign (`_elementwise._zeros`);
    of the value, or of the derivative of ``order``."""
    key = (act.name, repr(sorted(params.items())), order)
    if key not in _AT_ZERO:
        _AT_ZERO[key] = tuple(evaluate(act, z, params, order=order, formats=(F32,))
                              .rounded[F32.name] for z in (0.0, -0.0))
    pos, neg = _AT_ZERO[key]
    negative = np.signbit(x)
    return np.where(negative, neg, pos), np.where(negative, own[1], own[0])


def _own_at_zero(fn, order: int) -> np.ndarray:
    """The implementation's own f(±0) (or f'(±0) by vjp, or f''(±0) by jax.grad of
    jax.grad: ``order``) at +0 and -0."""
    z = Evaluation(fn, {}, F32, np.array([0.0, -0.0]))
    return (z.values(), z.gradients()[0], z.seconds()[0])[order]


def _values(act, job: Job, x, bits, got, names, clock, out, own) -> dict[str, Tally]:

    t = time.perf_counter()
    special_in = ~np.isfinite(x) | (x == 0)
    truth = Truth.of(act, job.params, x, 0, special_in)
    truth.settle_classes(2 * F32.tiny)
    _clock(clock, "filter", time.perf_counter() - t, truth.seconds)
    spent = truth.seconds
    hi, want = truth.hi, truth.want
    with np.errstate(invalid="ignore"):
        sub = _subnormal_cases(x, hi, want, F32)
        special = (special_in | ~np.isfinite(hi)) & ~sub
    acc = ~special & ~sub
    res: dict[str, Tally] = {}
    t = time.perf_counter()
    tol = job.tols["value"]
    if "accuracy" in names:
        err = truth.errors(got, tol, acc)
        res["accuracy"] = tally_worst(x[acc], bits[acc], err, want[acc], got[acc], tol,
                                      "accuracy")
    if "subnormal" in names:
        zeros = _zeros(act, job.params, 0, x, own)
        res["subnormal"] = _subnormal(truth, bits, sub, got, zeros, tol)
    if "special" in names:
        signed = np.isinf(x) | ((x == 0) & (act.zero_sign is ZeroSign.ODD))
        ok = _same(got[special], want[special], signed[special])
        res["special"] = tally_exact(x[special], bits[special], want[special], got[special],
                                     ok, "special")
    _clock(clock, "checks", time.perf_counter() - t, truth.seconds - spent)
    out["escalated"]["value"] = out["escalated"].get("value", 0) + truth.escalated
    return res


def _clock(clock: dict[str, float], part: str, seconds: float, oracle: float) -> None:
    """``seconds`` of ``part``, of which ``oracle`` in the oracle, counted apart."""
    clock[part] = clock.get(part, 0.0) + seconds - oracle
    clock["oracle"] = clock.get("oracle", 0.0) + oracle


def _subnormal(truth: Truth, bits, sub, got, zeros, tol, via=None) -> Tally:
    """The subnormal tally: the worst result not flushed and the worst beyond ``tol``
    are each wanted, so the errors' maxima are taken flushed and not apart."""
    x = truth.x
    with np.errstate(invalid="ignore"):
        flushed = (got == 0) | (got == zeros[0]) | (np.isnan(got) & np.isnan(zeros[0]))
        flushed[sub] |= _read_as_zero(x[sub], got[sub], tuple(z[sub] for z in zeros), F32)
    err = truth.errors(got, tol, sub, flushed)
    return tally_subnormal(x, bits, sub, err, got, truth.want, flushed[sub], tol, via)


def _gradients(act, job: Job, x, bits, vjp, jvp, names, clock, out, own) -> dict[str, Tally]:

    kink = _at(x, act.kinks_at(act.resolve(job.params)))
    truth, acc, special, sub = _classed(act, job, x, 1, kink, clock)
    spent, want = truth.seconds, truth.want
    t = time.perf_counter()
    differ = vjp != jvp
    with np.errstate(invalid="ignore"):
        differ &= ~(np.isnan(vjp) & np.isnan(jvp))
    res: dict[str, Tally] = {}
    tol = job.tols["gradient"]
    if "gradient" in names:
        worse = _worse(truth, vjp, jvp, tol, acc)
        err = truth.errors(worse, tol, acc)
        res["gradient"] = tally_worst(x[acc], bits[acc], err, want[acc], worse[acc], tol,
                                      "gradient", {"vjp_jvp_disagree": int(differ.sum())})
    if "gradient:special" in names:
        worse = _worse(truth, vjp, jvp, tol, special)
        ok = _same(worse[special], want[special], np.zeros(int(special.sum()), bool))
        res["gradient:special"] = tally_exact(x[special], bits[special], want[special],
                                              worse[special], ok, "gradient:special")
    if "subnormal:gradient" in names:
        worse = _worse(truth, vjp, jvp, tol, sub)
        zeros = _zeros(act, job.params, 1, x, own)
        res["subnormal:gradient"] = _subnormal(truth, bits, sub, worse, zeros, tol)
    _clock(clock, "checks", time.perf_counter() - t, truth.seconds - spent)
    out["escalated"]["gradient"] = out["escalated"].get("gradient", 0) + truth.escalated
    return res


def _at(x: np.ndarray, points: Any) -> np.ndarray:
    """Where ``x`` is one of the catalog's kinks or bends (``points``: (x, convention))."""
    return np.isin(x, [at for at, _ in points]) & np.isfinite(x)


def _classed(act, job: Job, x, order: int, points: np.ndarray, clock
             ) -> tuple[Truth, np.ndarray, np.ndarray, np.ndarray]:
    """The truth of the derivative of ``order`` (the oracle's at non-finite inputs and
    ``points``, the kinks or bends, whose conventions are judged apart), and its classes
    as the sampled checks class them: (truth, ordinary, special, subnormal)."""
    t = time.perf_counter()
    truth = Truth.of(act, job.params, x, order, ~np.isfinite(x) | points)
    truth.settle_classes(2 * F32.tiny)
    _clock(clock, "filter", time.perf_counter() - t, truth.seconds)
    with np.errstate(invalid="ignore"):
        sub = _subnormal_cases(x, truth.hi, truth.want, F32) & ~points
        special = (np.isinf(x) | ~np.isfinite(truth.hi)) & ~points & ~np.isnan(x) & ~sub
    return truth, ~special & ~sub & ~points & ~np.isnan(x), special, sub


# the parts of gradient:second's one row, as the sampled check classes its inputs
# (`_elementwise._second_finding`): each part's tally, and the check whose severity a
# wrong result there has
SECOND_PARTS = {SECOND: SECOND, f"{SECOND}:special": SECOND,
                f"{SECOND}:bends": "gradient:kinks", f"{SECOND}:subnormal": SECOND}


def _seconds(act, job: Job, x, bits, reverse, forward, names, clock, out, own
             ) -> dict[str, Tally]:
    """The tallies of `SECOND_PARTS`: the worse of reverse over reverse and forward over
    reverse in ULP at ordinary inputs; at ±inf (the catalog's limit) and infinite or NaN
    truths, bit for bit; at kinks and bends, the catalog's convention, bit for bit; and
    subnormal results (flushing warns)."""
    bend = _at(x, act.bends_at(act.resolve(job.params)))
    truth, acc, special, sub = _classed(act, job, x, 2, bend, clock)
    spent, want = truth.seconds, truth.want
    t = time.perf_counter()
    tol = job.tols["second"]
    worse = _worse(truth, reverse, forward, tol, acc | special | bend | sub)
    via = np.where(_same(worse, reverse, np.ones(len(x), bool)), "grad2", "jvp_grad")
    res = {SECOND: tally_worst(x[acc], bits[acc], truth.errors(worse, tol, acc), want[acc],
                               worse[acc], tol, SECOND, via=via[acc])}
    for part, mask in ((f"{SECOND}:special", special), (f"{SECOND}:bends", bend)):
        ok = _same(worse[mask], want[mask], np.zeros(int(mask.sum()), bool))
        res[part] = tally_exact(x[mask], bits[mask], want[mask], worse[mask], ok,
                                SECOND_PARTS[part])
    res[f"{SECOND}:subnormal"] = _subnormal(truth, bits, sub, worse,
                                            _zeros(act, job.params, 2, x, own), tol, via)
    _clock(clock, "checks", time.perf_counter() - t, truth.seconds - spent)
    out["escalated"]["second"] = out["escalated"].get("second", 0) + truth.escalated
    return res


def _worse(truth: Truth, vjp, jvp, tol, where) -> np.ndarray:
    """Each input's worse of vjp and jvp (as the sampled check takes it), by the filter's
    errors where not certified: where the two are within its uncertainty of each other,
    either one's error is the other's to within that, which `Truth.errors` then settles.
    (Escalating every input where they differ would send millions to the oracle where a
    custom_jvp rounds differently from its transpose.)"""
    differ = np.flatnonzero(where & (vjp != jvp) & ~(np.isnan(vjp) & np.isnan(jvp)))
    worse = vjp.copy()
    if len(differ):
        hi, lo, scale = truth.hi[differ], truth.lo[differ], truth.scale[differ]
        a = ulp_error(vjp[differ], hi, lo, F32, scale)
        b = ulp_error(jvp[differ], hi, lo, F32, scale)
        worse[differ] = np.where(a >= b, vjp[differ], jvp[differ])
    return worse


# --- the merged tallies as findings -----------------------------------------------------


def _count(n: int) -> str:
    return f"{n:,}"


def finding(check: str, t: Tally, tol: float, total: int) -> Finding:
    """The row of a check from its merged tally, marked exhaustive."""
    mark = f"exhaustive over all {_count(total)} float32 inputs"
    if t.error:
        return Finding(check, "error", detail=f"{t.error} ({mark})")
    c = t.counts
    if t.kind == "worst":
        return _worst_finding(check, t, tol, mark)
    if t.kind == "subnormal":
        return _subnormal_finding(check, t, tol, mark)
    inputs = _EXACT.get(check, "infinite or NaN inputs or derivatives")
    if not c.get("bad"):
        return Finding(check, "pass", detail=f"{_count(t.n)} {inputs}; {mark}")
    r, _, x, want, got = t.cases[0]
    cases = "; ".join(f"x={literal(cx)}: {literal(cg)} not {literal(cw)}"
                      for _, _, cx, cw, cg in t.cases)
    return Finding(check, "fail", None, literal(x), literal(want), literal(got),
                   f"{_count(c['bad'])} of {_count(t.n)} wrong: {cases}; {mark}",
                   {"n": t.n, "exhaustive": True}, list(Severity)[r])


_EXACT = {"special": "special inputs (±0, ±inf, NaN) and infinite or NaN truths",
          f"{SECOND}:special": "at ±inf and infinite or NaN truths",
          f"{SECOND}:bends": "kinks and bends with the catalog's convention"}


def _second_finding(merged: Mapping[str, Tally], tol: float, total: int) -> Finding:
    """gradient:second's one row from its parts' tallies, as the sampled row is made: the
    most severe part's finding, its detail summing up the others."""
    mark = f"exhaustive over all {_count(total)} float32 inputs"
    found = [replace(finding(part, merged[part], tol, total), check=SECOND)
             for part in SECOND_PARTS if part in merged]
    if found[0].status == "error":
        return found[0]
    for g in found:  # the mark once, at the end of the row
        g.detail = g.detail.removesuffix(f"; {mark}")
    f = one_row(found)
    f.detail += f"; {mark}"
    return f


def _worst_finding(check: str, t: Tally, tol: float, mark: str) -> Finding:
    c = t.counts
    if t.top is None:
        return Finding(check, "pass", 0.0, detail=f"no inputs in this class; {mark}")
    err, _, x, want, got, *via = t.top
    correct = c["correct"] / t.n
    status = "pass" if err <= tol else "fail"
    detail = (f"{_count(t.n)} inputs, {correct:.2%} correctly rounded, {_count(c['over'])} "
              f"over {tol:g} ULP")
    severity = None
    if status == "fail":
        severity = list(Severity)[t.rank] if t.rank is not None else declared(check).severity
        if severity is Severity.NONFINITE and c.get("nonfinite"):
            detail += (f"; NaN or ∞ at {_count(c['nonfinite'])} of them, from |x| = "
                       f"{literal(c['min_bad_x'])}")
    if check == "gradient":
        detail += f"; jvp and vjp differ at {_count(c.get('vjp_jvp_disagree', 0))} inputs"
    hist = {label: c.get(f"hist{label}", 0) for label in LABELS}
    return Finding(check, status, err, literal(x), literal(want), literal(got),
                   f"{detail}; {mark}",
                   {"histogram": json.dumps(hist), "n": t.n, "correctly_rounded": correct,
                    "tolerance": tol, "exhaustive": True,
                    **({"vjp_jvp_disagree": c.get("vjp_jvp_disagree", 0)}
                       if check == "gradient" else {}), **_via(via),
                    "curve": (np.array([p[0] for p in t.curve]),
                              np.array([p[1] for p in t.curve]))}, severity)


def _subnormal_finding(check: str, t: Tally, tol: float, mark: str) -> Finding:
    c = t.counts
    if not t.n:
        return Finding(check, "pass",
                       detail=f"no subnormal inputs or results in this dtype; {mark}")
    if not c.get("bad"):
        return Finding(check, "pass", t.peak, detail=f"{_count(t.n)} cases; {mark}")
    if c.get("real"):
        err, _, x, want, got, *via = t.top
        what = f"{_count(c['real'])} of {_count(t.n)} wrong"
        severity = list(Severity)[t.rank] if t.rank is not None else Severity.WRONG
    else:
        err, _, x, want, got, *via = t.top_bad
        what = f"flushes subnormals to zero: {_count(c['bad'])} of {_count(t.n)} cases"
        severity = Severity.SUBNORMAL
    return Finding(check, "fail", err, literal(x), literal(want), literal(got),
                   f"{what}; {mark}", {"n": t.n, "exhaustive": True, **_via(via)}, severity)


def _via(via: list[str]) -> dict[str, str]:
    """A case's ``via`` (`_case`) for the finding's repro line, where it has one."""
    return {"via": via[0]} if via else {}


def merge_all(results: Sequence[Mapping[str, Any]]) -> dict[str, Tally]:
    """The chunks' tallies merged, check by check."""
    merged: dict[str, Tally] = {}
    for r in results:
        for k, d in r["tallies"].items():
            t = Tally.from_json(d)
            merged[k] = merged[k].merge(t) if k in merged else t
    return merged


# --- a whole run: every chunk of every case, on a cluster, recorded as it goes ------------


@dataclass(frozen=True)
class Target:
    """One exhaustive case: an implementation's activation variant, in float32."""

    spec: str
    act: Activation
    params: dict[str, Any]
    tols: Mapping[str, float]  # the tolerance of each column: value, gradient, second
    checks: tuple[str, ...]  # of `CHECKS`, those the audit runs for this activation

    @property
    def slug(self) -> str:

        text = f"{self.spec}-{self.act.name}-{variant_id(self.params) or 'default'}"
        return re.sub(r"[^A-Za-z0-9.=-]+", "_", text)


class Record:
    """Finished chunks, one JSON file each under ``folder``, written atomically as each
    finishes: what an interrupted run resumes from (never pickle: plain data)."""

    def __init__(self, folder: Any):
        self.root = Path(folder)

    def _path(self, target: Target, start: int) -> Any:
        return self.root / target.slug / f"{start:08x}.json"

    def get(self, target: Target, start: int) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(target, start).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and "tallies" in data else None

    def put(self, target: Target, start: int, result: Mapping[str, Any]) -> None:

        text = json.dumps(result)
        atomic(self._path(target, start), lambda p: Path(p).write_text(text))


def run_all(targets: Sequence[Target], record: Record, *, timeout: float,
            scheduler: str | None = None, workers: int | None = None, progress: bool = True,
            span: tuple[int, int] = (0, TOTAL), size: int = CHUNK,
            ) -> dict[str, tuple[list[Finding], dict[str, Any]]]:
    """Every chunk of every target, those in ``record`` taken from it and the others run
    on the cluster and recorded; each target's findings (by slug) and its statistics
    (seconds by part, escalations). A chunk whose implementation call failed ends its
    target: its remaining chunks are cancelled and its rows are errors."""
    from distributed import as_completed

    from .._progress import progress as progress_bar
    from . import _cluster

    parts = [(s, e) for s, e in chunks(span[1], size) if s >= span[0]]
    done: dict[str, dict[int, dict[str, Any]]] = {t.slug: {} for t in targets}
    todo = []
    for t in targets:
        for s, e in parts:
            kept = record.get(t, s)
            if kept is not None:
                done[t.slug][s] = kept
            else:
                todo.append((t, s, e))
    failed: dict[str, str] = {}
    if todo:
        with _cluster.client(scheduler, workers) as client, progress_bar(
                total=len(todo), desc="exhaustive float32", unit="chunk",
                enabled=progress) as bar:
            futures = {}
            for t, s, e in todo:
                job = Job(t.spec, t.act.name, dict(t.params), s, e, t.tols, t.checks, timeout)
                futures[client.submit(run, job, pure=False, key=f"actaudit-{t.slug}-{s:08x}")
                        ] = (t, s)
            for fut in as_completed(list(futures)):
                t, s = futures[fut]
                bar.update(1)
                if fut.cancelled():
                    continue
                try:
                    result = fut.result()
                except Exception as e:  # the worker died, or the checks raised
                    failed.setdefault(t.slug, _reason(e, s))
                    _cancel(client, futures, t)
                    continue
                errors = [d["error"] for d in result["tallies"].values() if d.get("error")]
                if errors:
                    failed.setdefault(t.slug, f"{errors[0]} (the chunk from bit pattern "
                                      f"0x{s:08x})")
                    _cancel(client, futures, t)
                    continue
                record.put(t, s, result)
                done[t.slug][s] = result
    out = {}
    total = span[1] - span[0]
    for t in targets:
        if t.slug in failed:
            out[t.slug] = ([Finding(c, "error", detail=f"{failed[t.slug]}; exhaustive run")
                            for c in t.checks], {})
            continue
        results = [done[t.slug][s] for s in sorted(done[t.slug])]
        out[t.slug] = (findings(t, results, total), _stats(results))
    return out


def findings(t: Target, results: Sequence[Mapping[str, Any]], total: int) -> list[Finding]:
    """A target's rows from its chunks' results, the worst case of each certified."""
    merged = merge_all(results)
    for c, tally in merged.items():
        if tally.kind == "worst" and tally.top is not None:
            tally.top = certified(t, c, tally.top)
        if tally.kind == "subnormal":  # the cases it shows, with their certified truths
            tally.top, tally.top_bad = (certified(t, c, case) if case is not None else None
                                        for case in (tally.top, tally.top_bad))
    rows = [_second_finding(merged, t.tols["second"], total) if c == SECOND else
            finding(c, merged[c], t.tols[column(c)], total) for c in t.checks if c in merged]
    for f in rows:  # the second derivative's rows without a case of their own way
        if f.check == SECOND:
            f.extra.setdefault("via", "grad2")
    return _repro.add(t.spec, t.act, t.params, F32.name, rows)


def certified(t: Target, check: str, top: list) -> list:
    """The worst case with its error from the certified oracle (elsewhere errors are
    within `MAX_SLACK` of it): the maximum a row reports is a certified error."""
    _, bits, x, _, got, *via = top
    if not math.isfinite(x):
        return top
    order = ORDER[column(check)]
    e = evaluate(t.act, x, t.params, order=order, formats=(F32,))
    scale = (boxes.grad_scale(t.act, np.array([x]), t.params, F32.name, order) if order
             else None)
    exact = float(ulp_error(np.array([got]), np.array([e.hi]), np.array([e.lo]), F32,
                            scale)[0])
    return [exact, bits, x, e.rounded[F32.name], got, *via]


def _cancel(client: Any, futures: Mapping[Any, tuple[Target, int]], target: Target) -> None:
    client.cancel([f for f, (t, _) in futures.items() if t.slug == target.slug])


def _reason(e: BaseException, start: int) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    name = type(e).__name__
    if name == "KilledWorker":
        return (f"the worker running the chunk from bit pattern 0x{start:08x} died (a crash "
                "in the implementation?)")
    return f"the exhaustive check raised {name}: {text}"[:300]


def _stats(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Seconds by part, summed over chunks, and escalations to the oracle."""
    seconds: dict[str, float] = {}
    escalated: dict[str, int] = {}
    for r in results:
        for k, v in r.get("seconds", {}).items():
            seconds[k] = seconds.get(k, 0.0) + v
        for k, v in r.get("escalated", {}).items():
            escalated[k] = escalated.get(k, 0) + v
    return {"seconds": seconds, "escalated": escalated, "chunks": len(results)}
