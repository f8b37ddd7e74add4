"""MIPBound's workers: the process pool of this process (started once, kept warm) or any executor passed in.

Work goes out as ``submit(fn, *args, **kwargs)`` returning a future with ``result()`` (a process pool, a
Dask client, :meth:`explorer.executor.Executor.as_pool`); with one worker and no executor it runs here.

A long-lived process (the app's server) starts its pool from a forkserver, so workers never inherit HiGHS's
threads.  A one-shot command calls :func:`start_fresh` before anything runs HiGHS: it loads the walk's
compiled kernels here and forks the workers from this process, so they are warm within milliseconds
instead of a second spent inside the command's time limit.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

from .trial import pin_one_thread

__all__ = ["submitter", "ready", "start_fresh"]

_POOL: list = []            # (workers, pool, started futures): one process pool per process, created on first use


class _Done:
    """A finished result with the ``result()`` of a future (in-process runs)."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value


def submitter(executor, workers: int):
    """``submit`` of ``executor``, else of this process's pool of ``workers`` processes, else (one worker) a
    function that runs the work at once."""
    if executor is not None:
        return executor.submit
    if workers <= 1:
        return lambda fn, *args, **kwargs: _Done(fn(*args, **kwargs))
    return _process_pool(workers).submit


def ready(executor, workers: int) -> Callable[[], bool]:
    """Whether the workers have started (always, for an executor passed in or work in this process)."""
    if executor is not None or workers <= 1:
        return lambda: True
    _process_pool(workers)
    started = _POOL[0][2]
    return lambda: len(started) == workers and all(f.done() for f in started)


def start_fresh(workers: int) -> None:
    """Start the pool of ``workers`` processes now, forked from this process after it loads the walk's kernels.

    Only for a process that has not run HiGHS (whose scheduler threads a forked child would inherit as
    dead threads): a command line, before its first solve.  Without fork (not Linux) it starts the
    forkserver pool instead."""
    if workers <= 1 or _POOL:
        return
    if "fork" not in multiprocessing.get_all_start_methods():
        _process_pool(workers)
        return
    from . import warm  # noqa: F401  (loads the kernels in this process: every child inherits them)

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=pin_one_thread)
    started = [pool.submit(os.getpid) for _ in range(workers)]      # forks every worker now, from this thread
    for future in started:                                           # ready in milliseconds: nothing to load
        future.result()
    _POOL.append((workers, pool, started))


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """The process pool of this process, started at once and kept (forkserver: workers never inherit HiGHS or
    Streamlit state; the server preloads the walk's compiled kernels, so every worker starts warm)."""
    if not _POOL or _POOL[0][0] != workers:
        if _POOL:
            _POOL.pop()[1].shutdown()
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([f"{__package__}.warm"])
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=pin_one_thread)
        started: list = []                         # start the workers now, without waiting for the server
        starter = threading.Thread(target=lambda: started.extend(pool.submit(os.getpid) for _ in range(workers)),
                                   daemon=True)
        starter.start()
        _POOL.append((workers, pool, started))
        # before concurrent.futures shuts its pools down at exit (it registers the same way, earlier)
        getattr(threading, "_register_atexit", atexit.register)(_await_start, starter, started)
    return _POOL[0][1]


def _await_start(starter: threading.Thread, started: list) -> None:
    """At exit, let workers still starting finish their start (a worker that starts after this process has
    gone prints a traceback), for at most 30 s each."""
    starter.join(timeout=30)
    for future in list(started):
        try:
            future.result(timeout=30)
        except Exception:                          # noqa: BLE001 — exiting anyway: nothing to report
            return
