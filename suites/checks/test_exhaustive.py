"""Exhaustive float32 checks (checks._exhaustive): counts and maxima as the certified oracle
gives them input by input, the same whether chunks run in order, on a cluster, or after an
interruption; failures of the implementation as error rows; workers that end with their
run."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from actaudit import catalog
from actaudit.checks import _exhaustive as X
from actaudit.checks._elementwise import Evaluation, histogram
from actaudit.oracles import FORMATS, evaluate, ulp_error

F32 = FORMATS["float32"]
SMALL = 1 << 12  # chunks of this many inputs in these tests
START = 0x3F7FF000  # 4 chunks: x from 0.99987... to just past 1, σ and σ' about 0.73, 0.2


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster for the module's runs, given to them by address, as a user's own
    cluster would be (`run_all` starts one of its own otherwise)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as c:
        yield c.scheduler_address


def _tols(ulps):
    return {"value": ulps, "gradient": ulps, "second": ulps}


FIRST = tuple(c for c in X.CHECKS if c != X.SECOND)  # the value's and derivative's checks


def _target(name="sigmoid", spec="jax.nn", checks=FIRST, tol=2.0):
    return X.Target(spec, catalog.get(name), {}, _tols(tol), checks)


def _serial(target, start, stop, size=SMALL):
    results = [X.run(X.Job(target.spec, target.act.name, {}, s, min(s + size, stop),
                           target.tols, target.checks, 60.0))
               for s in range(start, stop, size)]
    return {f.check: f for f in X.findings(target, results, stop - start)}


def _oracle(act, x, grad=False, order=None):
    """(hi, lo, rounded): the certified value (or derivative) at each input, one by one."""
    exact = [evaluate(act, float(v), grad=grad, order=order, formats=(F32,)) for v in x]
    return (np.array([e.hi for e in exact]), np.array([e.lo for e in exact]),
            np.array([e.rounded["float32"] for e in exact]))


def _sigmoid_truth(width=0.0):
    """σ's truth from the filter at 512 inputs from START (none escalated yet), the boxes
    widened by ``width`` on each side; and a mask of every input."""
    x = np.arange(START, START + 512, dtype=np.uint64).astype(np.uint32).view(np.float32)
    everywhere = np.ones(len(x), bool)
    truth = X.Truth.of(catalog.get("sigmoid"), {}, x.astype(np.float64), False, ~everywhere)
    truth.box_lo, truth.box_hi = truth.box_lo - width, truth.box_hi + width
    return truth, everywhere


def test_counts_and_maximum_are_the_oracles_input_by_input():
    """Every input certified one by one (evaluate), against the chunked, filtered run."""
    t = _target(checks=("accuracy", "gradient"))
    stop = START + SMALL
    found = _serial(t, START, stop)
    bits = np.arange(START, stop, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    import jax
    for check, fn in (("accuracy", jax.nn.sigmoid), ("gradient", jax.grad(jax.nn.sigmoid))):
        got = np.asarray(jax.vmap(fn)(x), np.float64) if check == "gradient" else np.asarray(
            fn(x), np.float64)
        hi, lo, want = _oracle(t.act, x, grad=check == "gradient")
        err = ulp_error(got, hi, lo, F32)
        f = found[check]
        assert f.max_ulp == err.max()  # certified
        assert f.worst_input == repr(float(x[np.argmax(err)]))
        assert json.loads(f.extra["histogram"]) == histogram(err)
        assert f.extra["correctly_rounded"] == np.mean(got == want)
        assert f"{int(np.sum(err > 2.0)):,} over 2 ULP" in f.detail
        assert f"over all {SMALL:,} float32 inputs" in f.detail


def test_errors_of_correctly_rounded_results_are_computed_only_for_the_maximum():
    """A correctly rounded result's bin is the first; its own error is computed where no
    other result is worse than half an ulp (all correctly rounded: each one's error, to
    within MAX_SLACK), and is otherwise 0.5, every count unchanged."""
    truth, everywhere = _sigmoid_truth()
    hi, lo, want = _oracle(truth.act, truth.x)
    got = want.copy()
    err = truth.errors(got, 2.0, everywhere)
    assert np.abs(err - ulp_error(got, hi, lo, F32)).max() <= X.MAX_SLACK
    assert err.max() <= 0.5
    got[100] = np.nextafter(np.nextafter(np.float32(want[100]), np.float32(2)), np.float32(2))
    err = truth.errors(got, 2.0, everywhere)
    true = ulp_error(got, hi, lo, F32)
    assert abs(err[100] - true[100]) <= X.MAX_SLACK and np.argmax(err) == 100
    assert np.all(np.delete(err, 100) == 0.5)
    assert histogram(err) == histogram(true)


@pytest.mark.parametrize("start", [0x20000000, 0x418A0000, 0xC2B00000, 0x3F000000])
def test_of_correctly_rounded_results_only_the_largest_error_is_computed(start):
    """Where every result is correctly rounded, `_errors` runs only where an error may be
    the largest: the others are bounded from their boxes (tiny x, where σ rounds to 1/2
    and the box straddles it; σ rounding to 1 from below, where the value's ulp is half
    the result's; σ in the subnormals; σ about 0.6). The maximum and where it is are
    those of every error computed, and no error is over its computed one."""
    t = _target()
    x = np.arange(start, start + SMALL, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = x.astype(np.float64)
    everywhere = np.ones(len(x), bool)
    for grad in (False, True):
        truth = X.Truth.of(t.act, {}, x, grad, ~everywhere)
        got = truth.want.copy()
        err = truth.errors(got, 2.0, everywhere)
        full = truth._errors(got, np.arange(len(x)), 2.0)
        assert abs(err.max() - full.max()) <= X.MAX_SLACK
        if full.max() > X.MAX_SLACK:
            assert np.argmax(err) == np.argmax(full)
        assert np.all(err <= full + 2 * X.MAX_SLACK) and err.max() <= 0.5


def test_the_largest_error_of_correctly_rounded_results_is_computed_from_wide_boxes():
    """Boxes a quarter of an ulp wide (as a filter with a loose bound gives) leave every
    lower bound that far below its error: the largest error must then come from `_errors`
    (the oracle), not from the bounds."""
    truth, everywhere = _sigmoid_truth(2.0**-26)
    got = truth.want.copy()
    err = truth.errors(got, 2.0, everywhere)
    hi, lo, _ = _oracle(truth.act, truth.x)
    true = ulp_error(got, hi, lo, F32)
    assert abs(err.max() - true.max()) <= X.MAX_SLACK and np.argmax(err) == np.argmax(true)
    assert np.all(err <= true + X.MAX_SLACK)


def test_wide_errors_of_wrong_results_are_computed_only_where_they_may_be_largest():
    """Boxes 2**-40 wide (several times MAX_SLACK in ULP, as gelu's tanh form gives below
    −8) around results up to 3 ulps off: the oracle runs only where an error may be its
    group's largest or straddles a bin's edge; the maxima of each group, where they are,
    and every bin are those of the certified errors, and no error leaves its bounds."""
    truth, everywhere = _sigmoid_truth(2.0**-40)
    x = truth.x
    steps = np.random.default_rng(0).integers(-3, 4, len(x))
    got = truth.want.astype(np.float32)
    toward = np.where(steps > 0, np.float32(np.inf), np.float32(-np.inf))
    for k in range(3):
        got = np.where(np.abs(steps) > k, np.nextafter(got, toward), got)
    got = got.astype(np.float64)
    groups = (np.arange(len(x)) % 3).astype(np.int8)
    err = truth.errors(got, 2.0, everywhere, groups)
    hi, lo, _ = _oracle(truth.act, x)
    true = ulp_error(got, hi, lo, F32)
    assert 0 < truth.escalated < len(x) // 4
    for g in range(3):
        at = np.flatnonzero(groups == g)
        assert abs(err[at].max() - true[at].max()) <= X.MAX_SLACK
        assert np.argmax(err[at]) == np.argmax(true[at])
    assert histogram(err) == histogram(true)
    wrong = steps != 0  # (a correctly rounded result's error is 0.5: see above)
    assert np.all(np.abs(err - true)[wrong] <= 2.0**-40 * 2**24)


def test_a_nan_truth_is_exact_and_needs_no_oracle():
    """log1mexp is NaN below 0, at negative subnormals too (where the subnormal check
    computes errors): a NaN result is 0 ULP off, any other infinitely, without the
    oracle (it once escalated 8 million inputs a derivative)."""
    act = catalog.get("log1mexp")
    x = -np.arange(1, 257, dtype=np.uint32).view(np.float32).astype(np.float64)
    everywhere = np.ones(len(x), bool)
    for grad in (False, True):
        truth = X.Truth.of(act, {}, x, grad, ~everywhere)
        assert np.isnan(truth.want).all()
        nan, zero = np.full(len(x), np.nan), np.zeros(len(x))
        assert (truth.errors(nan, 4.0, everywhere) == 0).all()
        assert np.isinf(truth.errors(zero, 4.0, everywhere)).all()
        assert truth.escalated == 0


def test_beside_a_derivatives_zero_errors_count_in_ulps_of_its_terms():
    """silu′ = σ(x)(1 + x·σ(−x)) crosses zero at −1.2784645: its terms are of the size
    of σ(x), and any float32 result beside the zero is millions of its own ulps off. The
    chunked run counts the errors in ulps of the larger of the value and σ(x) (the
    catalog's `grad_scale`), as computed here input by input from the oracle and SciPy's
    σ; the row passes, its maximum a few of those ulps."""
    import jax
    from scipy.special import expit

    root = int(np.array([-1.2784645], np.float32).view(np.uint32)[0])
    start, stop = root - SMALL // 2, root + SMALL // 2
    t = _target("silu", checks=("gradient",), tol=64.0)
    found = _serial(t, start, stop)["gradient"]
    x = np.arange(start, stop, dtype=np.uint64).astype(np.uint32).view(np.float32)
    got = np.asarray(jax.vmap(jax.grad(jax.nn.silu))(x), np.float64)
    hi, lo, _ = _oracle(t.act, x, grad=True)
    own = ulp_error(got, hi, lo, F32)
    floor = np.maximum(np.abs(hi), expit(x.astype(np.float64)))
    err = np.abs((got - hi) - lo) / np.ldexp(1.0, np.frexp(floor)[1] - 1 - 23)
    assert own.max() > 1e6  # in its own ulps
    assert abs(found.max_ulp - err.max()) <= 1e-9 * err.max()
    assert found.worst_input == repr(float(x[np.argmax(err)]))
    assert found.status == "pass" and found.max_ulp < 4


def test_second_derivatives_over_every_input_are_the_oracles(tmp_path):
    """gradient:second over the chunk from x = 20: jax.nn's tanh″ = −2·tanh·(1 − tanh²)
    is 0 there (1 − tanh² is 0 in float32), where the truth is about −3.4e-17, a normal
    float32; the reference's is right. Each row's maximum and its count over the
    tolerance are the oracle's, input by input, of the worse of jax.grad of jax.grad and
    jax.jvp of jax.grad."""
    from actaudit import impl
    from actaudit.oracles import filter as boxes

    act = catalog.get("tanh")
    start = int(np.array([20.0], np.float32).view(np.uint32)[0])
    x = np.arange(start, start + SMALL, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x64 = x.astype(np.float64)
    hi, lo, _ = _oracle(act, x, order=2)
    assert np.all((hi < -1e-17) & (hi > -1e-16))
    scale = boxes.grad_scale(act, x64, {}, "float32", order=2)
    for spec, status in (("jax.nn", "fail"), ("reference", "pass")):
        t = X.Target(spec, act, {}, _tols(16.0), (X.SECOND,))
        found = _serial(t, start, start + SMALL)[X.SECOND]
        got = Evaluation(impl.load(spec).get("tanh"), {}, F32, x64).seconds()
        err = np.maximum(*(ulp_error(g, hi, lo, F32, scale) for g in got))
        assert found.status == status and found.check == X.SECOND
        assert abs(found.max_ulp - err.max()) <= 1e-9 * err.max()
        assert f"{int(np.sum(err > 16)):,} over 16 ULP" in found.detail
        assert f"exhaustive over all {SMALL:,} float32 inputs" in found.detail
        if status == "fail":  # its repro line prints the oracle's value, then the result
            # from a neutral directory: at the repository root the source folder actaudit/
            # would shadow the installed package
            done = subprocess.run(["bash", "-c", found.extra["repro"]], capture_output=True,
                                  text=True, timeout=300, cwd=tmp_path)
            assert done.returncode == 0, done.stderr[-2000:]
            lines = done.stdout.splitlines()
            assert "--second" in found.extra["repro"] and lines[-1] == found.got
            assert any(ln.split() == ["float32", found.expected] for ln in lines), lines
    assert found.max_ulp < 4  # the reference


def test_ties_among_subnormal_results_need_no_oracle_and_count_as_its_errors():
    """σ″(x) ≈ −x/8 at the smallest normal x: a subnormal result, and a tie of float32 for
    one input in eight, which no float64 box decides. Such inputs are judged only by the
    subnormal check, by their errors (either neighbour's is known from the box), so none
    goes to the oracle; the tally's count over the tolerance and its peak error are the
    oracle's, input by input (jax.nn flushes them all to 0)."""
    from actaudit import impl
    from actaudit.oracles import filter as boxes

    act, start = catalog.get("sigmoid"), 0x00800000
    x = np.arange(start, start + SMALL, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x64 = x.astype(np.float64)
    assert (~boxes.decide(boxes.enclose(act, x64, {}, "float32", order=2), F32)[1]
            ).sum() >= SMALL // 8
    result = X.run(X.Job("jax.nn", act.name, {}, start, start + SMALL, _tols(2.0),
                         (X.SECOND,), 60.0))
    assert result["escalated"]["second"] == 0
    tally = X.merge_all([result])[f"{X.SECOND}:subnormal"]
    hi, lo, _ = _oracle(act, x, order=2)
    got = Evaluation(impl.load("jax.nn").get("sigmoid"), {}, F32, x64).seconds()
    err = np.maximum(*(ulp_error(g, hi, lo, F32) for g in got))
    assert tally.n == SMALL and tally.counts["bad"] == np.sum(err > 2.0)
    assert abs(tally.peak - err.max()) <= X.MAX_SLACK
    # results at the ties themselves: the correct rounding, and the neighbour beyond it
    truth = X.Truth.of(act, {}, x64, 2, np.zeros(SMALL, bool))
    want = _oracle(act, x, order=2)[2]
    for got in (want, np.nextafter(want.astype(np.float32), np.float32(0)).astype(float)):
        mine = truth.errors(got, 2.0, np.ones(SMALL, bool))
        assert np.all(np.abs(mine - ulp_error(got, hi, lo, F32)) <= X.MAX_SLACK)
    assert truth.escalated == 0


SECOND_FAR = [  # where the second derivative's boxes once decided nothing
    ("tanh", [1e-30, -3e-38, 20.0]),  # sech²'s quotient cancelled at tiny x
    ("softplus", [2048.0, -2048.0, 1e30]),  # σ's e′ − σ·e′ lost its sign in underflow
    ("sigmoid", [1e-30, -1e-20, 3000.0]),  # σ′'s quotient cancelled at tiny x
    ("silu", [2048.0, -2048.0, 1e34]),  # terms that underflow float64: a zero, its sign open
    ("squareplus", [4096.0, 1e20]),  # (s − x²/s)/s² cancelled
    ("log1mexp", [1000.0, 1e34]),  # e^x overflowed: ∞·0
]


@pytest.mark.parametrize("name,xs", SECOND_FAR, ids=[n for n, _ in SECOND_FAR])
def test_second_derivatives_far_out_need_no_oracle(name, xs):
    """The exhaustive truth of the second derivative where its boxes once held 0 or
    nothing: no input goes to the oracle, and each truth is the oracle's value (a zero's
    sign aside, which no count depends on)."""
    act = catalog.get(name)
    x = np.array(xs)
    truth = X.Truth.of(act, {}, x, 2, np.zeros(len(x), bool))
    assert truth.escalated == 0
    want = _oracle(act, x, order=2)[2]
    assert np.array_equal(truth.want, want), (truth.want, want)


def test_results_of_inf_or_nan_for_a_finite_truth_need_no_oracle(tmp_path):
    """±inf is as far from a finite value as ulp_error counts it (2**128 in ulps of the
    value), NaN infinitely far: the filter's box settles both, with the counts the
    oracle gives input by input."""
    plugin = tmp_path / "overflowing.py"
    plugin.write_text(textwrap.dedent("""
        import jax, jax.numpy as jnp
        def sigmoid(x):
            s = jax.nn.sigmoid(x)
            return jnp.where(x > 0.99995, jnp.inf, jnp.where(x < 0.9999, jnp.nan, s))
    """))
    t = _target(spec=str(plugin), checks=("accuracy",))
    stop = START + SMALL
    job = X.Job(t.spec, "sigmoid", {}, START, stop, _tols(2.0), ("accuracy",), 60.0)
    result = X.run(job)
    assert result["escalated"]["value"] <= 1  # the worst input, at most
    f = X.findings(t, [result], SMALL)[0]
    x = np.arange(START, stop, dtype=np.uint64).astype(np.uint32).view(np.float32)
    got = np.where(x > 0.99995, np.inf, np.where(x < 0.9999, np.nan, 0.0))
    hi, lo, _ = _oracle(t.act, x)
    finite = np.isfinite(got)
    import jax
    got[finite] = np.asarray(jax.nn.sigmoid(x[finite]), np.float64)
    err = ulp_error(got, hi, lo, F32)
    assert f.status == "fail" and f"{int(np.sum(err > 2.0)):,} over 2 ULP" in f.detail
    assert json.loads(f.extra["histogram"]) == histogram(err)


def test_a_truth_past_float32s_range_needs_no_oracle():
    """log1mexp'(x) = 1/expm1(x) ≈ 1/x is past float32's range at the subnormals below
    2**-128 (a quarter of the positive subnormals); ulp_error places such a value at
    2**128, so its error is known from the box: no input goes to the oracle, and the
    largest error is the oracle's, input by input."""
    import jax

    from actaudit import impl

    act, check = catalog.get("log1mexp"), "subnormal:gradient"
    start = 1 << 20  # x from 2**-129: 1/x from 2**129 down
    stop = start + SMALL
    x = np.arange(start, stop, dtype=np.uint64).astype(np.uint32).view(np.float32)
    hi, lo, _ = _oracle(act, x, grad=True)
    assert np.all(hi >= 2.0**128)
    for spec in ("jax.nn", "reference"):
        result = X.run(X.Job(spec, act.name, {}, start, stop, _tols(4.0), (check,), 60.0))
        assert result["escalated"]["gradient"] == 0
        tally = X.merge_all([result])[check]
        got = np.asarray(jax.vmap(jax.grad(impl.load(spec).get("log1mexp")))(x), np.float64)
        err = ulp_error(got, hi, lo, F32)
        assert tally.n == SMALL and abs(tally.peak - err.max()) <= X.MAX_SLACK
        assert tally.counts["bad"] == np.sum(err > 4.0)


def test_a_derivative_beside_1_is_told_from_1_without_the_oracle(tmp_path):
    """tanh'(x) = 1 − x² for x about 4e-8, and a tanh whose derivative there is 1 − 2**-23
    (as the reference's was, from 1 − tanh² rounded): an error just under 2 ULP, a
    histogram edge. The filter's box of 1 − tanh(x)² lies below 1, so the error's bin is
    known: no input goes to the oracle (the box of 4e/(1 + e)², wider, crossed 1 and sent
    every such input there), and the counts are the oracle's input by input."""
    from actaudit import impl

    plugin = tmp_path / "steep.py"
    plugin.write_text(textwrap.dedent("""
        import jax, jax.numpy as jnp

        @jax.custom_jvp
        def tanh(x):
            return jnp.tanh(x)

        @tanh.defjvp
        def _(primals, tangents):
            (x,), (t,) = primals, tangents
            d = jnp.where(jnp.abs(x) < 1e-6, 1 - 2.0**-23, 1 - jnp.tanh(x) ** 2)
            return jnp.tanh(x), d * t
    """))
    act, start = catalog.get("tanh"), 0x33300000
    x = np.arange(start, start + SMALL, dtype=np.uint64).astype(np.uint32).view(np.float32)
    t = X.Target(str(plugin), act, {}, _tols(4.0), ("gradient",))
    result = X.run(X.Job(t.spec, act.name, {}, start, start + SMALL, t.tols, ("gradient",),
                         60.0))
    assert result["escalated"]["gradient"] <= 1  # the worst input, at most
    f = X.findings(t, [result], SMALL)[0]
    got = Evaluation(impl.load(str(plugin)).get("tanh"), {}, F32, x.astype(np.float64)
                     ).gradients()[0]  # as the audit takes it
    hi, lo, _ = _oracle(act, x, grad=True)
    err = ulp_error(got, hi, lo, F32)
    assert np.any((err > 1.9) & (err < 2))  # just under the edge
    assert f.max_ulp == err.max() and json.loads(f.extra["histogram"]) == histogram(err)


def test_special_and_subnormal_inputs_are_judged_as_sampled_ones_are():
    """The chunk from bit pattern 0: +0 and the positive subnormals; and the NaN and +inf
    patterns: jax.nn's sigmoid keeps NaN and gives 1 at +inf."""
    t = _target()
    low = _serial(t, 0, SMALL)
    assert low["special"].status == "pass" and "1 special inputs" in low["special"].detail
    assert low["subnormal"].status == "pass" and f"{SMALL - 1:,} cases" in low["subnormal"].detail
    high = _serial(t, 0x7F800000, 0x7F800000 + SMALL)
    assert high["special"].status == "pass"
    assert f"{SMALL:,} special inputs" in high["special"].detail


def test_a_cluster_gives_what_a_serial_run_gives(tmp_path, cluster):
    t = _target()
    stop = START + 4 * SMALL
    out = X.run_all([t], X.Record(tmp_path), timeout=60, scheduler=cluster, progress=False,
                    span=(START, stop), size=SMALL)
    found, stats = out[t.slug]
    serial = _serial(t, START, stop)
    assert [(f.check, f.status, f.max_ulp, f.worst_input, f.detail) for f in found] == [
        (f.check, f.status, f.max_ulp, f.worst_input, f.detail) for f in serial.values()]
    assert stats["chunks"] == 4 and len(list(tmp_path.rglob("*.json"))) == 4


def test_an_implementation_that_raises_gives_error_rows_and_the_run_goes_on(tmp_path,
                                                                           cluster):
    plugin = tmp_path / "broken.py"
    plugin.write_text(textwrap.dedent("""
        import jax
        def sigmoid(x):
            raise RuntimeError("no sigmoid today")
        tanh = jax.numpy.tanh
    """))
    bad, good = _target(spec=str(plugin)), _target("tanh", spec=str(plugin))
    out = X.run_all([bad, good], X.Record(tmp_path / "rec"), timeout=60, scheduler=cluster,
                    progress=False, span=(START, START + 2 * SMALL), size=SMALL)
    rows, _ = out[bad.slug]
    assert {f.status for f in rows} == {"error"}
    assert "no sigmoid today" in rows[0].detail
    assert {f.status for f in out[good.slug][0]} <= {"pass", "fail"}


_KILLED = """
import sys
from actaudit import catalog
from actaudit.checks import _exhaustive as X
t = X.Target("jax.nn", catalog.get("sigmoid"), {}, dict.fromkeys(("value", "gradient"), 2.0),
             tuple(c for c in X.CHECKS if c != X.SECOND))
X.run_all([t], X.Record(sys.argv[1]), timeout=60, workers=2, progress=False,
          span=(0x3F000000, 0x3F000000 + 64 * 4096), size=4096)
"""


def _children(pid):
    import psutil
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_killed_run_resumes_to_the_same_rows_and_leaves_no_worker(tmp_path, cluster):
    """SIGKILL in the middle: no cleanup runs, yet every worker process is gone within
    seconds; the next run takes the finished chunks from the record and gives the rows an
    uninterrupted run gives."""
    import psutil

    record, log = tmp_path / "rec", tmp_path / "stderr.txt"
    # from a neutral directory: at the repository root the source folder actaudit/ would
    # shadow the installed package
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(record)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 120
    while len(list(record.rglob("*.json"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
        assert proc.poll() is None, f"the run ended before it was killed:\n{log.read_text()}"
    workers = _children(proc.pid)
    assert workers, "the cluster has worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"{len(alive)} worker processes outlived their run"
    kept = {p.name: p.stat().st_mtime_ns for p in record.rglob("*.json")}
    assert 4 <= len(kept) < 64
    t = _target()
    out = X.run_all([t], X.Record(record), timeout=60, scheduler=cluster, progress=False,
                    span=(0x3F000000, 0x3F000000 + 64 * 4096), size=4096)
    again = {p.name: p.stat().st_mtime_ns for p in record.rglob("*.json")}
    assert len(again) == 64 and all(again[k] == v for k, v in kept.items())
    fresh = X.run_all([t], X.Record(tmp_path / "fresh"), timeout=60, scheduler=cluster,
                      progress=False, span=(0x3F000000, 0x3F000000 + 64 * 4096), size=4096)
    rows = [(f.check, f.status, f.max_ulp, f.worst_input, f.detail) for f in out[t.slug][0]]
    assert rows == [(f.check, f.status, f.max_ulp, f.worst_input, f.detail)
                    for f in fresh[t.slug][0]]


def test_an_exhaustive_audit_replaces_the_float32_sample_rows(tmp_path, cluster):
    """The audit's float32 rows of the exhaustive checks come from every input (here a
    sub-range), marked so; the other rows and dtypes stay as sampled."""
    from actaudit import checks

    plan = checks.Plan.of(["jax.nn"], ["sigmoid"], ["float16", "float32"],
                          checks=["accuracy", "special", "property"], exhaustive="float32")
    result = plan.run(progress=False, scheduler=cluster, record=tmp_path,
                      span=(START, START + 2 * SMALL), chunk=SMALL)
    d = result.details.set_index(["dtype", "check"])
    assert f"exhaustive over all {2 * SMALL:,} float32 inputs" in d.loc[
        ("float32", "accuracy"), "detail"]
    assert bool(d.loc[("float32", "accuracy"), "exhaustive"]) is True
    assert "exhaustive" not in str(d.loc[("float16", "accuracy"), "detail"])
    assert "non-decreasing" in d.loc[("float32", "property:monotone"), "detail"]
    assert list(result.summary.columns) == checks.COLUMNS
    curve = result.curves[result.curves["dtype"] == "float32"]
    assert len(curve) and curve["x"].between(0.99, 1.01).all()
