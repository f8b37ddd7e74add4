"""Where tasks run: in this process, on a Dask LocalCluster, or on an existing Dask cluster.

One small interface serves every task kind (a study's training runs and measurements, the cells of one exact
count in :mod:`explorer.count.distributed`)::

    with open_executor("local:2") as ex:            # "serial", "local", "local:N" or "tcp://HOST:PORT"
        ex.submit(fn, *args, tag=anything)          # fn: a top-level function of plain values
        for done in ex.outcomes():                  # completion order; tasks submitted meanwhile are included
            done.tag, done.value, done.error, done.worker, done.seconds

and :meth:`Executor.as_pool` gives the same workers as a concurrent.futures-style pool (``submit(fn, *args,
**kwargs).result()``), which is what MIPBound's trials need.

Every task runs with one BLAS thread (threadpoolctl).  On Dask, a task that raises is retried ``retries``
times, and a task whose worker dies is rescheduled on another worker (Dask gives up after the scheduler's
``allowed-failures``); the outcome then carries the error instead of a value, and :meth:`events` lists the
workers that left during the run with the scheduler's record of why (a killed process, a memory restart, missed
heartbeats).  The workers present are asked of the scheduler each time, never read from the client's cached
scheduler info (see :func:`worker_addresses`).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import ExplorerError

__all__ = ["Outcome", "Executor", "SerialExecutor", "DaskExecutor", "TaskPool", "open_executor", "describe_scheduler",
           "run_task", "worker_addresses"]

_TCP = re.compile(r"^tcp://[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
MAX_LOCAL_WORKERS = 256


@dataclass(frozen=True)
class Outcome:
    """A finished task.

    tag : what the caller passed to submit;  value : the function's result (None on error)
    error : None, or one line saying why the task failed after its retries
    worker : where it ran ("this process" or a Dask worker address);  seconds : run time of the last attempt
    """

    tag: object
    value: object
    error: str | None
    worker: str
    seconds: float


class Executor:
    """Submit tasks and collect their outcomes in completion order (see the module docstring)."""

    description: str = ""
    n_workers: int = 1

    def submit(self, fn, *args, tag=None, key: str | None = None) -> None:
        raise NotImplementedError

    def outcomes(self) -> Iterator[Outcome]:
        raise NotImplementedError

    def events(self) -> tuple[str, ...]:
        """Notable things that happened to the workers (none for the serial executor)."""
        return ()

    def as_pool(self, *, setup=None) -> "TaskPool":
        """The same workers as a concurrent.futures-style pool (see :class:`TaskPool`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers and connections."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs each task in this process, in submission order, when :meth:`outcomes` reaches it."""

    def __init__(self, *, retries: int = 0) -> None:
        self.description, self.n_workers, self.retries = "serial (this process)", 1, retries
        self._queue: deque = deque()

    def submit(self, fn, *args, tag=None, key: str | None = None) -> None:
        self._queue.append((fn, args, tag))

    def outcomes(self) -> Iterator[Outcome]:
        while self._queue:
            fn, args, tag = self._queue.popleft()
            for attempt in range(self.retries + 1):
                try:
                    value, worker, seconds = run_task(fn, *args)
                    yield Outcome(tag, value, None, worker, seconds)
                    break
                except Exception as exc:  # a task's failure is reported, not raised (as on Dask)
                    if attempt == self.retries:
                        yield Outcome(tag, None, _one_line(exc), "this process", 0.0)

    def as_pool(self, *, setup=None) -> "TaskPool":
        return TaskPool(_run_now, n_workers=1)


class DaskExecutor(Executor):
    """Tasks on a dask.distributed cluster through ``client`` (and ``cluster``, closed with it if given)."""

    def __init__(self, client, *, cluster=None, retries: int = 2, description: str = "") -> None:
        from distributed import as_completed

        self.client, self.cluster, self.retries = client, cluster, retries
        workers = worker_addresses(client)
        self.n_workers = len(workers)
        self.description = description or f"Dask at {client.scheduler.address} ({self.n_workers} workers)"
        self._known = set(workers)
        self._lost: list[str] = []
        self._tags: dict = {}
        self._pending = as_completed([], with_results=False)
        self._checked, self._closed = time.monotonic(), False

    def submit(self, fn, *args, tag=None, key: str | None = None) -> None:
        future = self.client.submit(run_task, fn, *args, key=key, retries=self.retries, pure=False)
        self._tags[future.key] = tag
        self._pending.add(future)

    def outcomes(self) -> Iterator[Outcome]:
        for future in self._pending:
            tag = self._tags.pop(future.key)
            self._watch_workers()
            if future.status == "finished":
                value, worker, seconds = future.result()
                self._known.add(worker)
                yield Outcome(tag, value, None, worker, seconds)
            else:  # "error", or "cancelled"/"lost" when the cluster gave up on it
                try:
                    error = future.exception(timeout=5)
                except Exception as exc:  # noqa: BLE001  (a cancelled future raises instead of returning)
                    error = exc
                yield Outcome(tag, None, _one_line(error), "", 0.0)
            future.release()
        self._watch_workers(force=True)

    def events(self) -> tuple[str, ...]:
        if not self._closed:                    # after close(), what was noted while open
            self._watch_workers(force=True)
        return tuple(self._lost)

    def as_pool(self, *, setup=None) -> "TaskPool":
        def submit(fn, *args, **kwargs):
            future = self.client.submit(run_task, _set_up_and_call, setup, fn, kwargs, *args, retries=self.retries,
                                        pure=False)
            return _DaskFuture(future)

        return TaskPool(submit, n_workers=self.n_workers)

    def close(self) -> None:
        self._closed = True
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def _watch_workers(self, *, force: bool = False) -> None:
        """Note workers that left, and why (at most once a second: the query is a round trip to the scheduler)."""
        if not force and time.monotonic() - self._checked < 1.0:
            return
        self._checked = time.monotonic()
        try:
            now = worker_addresses(self.client)
        except OSError:
            return
        for address in sorted(self._known - now):
            self._lost.append(f"worker {address} left during the run ({_why_it_left(self.client, address)}); its "
                              "unfinished tasks were rescheduled")
        self._known = now


class TaskPool:
    """A concurrent.futures-style view of an executor's workers, for code written against ``submit``/``result``.

    ``submit(fn, *args, **kwargs)`` returns a future whose ``result()`` is ``fn(*args, **kwargs)`` or raises
    its error (on Dask after the executor's retries); ``n_workers`` is the number of workers.  Tasks run with
    one BLAS thread.  With ``setup`` (a top-level function of no arguments, given to :meth:`Executor.as_pool`),
    every Dask worker process calls ``setup()`` once before its first task from the pool, e.g. to fix a
    solver's thread count; the serial executor runs tasks in the calling process and leaves its settings alone.
    """

    def __init__(self, submit, *, n_workers: int) -> None:
        self.submit, self.n_workers = submit, n_workers


def open_executor(scheduler: str | None = None, *, retries: int = 2, timeout: float = 10.0) -> Executor:
    """An executor for ``scheduler``: "serial", "local" (default: one worker per core), "local:N" or
    "tcp://HOST:PORT" (an existing cluster started with ``dask scheduler`` / ``dask worker``; ``timeout``
    seconds to connect).

    A LocalCluster has N worker processes with one thread each, no dashboard, and listens on 127.0.0.1 only.

    Raises
    ------
    ExplorerError : an unknown scheduler, a bad worker count, Dask not installed, or no cluster at the address.
    """
    kind, n = describe_scheduler(scheduler)
    if kind == "serial":
        return SerialExecutor(retries=retries)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExplorerError("running on Dask needs dask[distributed]: pip install 'dask[distributed]', or use "
                            "--scheduler serial.") from None
    if kind == "local":
        import logging

        # no dashboard; the scheduler's small HTTP server (health, metrics) on a free port of 127.0.0.1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR,
                               scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
        client = Client(cluster)
        return DaskExecutor(client, cluster=cluster, retries=retries,
                            description=f"Dask LocalCluster ({n} worker{'s' * (n != 1)} × 1 thread)")
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ExplorerError(f"no Dask scheduler answered at {scheduler} ({_one_line(exc)}); start one with "
                            "`dask scheduler` and workers with `dask worker`, or use --scheduler local:N.") from None
    if not worker_addresses(client):
        client.close()
        raise ExplorerError(f"the Dask scheduler at {scheduler} has no workers; start some with "
                            f"`dask worker {scheduler} --nthreads 1`.")
    return DaskExecutor(client, retries=retries)


def describe_scheduler(scheduler: str | None) -> tuple[str, int]:
    """("serial" | "local" | "remote", workers) for a --scheduler value (workers 0 when the cluster decides)."""
    if scheduler is None or scheduler == "local":
        return "local", max(1, os.cpu_count() or 1)
    if scheduler == "serial":
        return "serial", 1
    if scheduler.startswith("local:"):
        count = scheduler[len("local:"):]
        if not count.isdigit() or not 1 <= int(count) <= MAX_LOCAL_WORKERS:
            raise ExplorerError(f"local:N needs a worker count N in 1–{MAX_LOCAL_WORKERS}; got {scheduler!r}.")
        return "local", int(count)
    if _TCP.match(scheduler):
        return "remote", 0
    raise ExplorerError(f"unknown scheduler {scheduler!r}; use serial, local, local:N or tcp://HOST:PORT.")


def worker_addresses(client) -> set[str]:
    """The addresses of the workers the scheduler knows now, asked of the scheduler itself.

    Not ``client.scheduler_info()``: that returns the client's cached copy, which the client's periodic refresh
    (every ``distributed.client.scheduler-info-interval``) replaces with one that lists no workers, so that a
    call racing with a refresh would see every worker gone.
    """
    return set(client.sync(client.scheduler.identity)["workers"])


def run_task(fn, *args):
    """Run fn(*args) with one BLAS thread; returns (value, where it ran, seconds)."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(limits=1):
        value = fn(*args)
    return value, _worker_address(), time.perf_counter() - start


class _Finished:
    """A task already run in this process, behind a future's ``result()``."""

    def __init__(self, value, error: BaseException | None) -> None:
        self.value, self.error = value, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


def _run_now(fn, *args, **kwargs) -> _Finished:
    try:
        return _Finished(run_task(functools.partial(fn, **kwargs), *args)[0], None)
    except Exception as exc:  # noqa: BLE001  (raised again by result(), as a pool's future would)
        return _Finished(None, exc)


class _DaskFuture:
    """A Dask future of :func:`run_task` whose ``result()`` is the task's value."""

    def __init__(self, future) -> None:
        self.future = future

    def result(self):
        return self.future.result()[0]


_SET_UP: set = set()        # setup functions this worker process has run


def _set_up_and_call(setup, fn, kwargs: dict, *args):
    if setup is not None and setup not in _SET_UP:
        setup()
        _SET_UP.add(setup)
    return fn(*args, **kwargs)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "this process"


_STIMULI = {"handle-worker-cleanup": "its connection to the scheduler closed",
            "worker-send-comm-fail": "the scheduler could not reach it",
            "check-worker-ttl": "it sent no heartbeat within the scheduler's worker-ttl",
            "retire-workers": "the cluster retired it", "restart": "the cluster restarted it"}


def _why_it_left(client, address: str) -> str:
    """The scheduler's record of why a worker left: a memory restart by its nanny, the reason the worker gave
    when closing, or how the scheduler noticed (a closed connection means the process exited or was killed)."""
    try:
        memory = [m for _, m in client.get_events("worker-restart-memory") if isinstance(m, dict) and
                  m.get("worker") == address]
        own = [m for _, m in client.get_events(address) if isinstance(m, dict)]
    except OSError:
        return "no reason recorded"
    if memory:
        return f"its nanny restarted it at {memory[-1].get('rss', 0) / 2 ** 30:.1f} GiB, past its memory limit"
    closing = [str(m.get("reason")) for m in own if m.get("action") == "closing-worker"]
    stimulus = next((str(m.get("stimulus_id", "")) for m in reversed(own) if m.get("action") == "remove-worker"), "")
    how = next((text for prefix, text in _STIMULI.items() if stimulus.startswith(prefix)), "no reason recorded")
    if closing:
        return f"{how}; the worker said: {closing[-1]}"
    return how + (": its process exited or was killed" if stimulus.startswith("handle-worker-cleanup") else "")


def _one_line(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "cancelled"
    return " ".join(text.split())[:300]
