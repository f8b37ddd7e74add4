"""The subdivision tree of one network over one box: its cells as plain arrays, and the driver of the compiled walk.

A :class:`Cell` is an independent piece of the tree (see :mod:`explorer.count.exact` for the maths).
:class:`Subdivision` rescales the network exactly (:mod:`explorer.count.scaling`), fixes the units
that are stable on the box, and runs :func:`explorer.count.walk.walk` from a cell, either to the
cell's first split (:meth:`Subdivision.split`) or to the end within a time and region budget
(:meth:`Subdivision.count`).  The rare decision that the compiled walk cannot certify is answered
here by a HiGHS LP whose point or dual multipliers go through the same certificates.  If neither
holds and rounding is far below the margin, the region's margin equals the margin threshold to
within rounding (a convention, not a geometric fact) and HiGHS's estimate decides; if rounding is
not far below the margin, the count is refused rather than guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from ..errors import ExplorerError
from ..net import Network, as_box
from .milp import TOL
from .scaling import rescale
from .simplex import dual_bound, point_margin
from .tighten import certified_bounds
from .walk import (CAPPED, DEPTH, DONE, ENTER, FULL, LAYER, N_FIELDS, POOL_SIZE, POOL_START, POSITION, QUESTION,
                   ROW_SIGN, ROW_UNIT, SPLIT, STAGE, load_cell, walk)

__all__ = ["Cell", "CellCount", "Subdivision"]

_FIRST_CHUNK, _LAST_CHUNK = 64, 4096          # decisions per compiled call: time checks and progress


@dataclass(frozen=True, eq=False)
class Cell:
    """One independent piece of the subdivision tree, held in plain arrays (input units).

    The cell is {x ∈ box : row_signs_i·g_{row_units_i}(x) > 0, more than the margin away from the
    boundary}, where each g is the unit's pre-activation with the signs in ``pattern`` fixed for the
    earlier layers.  Its regions are those of the tree below it, so cells of one frontier are counted
    independently and their counts add up.

    Attributes
    ----------
    layer : int — hidden layer (0-based) the walk is in
    stage : int — 0: about to enter ``layer``; 2: splitting by the units ``cut[position:]``
    position : int
    pattern : bool ndarray (N,) — signs decided so far (undecided units are False)
    cut : int ndarray (c,) — units of ``layer`` (indices within the layer) that cross its root cell
    row_units, row_signs : int ndarray (m,) — the cell's half-spaces (pattern index, ±1)
    point : float64 ndarray (n0,) — a point of the cell, more than the margin inside
    points : float64 ndarray (S, n0) — further known points of the cell (they save LPs)
    share : float — the cell's share of the whole tree, for progress
    """

    layer: int
    stage: int
    position: int
    pattern: np.ndarray
    cut: np.ndarray
    row_units: np.ndarray
    row_signs: np.ndarray
    point: np.ndarray
    points: np.ndarray
    share: float


@dataclass(frozen=True, eq=False)
class CellCount:
    """What a walk produced: ``status`` "exact" (finished), "time limit" or "capped"; the regions' patterns
    (bool (R, N)) and interior points (float64 (R, n0), input units); LPs solved; share of the tree done;
    on "time limit", ``rest``: the cells the walk had not finished (its stack, largest first), whose regions
    are exactly the regions of the walked cell that are not in ``patterns``."""

    status: str
    patterns: np.ndarray
    points: np.ndarray
    n_solves: int
    share_done: float
    rest: tuple = ()


class Subdivision:
    """The subdivision problem of ``net`` over ``box``: rescaled arrays, margin and stable units.

    ``margin`` (input units) = TOL·min(1, widest box side): a region counts iff it holds a point more
    than ``margin`` away from each of its boundaries inside the box.  It does not grow with the box,
    so counts cannot fall when the box grows.
    """

    def __init__(self, net: Network, box) -> None:
        self.net, self.box = net, as_box(box, net.n_inputs)
        self.scaled = scaled = rescale(net, self.box)
        self.margin = TOL * min(1.0, float((self.box[:, 1] - self.box[:, 0]).max()))
        self.thr = float(np.ldexp(self.margin, -scaled.input_exponent))
        widths = net.hidden_widths
        self.n0, self.n_units, self.n_layers, self.max_width = net.n_inputs, net.n_hidden, len(widths), max(widths)
        proxy = Network(scaled.weights + (np.zeros((1, widths[-1])),), scaled.biases + (np.zeros(1),),
                        net.activation, net.alpha)
        bounds = certified_bounds(proxy, scaled.box, tighten=False)          # interval arithmetic, rounding-safe
        fixed = np.where(bounds.stable_active, 1, np.where(bounds.stable_inactive, 0, -1)).astype(np.int64)
        dims = np.array((self.n0, *widths), dtype=np.int64)
        self.net_arrays = (np.concatenate([W.ravel() for W in scaled.weights]), np.concatenate(scaled.biases),
                           dims, np.r_[0, np.cumsum(dims[1:] * dims[:-1])].astype(np.int64),
                           np.r_[0, np.cumsum(dims[1:])].astype(np.int64), fixed, float(net.alpha))
        lo, hi = scaled.box[:, 0].copy(), scaled.box[:, 1].copy()
        self.box_arrays = (lo, hi, np.maximum(np.abs(lo), np.abs(hi)))

    def root(self, points: np.ndarray) -> Cell:
        """The whole box as one cell, with known ``points`` (S, n0) of the box (e.g. uniform samples)."""
        none = np.zeros(0, np.int64)
        return Cell(layer=0, stage=ENTER, position=0, pattern=np.zeros(self.n_units, bool), cut=none,
                    row_units=none, row_signs=none, point=self.box.mean(axis=1),
                    points=np.asarray(points, dtype=np.float64).reshape(-1, self.n0), share=1.0)

    def split(self, cell: Cell) -> tuple[tuple[Cell, ...], CellCount]:
        """Walk ``cell`` to its first split: its two children, or none and the region it is (if any)."""
        state = _State(self, cell)
        while True:
            code = state.run(max_steps=_LAST_CHUNK, max_regions=2 ** 62, stop_at_split=True)
            if code == QUESTION:
                state.answer()
            elif code == FULL:
                state.grow()
            elif code == SPLIT:
                return (state.cell(1), state.cell(0)), state.result("exact")
            elif code == DONE:
                return (), state.result("exact")

    def count(self, cell: Cell, *, time_limit: float, max_regions: int | None = None,
              progress=None) -> CellCount:
        """Every region below ``cell`` within ``time_limit`` seconds and ``max_regions`` regions."""
        start = time.perf_counter()
        state = _State(self, cell)
        chunk, cap = _FIRST_CHUNK, 2 ** 62 if max_regions is None else int(max_regions)
        while True:
            code = state.run(max_steps=chunk, max_regions=cap, stop_at_split=False)
            if code == DONE:
                return state.result("exact")
            if code == CAPPED:
                return state.result("capped")
            if code == QUESTION:
                state.answer()
            elif code == FULL:
                state.grow()
            if time.perf_counter() - start > time_limit:
                return state.result("time limit", rest=state.stack_cells())
            if progress is not None:
                progress(state.share_done(), int(state.count[1]))
            chunk = min(2 * chunk, _LAST_CHUNK)


class _State:
    """The arrays of one walk (see :func:`explorer.count.walk.walk` for their layout)."""

    def __init__(self, problem: Subdivision, cell: Cell) -> None:
        self.p = p = problem
        n0, N, L, D = p.n0, p.n_units, p.n_layers, p.n_units + 2
        known = p.scaled.from_input(np.asarray(cell.points, dtype=np.float64).reshape(-1, n0))
        n_pts = len(known) + L * 2 * p.max_width
        self.maps = (np.zeros((N, n0)), np.zeros(N), np.zeros((N, n0)), np.zeros(N))
        self.rows = (np.zeros((D, n0)), np.zeros(D), np.zeros((D, n0)), np.zeros(D), np.zeros(D), np.zeros(D),
                     np.zeros(D), np.zeros((D, n0)), np.zeros(D), np.zeros(D, np.int64))
        E = N + 3
        ints, bits, wit, share = np.zeros((E, N_FIELDS), np.int64), np.zeros((E, N), bool), np.zeros((E, n0)), \
            np.zeros(E)
        pool, pts = np.zeros((N + 3) * n_pts + 16, np.int64), np.zeros((n_pts, n0))
        pts[: len(known)], pool[: len(known)] = known, np.arange(len(known))
        cut, n_cut = np.zeros((L, p.max_width), np.int64), np.zeros(L, np.int64)
        cut[cell.layer, : cell.cut.size], n_cut[cell.layer] = cell.cut, cell.cut.size
        ints[0] = (cell.layer, cell.stage, cell.position, cell.row_units.size, 0, len(known), -1, 0)
        bits[0], wit[0], share[0] = cell.pattern, p.scaled.from_input(cell.point), cell.share
        self.stack, self.points = (ints, bits, wit, share), (pool, pts, cut, n_cut, len(known))
        self.out = (np.zeros((1024, N), bool), np.zeros((1024, n0)), np.zeros(1))
        self.count = np.zeros(8 + L, np.int64)
        self.count[0] = 1
        self.answers = (np.full(2, -1, np.int64), np.zeros((2, n0)), np.zeros((2, 2), np.int64))
        self.work = (np.zeros(n0), np.zeros(n0), np.zeros(4), np.zeros((2, n0)), np.zeros(2), np.zeros(n0),
                     np.zeros(D), np.zeros(D), np.zeros((D, n0 + D)), np.zeros(n0 + D), np.zeros(n0 + D),
                     np.zeros(D, np.int64), np.zeros(n0 + D, np.int64), np.zeros(n0))
        load_cell(p.net_arrays, p.box_arrays, self.maps, self.rows, p.thr, cell.layer, cell.stage,
                  np.asarray(cell.row_units, np.int64), np.asarray(cell.row_signs, np.int64), bits[0])
        self.start_share = cell.share

    def run(self, *, max_steps: int, max_regions: int, stop_at_split: bool) -> int:
        p = self.p
        return walk(p.net_arrays, p.box_arrays, self.maps, self.rows, self.stack, self.points, self.out,
                    self.count, self.answers, self.work, p.thr, max_steps, max_regions, stop_at_split)

    def share_done(self) -> float:
        return float(self.out[2][0])

    def grow(self) -> None:
        bits, pts, done = self.out
        self.out = (np.concatenate([bits, np.zeros_like(bits)]), np.concatenate([pts, np.zeros_like(pts)]), done)

    def result(self, status: str, *, rest: tuple = ()) -> CellCount:
        n = int(self.count[1])
        return CellCount(status=status, patterns=self.out[0][:n].copy(),
                         points=self.p.scaled.to_input(self.out[1][:n]), n_solves=int(self.count[2]),
                         share_done=self.share_done(), rest=rest)

    def stack_cells(self) -> tuple[Cell, ...]:
        """Every entry of the stack as a Cell, bottom (the earliest, largest pending sibling) first.

        Valid whenever the walk has returned: each entry's path rows are a prefix of the rows in place
        (depth-first order) and its layer's cut is that of the latest root cell of its layer."""
        return tuple(self.cell(slot) for slot in range(int(self.count[0])))

    def cell(self, slot: int) -> Cell:
        """The stack entry ``slot`` as a Cell (its pending row included)."""
        ints, bits, wit, share = self.stack
        pool, pts, cut, n_cut, _ = self.points
        e = ints[slot]
        depth = int(e[DEPTH])
        units, signs = self.rows[9][:depth], self.rows[6][:depth].astype(np.int64)
        if e[ROW_UNIT] >= 0:
            units, signs = np.r_[units, e[ROW_UNIT]], np.r_[signs, e[ROW_SIGN]]
        known = pts[pool[e[POOL_START]: e[POOL_START] + e[POOL_SIZE]]]
        layer = int(e[LAYER])
        return Cell(layer=layer, stage=int(e[STAGE]), position=int(e[POSITION]), pattern=bits[slot].copy(),
                    cut=cut[layer, : n_cut[layer]].copy(), row_units=units.astype(np.int64), row_signs=signs,
                    point=self.p.scaled.to_input(wit[slot]), points=self.p.scaled.to_input(known),
                    share=float(share[slot]))

    def answer(self) -> None:
        """Decide the walk's question (unit, sign) with HiGHS and the walk's certificates, or refuse."""
        p = self.p
        unit, sign, depth = int(self.count[4]), float(self.count[5]), int(self.count[6])
        ra, rb, rea, reb, rthi, rtlo, rsign = self.rows[:7]
        cur_a, cur_e, cur_s = self.work[0], self.work[1], self.work[2]
        lo, hi, X = p.box_arrays
        A = np.vstack([rsign[:depth, None] * ra[:depth], sign * cur_a[None, :]])     # (m + 1, n0)
        offset = np.r_[rsign[:depth] * rb[:depth], sign * cur_s[0]]
        x, t, duals = _max_margin(A, offset, lo, hi, self.stack[2][int(self.count[0]) - 1], p.thr)
        k = 0 if sign > 0 else 1
        state, a_x, key = self.answers
        if x is not None and point_margin(cur_a, cur_s[0], cur_e, cur_s[1], sign, x) > cur_s[2] and all(
                point_margin(ra[i], rb[i], rea[i], reb[i], rsign[i], x) > rthi[i] for i in range(depth)):
            state[k], a_x[k] = 1, x
        elif duals is not None and duals[-1] > 0 and dual_bound(
                ra, rb, rea, reb, rsign, rtlo, depth, cur_a, cur_s[0], cur_e, cur_s[1], sign,
                duals[:-1] / duals[-1], lo, hi, X) <= cur_s[3]:
            state[k] = 0
        elif x is not None and max([float(cur_e @ X + cur_s[1])] + [float(rea[i] @ X + reb[i]) for i in range(depth)]
                                   ) <= 1e-6 * p.thr:
            state[k], a_x[k] = (1 if t > p.thr else 0), x      # margin = threshold within rounding: estimate
        else:
            layer = int(np.searchsorted(p.net_arrays[4], unit, side="right"))
            to_input = float(np.ldexp(1.0, p.scaled.input_exponent))
            raise ExplorerError(
                f"cannot decide whether unit {unit - p.net_arrays[4][layer - 1] + 1} of layer {layer} cuts off a "
                f"region about {abs(t or 0.0) * to_input:.3g} wide (regions count from {p.margin:.3g}): float64 "
                f"rounding of its values over this box (up to {float(cur_e @ X + cur_s[1]) * to_input:.3g}) is "
                "too large to tell, so no exact count can be vouched for. Try a smaller box.")
        key[k] = unit, depth


def _max_margin(A: np.ndarray, offset: np.ndarray, lo: np.ndarray, hi: np.ndarray, center: np.ndarray,
                thr: float):
    """HiGHS: max t s.t. A x + offset ≥ t, lo ≤ x ≤ hi.  Returns (x, t, row multipliers ≥ 0) or Nones.

    Solved in local units x = center + s·z, s = the clearance of ``center`` (at least thr), so that
    HiGHS's absolute tolerances stay small against the cell however small it is within the box.
    """
    m, n0 = A.shape
    at_center = A @ center + offset
    s = max(float(at_center[:-1].min(initial=1.0)), thr)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(n0 + 1, np.r_[(lo - center) / s, -1e6], np.r_[(hi - center) / s, 1e6])
    h.changeColCost(n0, -1.0)
    rows = np.hstack([A, -np.ones((m, 1))])
    for i in range(m):                     # A z − τ ≥ −(A·center + offset)/s
        h.addRow(-at_center[i] / s, highspy.kHighsInf, n0 + 1, np.arange(n0 + 1, dtype=np.int32), rows[i])
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None, None, None
    sol = h.getSolution()
    x = np.minimum(np.maximum(center + s * np.asarray(sol.col_value)[:n0], lo), hi)
    return x, -s * h.getInfo().objective_function_value, np.abs(np.asarray(sol.row_dual))
