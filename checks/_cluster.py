"""The Dask cluster exhaustive runs use: a LocalCluster on this machine by default, one
single-threaded worker process per core, or an existing cluster by its scheduler address
(``--scheduler``, else ``DASK_SCHEDULER_ADDRESS``).

Workers never outlive the run that started them. The LocalCluster is closed when the run
ends, however it ends; and should the run's process be killed outright (a CI time limit's
SIGKILL, which runs no cleanup), each nanny and worker process of ours notices within a
second that its parent is gone and exits (`Orphaned`), rather than go on at full CPU.
Workers of a cluster given by address are the cluster's own: they are left alone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENV = "DASK_SCHEDULER_ADDRESS"
POLL_S = 1.0


def _watch_parent() -> None:
    """End this process once its parent is gone (it is then re-parented)."""
    parent = os.getppid()

    def watch() -> None:
        import time

        while True:
            time.sleep(POLL_S)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="actaudit: parent watch").start()


def _plugins() -> tuple[Any, Any]:
    from distributed.diagnostics.plugin import NannyPlugin, WorkerPlugin

    class OrphanedNanny(NannyPlugin):
        """A nanny of our LocalCluster exits when the audit's process is gone."""

        name = "actaudit-orphaned-nanny"

        def setup(self, nanny: Any) -> None:
            _watch_parent()

    class OrphanedWorker(WorkerPlugin):
        """A worker exits when its nanny is gone."""

        name = "actaudit-orphaned-worker"

        def setup(self, worker: Any) -> None:
            _watch_parent()

    return OrphanedNanny(), OrphanedWorker()


def keep_freed_memory() -> None:
    """glibc's malloc in this process keeps the memory numpy frees for the next array.
    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off
    glibc's adaptive mmap threshold: every array above 128 KiB is then mapped and
    unmapped, its pages faulted in each time, and a chunk takes four times as long, most
    of it in the kernel. Set here, in the worker, it holds however the worker started."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: its largest value, 32 MiB
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc
        pass


def address(given: str | None) -> str | None:
    return given or os.environ.get(ENV) or None


@contextmanager
def client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client: of the cluster at ``scheduler`` (or $DASK_SCHEDULER_ADDRESS),
    else of a LocalCluster of ``workers`` processes (one per core by default), closed with
    its workers on the way out."""
    import dask
    from distributed import Client, LocalCluster

    where = address(scheduler)
    if where:
        with Client(where, timeout="30s") as c:
            yield c
        return
    n = workers or os.cpu_count() or 1
    # a chunk that kills its worker is not handed to another one to kill too
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
            # a worker's failures come back as error rows; what it logs as ERROR at the
            # end (a heartbeat to a scheduler already closed, with a traceback) is noise
            silence_logs=logging.CRITICAL) as cluster, Client(cluster) as c:
        nanny, worker = _plugins()
        c.register_plugin(nanny)
        c.register_plugin(worker)
        yield c
