"""Isolation: each implementation under audit runs in a worker process of its own.

The parent (`_audit`) sends a worker one case at a time, a `Job`: an (activation, variant,
dtype) and the audit's settings; the worker loads the SPEC once, runs the checks and sends
back the findings. What goes wrong stays in the worker:

* an exception is a `CallError` there, and `error` rows (`_call`); where the oracle
  cannot certify a truth (`OracleError`), the case's rows are `error` rows that say so;
* a call that hangs but lets Python run is abandoned after the timeout, in the worker
  (`_call.call`): only the checks that needed it are `error` rows, and the worker, whose
  thread may still run, is replaced after the case;
* a call that hangs and holds the interpreter (a native loop that never releases the
  GIL), or a worker that dies (a segfault in a native kernel, an abort, a kill), is
  found by the parent: the worker tells it when each call into the implementation starts
  and ends, and a call not over after ``timeout + GRACE_S`` is killed with its process.
  The case's checks are `error` rows saying what was running; the next case gets a fresh
  worker. Results already computed are the parent's and are kept.

A vector case's checks on long rows (`_rows`), and a case's search (`_search`), run in
workers of their own of the same SPEC, beside its other checks (`Job.part`): the cores
share the compilation of a function per row length, and the search.

Workers live as long as the Python process (tests run many audits) and are reused for
the same SPEC; `shutdown` ends them, and so does the process's exit.
"""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing
import signal
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ._results import Finding
from ._tolerances import Tolerances

GRACE_S = 10.0  # what the parent adds to the timeout before it kills a worker
START_S = 600.0  # a worker that cannot import its libraries and load the SPEC in this


@dataclass(frozen=True)
class Job:
    """One case for a worker: checks of one (activation, variant, dtype)."""

    activation: str
    params: dict[str, Any]
    dtype: str
    tolerances: Tolerances
    checks: frozenset[str] | None
    cache_dir: str | None
    timeout: float
    part: str = ""  # "rows" the checks on long rows, "search" the search's, "" the others
    # (`_audit.part`)
    search: str | None = None  # the search's profile


Outcome = tuple[list[Finding], float] | str  # (findings, seconds), or why there are none


def _serve(spec: str, conn: Connection, payload: bytes | None = None) -> None:
    """The worker process: load the SPEC (or unpickle the functions of an implementation
    given in memory, ``payload``), then answer jobs until told to stop. Ctrl-C is the
    parent's to handle (it ends its workers): no traceback from here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .. import impl
    from . import _call

    def watch(what: str | None) -> None:
        conn.send(("call", what))

    try:
        implementation = impl.load(spec) if payload is None else impl.unpickled(spec, payload)
    except BaseException as e:
        conn.send(("failed", f"loading {spec} in its worker raised {type(e).__name__}: {e}"))
        return
    _call.watch = watch
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        compilation_cache(job.cache_dir)
        outcome = answer(implementation, job)
        conn.send(("failed", outcome) if isinstance(outcome, str)
                  else ("done", *outcome, _call.abandoned))


def answer(implementation: Any, job: Job) -> Outcome:
    """One job's outcome: the findings and the seconds taken, or why there are none."""
    from .. import catalog
    from ..oracles import OracleError
    from . import _audit, _call  # here, not at import: _audit imports this module

    start = time.perf_counter()
    _call.TIMEOUT_S = job.timeout
    try:
        found = _audit.run_case(implementation, catalog.get(job.activation), job.params,
                                job.dtype, job.tolerances, job.checks, job.cache_dir,
                                job.part, job.search)
    except OracleError as e:  # no certified truth: nothing is judged, and said why
        return ("the oracle could not certify the truth, so nothing was judged (a limit "
                f"of actaudit's oracle, not a fault of {implementation.name}): "
                f"{type(e).__name__}: {e}")
    except Exception as e:  # a fault of the checks, not the implementation: said so
        where = traceback.extract_tb(e.__traceback__)[-1]
        return (f"the audit's checks raised {type(e).__name__}: {e} "
                f"({Path(where.filename).name}:{where.lineno})")
    return found, time.perf_counter() - start


def inline(jobs: Mapping[str, Job], impls: Mapping[str, Any]) -> dict[str, Outcome]:
    """Each job in this process, one after the other (``actaudit.check`` in a user's own
    test: no worker to start, and the function is the caller's); ``impls``: SPEC name ->
    implementation. A call that hangs is abandoned after its timeout (`_call.call`)."""
    return {k: answer(impls[k.partition(PART)[0]], job) for k, job in jobs.items()}


XLA_CACHE = "xla"  # the compiled functions' folder in the oracle's cache
XLA_CACHE_BYTES = 2 << 30  # its size, beyond which the least recently used go


def compilation_cache(cache_dir: str | None) -> None:
    """Keep what XLA compiles in the oracle's cache folder (JAX's persistent compilation
    cache), so that the next audit of the same functions does not compile them again: the
    checks on rows compile a function per row length, and the search one per shape.
    A function changed in any way is a new entry (the key is its HLO, the compiler's
    options and JAX's version)."""
    import jax

    from ..oracles.tables import cache_dir as resolved

    folder = str(resolved(cache_dir) / XLA_CACHE)
    if jax.config.jax_compilation_cache_dir != folder:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_compilation_cache_max_size", XLA_CACHE_BYTES)


def _died(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"died of {signal.Signals(-code).name}"
        except ValueError:
            return f"died of signal {-code}"
    return f"exited with status {code}"


class Worker:
    """One SPEC's worker process, started when first needed and again after it is lost."""

    def __init__(self, spec: str, payload: bytes | None = None):
        self.spec, self.payload = spec, payload
        self.process: Any = None
        self.conn: Connection | None = None
        self.calling: str | None = None  # the call into the implementation under way
        self.deadline: float | None = None
        self.job: Job | None = None
        self.ready = False  # the worker has loaded the SPEC

    def submit(self, job: Job) -> None:
        if self.process is None or not self.process.is_alive():
            self._start()
        self.job, self.calling = job, None
        self.deadline = None if self.ready else time.monotonic() + START_S
        assert self.conn is not None
        self.conn.send(job)

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # JAX is not fork-safe
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(self.spec, child, self.payload),
                                       daemon=True,
                                       name=f"actaudit worker: {self.spec}")
        self.process.start()
        child.close()
        self.ready = False

    def receive(self) -> Outcome | None:
        """Read one message: the case's outcome, or None while it runs."""
        assert self.conn is not None and self.job is not None
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            return self._lost(f"the worker process {_died(self.process.exitcode)}")
        kind = message[0]
        if kind == "ready":
            self.ready, self.deadline = True, None
        elif kind == "call":
            self.calling = message[1] or None
            self.deadline = (time.monotonic() + self.job.timeout + GRACE_S
                             if self.calling else None)
        elif kind == "failed":
            self.stop()
            return message[1]
        elif kind == "done":
            _, found, seconds, abandoned = message
            if abandoned:  # a thread past its timeout may still run: a fresh worker next
                self.stop()
            return found, seconds
        return None

    def expire(self) -> Outcome | None:
        """The outcome if the call under way is past its deadline (the worker killed)."""
        if self.deadline is None or time.monotonic() < self.deadline:
            return None
        assert self.job is not None
        if self.calling is None:
            return self._lost(f"the worker did not start within {START_S:g} s")
        return self._lost(f"the worker was killed: a call ran {self.job.timeout:g} s "
                          f"(+{GRACE_S:g} s grace) without returning")

    def _lost(self, why: str) -> str:
        what = f" in {self.calling}" if self.calling else ""
        self.stop()
        return f"{why}{what}; the next case runs in a fresh worker"

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            try:
                if self.conn is not None and self.ready and self.calling is None:
                    self.conn.send(None)
                    self.process.join(2)
            except OSError:
                pass
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None
        self.calling = self.deadline = None


_WORKERS: dict[str, Worker] = {}
PART = "\x00"  # a job's key: the SPEC, or the SPEC, PART and the part it runs


def key(spec: str, part: str = "") -> str:
    """The key of a SPEC's job for ``part`` in `run`."""
    return f"{spec}{PART}{part}" if part else spec


def run(jobs: Mapping[str, Job], payloads: Mapping[str, bytes] | None = None
        ) -> dict[str, Outcome]:
    """Each SPEC's job in its own worker, all at once; their outcomes. A job with a
    ``part`` runs in a worker of its own for that part, beside the SPEC's other worker:
    the checks on long rows of a vector case run on the second core. ``payloads``: SPEC
    name -> the pickled functions of an implementation given in memory (its workers are
    kept apart from those of other functions under the same name)."""
    payloads = payloads or {}
    running = {}
    for key in jobs:
        spec = key.partition(PART)[0]
        payload = payloads.get(spec)
        tag = key if payload is None else f"{key}{PART}{hashlib.sha256(payload).hexdigest()}"
        running[key] = _WORKERS.setdefault(tag, Worker(spec, payload))
    for spec, worker in running.items():
        worker.submit(jobs[spec])
    out: dict[str, Outcome] = {}
    while running:
        deadlines = [w.deadline for w in running.values() if w.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = wait([w.conn for w in running.values() if w.conn is not None], timeout)
        for spec, worker in list(running.items()):
            outcome = worker.receive() if worker.conn in ready else worker.expire()
            if outcome is not None:
                out[spec] = outcome
                del running[spec]
    return out


@atexit.register
def shutdown() -> None:
    """End every worker."""
    for worker in _WORKERS.values():
        worker.stop()
    _WORKERS.clear()
