"""One exact count on many workers: the subdivision tree of one network split into tasks, with the serial regions.

:func:`count_distributed` splits the tree of :mod:`explorer.count.exact` into a few cells per worker
(:func:`~explorer.count.exact.split_tree`) and keeps every worker busy through a work queue.  A task
(:func:`count_bundle`) walks a bundle of cells for at most one time slice and returns the regions it
finished and the cells it had not (the walk's stack, :attr:`~explorer.count.subdivision.CellCount.rest`);
those go back to the queue, divided into as many bundles as there are idle workers, so that a cell much
larger than the others is divided while it runs and no work is done twice.  Every region lies below exactly
one cell of any such split, so the regions found are those of :func:`~explorer.count.exact.count_exact`
(the same patterns, in another order).

Tasks carry plain arrays (the network's weights and biases, the box, the cells).  The budgets are shared: no
task starts after the deadline, each stops at the end of its slice or of the time left, and the region cap
counts every task's regions; when a budget ends, the regions found are a certain lower bound (status "time
limit" or "capped").  A task whose worker dies is rerun elsewhere (the executor's retries); a task that
still fails leaves its cells unwalked, and the result has status "failed" with the reason in ``events``.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import ExplorerError
from ..executor import Executor, Outcome, open_executor
from ..net import Network, as_box
from .exact import ExactCount, Frontier, check_budgets, region_cap, split_tree
from .subdivision import CellCount, Subdivision

__all__ = ["DistributedCount", "count_distributed", "count_bundle", "LABEL"]

LABEL = "exact count (LP subdivision, distributed)"
_REFUSED = "ExplorerError: "


@dataclass(frozen=True, kw_only=True)
class DistributedCount:
    """An exact count run as tasks on an executor, and how it ran.

    count : ExactCount — every region with interior (status "exact"), or the regions found when the time or
        the region cap ran out or a task failed (status "time limit", "capped" or "failed": a certain lower bound)
    executor : str — where it ran;  n_workers : workers of the executor when the count started
    workers : tuple of str — the workers that ran tasks
    n_cells : cells of the first split;  n_tasks : tasks run;  n_resplit : tasks that handed back unfinished cells
    task_seconds : float — the tasks' own run times, summed (the work done; ÷ count.seconds = workers kept busy)
    events : tuple of str — workers that left during the count, tasks that failed
    """

    count: ExactCount
    executor: str
    n_workers: int
    workers: tuple
    n_cells: int
    n_tasks: int
    n_resplit: int
    task_seconds: float
    events: tuple


def count_distributed(net: Network, box, *, scheduler: str | None = None, executor: Executor | None = None,
                      time_limit: float = 120.0, max_regions: int | None = None, n_samples: int = 4096,
                      seed: int = 0, cells_per_worker: int = 4, slice_seconds: float = 2.0,
                      progress: Callable[[float, str], None] | None = None) -> DistributedCount:
    """Every activation region with interior of ``net`` in ``box`` (as :func:`~explorer.count.exact.count_exact`
    with method "lp"), counted by tasks on the workers of ``executor``.

    Parameters
    ----------
    scheduler : "serial", "local" (default: one worker per core), "local:N" or "tcp://HOST:PORT"; opened and
        closed here (see :func:`explorer.executor.open_executor`); ignored when ``executor`` is given (it is
        then left open)
    time_limit : seconds of counting (after the executor is ready);  max_regions : as in count_exact
    n_samples, seed : uniform box samples handed to the cells as known points (as in count_exact)
    cells_per_worker : cells of the first split per worker
    slice_seconds : longest run of one task before it hands its unfinished cells back to the queue (a quarter
        of it when fewer bundles wait than there are workers)
    progress : callable(fraction of the tree done, message), called as tasks finish

    Raises
    ------
    ExplorerError
        Bad box or budgets, an unknown scheduler, or a refusal of the counter (a network whose magnitudes
        defeat float64), as count_exact.
    """
    check_budgets(time_limit, max_regions)
    if isinstance(cells_per_worker, bool) or not isinstance(cells_per_worker, int) or not 1 <= cells_per_worker <= 1000:
        raise ExplorerError(f"cells_per_worker must be an integer in 1–1000; got {cells_per_worker!r}.")
    if not 0 < slice_seconds < float("inf"):
        raise ExplorerError(f"slice_seconds must be a positive number of seconds; got {slice_seconds!r}.")
    box = as_box(box, net.n_inputs)
    with nullcontext(executor) if executor is not None else open_executor(scheduler) as ex:
        start = time.perf_counter()
        seen = len(ex.events())
        frontier = split_tree(net, box, n_cells=cells_per_worker * max(1, ex.n_workers), n_samples=n_samples,
                              seed=seed)
        queue = _WorkQueue(ex, net, box, frontier, deadline=start + time_limit,
                           cap=region_cap(net) if max_regions is None else int(max_regions),
                           slice_seconds=float(slice_seconds), progress=progress)
        queue.run()
        return DistributedCount(count=queue.result(time.perf_counter() - start), executor=ex.description,
                                n_workers=max(1, ex.n_workers), workers=tuple(sorted(queue.used)),
                                n_cells=len(frontier.cells), n_tasks=queue.n_tasks, n_resplit=queue.n_resplit,
                                task_seconds=queue.task_seconds, events=(*ex.events()[seen:], *queue.failures))


def count_bundle(arrays: tuple, box: np.ndarray, cells: tuple, seconds: float, until: float,
                 max_regions: int) -> CellCount:
    """The task: walk ``cells`` of the tree of Network(*arrays) over ``box`` in turn, for at most ``seconds``
    and not past the epoch time ``until``, stopping at ``max_regions`` regions.

    Returns the regions found (status "exact" if every cell was finished, "capped" at the cap) and, on "time
    limit", the unfinished cells in ``rest``: the current walk's stack, then the cells not started.
    """
    start = time.perf_counter()
    budget = min(seconds, until - time.time())
    problem = Subdivision(Network(*arrays), box)
    parts, status, rest = [], "exact", ()
    for i, cell in enumerate(cells):
        left = budget - (time.perf_counter() - start)
        if left <= 0:
            status, rest = "time limit", tuple(cells[i:])
            break
        part = problem.count(cell, time_limit=left, max_regions=max_regions - sum(len(p.patterns) for p in parts))
        parts.append(part)
        if part.status != "exact":
            status, rest = part.status, part.rest + tuple(cells[i + 1:]) if part.status == "time limit" else ()
            break
    n0, n = problem.n0, problem.n_units
    return CellCount(status=status, patterns=np.concatenate([np.zeros((0, n), bool)] + [p.patterns for p in parts]),
                     points=np.concatenate([np.zeros((0, n0))] + [p.points for p in parts]),
                     n_solves=sum(p.n_solves for p in parts), share_done=sum(p.share_done for p in parts), rest=rest)


class _WorkQueue:
    """Bundles of cells waiting for a worker, at most one task in flight per worker, and what came back."""

    def __init__(self, executor: Executor, net: Network, box: np.ndarray, frontier: Frontier, *, deadline: float,
                 cap: int, slice_seconds: float, progress) -> None:
        self.ex, self.box, self.arrays = executor, box, (net.weights, net.biases, net.activation, net.alpha)
        self.workers = max(1, executor.n_workers)
        self.deadline, self.cap, self.slice, self.progress = deadline, cap, slice_seconds, progress
        self.done = frontier.done
        self.bundles = deque((cell,) for cell in frontier.cells)
        self.parts: list[CellCount] = []
        self.n_found, self.share = frontier.done.n_regions, 1.0 - sum(c.share for c in frontier.cells)
        self.in_flight = self.n_tasks = self.n_resplit = 0
        self.task_seconds, self.used = 0.0, set()
        self.unwalked: list = []
        self.failures: list[str] = []
        self.refusal: str | None = None
        self.capped = self.n_found >= cap

    def run(self) -> None:
        """Hand out bundles and take results until the queue is empty or a budget ends."""
        self._fill()
        for outcome in self.ex.outcomes():
            self.in_flight -= 1
            self._take(outcome)
            self._fill()
        self.unwalked += [cell for bundle in self.bundles for cell in bundle]
        if self.refusal is not None:
            raise ExplorerError(self.refusal)

    def result(self, seconds: float) -> ExactCount:
        """Every region found, exact iff no cell is left unwalked."""
        parts = [self.done, *self.parts]
        patterns = np.concatenate([p.patterns for p in parts])[: self.cap]
        points = np.concatenate([p.points for p in parts])[: self.cap]
        status = ("capped" if self.capped else "failed" if self.failures else
                  "time limit" if self.unwalked else "exact")
        return replace(self.done, n_regions=len(patterns), status=status, patterns=patterns, points=points,
                       n_solves=sum(p.n_solves for p in parts), seconds=seconds,
                       label=(LABEL if self.parts else self.done.label) if status == "exact" else "certain lower bound")

    def _stopping(self) -> bool:
        return self.capped or self.refusal is not None or time.perf_counter() >= self.deadline

    def _fill(self) -> None:
        """Start bundles on free workers; while fewer bundles wait than there are workers, slices are a quarter
        as long, so that a large cell comes back sooner to be divided among workers about to idle."""
        while self.bundles and self.in_flight < self.workers and not self._stopping():
            left = self.deadline - time.perf_counter()
            short = self.workers > 1 and len(self.bundles) < self.workers
            bundle = self.bundles.popleft()
            self.ex.submit(count_bundle, self.arrays, self.box, bundle, min(self.slice / (4 if short else 1), left),
                           time.time() + left, self.cap - self.n_found, tag=bundle)
            self.in_flight += 1

    def _take(self, outcome: Outcome) -> None:
        self.n_tasks += 1
        if outcome.error is not None:
            if outcome.error.startswith(_REFUSED):          # the counter refused: as count_exact, so do we
                self.refusal = self.refusal or outcome.error[len(_REFUSED):]
            else:
                self.failures.append(f"a task of {len(outcome.tag)} cells failed: {outcome.error}")
                self.unwalked += list(outcome.tag)
            return
        part: CellCount = outcome.value
        self.parts.append(part)
        self.task_seconds += outcome.seconds
        self.used.add(outcome.worker)
        self.n_found += len(part.patterns)
        self.share += part.share_done
        self.capped = self.capped or part.status == "capped" or self.n_found >= self.cap
        if part.rest:
            self.n_resplit += 1
            if self._stopping():
                self.unwalked += list(part.rest)
            else:
                self._requeue(part.rest)
        if self.progress is not None:
            self.progress(min(max(self.share, 0.0), 1.0), f"{self.n_found:,} regions, {self.n_tasks} tasks on "
                          f"{self.workers} worker{'s' * (self.workers != 1)}")

    def _requeue(self, cells: tuple) -> None:
        """Unfinished cells back to the front of the queue: one bundle, or one per worker that would idle,
        balanced by the cells' shares of the tree (largest first onto the lightest bundle)."""
        idle = self.workers - self.in_flight - len(self.bundles)
        k = max(1, min(len(cells), idle))
        bundles, loads = [[] for _ in range(k)], np.zeros(k)
        for cell in sorted(cells, key=lambda c: -c.share):
            i = int(np.argmin(loads))
            bundles[i].append(cell)
            loads[i] += cell.share
        self.bundles.extendleft(tuple(b) for b in reversed(bundles))
