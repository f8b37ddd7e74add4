"""Strata of the subdivision tree for MIPBound's strata mode: independent cells of the exact counter's tree,
counted by its compiled walk, and the parity cells of trials.

The exact counter (:mod:`explorer.count.exact`) splits the box one crossing unit at a time.  Splitting
largest subtree first gives the **strata**: tree cells S_1..S_m, plus d₀ regions completed on the way.  Every
region counted by ``count_exact`` lies below exactly one stratum (or among the d₀), so
N = d₀ + Σ_s n_s with n_s the regions below S_s.  Each stratum gets a **label** ℓ_s ∈ {0,1}^J, the
binary digits of its place in a random order (fixed before any trial draws its parities).  A parity
constraint ⊕_{v∈S} ℓ_v = b keeps or drops whole strata: a trial's cell of level r is
{s : ℓ_s satisfies its r XORs} and its count is Σ_{s in cell} n_s.

:func:`count_strata` and :func:`split_strata` are the units of distributed work (plain data in and out,
like :func:`explorer.count.trial.run_trial`): any executor can run them.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, as_box
from .sampling import uniform_points
from .subdivision import Subdivision
from .walk import ENTER, SCAN

__all__ = ["Strata", "StrataCount", "split_strata", "count_strata", "draw_cells", "order_labels", "rank_strata",
           "size_classes", "crowded_floor"]


@dataclass(frozen=True, eq=False)
class Strata:
    """Strata of a network over a box (see the module docstring).

    cells : tuple of Cell (m,) — count each with :func:`count_strata`
    finished : int — d₀, regions completed while splitting (known exactly)
    complete : bool — the splitting reached its target (False: the time limit stopped it)
    seconds : float
    """

    cells: tuple
    finished: int
    complete: bool
    seconds: float


@dataclass(frozen=True)
class StrataCount:
    """Regions below each stratum of a list, in its order.

    counts : int64 (m,) — regions found below each stratum (0 for strata not reached)
    exact : bool (m,) — the count of that stratum is complete
    seconds : float64 (m,) — time spent on each stratum
    done : float64 (m,) — share of each stratum's tree walked (1 when exact)
    refused : int — strata whose walk refused a decision (float64 could not certify it): counted as 0
    n_solves : int — LPs of the walks
    """

    counts: np.ndarray
    exact: np.ndarray
    seconds: np.ndarray
    done: np.ndarray
    refused: int
    n_solves: int


def split_strata(net: Network, box, cells=None, *, target: int = 1024, time_limit: float = 10.0, least: int = 16,
                 n_samples: int = 4096, seed: int = 0) -> Strata:
    """Split ``cells`` (default: the whole box, with ``n_samples`` uniform points) until there are ``target``
    strata or ``time_limit`` seconds pass (never before ``least`` strata exist), always splitting the stratum
    whose subtree looks largest, so that strata come out of similar size: first any stratum holding more
    than 4× its share of the known points (a large piece of the box, most points first), then by the
    order of :func:`_size_key` (earliest layer, most units left to cut).

    Raises
    ------
    ExplorerError
        A bad box, or a decision float64 cannot certify (the exact counter refuses such a network too).
    """
    start = time.perf_counter()
    box = as_box(box, net.n_inputs)
    if net.n_hidden == 0:
        raise ExplorerError("an affine network has no strata: it is one region.")
    problem = Subdivision(net, box)
    if cells is None:
        cells = [problem.root(uniform_points(problem.box, n_samples=n_samples, seed=seed))]
    widths, made = net.hidden_widths, itertools.count()
    crowded = crowded_floor(sum(len(cell.points) for cell in cells), target)

    def key(cell) -> tuple:
        return (-len(cell.points) if len(cell.points) >= crowded else 0, *_size_key(cell, widths), next(made))

    heap = [(key(cell), cell) for cell in cells]
    heapq.heapify(heap)
    finished = 0
    while heap and len(heap) < target:
        if time.perf_counter() - start > time_limit and len(heap) >= least:
            break
        children, regions = problem.split(heapq.heappop(heap)[1])
        finished += len(regions.patterns)
        for child in children:
            heapq.heappush(heap, (key(child), child))
    cells = tuple(entry[1] for entry in sorted(heap, key=lambda entry: entry[0][-1]))
    return Strata(cells=cells, finished=finished, complete=not heap or len(heap) >= target,
                  seconds=time.perf_counter() - start)


def crowded_floor(points: int, strata: int) -> float:
    """Sample points from which a stratum counts as crowded among ``strata`` sharing ``points``: at least
    8, and 4× the mean.  A crowded stratum is a large piece of the box, which holds far more than its
    share of the regions: :func:`split_strata` splits it first, MIPBound's strata mode counts what is
    left crowded exactly."""
    return max(8.0, 4.0 * points / max(strata, 1))


def _size_key(cell, widths) -> tuple[int, int]:
    """Sort key of a cell's expected subtree size, largest first: an earlier layer, then more units of its
    layer still to cut (the units it has yet to scan count as crossing)."""
    if cell.stage == ENTER:
        left = widths[cell.layer]
    elif cell.stage == SCAN:
        left = widths[cell.layer] - cell.position + cell.cut.size
    else:
        left = cell.cut.size - cell.position
    return cell.layer, -left


def count_strata(net: Network, box, cells, *, time_limit: float, progress=None, stop=None) -> StrataCount:
    """Count the regions below each cell of ``cells`` (strata of :func:`split_strata`, same ``net`` and
    ``box``) in order, within ``time_limit`` seconds; the cell in progress at the limit keeps its partial
    count.  In-process runs may pass ``progress(done, total)``, called after each cell, and ``stop()``,
    asked before each cell whether to end early."""
    start = time.perf_counter()
    problem = Subdivision(net, box)
    m = len(cells)
    counts, exact, seconds, done = np.zeros(m, np.int64), np.zeros(m, bool), np.zeros(m), np.zeros(m)
    refused = solves = 0
    for i, cell in enumerate(cells):
        left = time_limit - (time.perf_counter() - start)
        if left <= 0 or (stop is not None and stop()):
            break
        began = time.perf_counter()
        try:
            found = problem.count(cell, time_limit=left)
        except ExplorerError:                     # this stratum's regions cannot be certified: count none
            refused += 1
        else:
            counts[i], exact[i], solves = len(found.patterns), found.status == "exact", solves + found.n_solves
            done[i] = 1.0 if exact[i] else min(max(found.share_done / max(cell.share, 1e-300), 0.0), 1.0)
        seconds[i] = time.perf_counter() - began
        if progress is not None:
            progress(i + 1, m)
    return StrataCount(counts=counts, exact=exact, seconds=seconds, done=done, refused=refused, n_solves=solves)


def draw_cells(labels: np.ndarray, *, level: int, trials: int, seed: int, low: int | None = None
               ) -> tuple[np.ndarray, tuple]:
    """The parity cells of ``trials`` trials at ``level``: membership bool (t, m) and each trial's XORs.

    ``labels`` (m, J) are the strata's labels.  Trial i draws from ``SeedSequence(seed, spawn_key=(i,))``
    (the stream of :func:`explorer.count.trial.trial_rng`) r = min(``level``, J) XORs ⊕_{v∈S} ℓ_v = b:
    S dense over the ``low`` least significant digits (default all J; each digit with probability 1/2),
    redrawn while it is empty or a sum of the supports drawn before (a dependent XOR would empty the cell
    or leave it unchanged), then b uniform and independent of S and of the past.  Whatever the supports,
    Aℓ_s = b has probability exactly 2^−r for each fixed label, so each stratum, and with it each region,
    lies in the cell with probability 2^−r.  With ``low`` = r the r rows are a basis of the low digits:
    the cell is every place ≡ w (mod 2^r) for one uniform w, so it takes one stratum from each block of
    2^r consecutive places (systematic sampling of the order behind the labels).
    """
    from .trial import trial_rng

    labels = np.asarray(labels, bool)
    m, j = labels.shape
    level = min(int(level), j)
    digits = j if low is None else max(level, min(int(low), j))
    member = np.ones((trials, m), bool)
    parities = []
    for i in range(trials):
        rng, xors, basis = trial_rng(seed, i), [], {}
        for _ in range(level):
            while True:
                S = np.flatnonzero(rng.random(digits) < 0.5)
                if _reduce(basis, S):
                    break
            b = int(rng.integers(2))
            member[i] &= (labels[:, S].sum(axis=1) & 1) == b
            xors.append((tuple(int(v) for v in S), b))
        parities.append(tuple(xors))
    return member, tuple(parities)


def size_classes(cells, widths) -> np.ndarray:
    """Class of each stratum's expected subtree size, smallest first for the largest subtrees: layer·4096 −
    units left to cut (the order of :func:`_size_key`)."""
    keys = np.array([_size_key(cell, widths) for cell in cells], dtype=np.int64).reshape(-1, 2)
    return keys[:, 0] * 4096 + keys[:, 1]


def rank_strata(classes: np.ndarray, order: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The places behind the labels: the strata outside ``known`` by size class (:func:`size_classes`, largest
    expected subtrees first), ties in the random ``order``, then the ``known`` strata.  Systematic cells
    (``draw_cells(..., low=r)``) of this order take the same share of every size class, so their counts
    vary less than those of random subsets."""
    place = np.empty(len(order), np.int64)
    place[order] = np.arange(len(order))
    return np.lexsort((place, np.asarray(classes), np.asarray(known, bool)))


def order_labels(order: np.ndarray) -> np.ndarray:
    """Labels (m, J) of strata visited in ``order`` (a permutation of 0..m−1): stratum order[i] gets the J =
    ⌈log2 m⌉ binary digits of i, so labels are distinct and fill {0,1}^J as evenly as m allows."""
    m = len(order)
    digits = max(1, int(np.ceil(np.log2(max(m, 2)))))
    labels = np.zeros((m, digits), bool)
    labels[order] = (np.arange(m)[:, None] >> np.arange(digits)) & 1
    return labels


def _reduce(basis: dict, support: np.ndarray) -> bool:
    """Add the support (as a GF(2) vector) to the echelon ``basis`` {pivot bit: vector}; False if dependent."""
    vector = sum(1 << int(v) for v in support)
    while vector:
        pivot = vector.bit_length() - 1
        if pivot not in basis:
            basis[pivot] = vector
            return True
        vector ^= basis[pivot]
    return False
