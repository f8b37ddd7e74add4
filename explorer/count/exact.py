"""Exact counts of activation regions in any input dimension: LP subdivision (default) or MILP no-good cuts.

Counted: patterns s whose region {x ∈ box : s(x) = s} holds a point farther than the margin
``TOL·min(1, widest box side)`` from each of its boundaries (regions with interior, up to that
margin).  The margin does not grow with the box, so a larger box never gives fewer regions.  The
network is first rescaled exactly by powers of two (:mod:`explorer.count.scaling`) and every
decision of the walk is certified with bounded rounding, so a count is exact, or a partial count
with its status, or an :class:`~explorer.errors.ExplorerError` — never a wrong number.

**Subdivision (method "lp").** Depth-first over layers: a cell of layers < l is scanned for the
layer-l units that cross it, then split by each of them in turn; a side exists iff a point of the
cell lies farther than the margin on it.  Known points decide most sides; the rest are LPs
(compiled: :mod:`explorer.count.walk`, :mod:`explorer.count.simplex`).

**Seam for distribution.** A count is a sum over independent pieces of the tree:

    frontier = split_tree(net, box, n_cells=K)            # Frontier: cells + regions met on the way
    counts = [count_cell(net, box, cell, time_limit=T) for cell in frontier.cells]   # any worker, any order
    result = merge_counts(frontier, counts)               # == count_exact(net, box)

A :class:`~explorer.count.subdivision.Cell` is plain numpy arrays (its half-spaces as (unit, sign)
pairs, the decided signs, an interior point and known points), so it can be shipped to another
process; ``count_cell`` rebuilds everything else from ``net`` and ``box`` deterministically, and
each region lies below exactly one cell, so the merged count equals the serial one.
:func:`count_exact` itself is split_tree (one cell) + count_cell + merge_counts.  A walk stopped by its time
limit hands back its unfinished cells (:attr:`~explorer.count.subdivision.CellCount.rest`), so a cell that
runs long can be divided while it runs: :mod:`explorer.count.distributed` counts one network on many workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import ExplorerError
from ..net import Network, as_box
from .milp import TOL, Confirmer, add_no_good, build_milp, find, new_solver, unit_bounds
from .sampling import chord_points, sample_patterns, uniform_points
from .subdivision import Cell, Subdivision

# chord_points and sample_patterns live in .sampling; they stay importable from here for the counting modules
__all__ = ["ExactCount", "Frontier", "Cell", "count_exact", "split_tree", "count_cell", "merge_counts",
           "region_cap", "check_budgets", "sample_patterns", "chord_points", "METHODS"]

METHODS = ("lp", "milp")
_OUTPUT_BYTES = 2 ** 30         # patterns and interior points kept per count (the default region cap)


@dataclass(frozen=True)
class ExactCount:
    """Activation regions with interior of a network inside a box.

    Attributes
    ----------
    n_regions : int
        Regions found; the exact count iff ``status == "exact"``, otherwise a certain lower bound.
    status : "exact", "time limit" or "capped"
    patterns : bool ndarray (n_regions, N)
    points : float64 ndarray (n_regions, n0)
        One interior point per region.
    method : "lp-subdivision", "milp-no-good" or "none" (affine network)
    n_solves : int
        LP or MILP solves used.
    seconds : float
    box : float64 ndarray (n0, 2)
    label : str
    margin : float
        Regions count when they hold a point this far from each of their boundaries (LP method).
    epsilon : float or None
        ε of the MILP method (None for the LP method).
    """

    n_regions: int
    status: str
    patterns: np.ndarray
    points: np.ndarray
    method: str
    n_solves: int
    seconds: float
    box: np.ndarray
    label: str
    margin: float = 0.0
    epsilon: float | None = None

    @property
    def is_exact(self) -> bool:
        return self.status == "exact"


@dataclass(frozen=True, eq=False)
class Frontier:
    """Independent cells covering the subdivision tree of a network over a box, and the regions met first.

    cells : tuple of Cell — count each with :func:`count_cell` (any process, any order)
    done : ExactCount — regions completed while the tree was split (status "exact")
    """

    cells: tuple
    done: ExactCount


def count_exact(net: Network, box, *, method: str = "lp", time_limit: float = 120.0,
                max_regions: int | None = None, n_samples: int = 4096, seed: int = 0,
                progress: Callable[[float, str], None] | None = None) -> ExactCount:
    """Every activation region with interior: #{s : {x ∈ box : s(x) = s} has interior}.

    Parameters
    ----------
    method : "lp" (default) or "milp"
        ``"lp"``: the certified subdivision of the module docstring.  ``"milp"``: §3 of the spec, FIND
        with no-good cuts (margin "both"), each pattern LP-confirmed, with ε = 10·TOL·max(1, H_max)
        (any ε > 0 is safe as only confirmed patterns count); it misses regions thinner than ε in
        value and regions on which a unit is ≡ 0, and serves as an independent check.
    time_limit : float
        Seconds; on expiry the regions found so far are returned with status "time limit".
    max_regions : int, optional
        Stop after this many regions (status "capped").  Default: as many as fit in 1 GiB of patterns
        and interior points (about 2 million for 64 inputs); the MILP method defaults to 5000.
    n_samples, seed : uniform box samples whose patterns decide easy sides without an LP.
    progress : callable(fraction, message), optional

    Raises
    ------
    ExplorerError
        Unknown method, bad box or budgets, or a network whose magnitudes defeat float64 (named layer).

    Notes
    -----
    About one small LP per (cell, crossing unit) that the known points do not decide.

    Examples
    --------
    >>> from explorer.net import Network
    >>> net = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0, 0, -1.0], [0.0]))
    >>> count_exact(net, [-2, 2]).n_regions
    7
    >>> count_exact(net, [0, 2]).n_regions      # x1 = 0 and x2 = 0 are box faces: no interior
    2
    """
    if method not in METHODS:
        raise ExplorerError(f"method must be one of {METHODS}; got {method!r}.")
    check_budgets(time_limit, max_regions)
    box = as_box(box, net.n_inputs)
    start = time.perf_counter()
    if method == "milp" and net.n_hidden > 0:
        return _count_no_good(net, box, time_limit=time_limit, n_samples=n_samples, seed=seed,
                              max_regions=5000 if max_regions is None else max_regions, progress=progress)
    frontier = split_tree(net, box, n_cells=1, n_samples=n_samples, seed=seed)
    counts = []
    for cell in frontier.cells:
        left = time_limit - (time.perf_counter() - start)
        cap = None if max_regions is None else max_regions - frontier.done.n_regions - sum(c.n_regions
                                                                                           for c in counts)
        counts.append(count_cell(net, box, cell, time_limit=left, max_regions=cap,
                                 progress=None if progress is None else _progress(progress)))
        if not counts[-1].is_exact:
            break
    return merge_counts(frontier, counts, seconds=time.perf_counter() - start)


def split_tree(net: Network, box, *, n_cells: int = 1, n_samples: int = 4096, seed: int = 0) -> Frontier:
    """Split the subdivision tree breadth-first into at least ``n_cells`` independent cells (fewer if it ends).

    The uniform samples (``n_samples``, ``seed``) are handed to the cells they fall in.
    """
    start = time.perf_counter()
    box = as_box(box, net.n_inputs)
    if net.n_hidden == 0:                      # an affine map: the box is one region
        return Frontier(cells=(), done=ExactCount(
            n_regions=1, status="exact", patterns=np.zeros((1, 0), bool), points=box.mean(axis=1)[None, :],
            method="none", n_solves=0, seconds=time.perf_counter() - start, box=box,
            label="exact count (affine network)"))
    problem = Subdivision(net, box)
    queue, done, solves = [problem.root(uniform_points(box, n_samples=n_samples, seed=seed))], [], 0
    while 0 < len(queue) < int(n_cells):
        cell = queue.pop(0)
        children, regions = problem.split(cell)
        queue.extend(children)
        done.append(regions)
        solves += regions.n_solves
    patterns = np.concatenate([np.zeros((0, net.n_hidden), bool)] + [r.patterns for r in done])
    pts = np.concatenate([np.zeros((0, net.n_inputs))] + [r.points for r in done])
    return Frontier(cells=tuple(queue), done=_result(problem, "exact", patterns, pts, solves,
                                                     time.perf_counter() - start))


def count_cell(net: Network, box, cell: Cell, *, time_limit: float = 120.0, max_regions: int | None = None,
               progress: Callable[[float, int], None] | None = None) -> ExactCount:
    """Every region below one cell of :func:`split_tree` (same ``net`` and ``box``), within the budgets.

    ``max_regions`` defaults to as many as fit in 1 GiB of patterns and interior points.
    """
    start = time.perf_counter()
    problem = Subdivision(net, box)
    if max_regions is None:
        max_regions = region_cap(net)
    found = problem.count(cell, time_limit=time_limit, max_regions=max_regions, progress=progress)
    return _result(problem, found.status, found.patterns, found.points, found.n_solves,
                   time.perf_counter() - start)


def region_cap(net: Network) -> int:
    """The default ``max_regions``: as many regions as fit in 1 GiB of patterns and interior points."""
    return _OUTPUT_BYTES // (net.n_hidden + 8 * net.n_inputs)


def check_budgets(time_limit, max_regions) -> None:
    """Refuse a time limit that is not a number ≥ 0 and a region cap that is not a positive integer (or None)."""
    if not time_limit >= 0:
        raise ExplorerError(f"the time limit must be a number of seconds ≥ 0; got {time_limit!r}.")
    if max_regions is not None and not (isinstance(max_regions, (int, np.integer)) and max_regions >= 1):
        raise ExplorerError(f"max_regions must be a positive integer; got {max_regions!r}.")


def merge_counts(frontier: Frontier, counts, *, seconds: float | None = None) -> ExactCount:
    """One result from a frontier and the counts of its cells (in the order of ``frontier.cells``).

    Exact iff every cell was counted exactly; the first unfinished cell's status otherwise, and
    "time limit" when cells have no count yet (the regions found are then a certain lower bound).
    """
    if not frontier.cells:                     # the tree ended while it was split
        return replace(frontier.done, seconds=frontier.done.seconds if seconds is None else seconds)
    parts = [frontier.done, *counts]
    missing = len(counts) < len(frontier.cells)
    status = next((c.status for c in counts if not c.is_exact), "time limit" if missing else "exact")
    first = frontier.done
    return ExactCount(n_regions=sum(c.n_regions for c in parts), status=status,
                      patterns=np.concatenate([c.patterns for c in parts]),
                      points=np.concatenate([c.points for c in parts]), method=first.method,
                      n_solves=sum(c.n_solves for c in parts),
                      seconds=sum(c.seconds for c in parts) if seconds is None else seconds, box=first.box,
                      label=_label(status), margin=first.margin)


def _result(problem: Subdivision, status: str, patterns, points, solves: int, seconds: float) -> ExactCount:
    return ExactCount(n_regions=len(patterns), status=status, patterns=patterns, points=points,
                      method="lp-subdivision", n_solves=solves, seconds=seconds, box=problem.box,
                      label=_label(status), margin=problem.margin)


def _label(status: str) -> str:
    return "exact count (LP subdivision)" if status == "exact" else "certain lower bound"


def _progress(progress: Callable[[float, str], None]) -> Callable[[float, int], None]:
    """(share of the tree done, regions so far) → the caller's (fraction, message)."""
    return lambda done, n: progress(min(max(done, 0.0), 1.0), f"{n:,} regions")


# ---- MILP with no-good cuts (spec §3) ------------------------------------------------------------------
def _count_no_good(net, box, *, time_limit, n_samples, seed, max_regions, progress) -> ExactCount:
    """§3 of the spec; patterns seen at samples with every |g| ≥ ε are FIND-feasible, so they are cut first."""
    start = time.perf_counter()
    points, G = sample_patterns(net, box, n_samples=n_samples, seed=seed)
    bounds = unit_bounds(net, box)
    h_max = max(1.0, float(np.max(np.r_[bounds.big_m[0][bounds.unstable], bounds.big_m[1][bounds.unstable], 1.0])))
    model = build_milp(net, box, bounds=bounds, epsilon=10 * TOL * h_max)
    solver, confirm = new_solver(model), Confirmer(model)
    g = G[:, model.units]
    ok = (np.abs(g) >= model.epsilon).all(axis=1)                # forward passes that satisfy every row
    _, first = np.unique(g[ok] > 0, axis=0, return_index=True)
    seeds = [(z, x) for z, x in zip(g[ok][first] > 0, points[ok][first])]
    found: dict = {}
    status, solves = "exact", 0
    while True:
        if len(found) >= max_regions:
            status = "capped"
            break
        left = time_limit - (time.perf_counter() - start)
        if left <= 0:
            status = "time limit"
            break
        if seeds:
            z, x = seeds.pop()
        else:
            res = find(solver, model, time_limit=left)
            solves += 1
            if res.status != "found":
                status = "exact" if res.status == "none" else "time limit"
                break
            z, x = res.z, res.x
        if z.tobytes() not in found and confirm(z):
            found[z.tobytes()] = (model.pattern(z), x)
        add_no_good(solver, model, z)
        if progress is not None and solves % 16 == 0:
            progress(0.0, f"{len(found)} regions")
    pats = np.array([p for p, _ in found.values()], dtype=bool).reshape(-1, net.n_hidden)
    pts = np.array([x for _, x in found.values()], dtype=np.float64).reshape(-1, net.n_inputs)
    return ExactCount(n_regions=len(pats), status=status, patterns=pats, points=pts, method="milp-no-good",
                      n_solves=solves, seconds=time.perf_counter() - start, box=box,
                      label="exact count (MILP, no-good cuts)" if status == "exact" else "certain lower bound",
                      epsilon=model.epsilon)
