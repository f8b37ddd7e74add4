"""Exact re-enumeration of the cells whose float64 split was decided by the tolerance (rule 1 of
:mod:`explorer.tolerance`).

Every float64 number is a dyadic rational, so the network's maps on a cell are exact integer vectors times a
power of two.  A line is an integer triple (A, B, C) (its zero set A x + B y + C = 0) and a vertex the
homogeneous integer point (X, Y, Z), Z > 0, where two lines cross; a sign is the sign of A X + B Y + C Z,
computed exactly with Python integers.  Vertices are always intersections of lines (never interpolated), so
their size does not grow with the depth of the splitting.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..net import Network

__all__ = ["ExactTask", "ExactCells", "exact_cells"]


@dataclass(frozen=True, eq=False, kw_only=True)
class ExactTask:
    """A cell to enumerate exactly: the points of the domain whose units of layers < ``layer`` have the signs
    ``prefix`` (True: g > 0), split by layer ``layer`` and every later one.  ``chords`` maps a unit (pattern
    index) to the chord id of the float cell's edge on its line, so adjacency across the cell is kept."""

    layer: int
    prefix: np.ndarray
    chords: dict


@dataclass(frozen=True, eq=False, kw_only=True)
class ExactCells:
    """Regions found exactly, in the arrays of the region engine (see explorer.plane.regions.Regions).

    verts (T, 2) float64 (each coordinate the correctly rounded exact vertex); nv (R,); eu (T,) int32; ec (T,)
    int64; patterns (R, N) bool; maps (R, 3, n_out) float64; next_cut: the next free chord id.
    """

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    patterns: np.ndarray
    maps: np.ndarray
    next_cut: int


class ExactBudgetError(Exception):
    """The exact enumeration ran past its deadline or region budget (``args[0]``: regions found so far)."""


def exact_cells(net: Network, domain: np.ndarray, tasks: list[ExactTask], *, next_cut: int,
                deadline: float | None = None, max_regions: int | None = None) -> ExactCells:
    """Every activation region inside the cells of ``tasks``, in exact arithmetic.

    Parameters
    ----------
    net : the Network the float engine ran on;  domain : its (K, 2) convex CCW domain polygon
    tasks : the cells;  next_cut : first chord id to hand out
    deadline : time.perf_counter() value;  max_regions : most regions to produce

    Raises
    ------
    ExactBudgetError : past the deadline or above max_regions.
    """
    run = _Run(net, domain, next_cut, deadline, max_regions)
    for task in tasks:
        run.task(task)
    T = sum(len(v) for v in run.verts)
    n_out = net.n_outputs
    return ExactCells(verts=np.array([p for v in run.verts for p in v], dtype=np.float64).reshape(T, 2),
                      nv=np.array([len(v) for v in run.verts], dtype=np.int64),
                      eu=np.array([u for e in run.eu for u in e], dtype=np.int32),
                      ec=np.array([c for e in run.ec for c in e], dtype=np.int64),
                      patterns=np.array(run.patterns, dtype=bool).reshape(len(run.verts), net.n_hidden),
                      maps=np.array(run.maps, dtype=np.float64).reshape(len(run.verts), 3, n_out),
                      next_cut=run.next_cut)


# ---- exact integers ------------------------------------------------------------------------------
def _dyadic(values) -> tuple[list, int]:
    """Integers n_i and one exponent e with values_i = n_i · 2^e exactly (floats are dyadic rationals)."""
    parts = [math.frexp(float(v)) for v in np.asarray(values, dtype=np.float64).ravel()]
    nonzero = [e for m, e in parts if m != 0]
    exp = min(nonzero) - 53 if nonzero else 0
    return [int(m * 2 ** 53) << (e - 53 - exp) if m != 0 else 0 for m, e in parts], exp


def _cross(p, q) -> tuple:
    return (p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0])


def _meet(line_a, line_b) -> tuple:
    """The homogeneous point where two non-parallel lines cross, with Z > 0."""
    X, Y, Z = _cross(line_a, line_b)
    return (X, Y, Z) if Z > 0 else (-X, -Y, -Z)


def _sign(line, point) -> int:
    v = line[0] * point[0] + line[1] * point[1] + line[2] * point[2]
    return (v > 0) - (v < 0)


@dataclass(eq=False)
class _Cell:
    """A convex CCW polygon: vertex i (homogeneous) starts edge i, which lies on lines[i] and carries the
    unit units[i] (−1: domain boundary) and the chord id chords[i]."""

    points: list
    lines: list
    units: list
    chords: list


@dataclass(eq=False)
class _Layer:
    """One affine layer in integers: W = Wi · 2^w_exp (object array), b = bi · 2^b_exp."""

    Wi: np.ndarray
    w_exp: int
    bi: list
    b_exp: int


class _Run:
    def __init__(self, net: Network, domain: np.ndarray, next_cut: int, deadline, max_regions):
        self.net, self.next_cut, self.deadline, self.max_regions = net, next_cut, deadline, max_regions
        self.layers = []
        for W, b in zip(net.weights, net.biases):
            Wi, w_exp = _dyadic(W)
            bi, b_exp = _dyadic(b)
            self.layers.append(_Layer(np.array(Wi, dtype=object).reshape(W.shape), w_exp, bi, b_exp))
        if net.alpha > 0:
            (a,), a_exp = _dyadic([net.alpha])
            self.slope_exp = min(0, a_exp)
            self.slopes = (a << (a_exp - self.slope_exp), 1 << -self.slope_exp)  # (inactive, active)
        else:
            self.slope_exp, self.slopes = 0, (0, 1)
        self.offsets = np.concatenate([[0], np.cumsum(net.hidden_widths)]).astype(int)
        corners, c_exp = _dyadic(domain)
        pts = [(corners[2 * i], corners[2 * i + 1], 1 << max(0, -c_exp)) if c_exp < 0 else
               (corners[2 * i] << c_exp, corners[2 * i + 1] << c_exp, 1) for i in range(len(domain))]
        lines = [_cross(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
        self.domain = _Cell(points=pts, lines=lines, units=[-1] * len(pts), chords=[-1] * len(pts))
        self.verts, self.eu, self.ec, self.patterns, self.maps = [], [], [], [], []

    # ---- maps --------------------------------------------------------------------------------
    def _compose(self, layer: int, maps: np.ndarray | None, exp: int, bits) -> tuple[np.ndarray, int]:
        """Integer maps (n, 3) and exponent of layer ``layer`` given the previous layer's maps and bits."""
        L = self.layers[layer]
        if maps is None:  # layer 1: g = W x + b, on the inputs (x, y, 1)
            h, h_exp = np.array([[1, 0, 0], [0, 1, 0]], dtype=object), 0
        else:
            slope = np.array([self.slopes[int(bool(s))] for s in bits], dtype=object)
            h, h_exp = maps * slope[:, None], exp + self.slope_exp
        P, p_exp = L.Wi.dot(h), L.w_exp + h_exp
        out_exp = min(p_exp, L.b_exp)
        out = P * (1 << (p_exp - out_exp))
        shift = 1 << (L.b_exp - out_exp)
        for i, v in enumerate(L.bi):
            out[i, 2] += v * shift
        return out, out_exp

    # ---- geometry ----------------------------------------------------------------------------
    def _split(self, cell: _Cell, line: tuple, unit: int, chord: int | None):
        """(upper, lower) halves of ``cell`` by ``line`` (sign ≥ 0, ≤ 0), or (None, any sign > 0) if it does
        not cross; the new edges carry ``unit`` and ``chord`` (a fresh id when None).  Mirrors
        explorer.plane.kernels._clip."""
        s = [_sign(line, p) for p in cell.points]
        if not (max(s) > 0 and min(s) < 0):
            return None, max(s) > 0
        if chord is None:
            chord, self.next_cut = self.next_cut, self.next_cut + 1
        up, down = _Cell([], [], [], []), _Cell([], [], [], [])
        k = len(s)
        for i in range(k):
            s0, s1 = s[i], s[(i + 1) % k]
            old = (cell.lines[i], cell.units[i], cell.chords[i])
            cut = (line, unit, chord)
            if s0 >= 0:
                _append(up, cell.points[i], cut if s0 == 0 and s1 < 0 else old)
            if s0 <= 0:
                _append(down, cell.points[i], cut if s0 == 0 and s1 > 0 else old)
            if s0 * s1 < 0:
                point = _meet(cell.lines[i], line)
                _append(up, point, cut if s0 > 0 else old)
                _append(down, point, cut if s0 < 0 else old)
        return up, down

    def task(self, task: ExactTask) -> None:
        """Clip the domain to the task's prefix signs, then split it by its layer and every later one."""
        cell, maps, exp, bits = _Cell(*(list(x) for x in (self.domain.points, self.domain.lines, self.domain.units,
                                                           self.domain.chords))), None, 0, None
        for l in range(task.layer):
            lo = self.offsets[l]
            maps, exp = self._compose(l, maps, exp, bits)
            bits = task.prefix[lo:self.offsets[l + 1]]
            for j, on in enumerate(bits):
                up, down = self._split(cell, tuple(maps[j]), int(lo) + j, task.chords.get(int(lo) + j))
                if up is None:
                    if bool(down) != bool(on):  # no exact interior with these signs
                        return
                    continue
                cell = up if on else down
        self._descend(cell, task.layer, maps, exp, bits, [bool(v) for v in task.prefix])

    def _descend(self, cell: _Cell, layer: int, maps, exp: int, bits, pattern: list) -> None:
        """Split ``cell`` by the units of ``layer`` (maps composed from the previous layer's maps and bits)."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise ExactBudgetError(len(self.verts))
        maps, exp = self._compose(layer, maps, exp, bits)
        if layer == len(self.layers) - 1:
            self._finish(cell, maps, exp, pattern)
            return
        pieces = [(cell, [])]
        for j in range(maps.shape[0]):
            nxt = []
            for piece, piece_bits in pieces:
                up, down = self._split(piece, tuple(maps[j]), int(self.offsets[layer]) + j, None)
                if up is None:
                    nxt.append((piece, piece_bits + [bool(down)]))
                else:
                    nxt.extend(((up, piece_bits + [True]), (down, piece_bits + [False])))
            pieces = nxt
        for piece, piece_bits in pieces:
            self._descend(piece, layer + 1, maps, exp, piece_bits, pattern + piece_bits)

    def _finish(self, cell: _Cell, maps: np.ndarray, exp: int, pattern: list) -> None:
        if self.max_regions is not None and len(self.verts) >= self.max_regions:
            raise ExactBudgetError(len(self.verts))
        self.verts.append([(X / Z, Y / Z) for X, Y, Z in cell.points])
        self.eu.append(cell.units)
        self.ec.append(cell.chords)
        self.patterns.append(pattern)
        self.maps.append([[_scaled(v, exp) for v in row] for row in maps.T])


def _append(cell: _Cell, point, edge) -> None:
    cell.points.append(point)
    cell.lines.append(edge[0])
    cell.units.append(edge[1])
    cell.chords.append(edge[2])


def _scaled(n: int, exp: int) -> float:
    """n · 2^exp as the nearest float64 (inf beyond its range)."""
    try:
        return n / (1 << -exp) if exp < 0 else float(n << exp)
    except OverflowError:
        return math.copysign(math.inf, n)
