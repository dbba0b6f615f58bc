"""Calling an implementation under audit: its exceptions, hangs and malformed results
become `CallError`s with a one-line reason, never a crash of the audit."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

TIMEOUT_S = 120.0


class _QuietCallbacks(logging.Filter):
    """JAX logs the whole traceback of an exception raised in a host callback before it
    raises it again; under audit, that exception is the row's `error` detail (`reason`),
    and the log's copy only looks like a crash of the audit."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).endswith("_callback failed")


logging.getLogger("jax._src.callback").addFilter(_QuietCallbacks())

# Set in a worker process (`_worker`): told ``what`` at the start of each call into the
# implementation and None at its end, so that the parent can stop a call that hangs.
watch: Callable[[str | None], None] | None = None
# A call was abandoned after its timeout: its thread may still run, so the worker is
# replaced after the case.
abandoned = False


class CallError(Exception):
    """The implementation raised, hung, or returned something unusable (``status``
    "error"), or said it does not support the call: it raised NotImplementedError, as an
    adapter does for a parameter its library lacks or a derivative it cannot take
    (``status`` "skip")."""

    def __init__(self, message: str, status: str = "error"):
        super().__init__(message)
        self.status = status


def call(fn: Callable[[], Any], timeout: float | None = None, what: str = "the function",
         ) -> Any:
    """``fn()`` with its result on the host, or `CallError`. A call still running after
    ``timeout`` seconds (`TIMEOUT_S` by default) is abandoned: its thread is left to
    finish on its own, and a worker process that holds one is replaced."""
    global abandoned
    box: dict[str, Any] = {}
    x64 = bool(jax.config.jax_enable_x64)  # a context setting: the thread needs it too
    timeout = TIMEOUT_S if timeout is None else timeout

    def run() -> None:
        try:
            with jax.enable_x64(x64):
                box["out"] = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(fn()))
        except BaseException as e:
            box["err"] = e

    if watch is not None:
        watch(what)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if watch is not None:
        watch(None)
    if thread.is_alive():
        abandoned = True
        raise CallError(f"timed out after {timeout:g} s in {what}")
    if "err" in box:
        e = box["err"]
        if isinstance(e, NotImplementedError):
            text = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise CallError(f"not supported: {text}"[:300], "skip")
        raise CallError(reason(e)[:300])
    return box["out"]


def reason(e: BaseException) -> str:
    """What an exception says, in one line. An exception raised in a host callback
    (jax.pure_callback: the SciPy and PyTorch adapters, a plug-in's own) reaches the
    caller as an XLA runtime error whose text ends with the original exception's last
    line: that line is the reason."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if len(lines) > 1 and "callback error calling callback" in lines[0].lower():
        return f"raised {lines[-1]} (in a host callback)"
    return f"raised {type(e).__name__}: {lines[0] if lines else ''}"


def array(out: Any, shape: tuple[int, ...], dtype: np.dtype, what: str) -> np.ndarray:
    """``out`` as an array of ``shape``; `CallError` if it is not one. The dtype is
    checked by the `dtype` check; here a wrong one is reported too, since every value
    check would otherwise compare numbers of another format."""
    if not isinstance(out, np.ndarray):
        raise CallError(f"{what} returned {type(out).__name__}, not an array")
    if out.shape != shape:
        raise CallError(f"{what} returned shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise CallError(f"{what} returned {out.dtype} for {dtype} input")
    return out


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    """JAX's 64-bit mode for a float64 case: in this thread (`jax.enable_x64`), and as the
    process's default for the duration, which the threads XLA runs a host callback on
    (the PyTorch and SciPy adapters) read: JAX takes a callback's float64 result as
    float32 on a thread where the mode is off, and the call fails at random."""
    if dtype != "float64":
        yield
        return
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        with jax.enable_x64(True):
            yield
    finally:
        jax.config.update("jax_enable_x64", before)
