"""Each implementation runs in a worker process of its own: a plug-in that raises, hangs
or crashes gives `error` rows saying so, and the audit goes on with what it had.

The plug-in below misbehaves for real: a segfault in native code, a hang that lets
Python run, a hang that holds the GIL, an exception.
"""

from __future__ import annotations

import textwrap

import pytest

from actaudit import checks
from actaudit.checks import _worker

MISBEHAVING = textwrap.dedent('''
    import ctypes
    import re
    import time

    import jax.nn

    def elu(x, alpha=1.0):      # fine: checked before the crash
        return jax.nn.elu(x, alpha)

    def relu(x):                # a segfault in native code
        ctypes.string_at(0)

    def selu(x):                # fine: checked after the crash, in a fresh worker
        return jax.nn.selu(x)

    def tanh(x):                # hangs, letting Python run (sleep releases the GIL)
        time.sleep(3600)

    def sigmoid(x):             # hangs holding the GIL: re backtracks for ages
        re.match(r"(a+)+$", "a" * 64 + "b")

    def softplus(x):            # raises
        raise RuntimeError("kernel not built for this dtype")
''')


@pytest.fixture
def misbehaving(tmp_path, monkeypatch):
    path = tmp_path / "misbehaving.py"
    path.write_text(MISBEHAVING)
    monkeypatch.setattr(_worker, "GRACE_S", 2.0)  # the parent's margin, for a quick test
    return str(path)


def test_raise_hang_and_crash_are_error_rows_and_the_audit_goes_on(misbehaving, oracle_cache):
    names = ["elu", "relu", "selu", "tanh", "sigmoid", "softplus"]
    # the value checks only, with a timeout that a first compile stays under even on a
    # loaded machine (the suites run on every core at once: 1 s made elu an error there)
    summary = checks.audit([misbehaving, "jax.nn"], names, ["float32"], cache_dir=oracle_cache,
                           workers=2, progress=False, timeout=4.0,
                           checks=["accuracy", "special"]).summary
    mine = summary[summary["impl"] == misbehaving]
    by = {name: mine[mine["activation"] == name] for name in names}
    for ok in ("elu", "selu"):  # before and after the crash: judged, not errors
        assert "error" not in set(by[ok]["status"]), by[ok]
        assert by[ok]["status"].eq("pass").any()
    for name, says in [
        ("relu", "the worker process died of SIGSEGV in the function (jit); the next case "
                 "runs in a fresh worker"),
        ("tanh", "timed out after 4 s in "),
        ("sigmoid", "the worker was killed: a call ran 4 s (+2 s grace) without returning "
                    "in the function (jit)"),
        ("softplus", "raised RuntimeError: kernel not built for this dtype"),
    ]:
        rows = by[name]
        assert len(rows) and rows["status"].eq("error").all(), rows
        assert rows["detail"].str.contains(says, regex=False).all(), rows["detail"].tolist()
    # jax.nn, audited beside it in the same cases, is untouched by its neighbour's crashes
    theirs = summary[summary["impl"] == "jax.nn"]
    assert set(theirs["activation"]) == set(names)
    assert "error" not in set(theirs["status"])
    # the table printed on stdout says why each error happened
    printed = checks.overview(summary, worst=len(summary))
    assert "raised RuntimeError: kernel not built" in printed
    assert "died of SIGSEGV" in printed


def test_a_worker_that_cannot_load_its_spec_gives_error_rows(tmp_path):
    """The SPEC loads in the parent (so that bad usage is exit 2) but not in the worker:
    here, a plug-in that refuses to import in a child process."""
    path = tmp_path / "parent_only.py"
    path.write_text("import multiprocessing\n"
                    "if multiprocessing.parent_process() is not None:\n"
                    "    raise ImportError('only in the parent')\n"
                    "from jax.nn import relu\n")
    summary = checks.audit([str(path)], ["relu"], ["bfloat16"], cache_dir=tmp_path,
                           workers=2, progress=False).summary
    assert summary["status"].eq("error").all()
    for says in ("in its worker raised", "ImportError: only in the parent"):
        assert summary["detail"].str.contains(says).all(), summary["detail"].tolist()


def test_an_answer_the_oracle_cannot_give_in_the_parent_stops_no_audit(monkeypatch):
    """The parent computes a vector case's truth once for its workers; where the oracle
    fails there (`Undecided`: a rounding no precision decides), the audit goes on, and the
    workers, which compute what the cache lacks, judge the case (or give `error` rows)."""
    from actaudit.checks import _audit
    from actaudit.oracles import Undecided

    def undecided(*args, **kwargs):
        raise Undecided("softmax''(...): rounding undecided at 32768 bits")
    monkeypatch.setattr(_audit._vector, "prefill", undecided)
    summary = checks.audit(["reference"], ["softmax"], ["float32"], checks=["accuracy"],
                           progress=False, search=None).summary
    assert summary["variant"].nunique() == 3 and set(summary["status"]) == {"pass"}


ORACLE_FAILS = """
import multiprocessing

import jax
from actaudit.oracles import Undecided, tables


def _undecided(*args, **kwargs):
    raise Undecided("sigmoid(0x1p-3): rounding undecided at 32768 bits")


if multiprocessing.parent_process() is not None:  # in the audit's worker alone (spawned):
    tables.table = _undecided  # the oracle fails there, not the function
sigmoid = jax.nn.sigmoid
"""


def test_a_truth_the_oracle_cannot_certify_gives_error_rows_that_say_so(tmp_path):
    """An `OracleError` in a worker (planted: the plug-in replaces the oracle's tables
    there) leaves the case unjudged: `error` rows that name the oracle, not the
    implementation, as what failed, with the oracle's own message; the audit goes on."""
    plugin = tmp_path / "oracle_fails.py"
    plugin.write_text(ORACLE_FAILS)
    summary = checks.audit([str(plugin)], ["sigmoid"], ["float16"], checks=["accuracy"],
                           progress=False, search=None).summary
    assert set(summary["status"]) == {"error"}
    detail = summary["detail"].iloc[0]
    assert "the oracle could not certify the truth" in detail
    assert "not a fault of" in detail and "rounding undecided at 32768 bits" in detail
