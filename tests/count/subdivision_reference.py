"""The LP subdivision counter as it was before the compiled walk (commit bcb034c), kept as a reference.

Tests compare the library's counter with it on random networks, and ``bench/bench_exact.py`` times
both in one run.  It returns (n_regions, status, patterns, n_solves); it is not used by the library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from explorer.count.milp import TOL, unit_bounds
from explorer.count.sampling import sample_patterns
from explorer.net import Network, as_box

__all__ = ["reference_count"]

_INF = highspy.kHighsInf


def reference_count(net: Network, box, *, time_limit: float = 120.0, n_samples: int = 4096, seed: int = 0):
    """(n_regions, status, patterns (R, N) bool, n_solves) of the pre-walk LP subdivision counter."""
    box = as_box(box, net.n_inputs)
    start = time.perf_counter()
    points, G = sample_patterns(net, box, n_samples=n_samples, seed=seed)
    return _SubdivisionCount(net, box, points, G, time_limit, None, None, start).run()


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

    def run(self) -> tuple:
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
        return len(pats), status, pats, self.lp.solves

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
