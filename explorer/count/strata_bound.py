"""MIPBound's strata mode: random parity constraints on the strata's labels, cells counted by the exact walk.

With the strata of :mod:`explorer.count.strata` (N = d₀ + Σ_s n_s), trial i draws r XORs on the strata's
labels; each stratum, hence each region, lands in its cell with probability exactly 2^−r, so the cell count
c_i = Σ_{s in cell} n_s has mean 2^−r·(N − d₀) and, by Markov's inequality, P[c_i ≥ s] ≤ (N − d₀)·2^−r/s.
With c_(k) the k-th largest of t independent counts, N ≥ d₀ + c_(k)·2^(r − α) fails with probability at
most P[Bin(t, 2^−α) ≥ k] ≤ 1 − p (spec §4.4; the events [c_i ≥ s] are nested in s, so taking s = c_(k)
after the fact needs no union bound).  A cell counted only in part (time ran out, or a stratum refused)
has a smaller c_i, which only lowers the bound.  Every counted region is a region of ``count_exact``:
the certain part is d₀ plus all regions counted, and it never exceeds the exact count.

The strata P that the pilot (below) counts to the end are fixed before any parity is drawn: the pilot's
random stream and its timing are independent of the trials' XORs.  Given the pilot's outcome, every other
stratum still lies in a cell with probability exactly 2^−r and the trials stay independent, so the
argument above, applied to N − d₀ − Σ_{s∈P} n_s with cells restricted to the strata outside P, gives
N ≥ d₀ + Σ_{s∈P} n_s + c_(k)·2^(r − α) at the same confidence: the pilot's exact counts join the offset
(undiscounted by 2^−α) and leave the cells (fewer strata whose luck moves c_(k)).

Labels (:func:`explorer.count.strata.rank_strata`): the strata outside P are placed by size class (layer, then
units left to cut: the split's own estimate of a subtree's size), ties in the pilot's random order, and the
XORs act on the r low digits of the place only, so a trial's cell is every place ≡ w (mod 2^r) for a
uniform w: one stratum from each block of 2^r places, the same share of every size class (systematic
sampling).  Each stratum still lies in a cell with probability exactly 2^−r and trials stay independent,
so the argument above is unchanged; only the spread of the c_i shrinks (on trained nets the lower
quartile of cell counts rises from about 0.6 to 0.7 of their mean).  The places depend on the split and
the pilot, never on the parities.

Time: this process splits the box into a few cells and the workers split those further in parallel
(they start with the walk's kernels loaded, see :mod:`explorer.count.warm` and
:func:`explorer.count.pool.start_fresh`).  The heavy strata (:func:`heavy_strata`, chosen by the split's
sample points alone) are counted first; a pilot then counts a random sample of strata (its own random
stream, so everything it decides is independent of the trials' parities) to measure seconds and regions
per stratum; both belong to P when they finish.  :func:`plan_level` then picks r, t and k; the union of
the trial cells is counted in random order by all workers (so a cut-off leaves every cell counted in
about the same share); time left over counts further strata for the certain part.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from ..net import Network
from .confidence import alpha_for, majority_k
from .strata import (Strata, count_strata, crowded_floor, draw_cells, order_labels, rank_strata, size_classes,
                     split_strata)

__all__ = ["StrataOutcome", "strata_bound", "plan_level", "heavy_strata", "TRIAL_CHOICES"]

TRIAL_CHOICES = (3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)   # t the planner may pick
_PILOT = 1_000_000             # spawn key of the pilot's and the planner's streams: disjoint from trials 0..t-1
_SPLIT_SHARE, _HEAVY_SHARE, _PILOT_SHARE, _PLAN_SHARE = 0.15, 0.25, 0.08, 0.6   # of the time limit; of the time left
_CELL_STRATA = 8               # the planner's cells hold at least this many strata on average (fewer: mostly
                               # empty or one-stratum cells, whose k-th largest count is 0)
_QUANTILE = 0.25               # the planner maximises this quantile of the simulated bound, not its mean
_alpha = functools.lru_cache(maxsize=4096)(alpha_for)


@dataclass(frozen=True, kw_only=True)
class StrataOutcome:
    """What the strata mode found (assembled into a MipBoundResult by :func:`explorer.count.mipbound.mipbound`).

    certain : d₀ + regions counted;  offset : d₀ + Σ_P n_s;  strata : m;  hashed : J, binary digits of the labels
    level : r;  trials : t;  k;  alpha;  cell : c_(k);  counts : tuple (t,) of c_i
    complete : every trial cell was counted to the end;  solves : LPs;  refused : strata that refused
    """

    certain: int
    offset: int
    strata: int
    hashed: int
    level: int
    trials: int
    k: int
    alpha: float
    cell: int
    counts: tuple
    complete: bool
    solves: int
    refused: int


def strata_bound(net: Network, box, *, time_limit: float, seed: int, confidence: float, rule: str, delta: float,
                 trials: int | None, target: int, submit, workers: int, local: bool, ready, progress) -> StrataOutcome:
    """Strata mode within ``time_limit`` seconds (see the module docstring); ``submit`` runs the work of
    :mod:`explorer.count.strata` on ``workers`` workers (``local``: in this process, with progress after
    every stratum).  While ``ready()`` is False (the workers are still starting), this process splits the
    strata and counts the pilot itself.

    Raises
    ------
    ExplorerError
        The walk refuses the network while splitting the strata (the MILP modes are the fallback).
    """
    start = time.perf_counter()
    left = lambda: time_limit - (time.perf_counter() - start)  # noqa: E731
    strata = _split(net, box, target, _SPLIT_SHARE * time_limit, seed, submit, workers, local or not ready())
    m = len(strata.cells)
    progress(0.1, f"{m:,} strata")
    counter = _Counter(net, box, strata, submit, workers, local, progress)
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PILOT,))).permutation(m)
    heavy = heavy_strata(strata.cells)
    counter.run(heavy, max(_HEAVY_SHARE * left(), 0.0), (0.1, 0.15), "the largest strata", here=not ready(),
                stop=ready)
    pilot = order[~np.isin(order, heavy)][: max(4 * workers, m // 8)]
    counter.run(pilot, max(_PILOT_SHARE * left(), 0.0), (0.15, 0.2), "pilot strata", here=not ready(), stop=ready)
    if not ready() and not local:                 # the workers are late: go on with the pilot until they start
        counter.run(pilot[~counter.exact[pilot]], left(), (0.1, 0.2), "pilot strata", here=True, stop=ready)
    known = counter.exact.copy()                  # P: counted exactly before any parity is drawn (the offset)
    sampled = np.zeros(m, bool)                   # the planner's sample of sizes: the random pilot only
    sampled[pilot] = counter.exact[pilot] | (counter.seconds[pilot] > 0)
    # stratum sizes: exact, or extrapolated from the share walked (the large strata are the ones
    # the pilot leaves unfinished; leaving them out would hide the tail that makes cells uneven)
    sizes = np.where(counter.exact, counter.counts, counter.counts / np.maximum(counter.done, 1e-3))
    cost = counter.seconds[sampled].sum() / max(float(counter.done[sampled].sum()), 1e-3)
    classes = size_classes(strata.cells, net.hidden_widths)
    places = rank_strata(classes, order, known)
    labels = order_labels(places)
    free = places[: m - int(known.sum())]         # the strata the cells may hold, in label order
    r, t, k = plan_level(classes=classes[free], sizes=sizes[sampled], size_classes=classes[sampled], cost=cost,
                         budget=_PLAN_SHARE * workers * max(left(), 0.0), confidence=confidence, rule=rule,
                         delta=delta, trials=trials, seed=np.random.SeedSequence(seed, spawn_key=(_PILOT, 1)))
    member, _ = draw_cells(labels, level=r, trials=t, seed=seed, low=r)
    member &= ~known
    union = member.any(axis=0)
    todo = order[union[order] & ~counter.exact[order]]
    counter.run(todo, left() - 0.02 * time_limit, (0.2, 0.9), f"cells of {t} trials at level {r}")
    rest = order[~counter.exact[order]]
    if left() > 0.05 * time_limit and rest.size:    # time left over: more certain regions
        counter.run(rest, left() - 0.02 * time_limit, (0.9, 1.0), "further strata")
    counts = member.astype(np.int64) @ counter.counts
    offset = strata.finished + int(counter.counts[known].sum())
    return StrataOutcome(certain=strata.finished + int(counter.counts.sum()), offset=offset, strata=m,
                         hashed=int(labels.shape[1]), level=r, trials=t, k=k, alpha=_alpha(t, confidence, k),
                         cell=int(np.sort(counts)[::-1][k - 1]), counts=tuple(int(c) for c in counts),
                         complete=bool(counter.exact[union].all()), solves=counter.solves, refused=counter.refused)


def heavy_strata(cells) -> np.ndarray:
    """Strata still crowded after the split (:func:`explorer.count.strata.crowded_floor`), most points first:
    large cells of the box, which hold far more than their share of the regions (on trained nets,
    the 0.2–4 % of strata picked this way hold 4–66 % of the regions).  Counted first and exactly, they join
    the offset: the choice depends on the split alone, never on the parities."""
    points = np.array([len(cell.points) for cell in cells], dtype=np.int64)
    heavy = np.flatnonzero(points >= crowded_floor(int(points.sum()), len(points)))
    return heavy[np.argsort(-points[heavy], kind="stable")]


def _split(net, box, target: int, time_limit: float, seed: int, submit, workers: int, here: bool) -> Strata:
    """Strata: this process splits the box into 8 cells per worker and each worker splits its share further
    (``here``: this process does it all)."""
    start = time.perf_counter()
    first = split_strata(net, box, target=target if here else 8 * workers, time_limit=time_limit, seed=seed)
    if here or not first.complete or not first.cells:
        return first
    shares = [first.cells[w:: workers] for w in range(workers)]
    futures = [submit(split_strata, net, box, list(share), target=max(target // workers, len(share)),
                      time_limit=time_limit - (time.perf_counter() - start), least=len(share)) for share in shares]
    parts = [f.result() for f in futures]
    return Strata(cells=sum((p.cells for p in parts), ()), finished=first.finished + sum(p.finished for p in parts),
                  complete=all(p.complete for p in parts), seconds=time.perf_counter() - start)


def plan_level(*, classes: np.ndarray, sizes: np.ndarray, size_classes: np.ndarray, cost: float, budget: float,
               confidence: float, rule: str, delta: float, trials: int | None, seed=0,
               replicates: int = 64) -> tuple[int, int, int]:
    """(r, t, k) maximising the predicted bound c_(k)·2^(r − α)·min(1, budget/work), c_(k) at its lower quartile.

    ``classes`` (m,) are the size classes of the strata the cells may hold, in label order; ``sizes`` are
    the pilot's stratum sizes, ``size_classes`` their classes.  A systematic cell of level r
    (:func:`explorer.count.strata.draw_cells` with ``low=r``) holds the places ≡ w (mod 2^r); the prediction
    gives every stratum a size drawn from the pilot's sizes of its class (all of them for a class the pilot
    missed), ``replicates`` times, and sums the cells of t uniform offsets w; a quantile rather than the
    mean keeps the planner from betting on sparse cells that are mostly empty.  The union of t cells holds
    about m·(1 − (1 − 2^−r)^t) strata, at ``cost`` seconds each: the work.  A plan whose work exceeds the
    budget is counted in part, which lowers every cell in about that proportion.  ``seed`` seeds the
    simulation only.
    """
    classes = np.asarray(classes, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.float64)
    size_classes = np.asarray(size_classes, dtype=np.int64)
    if not sizes.size:
        sizes, size_classes = np.ones(1), np.full(1, -1)
    m = max(len(classes), 1)
    rng = np.random.default_rng(seed)
    drawn = np.empty((replicates, len(classes)))
    for c in np.unique(classes):
        mine = classes == c
        pool = sizes[size_classes == c] if (size_classes == c).any() else sizes
        drawn[:, mine] = rng.choice(pool, size=(replicates, int(mine.sum())))
    choices = (trials,) if trials else TRIAL_CHOICES
    top = max(1, int(np.log2(max(m / _CELL_STRATA, 2))))     # cells of ≥ 8 strata on average
    best = (-1.0, top, min(choices), min(choices))
    for r in range(1, top + 1):
        q, width = 2.0 ** -r, 2 ** r
        if r < top and m * (1 - (1 - q) ** min(choices)) * cost > 4 * budget:
            continue                               # at most a quarter of its cells would be counted
        padded = np.zeros((replicates, -(-len(classes) // width) * width))
        padded[:, : len(classes)] = drawn
        offsets = padded.reshape(replicates, -1, width).sum(axis=1)          # (replicates, 2^r): every cell
        cell = np.take_along_axis(offsets, rng.integers(width, size=(replicates, max(choices))), axis=1)
        for t in choices:
            work = m * (1 - (1 - q) ** t) * cost
            share = min(1.0, budget / work) if work > 0 else 1.0
            ranked = np.quantile(-np.sort(-cell[:, :t], axis=1), _QUANTILE, axis=0)   # c_(k), k = 1..t
            ks = {"all": [t], "majority": [majority_k(t, delta)]}.get(rule, range(1, t + 1))
            value, k = max((share * ranked[k - 1] * 2.0 ** (r - _alpha(t, confidence, k)), k) for k in ks)
            if value > best[0]:
                best = (value, r, t, k)
    return best[1:]


class _Counter:
    """Counts strata on the workers (or here) and keeps the best count of each stratum."""

    def __init__(self, net, box, strata: Strata, submit, workers: int, local: bool, progress) -> None:
        self.net, self.box, self.cells = net, box, strata.cells
        self.submit, self.workers, self.local, self.progress = submit, workers, local, progress
        m = len(strata.cells)
        self.counts, self.exact, self.seconds, self.done = np.zeros(m, np.int64), np.zeros(m, bool), np.zeros(m), \
            np.zeros(m)
        self.solves = self.refused = 0

    def run(self, order: np.ndarray, time_limit: float, span: tuple, what: str, *, here: bool = False,
            stop=None) -> None:
        """Count the strata ``order`` (in that order, dealt round-robin to the workers) within ``time_limit``;
        ``here``: in this process, until ``stop()`` says so."""
        if time_limit <= 0 or not order.size:
            return
        lo, hi = span
        self.progress(lo, f"counting {what}")
        if self.local or here:
            tick = lambda i, n: self.progress(lo + (hi - lo) * i / n, f"counting {what}: {i:,}/{n:,}")  # noqa: E731
            parts = [(order, count_strata(self.net, self.box, [self.cells[s] for s in order], time_limit=time_limit,
                                          progress=tick if self.local else None, stop=None if self.local else stop))]
        else:
            chunks = [c for c in (order[w:: self.workers] for w in range(self.workers)) if c.size]
            futures = [self.submit(count_strata, self.net, self.box, [self.cells[s] for s in chunk],
                                   time_limit=time_limit) for chunk in chunks]
            parts = [(chunk, f.result()) for chunk, f in zip(chunks, futures)]
        for idx, found in parts:
            self.counts[idx] = np.maximum(self.counts[idx], found.counts)
            self.exact[idx] |= found.exact
            self.seconds[idx] += found.seconds
            self.done[idx] = np.maximum(self.done[idx], found.done)
            self.solves += found.n_solves
            self.refused += found.refused
        self.progress(hi, f"{int(self.counts.sum()):,} regions counted")
