"""Exact counts of activation regions in any input dimension: LP subdivision (default) or MILP no-good cuts.

Counted: patterns s whose region {x ∈ box : s(x) = s} contains a ball of radius ``TOL·max(1, width)``
around a point (``width`` = the widest box side), i.e. regions with interior, up to the tolerance
policy of :mod:`explorer.count.milp`.  A result is "exact" only when the search finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import highspy
import numpy as np

from ..errors import ExplorerError
from .chords import chord_midpoints
from .milp import TOL, Confirmer, add_no_good, as_box, build_milp, find, new_solver, unit_bounds
from ..net import Network

__all__ = ["ExactCount", "count_exact", "sample_patterns", "chord_points", "METHODS"]

METHODS = ("lp", "milp")
_INF = highspy.kHighsInf


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
    method : "lp-subdivision" or "milp-no-good"
    n_solves : int
        LP or MILP solves used.
    seconds : float
    box : float64 ndarray (n0, 2)
    label : str
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
    epsilon: float | None = None

    @property
    def is_exact(self) -> bool:
        return self.status == "exact"


def count_exact(net: Network, box, *, method: str = "lp", time_limit: float = 120.0,
                max_regions: int | None = None, n_samples: int = 4096, seed: int = 0,
                progress: Callable[[float, str], None] | None = None) -> ExactCount:
    """Every activation region with interior: #{s : {x ∈ box : s(x) = s} has interior}.

    Parameters
    ----------
    method : "lp" (default) or "milp"
        ``"lp"``: depth-first subdivision; a region of layers < l is split by each layer-l hyperplane
        crossing it, and a side exists iff the LP max t s.t. σ_i·(a_i·x + c_i)/‖a_i‖ ≥ t (x ∈ box)
        has t* > TOL·max(1, width).  ``"milp"``: §3 of the spec, FIND with no-good cuts
        (margin "both"), each pattern LP-confirmed.  Because only confirmed patterns count, any
        ε > 0 is safe here; ε = 10·TOL·max(1, H_max) (not the §2.3 rule, which MIPBound keeps)
        lets FIND reach regions down to that value margin.  It still misses regions on which a
        unit is ≡ 0 (two-sided rows need g ≤ −ε).  The LP method was faster on every network of
        ``bench/bench_counting.py``; the MILP one serves as an independent check.
    time_limit : float
        Seconds; on expiry the regions found so far are returned with status "time limit".
    max_regions : int, optional
        Stop after this many regions (status "capped"); the MILP method defaults to 5000.
    n_samples, seed : uniform box samples whose patterns decide easy splits without an LP.
    progress : callable(fraction, message), optional

    Raises
    ------
    ExplorerError
        Unknown method or bad box.

    Notes
    -----
    The LP method costs about one small LP per (region, crossing hyperplane) pair.

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
    box = as_box(box, net.n_inputs)
    start = time.perf_counter()
    if net.n_hidden == 0:                      # an affine map: the box is one region
        return ExactCount(1, "exact", np.zeros((1, 0), bool), box.mean(axis=1)[None, :], "none", 0,
                          time.perf_counter() - start, box, "exact count (affine network)")
    points, G = sample_patterns(net, box, n_samples=n_samples, seed=seed)
    if method == "lp":
        return _SubdivisionCount(net, box, points, G, time_limit, max_regions, progress, start).run()
    return _count_no_good(net, box, points, G, time_limit, 5000 if max_regions is None else max_regions,
                          progress, start)


def sample_patterns(net: Network, box, *, n_samples: int = 4096, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points (S, n0) of the box and their pre-activations (S, N) (all hidden layers)."""
    box = as_box(box, net.n_inputs)
    rng = np.random.default_rng(seed)
    x = box[:, 0] + rng.random((int(n_samples), net.n_inputs)) * (box[:, 1] - box[:, 0])  # (S, n0)
    return x, np.concatenate([np.zeros((len(x), 0)), *net.preactivations(x)], axis=1)   # (S, N)


def chord_points(net: Network, box, *, n_lines: int = 4000, seed: int = 0) -> np.ndarray:
    """One point inside every piece of ``n_lines`` random chords of the box: shape (M, n0).

    A chord p + s·(q − p), s ∈ [0, 1], between two uniform box points crosses a region wherever
    the network is affine in s; each layer's breakpoints s = −a_i/c_i of g(s) = a + s·c split the
    pieces of the previous layer.  Chords reach small regions that uniform samples rarely hit.
    """
    box = as_box(box, net.n_inputs)
    rng = np.random.default_rng(seed)
    lo, width = box[:, 0], box[:, 1] - box[:, 0]
    p, q = lo + rng.random((n_lines, lo.size)) * width, lo + rng.random((n_lines, lo.size)) * width
    return chord_midpoints(net, p, q)


# ---- LP subdivision ---------------------------------------------------------------------------------
class _MarginLP:
    """max t s.t. σ_i·(â_i·x + ĉ_i) ≥ t for the rows on the stack, x ∈ box: a stack of half-spaces."""

    def __init__(self, box: np.ndarray, scale: float) -> None:
        n0 = box.shape[0]
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.addVars(n0 + 1, np.r_[box[:, 0], -scale], np.r_[box[:, 1], scale])
        self.h.changeColCost(n0, -1.0)
        self.idx = np.arange(n0 + 1, dtype=np.int32)
        self.n0, self.depth, self.solves = n0, 0, 0

    def truncate(self, depth: int) -> None:
        if self.depth > depth:
            self.h.deleteRows(self.depth - depth, np.arange(depth, self.depth, dtype=np.int32))
            self.depth = depth

    def push(self, row: tuple) -> None:
        a, c, sigma = row
        self.h.addRow(-sigma * c, _INF, self.n0 + 1, self.idx, np.r_[sigma * a, -1.0])
        self.depth += 1

    def probe(self, row: tuple) -> tuple[float, np.ndarray]:
        """(t*, x*) with ``row`` added; the row is removed again."""
        self.push(row)
        self.h.run()
        self.solves += 1
        ok = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        t = -self.h.getInfo().objective_function_value if ok else -np.inf
        x = np.asarray(self.h.getSolution().col_value)[: self.n0] if ok else None
        self.truncate(self.depth - 1)
        return t, x


@dataclass
class _Node:
    depth: int            # LP rows of the ancestors
    row: tuple | None     # the half-space that defines this node inside its parent (pushed on entry)
    layer: int
    k: int                # position in ``cut`` of the next unit to split on
    gamma: np.ndarray     # (n_l, n0): g^l = gamma·x + c on this node
    c: np.ndarray         # (n_l,)
    cut: np.ndarray       # pattern indices of layer-l units that cross the node's layer root
    bits: np.ndarray      # (N,) pattern so far
    pool: np.ndarray      # indices of sample points inside the node
    x: np.ndarray | None  # an interior point
    weight: float         # share of the search tree (progress)


class _SubdivisionCount:
    """Depth-first subdivision; invariant: every node is a region with interior of the units decided so far."""

    def __init__(self, net, box, points, G, time_limit, max_regions, progress, start) -> None:
        self.net, self.box, self.start = net, box, start
        cap, self.n_points = max(64, 2 * len(points)), len(points)
        self.P, self.G = np.zeros((cap, points.shape[1])), np.zeros((cap, G.shape[1]))   # (cap, n0), (cap, N)
        self.P[: len(points)], self.G[: len(points)] = points, G
        self.time_limit, self.max_regions, self.progress = time_limit, max_regions, progress
        self.thr = TOL * max(1.0, float((box[:, 1] - box[:, 0]).max()))
        self.lp = _MarginLP(box, scale=float((box[:, 1] - box[:, 0]).max()))
        bounds = unit_bounds(net, box, tighten="none")
        self.fixed = np.where(bounds.stable_active, 1, np.where(bounds.stable_inactive, 0, -1))
        self.offsets = np.r_[0, np.cumsum(net.hidden_widths)]
        self.patterns, self.witnesses = [], []

    def run(self) -> ExactCount:
        net = self.net
        N = net.n_hidden
        root = _Node(0, None, -1, 0, np.zeros((0, net.n_inputs)), np.zeros(0), np.zeros(0, int),
                     np.zeros(N, bool), np.arange(self.n_points), None, 1.0)
        stack, done, status, ticks = [self._enter_layer(root, 0, np.eye(net.n_inputs), np.zeros(net.n_inputs))], \
            0.0, "exact", 0
        while stack:
            node = stack.pop()
            if node is None:
                continue
            ticks += 1
            if ticks % 64 == 0:
                if time.perf_counter() - self.start > self.time_limit:
                    status = "time limit"
                    break
                if self.progress is not None:
                    self.progress(min(done, 1.0), f"{len(self.patterns)} regions")
            self.lp.truncate(node.depth)
            if node.row is not None:
                self.lp.push(node.row)
            if node.k == len(node.cut):
                done += self._finish_layer(node, stack)
            else:
                done += self._split(node, stack)
            if self.max_regions is not None and len(self.patterns) >= self.max_regions:
                status = "capped"
                break
        pats = np.array(self.patterns, dtype=bool).reshape(-1, N)
        pts = np.array(self.witnesses, dtype=np.float64).reshape(-1, net.n_inputs)
        return ExactCount(len(pats), status, pats, pts, "lp-subdivision", self.lp.solves,
                          time.perf_counter() - self.start, self.box,
                          "exact count (LP subdivision)" if status == "exact" else "certain lower bound")

    # -- one node --
    def _finish_layer(self, node: _Node, stack: list) -> float:
        """All units of the layer decided: go to the next layer, or record a region at the last one."""
        l, net = node.layer, self.net
        if l == len(net.hidden_widths) - 1:
            self.patterns.append(node.bits)
            x = node.x if node.x is not None else (self.P[node.pool[0]] if node.pool.size else self.box.mean(1))
            self.witnesses.append(x)
            return node.weight
        sl = slice(self.offsets[l], self.offsets[l + 1])
        slope = np.where(node.bits[sl], 1.0, net.alpha)[:, None]
        stack.append(self._enter_layer(node, l + 1, slope * node.gamma, slope[:, 0] * node.c))
        return 0.0

    def _enter_layer(self, node: _Node, l: int, A: np.ndarray, a: np.ndarray) -> _Node | None:
        """Affine map of layer l on the node; decide every unit that does not cross it (one LP each)."""
        W, b = self.net.weights[l], self.net.biases[l]
        gamma, c = W @ A, W @ a + b                                   # (n_l, n0), (n_l,)
        off, depth = self.offsets[l], node.depth + (node.row is not None)
        bits, pool, x = node.bits.copy(), node.pool, node.x
        if l > 0 and pool.size:                # keep samples whose true pattern matches the previous layer
            sl = slice(self.offsets[l - 1], off)
            pool = pool[((self.G[pool, sl] > 0) == bits[sl]).all(axis=1)]
        cut = []
        for i in range(W.shape[0]):
            unit = off + i
            if self.fixed[unit] >= 0:
                bits[unit] = bool(self.fixed[unit])
                continue
            sides, x_new = self._sides(gamma[i], c[i], unit, pool)
            if len(sides) == 2:
                cut.append(i)
                pool, x = self._add_point(x_new, pool, bits, off), x if x is not None else x_new
            elif len(sides) == 1:
                bits[unit] = sides[0] > 0
                pool = pool[(self.G[pool, unit] > 0) == bits[unit]]
            else:
                return None                                            # thinner than the tolerance
        return _Node(depth, None, l, 0, gamma, c, np.array(cut, int), bits, pool, x, node.weight)

    def _split(self, node: _Node, stack: list) -> float:
        i = node.cut[node.k]
        unit = self.offsets[node.layer] + i
        sides, x_new = self._sides(node.gamma[i], node.c[i], unit, node.pool)
        pool = self._add_point(x_new, node.pool, node.bits, self.offsets[node.layer])
        if not sides:
            return node.weight
        a, c = node.gamma[i], node.c[i]
        norm = np.linalg.norm(a)
        g = self.G[pool, unit]
        for sigma in sides:
            bits = node.bits.copy()
            bits[unit] = sigma > 0
            keep = pool[sigma * g > self.thr * norm]
            row = (a / norm, c / norm, sigma) if len(sides) == 2 else None
            x = self.P[keep[0]] if keep.size else (x_new if x_new is not None and sigma * (a @ x_new + c) > 0
                                                        else node.x)
            stack.append(_Node(node.depth + (node.row is not None), row, node.layer, node.k + 1, node.gamma,
                               node.c, node.cut, bits, keep, x, node.weight / len(sides)))
        return 0.0

    def _sides(self, a: np.ndarray, c: float, unit: int, pool: np.ndarray) -> tuple[list, np.ndarray | None]:
        """Signs σ ∈ {+1, −1} whose open half-space σ·(a·x + c) > 0 meets the node with margin."""
        norm = float(np.linalg.norm(a))
        if norm <= 1e-14 * (1.0 + abs(c)):                       # g is constant on the node
            return ([1] if c > 0 else [-1]), None
        g = self.G[pool, unit] / norm
        seen = {s for s, hit in ((1, (g > self.thr).any()), (-1, (g < -self.thr).any())) if hit}
        x_new = None
        for sigma in (1, -1):
            if sigma not in seen:
                t, x = self.lp.probe((a / norm, c / norm, sigma))
                if t > self.thr:
                    seen.add(sigma)
                    x_new = x
        return sorted(seen, reverse=True), x_new

    def _add_point(self, x: np.ndarray | None, pool: np.ndarray, bits: np.ndarray, upto: int) -> np.ndarray:
        """Add an LP point to the samples if its true pattern matches the node's decided units."""
        if x is None:
            return pool
        g = np.concatenate(self.net.preactivations(x[None, :]), axis=1)[0]
        if not np.array_equal(g[:upto] > 0, bits[:upto]):
            return pool
        if self.n_points == len(self.P):      # grow the sample buffers by doubling
            self.P, self.G = np.concatenate([self.P, self.P]), np.concatenate([self.G, self.G])
        self.P[self.n_points], self.G[self.n_points] = x, g
        self.n_points += 1
        return np.r_[pool, self.n_points - 1]


# ---- MILP with no-good cuts (spec §3) ------------------------------------------------------------------
def _count_no_good(net, box, points, G, time_limit, max_regions, progress, start) -> ExactCount:
    """§3 of the spec; patterns seen at samples with every |g| ≥ ε are FIND-feasible, so they are cut first."""
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
    return ExactCount(len(pats), status, pats, pts, "milp-no-good", solves, time.perf_counter() - start, box,
                      "exact count (MILP, no-good cuts)" if status == "exact" else "certain lower bound",
                      model.epsilon)
