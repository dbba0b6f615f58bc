"""Activations along an axis, gated and index activations, on one 1-D slice.

Formulas take ``xs``, the slice as exact Python floats (non-finite entries included), and
return a list of outputs; derivatives return the Jacobian, one row per output. Masks
(``where``) are sequences of booleans; parameters that only place results (axis, keepdims,
dtype) or choose an algorithm for the same mathematical value do not reach the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from ._spec import IN_X, Activation, Bounds, Identity, Kind, Param

NAN, INF = math.nan, math.inf

_AXIS = Param("axis", -1, (0,), "axis of the slice", affects_value=False)
_WHERE = Param("where", None, ("random",), "elements to include", type="mask", bench=True)


def _mask(xs: Sequence[float], where: Sequence[bool] | None) -> list[bool]:
    if where is None:
        return [True] * len(xs)
    if len(where) != len(xs):
        raise ValueError(f"where has {len(where)} entries, the input {len(xs)}")
    return [bool(w) for w in where]


def _weights(xs, B, active):
    """exp(x_i − max) for the active entries, 0 for −inf and inactive ones; None when the
    slice has +inf or NaN (the result is NaN), or nothing but −inf (0/0)."""
    live = [x for x, a in zip(xs, active, strict=True) if a]
    if any(math.isnan(x) or x == INF for x in live):
        return None
    finite = [x for x in live if x != -INF]
    if not finite:
        return None
    top = max(finite)
    return [B.exp(B.num(x) - B.num(top)) if a and x != -INF else 0
            for x, a in zip(xs, active, strict=True)], top


def _softmax(xs, B, where=None):
    active = _mask(xs, where)
    w = _weights(xs, B, active)
    if w is None:
        return [NAN if a else 0 for a in active]
    e, _ = w
    total = sum(e)
    return [ei / total if a else 0 for ei, a in zip(e, active, strict=True)]


def _softmax_grad(xs, B, where=None):
    """J_ij = s_i (δ_ij − s_j); 1 − s_i is written as the other weights over the total."""
    active = _mask(xs, where)
    w = _weights(xs, B, active)
    n = len(xs)
    if w is None:
        return [[NAN if active[i] and active[j] else 0 for j in range(n)] for i in range(n)]
    e, _ = w
    total = sum(e)
    rows = []
    for i in range(n):
        others = sum(e[k] for k in range(n) if k != i)
        rows.append([e[i] * others / total**2 if i == j else -e[i] * e[j] / total**2
                     for j in range(n)])
    return rows


def _softmin(xs, B, where=None):
    """softmax(−x)."""
    return _softmax([-x for x in xs], B, where)


def _softmin_grad(xs, B, where=None):
    """−J_softmax(−x)."""
    return [[-v for v in row] for row in _softmax_grad([-x for x in xs], B, where)]


def _log_softmax(xs, B, where=None):
    """x_i − max − log1p(Σ_{j≠top} e^(x_j − max)): the log1p keeps an entry far below the
    rest (log_softmax([1000, 0])[0] = −log1p(e^−1000)) accurate, and certainly negative."""
    active = _mask(xs, where)
    w = _weights(xs, B, active)
    if w is None:
        return [NAN if a else -INF for a in active]
    e, top = w
    others = _others(e, xs, top)
    log_total = B.log1p(others) if not isinstance(others, int) else 0
    return [B.near(Fraction(x) - Fraction(top), -log_total) if a and x != -INF else -INF
            for x, a in zip(xs, active, strict=True)]


def _others(e, xs, top):
    """The sum of the weights but one at the maximum (whose weight is exactly 1)."""
    i = next(i for i, x in enumerate(xs) if x == top and not isinstance(e[i], int))
    return sum(w for j, w in enumerate(e) if j != i)


def _log_softmax_grad(xs, B, where=None):
    """J_ij = δ_ij − s_j over the active entries (a −inf x_i included: its output is −inf,
    its derivative the limit δ_ij − s_j); 1 − s_i as the others over the total."""
    active = _mask(xs, where)
    w = _weights(xs, B, active)
    n = len(xs)
    if w is None:
        return [[NAN if active[i] and active[j] else 0 for j in range(n)] for i in range(n)]
    e, _ = w
    total = sum(e)
    return [[0 if not (active[i] and active[j]) else
             (_one_minus(e, i, total) if i == j else -e[j] / total)
             for j in range(n)] for i in range(n)]


def _one_minus(e, i, total):
    """1 − s_i, as the other weights over the total; exactly 1 for a weight of exactly 0
    (a −inf entry), whose derivative is then an exact 0, not a ball about it."""
    if isinstance(e[i], int) and e[i] == 0:
        return 1
    return sum(w for k, w in enumerate(e) if k != i) / total


def _scaled(xs, B, b, where):
    """The terms of logsumexp: (c_top, rest, max), where the sum is e^max·(c_top + rest),
    c_top the b's at the maximum (exact) and rest Σ b_i e^(x_i − max) over the others;
    else a special result (value, sign): NaN, ±inf, or the empty sum's (−inf, 0)."""
    active = _mask(xs, where)
    bs = [1] * len(xs) if b is None else list(b)
    if len(bs) != len(xs):
        raise ValueError(f"b has {len(bs)} entries, the input {len(xs)}")
    live = [(x, c) for x, c, a in zip(xs, bs, active, strict=True) if a and c != 0]
    if any(math.isnan(x) for x, _ in live):
        return NAN, NAN
    infs = {c > 0 for x, c in live if x == INF}
    if infs:  # +inf·b: the sign of b, or inf − inf
        return (INF, 1 if infs == {True} else -1) if len(infs) == 1 else (NAN, NAN)
    finite = [x for x, _ in live if x != -INF]
    if not finite:
        return -INF, 0  # nothing but −inf, or nothing at all: the empty sum, exactly 0
    top = max(finite)
    c_top = sum(B.num(float(c)) for x, c in live if x == top)
    rest = sum(B.num(float(c)) * B.exp(B.num(x) - B.num(top)) for x, c in live
               if x != top and x != -INF)
    return c_top, rest, top


def _log_abs_sum(xs, B, b, where, count=1):
    """(log(|Σ b_i e^(x_i)| / count), sign), or the special result of `_scaled`. With a
    sum of 1 + rest at the maximum the value is max + log1p(rest) exactly (`B.near`:
    logsumexp([65520, 0]) lies just above float16's overflow threshold)."""
    t = _scaled(xs, B, b, where)
    if len(t) == 2:
        return t
    c_top, rest, top = t
    total = c_top + rest
    sign = B.sign(total)
    if sign == 0:  # exact cancellation (b with opposite signs on equal terms)
        return -INF, 0
    if c_top == sign * count:  # exact: |total| / count = 1 + rest / c_top
        return B.near(B.num(top), B.log1p(rest / c_top)), sign
    return B.num(top) + B.log(abs(total) / count), sign


def _logsumexp(xs, B, b=None, return_sign=False, where=None):
    """log|Σ b_i exp(x_i)|, and its sign with return_sign (else NaN for a negative sum)."""
    value, sign = _log_abs_sum(xs, B, b, where)
    if return_sign:
        return [value, sign]
    return [value if _positive(sign) else NAN]


def _positive(sign):
    return not (isinstance(sign, float) and math.isnan(sign)) and sign >= 0


def _logsumexp_grad(xs, B, b=None, return_sign=False, where=None):
    """d/dx_i = b_i exp(x_i) / Σ_j b_j exp(x_j) (the sign output is constant)."""
    active = _mask(xs, where)
    bs = [1] * len(xs) if b is None else list(b)
    t = _scaled(xs, B, b, where)
    n = len(xs)
    if len(t) == 2:  # a +inf sum: 0 for the finite entries, whose weight vanishes;
        # otherwise (NaN, or 0/0 for nothing but −inf) NaN for the counted ones
        live = [a and c != 0 for a, c in zip(active, bs, strict=True)]
        row = [NAN if v and (t[0] != INF or x == INF) else 0
               for x, v in zip(xs, live, strict=True)]
    else:
        top = t[2]
        terms = [B.num(float(c)) * B.exp(B.num(x) - B.num(top)) if a and c != 0 and x != -INF
                 else 0 for x, c, a in zip(xs, bs, active, strict=True)]
        total = sum(terms)
        row = [ti / total for ti in terms]
    return [row, [0] * n] if return_sign else [row]


def _logmeanexp(xs, B, where=None):
    """log(Σ exp(x_i) / n) over the n included entries (exactly x for n equal entries)."""
    count = sum(_mask(xs, where))
    if count == 0:
        return [NAN]
    value, _ = _log_abs_sum(xs, B, None, where, count)
    return [value]


def _logmeanexp_grad(xs, B, where=None):
    return _logsumexp_grad(xs, B, where=where)


def _halves(xs):
    if len(xs) % 2:
        raise ValueError(f"glu needs an even axis size, got {len(xs)}")
    h = len(xs) // 2
    return xs[:h], xs[h:]


def _gate(g, B):
    """sigmoid(g) for an exact g: exact 0 and 1 at the infinities."""
    return 0 if g == -INF else (1 if g == INF else B.sigmoid(B.num(g)))


def _glu(xs, B):
    """x[:n/2] · sigmoid(x[n/2:])."""
    out = []
    for a, g in zip(*_halves(xs), strict=True):
        s = _gate(g, B) if not math.isnan(g) else NAN
        if math.isnan(a) or (isinstance(s, float) and math.isnan(s)):
            out.append(NAN)
        elif math.isinf(a):
            out.append(NAN if s == 0 else a)
        elif s == 0:
            out.append(0)
        elif isinstance(s, int) or g < 0:
            out.append(B.num(a) * s)
        else:  # a − a·σ(−g): the value beside a, however close
            out.append(B.near(a, -B.num(a) * B.sigmoid(-B.num(g))))
    return out


def _glu_grad(xs, B):
    """d out_i / d a_i = sigmoid(g_i); d out_i / d g_i = a_i sigmoid(g_i) sigmoid(−g_i):
    ±inf for an infinite a_i, 0 for a finite a_i at g_i = ±inf, NaN where out_i is."""
    first, second = _halves(xs)
    h = len(first)
    rows = []
    for i, (a, g) in enumerate(zip(first, second, strict=True)):
        row: list = [0] * (2 * h)
        if math.isnan(a) or math.isnan(g) or (math.isinf(a) and g == -INF):
            row[i] = row[h + i] = NAN
        elif math.isinf(g):
            row[i], row[h + i] = _gate(g, B), (0 if math.isfinite(a) else NAN)
        elif math.isinf(a):
            row[i], row[h + i] = B.sigmoid(B.num(g)), a
        else:
            row[i] = B.sigmoid(B.num(g))
            row[h + i] = B.num(a) * B.sigmoid(B.num(g)) * B.sigmoid(-B.num(g))
        rows.append(row)
    return rows


def _one_hot(xs, B, num_classes):
    """Row i has a 1 at column x_i; indices outside [0, num_classes) give a row of 0s."""
    return [[1 if x == k else 0 for k in range(num_classes)] for x in xs]


def _stats(xs, B, mean, variance, epsilon, where, algorithm):
    """(mask, n, mean, √(variance + ε), c): c is what the variance's derivative in x_j is
    2(x_j − c)·w_j/n about. None where a statistic to compute is undefined: no included
    entry, or an infinite or NaN one.

    With the mean given and the variance computed the two algorithms are different
    functions: "stable" is mean((x − m)²), "fast" mean(x²) − m² clipped at 0 (c = 0, or
    c = m where the clip holds it at 0), written as it is: its derivative in x_j is then
    2x_j/n itself, an exact 0 at x_j = 0, not −2m/n + 2m/n. With the mean computed too
    they agree."""
    active = _mask(xs, where)
    live = [x for x, a in zip(xs, active, strict=True) if a]
    computed = mean is None or variance is None
    if computed and (not live or any(not math.isfinite(x) for x in live)):
        return None
    n = len(live)
    m = sum(B.num(x) for x in live) / n if mean is None else mean
    about = m
    if variance is not None:
        v = variance
    else:
        if mean is not None and algorithm == "fast":
            v = sum(B.num(x) ** 2 for x in live) / n - m * m
            if B.sign(v) > 0:
                about = 0
            else:
                v, about = 0, None
        else:
            v = sum((B.num(x) - m) ** 2 for x in live) / n
    return active, n, m, B.sqrt(v + epsilon), about


def _standardize(xs, B, mean=None, variance=None, epsilon=1e-5, where=None,
                 algorithm="fast"):
    """(x − mean) / √(variance + ε), mean and (population) variance over ``where``."""
    st = _stats(xs, B, mean, variance, epsilon, where, algorithm)
    if st is None:
        return [NAN] * len(xs)
    _, _, m, sigma, _ = st
    return [(B.num(x) - m) / sigma if math.isfinite(x) else (x if math.isinf(x) else NAN)
            for x in xs]


def _standardize_grad(xs, B, mean=None, variance=None, epsilon=1e-5, where=None,
                      algorithm="fast"):
    """J_ij = (δ_ij − w_j/n)/σ − (x_i − m)(x_j − c) w_j / (n σ³), w the mask, c as
    `_stats` gives it; the first term's w_j/n is absent for a given mean, the second term
    for a given variance (or a clipped one). An infinite x_i (left out of the statistics)
    makes the second term ±inf (NaN at x_j = c)."""
    st = _stats(xs, B, mean, variance, epsilon, where, algorithm)
    n_all = len(xs)
    if st is None:
        return [[NAN] * n_all for _ in range(n_all)]
    active, n, m, sigma, about = st
    rows = []
    for i in range(n_all):
        if math.isnan(xs[i]):
            rows.append([NAN] * n_all)
            continue
        row = []
        for j in range(n_all):
            t = (1 if i == j else 0) - (B.lit(1) / n if active[j] and mean is None else 0)
            v = t / sigma
            if active[j] and variance is None and about is not None:
                dj = B.num(xs[j]) - about
                if math.isinf(xs[i]):
                    side = B.sign(dj)
                    v = NAN if side == 0 else -math.copysign(INF, xs[i]) * side
                else:
                    v = v - (B.num(xs[i]) - m) * dj / (n * sigma**3)
            row.append(v)
        rows.append(row)
    return rows


def largest_output(xs, outputs, params) -> float:
    """The slice's largest finite output, or 1, a standardized value's size, where every
    output is 0 (a constant slice: x − mean cancels exactly, and the ulps of 0 are no
    scale)."""
    finite = np.abs(outputs[np.isfinite(outputs)])
    top = float(finite.max()) if len(finite) else 0.0
    return top if top > 0 else 1.0


def largest_entry(xs, outputs, params) -> float:
    """|max| over the entries that count (included by ``where``, b ≠ 0, finite): the
    size of max + log Σ exp(x − max). With b of mixed sign, at least the factor by which
    the sum cancels, Σ|b·e^(x − max)| / |Σ b·e^(x − max)|: the last bit of each term
    moves log|Σ| by that much (its condition number), in any working precision whose
    exponentials are rounded."""
    counted = np.isfinite(xs)
    if params.get("where") is not None:
        counted &= np.asarray(params["where"], bool)
    b = params.get("b")
    if b is not None:
        counted &= np.asarray(b, np.float64) != 0
    if not counted.any():
        return 0.0
    x = xs[counted]
    size = float(np.abs(x.max()))
    if b is not None:
        terms = np.asarray(b, np.float64)[counted] * np.exp(x - x.max())
        total = abs(float(terms.sum()))
        if total > 0:
            size = max(size, float(np.abs(terms).sum()) / total)
    return size


def _top(xs: np.ndarray) -> float:
    """The row's largest finite entry (NaN where it has none)."""
    finite = xs[np.isfinite(xs)]
    return float(finite.max()) if len(finite) else NAN


def _top_plus_log_n(xs: np.ndarray) -> float:
    """max + log n over the finite entries: logsumexp's largest value, at a row of ties."""
    return _top(xs) + math.log(max(1, int(np.isfinite(xs).sum())))


def _top_minus_log_n(xs: np.ndarray) -> float:
    """max − log n, n every entry (−inf ones add 0 to the mean): logmeanexp's smallest."""
    return _top(xs) - math.log(len(xs))


# identities along the axis (`Identity`), checked on rows at the default parameters. A
# shift moves every entry by a c that keeps it exact (the rows put on a grid first)
SHIFT_INVARIANT = Identity("shift", "f(x + c) = f(x)", lambda F, x, **_: (
    F.self(x + F.c), F.self(x)), exact=True, grid=True)
SHIFT_PASSES = Identity("shift", "f(x + c) = f(x) + c", lambda F, x, **_: (
    F.self(x + F.c), F.self(x) + F.c), grid=True)
PERMUTED = Identity("permutation", "f(P·x) = P·f(x), P a permutation of the row",
                    lambda F, x, **_: (F.self(F.perm(x)), F.perm(F.self(x))))
PERMUTATION_INVARIANT = Identity("permutation", "f(P·x) = f(x), P a permutation of the row",
                                 lambda F, x, **_: (F.self(F.perm(x)), F.self(x)))
SLICES_APART = Identity("slices", "a change in one row changes no other row's results",
                        lambda F, x, **_: (F.others(F.self(F.spoiled(x))), F.others(F.self(x))),
                        strict=True)
SUMS_TO_ONE = Identity("sum", "Σ_i f(x)_i = 1", lambda F, x, **_: (F.sum(F.self(x)), 1.0))
PROBABILITIES = (Bounds(0.0, 1.0), SUMS_TO_ONE, SHIFT_INVARIANT, PERMUTED, SLICES_APART)


VECTOR: tuple[Activation, ...] = (
    Activation(
        "softmax", Kind.AXIS, "exp(x_i) / Σ_j exp(x_j)", _softmax, _softmax_grad,
        params=(_AXIS, _WHERE),
        conventions=("any +inf in a slice makes the slice NaN (jax.nn and Flax docs), "
                     "and its Jacobian", "masked-out entries are 0",
                     "−inf entries are 0; an all −inf slice is NaN"),
        properties=PROBABILITIES,
    ),
    Activation(
        "softmin", Kind.AXIS, "exp(−x_i) / Σ_j exp(−x_j)", _softmin, _softmin_grad,
        params=(_AXIS, _WHERE),
        source="torch.nn.functional.softmin",
        conventions=("softmax(−x): any −inf in a slice makes the slice NaN, +inf entries "
                     "are 0", "masked-out entries are 0"),
        properties=PROBABILITIES,
    ),
    Activation(
        "log_softmax", Kind.AXIS, "x_i − log Σ_j exp(x_j)", _log_softmax, _log_softmax_grad,
        params=(_AXIS, _WHERE),
        conventions=("any +inf in a slice makes the slice NaN", "masked-out entries are −inf"),
        properties=(Bounds(-INF, 0.0), SHIFT_INVARIANT, PERMUTED, SLICES_APART,
                    Identity("via_logsumexp", "log_softmax(x) = x − logsumexp(x)",
                             lambda F, x, **_: (F.self(x), x - F.logsumexp(x)))),
    ),
    Activation(
        "logsumexp", Kind.AXIS, "log |Σ_i b_i exp(x_i)| (and its sign)",
        _logsumexp, _logsumexp_grad,
        params=(
            Param("axis", None, (-1, 0), "axes to reduce (None: all)", affects_value=False,
                  bench=True),
            Param("b", None, ("with_zeros", "mixed_sign"), "scale factors", type="floats",
                  bench=True),
            Param("keepdims", False, (True,), affects_value=False),
            Param("return_sign", False, (True,), "also return the sign of the sum", bench=True),
            _WHERE,
        ),
        conventions=("an all −inf slice gives −inf, with a NaN gradient (0/0)",
                     "a +inf entry gives +inf, with a gradient of 0 at the finite entries "
                     "and NaN at the infinite ones",
                     "a negative sum gives NaN unless return_sign=True",
                     "entries with b = 0 or masked out have a zero gradient",
                     "errors count in ulps of the larger of the result and the largest "
                     "entry that counts (max + log Σ exp(x − max) cancels near 0)"),
        signature="logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None)",
        reduces=True, slice_scale=largest_entry,
        properties=(Bounds(_top, _top_plus_log_n), SHIFT_PASSES, PERMUTATION_INVARIANT,
                    SLICES_APART),
    ),
    Activation(
        "logmeanexp", Kind.AXIS, "log(Σ_i exp(x_i) / n)", _logmeanexp, _logmeanexp_grad,
        params=(
            Param("axis", None, (-1, 0), "axes to reduce (None: all)", affects_value=False),
            _WHERE,
            Param("keepdims", False, (True,), affects_value=False),
        ),
        conventions=("errors count in ulps of the larger of the result and the largest "
                     "entry that counts (max + log(Σ exp(x − max) / n) cancels near 0)",),
        reduces=True, slice_scale=largest_entry,
        properties=(Bounds(_top_minus_log_n, _top), SHIFT_PASSES, PERMUTATION_INVARIANT,
                    SLICES_APART),
    ),
    Activation(
        "glu", Kind.GATED, "x[:n/2] · sigmoid(x[n/2:]) along axis", _glu, _glu_grad,
        params=(_AXIS,),
        conventions=("an odd-sized axis is an error",),
        properties=(SLICES_APART, Identity(
            "via_sigmoid", "glu(x) = a·σ(b), a and b the row's halves",
            lambda F, x, **_: (F.self(x), F.first(x) * F.sigmoid(F.second(x))))),
    ),
    Activation(
        "one_hot", Kind.INDEX, "row i: 1 at column x_i, else 0", _one_hot, None,
        params=(
            Param("num_classes", None, (1, 3, 10), "width of each row", required=True,
                  type="int", minimum=1, bench=True),
            Param("dtype", None, ("float32", "bfloat16"), keyword_only=True,
                  affects_value=False, type="dtype"),
            Param("axis", -1, (0,), keyword_only=True, affects_value=False),
        ),
        conventions=("an index outside [0, num_classes), negative ones included, gives a "
                     "row of zeros (jax.nn and Flax docs)",),
        signature="one_hot(x, num_classes, *, dtype=None, axis=-1)",
        properties=(Identity(
            "sum", "each row sums to 1 (an index in range) or 0",
            lambda F, x, num_classes, **_: (
                F.sum(F.self(x)), ((x >= 0) & (x < num_classes))[..., None])),),
    ),
    Activation(
        "standardize", Kind.AXIS, "(x − mean) / √(variance + ε)",
        _standardize, _standardize_grad,
        params=(
            _AXIS,
            Param("mean", None, (0.5,), "given mean (None: computed)", type="float",
                  taken_as=IN_X, bench=True),
            Param("variance", None, (2.0,), "given variance (None: computed), as written: "
                  "jax.nn adds epsilon to it as Python floats", type="float", bench=True),
            Param("epsilon", 1e-5, (1e-3,), taken_as=IN_X),
            _WHERE,
            Param("algorithm", "fast", ("stable",), "how the variance is computed: the same "
                  "value in exact arithmetic, but with a given mean 'fast' is "
                  "mean(x²) − mean², clipped at 0", keyword_only=True, bench=True),
        ),
        conventions=("the variance is the population variance over the included entries",
                     "with a given mean m, algorithm='fast' (jax.nn's default) takes the "
                     "variance as mean(x²) − m², clipped at 0, and 'stable' as "
                     "mean((x − m)²)",
                     "excluded entries are still standardized with those statistics",
                     "an infinite or NaN included entry leaves a computed mean or variance "
                     "undefined: the slice is NaN",
                     "errors count in ulps of the slice's largest output (x − mean "
                     "cancels), or of 1 where every output is 0"),
        slice_scale=largest_output,
        properties=(Identity("shift", "f(x + c) = f(x)", lambda F, x, **_: (
            F.self(x + F.c), F.self(x)), grid=True), PERMUTED, SLICES_APART),
    ),
)
