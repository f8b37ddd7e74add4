"""Exact enumeration of the activation regions of a 2-input network (2-D slices: explorer.plane.slices).

Signs follow rule 1 of :mod:`explorer.tolerance`.  A cell whose split needed the tolerance (some vertex with
0 < |g(v)| ≤ SIGN_TOL · s, where float64 cannot tell the side) is enumerated again in exact rational
arithmetic (:mod:`explorer.plane.rational`); the network and the domain are first rescaled unit by unit by
powers of two (exact), and magnitudes that would overflow or underflow are refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import ExplorerError
from ..net import Network, UnitScaling, as_box, rescale_units
from ..tolerance import SIGN_TOL
from .cells import Batch, Finished, next_batches, split_cells
from .rational import ExactBudgetError, ExactTask, exact_cells
from .slices import PlaneSlice, plane_slice, plane_through

__all__ = ["Regions", "PlaneSlice", "RegionLimitError", "PrecisionLimitError", "EXACT_SECONDS", "enumerate_regions",
           "plane_slice", "plane_through"]

CHUNK = 8192  # cells processed together; bounds the memory of the per-cell affine maps
CHUNK_WORK = 2 ** 27  # and at most about this many multiply-adds per chunk, so that budgets are checked often
EXACT_SECONDS = 30.0  # budget of the exact recount of unresolved cells when the caller gives no time limit
_HUGE = 2.0 ** 1000  # term magnitudes above this (rescaled units) could overflow in a vertex evaluation
_BLAS = ThreadpoolController()  # the GEMMs here are small: one BLAS thread is faster and load-proof

Progress = Callable[[float, str], None]


class RegionLimitError(ExplorerError):
    """The enumeration was stopped by its region or time budget (the message gives how far it got)."""


class PrecisionLimitError(RegionLimitError):
    """float64 could not separate some boundaries and their exact recount ran out of its budget."""


@dataclass(frozen=True, eq=False)
class Regions:
    """The exact partition of a convex 2-D domain into activation regions of ``net``.

    region of pattern s = {x in domain : [g^l_i(x) > 0] = s_{l,i} for every hidden unit (l, i)}.

    Attributes
    ----------
    net : Network with 2 inputs
    domain : (K, 2) float64, the convex domain polygon, counter-clockwise
    vertices : (T, 2) float64, all region polygons concatenated, each counter-clockwise
    offsets : (R + 1,) int64, polygon i is ``vertices[offsets[i]:offsets[i + 1]]``
    edge_units : (T,) int32, pattern index of the unit whose zero set carries the edge from vertex k to
        the next vertex of its polygon; -1 on the domain boundary
    edge_cuts : (T,) int64, id of the split that created the edge; edges with equal ids lie on one
        segment (used for adjacency); -1 on the domain boundary
    packed_patterns : (R, ceil(N / 8)) uint8, ``np.packbits`` of the patterns along axis 1
    out_grad : (R, n_out, 2) float64, gradient of every output on every region
    out_bias : (R, n_out) float64; on region r the output is ``out_grad[r] @ x + out_bias[r]``
    points : (R, 2) float64, an interior point of every region (its vertex mean)
    seconds : wall time of the enumeration
    scaling : the exact power-of-two rescaling of ``net`` the enumeration ran on (explorer.net.rescale_units)
    """

    net: Network
    domain: np.ndarray
    vertices: np.ndarray
    offsets: np.ndarray
    edge_units: np.ndarray
    edge_cuts: np.ndarray
    packed_patterns: np.ndarray
    out_grad: np.ndarray
    out_bias: np.ndarray
    points: np.ndarray
    seconds: float
    scaling: UnitScaling | None = None

    @property
    def n_regions(self) -> int:
        return len(self.offsets) - 1

    @cached_property
    def patterns(self) -> np.ndarray:
        """(R, N) bool activation patterns, 1 = active (g > 0), units in layer order."""
        return np.unpackbits(self.packed_patterns, axis=1, count=self.net.n_hidden).astype(bool)

    @cached_property
    def owner(self) -> np.ndarray:
        """(T,) index of the region each vertex (and the edge leaving it) belongs to."""
        return np.repeat(np.arange(self.n_regions), np.diff(self.offsets))

    def polygon(self, i: int) -> np.ndarray:
        """Vertices (k, 2) of region i, counter-clockwise."""
        return self.vertices[self.offsets[i]:self.offsets[i + 1]]

    @cached_property
    def next_vertex(self) -> np.ndarray:
        """(T,) index of the next vertex of the same polygon (edge k runs from vertex k to vertex next_vertex[k])."""
        idx = np.arange(self.offsets[-1]) + 1
        idx[self.offsets[1:] - 1] = self.offsets[:-1]
        return idx

    def areas(self) -> np.ndarray:
        """(R,) polygon areas by the shoelace formula."""
        x, y = self.vertices[:, 0], self.vertices[:, 1]
        nxt = self.next_vertex
        return np.add.reduceat(x * y[nxt] - x[nxt] * y, self.offsets[:-1]) / 2

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end points, each (T, 2), of every polygon edge (edge k leaves vertex k)."""
        return self.vertices, self.vertices[self.next_vertex]


def enumerate_regions(net: Network, domain, *, tol: float = SIGN_TOL, max_regions: int | None = None,
                      time_limit: float | None = None, progress: Progress | None = None) -> Regions:
    """Every activation region of a 2-input network inside a convex domain, exactly.

    Layer by layer, every cell is split by the lines on which the layer's pre-activations (affine on the
    cell) vanish; a cell's children inherit its affine map, so after the last hidden layer every cell is
    one activation region with its own affine output map.

    Parameters
    ----------
    net : Network with 2 inputs
    domain : a box (any form of :func:`explorer.net.as_box`: xmin xmax ymin ymax, (2, 2) rows, or LO HI) or a
        convex polygon given as K ≥ 3 points (K, 2)
    tol : relative on-line tolerance (rule 1 of explorer.tolerance)
    max_regions, time_limit : stop with RegionLimitError beyond this many regions or seconds
    progress : called as progress(fraction_of_domain_area_done, message)

    Raises
    ------
    ExplorerError : the net does not take 2 inputs, or the domain is not a convex polygon
    RegionLimitError : a budget was exceeded

    Notes
    -----
    Cost is linear in the number of (cell, neuron) pairs whose parent cell the neuron cuts; memory is
    bounded by CHUNK cells per layer plus the result.  Cells are processed depth first; the budgets are
    checked before every chunk (at most CHUNK_WORK multiply-adds).

    Examples
    --------
    >>> net = Network(([[1., 0.], [0., 1.], [1., 1.]], [[1., 1., 1.]]), ([0., 0., -1.], [0.]))
    >>> enumerate_regions(net, (-2, 2, -2, 2)).n_regions
    7
    >>> twin = Network(([[1., 0.], [1., 0.], [-1., 0.]], [[1., 1., 1.]]), ([0., 0., 0.], [0.]))
    >>> enumerate_regions(twin, (-1, 1, -1, 1)).n_regions      # duplicate and opposite neurons
    2
    """
    with _BLAS.limit(limits=1, user_api="blas"):
        return _enumerate(net, domain, tol, max_regions, time_limit, progress)


def _enumerate(net: Network, domain, tol: float, max_regions: int | None, time_limit: float | None,
               progress: Progress | None) -> Regions:
    start = time.perf_counter()
    if net.n_inputs != 2:
        raise ExplorerError(f"exact enumeration needs a network with 2 inputs; got {net.n_inputs}. "
                            "Take a 2-D slice first (plane_through).")
    poly = _domain_polygon(domain)
    # work on the network and domain rescaled by powers of two (exact): every row's largest entry and the
    # domain's largest |x|, |y| in [1, 2), so no magnitude of the original can overflow or swamp a tolerance
    scaling = rescale_units(net, input_exp=np.frexp(np.abs(poly).max(axis=0))[1] - 1)
    work, poly_s = scaling.net, np.ldexp(poly, -scaling.input_exp[None, :])
    total_area = _polygon_area(poly_s)
    widths = net.hidden_widths
    unit_offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    cut_counter = [0]  # every split gets a fresh id for its chord

    # the starting cell: the domain, on which h^0 = x has the map rows (∂/∂x, ∂/∂y, const) = identity
    root = Batch(verts=poly_s[None].copy(), nv=np.array([len(poly)]), eu=np.full((1, len(poly)), -1, np.int32),
                  ec=np.full((1, len(poly)), -1, np.int64), pattern=np.zeros((1, 0), bool), src=np.zeros(1, np.int64),
                  bits=np.ones((1, 2), bool), G=np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]),
                  S=np.abs(poly_s).max(axis=0)[None, :], base=np.ones((1, 2), bool), shared={})
    stack = [(0, root)]
    done: list[Finished] = []
    tasks: list[ExactTask] = []
    n_done, area_done, last_report = 0, 0.0, start
    while stack:
        layer, batch = stack.pop()
        if time_limit is not None and time.perf_counter() - start > time_limit:
            raise RegionLimitError(f"time limit of {time_limit:g} s spent after {n_done:,} regions on "
                                   f"{100 * area_done / total_area:.0f}% of the domain; raise it or shrink the domain.")
        # (P, 3, n_l) pre-activation map of layer l on every cell (the output map if l = L), (P, n_l)
        G, S = batch.compose(work.weights[layer], work.biases[layer], work.alpha)
        _check_magnitudes(S, layer, tol, last=layer == len(widths))
        if layer == len(widths):
            done.append(Finished.of(batch, G))
            n_done += len(batch.nv)
            area_done += done[-1].area
            if max_regions is not None and n_done > max_regions:
                raise RegionLimitError(f"more than {max_regions:,} regions ({100 * area_done / total_area:.0f}% of "
                                       "the domain done); raise the limit or shrink the domain.")
            now = time.perf_counter()
            if progress is not None and now - last_report > 0.2:
                progress(min(area_done / total_area, 1.0), f"{n_done:,} regions")
                last_report = now
            continue
        cells, unresolved = split_cells(batch, G, tol * S, unit_offsets[layer], cut_counter)
        tasks.extend(_exact_tasks(batch, unresolved, layer))
        children = next_batches(cells, G, S, work.weights[layer + 1].shape[0], chunk=CHUNK, work=CHUNK_WORK)
        stack.extend((layer + 1, child) for child in reversed(children))
    if tasks:
        if progress is not None:
            progress(min(area_done / total_area, 1.0), f"{n_done:,} regions; exact recount of {len(tasks):,} cells")
        done.append(_recount(work, poly_s, tasks, cut_counter[0], start, time_limit,
                             None if max_regions is None else max_regions - n_done, tol))
    if progress is not None:
        progress(1.0, f"{n_done + (len(done[-1].nv) if tasks else 0):,} regions")
    return _assemble(net, poly, scaling, done, time.perf_counter() - start)


def _check_magnitudes(S: np.ndarray, layer: int, tol: float, *, last: bool) -> None:
    """Refuse term magnitudes s (rescaled units) that would overflow, or (hidden layers, where signs are decided)
    so small that the absolute error of gradual underflow, about 2^-1074 per operation, could exceed tol · s."""
    top = float(S.max(initial=0.0))
    if not top <= _HUGE:
        raise ExplorerError(f"layer {layer + 1}: even after exact power-of-two rescaling its terms reach about "
                            f"2^{np.log2(top) if np.isfinite(top) else 1024:.0f}, beyond the range float64 can "
                            "compute with; the regions cannot be computed reliably.")
    low = float(np.min(S, where=S > 0, initial=np.inf))
    if not last and tol * low < 8 * (S.shape[1] + 4) * 2.0 ** -1074:
        raise ExplorerError(f"layer {layer + 1}: even after exact power-of-two rescaling some of its terms are as "
                            f"small as 2^{np.log2(low):.0f} relative to the largest, where float64 loses their "
                            "digits to underflow; the regions cannot be computed reliably.")


def _exact_tasks(batch: Batch, unresolved: np.ndarray, layer: int) -> list[ExactTask]:
    """One exact task per cell of the batch whose split needed the tolerance."""
    tasks = []
    for p in np.flatnonzero(unresolved):
        k = int(batch.nv[p])
        chords = {int(u): int(c) for u, c in zip(batch.eu[p, :k], batch.ec[p, :k]) if u >= 0}
        tasks.append(ExactTask(layer=layer, prefix=batch.pattern[p].copy(), chords=chords))
    return tasks


def _recount(net: Network, poly: np.ndarray, tasks: list, next_cut: int, start: float, time_limit: float | None,
             max_regions: int | None, tol: float) -> Finished:
    """The regions of the unresolved cells, in exact arithmetic, within the remaining budget."""
    deadline = start + time_limit if time_limit is not None else time.perf_counter() + EXACT_SECONDS
    try:
        cells = exact_cells(net, poly, tasks, next_cut=next_cut, deadline=deadline,
                            max_regions=None if max_regions is None else max_regions + 1)
    except ExactBudgetError as exc:
        if max_regions is not None and exc.args[0] > max_regions:
            raise RegionLimitError(f"more than {max_regions:,} regions (in an exact recount); raise the limit or "
                                   "shrink the domain.") from None
        limit = f"the time limit of {time_limit:g} s" if time_limit is not None else f"its {EXACT_SECONDS:g} s"
        raise PrecisionLimitError(
            f"float64 cannot separate the region boundaries in {len(tasks):,} cells of this domain (a boundary "
            f"passes within {tol:g} × the domain's scale of a vertex: the domain is too large for the network's "
            f"features, or boundaries nearly meet), and their exact recount used up {limit} after "
            f"{exc.args[0]:,} regions. Shrink the domain or raise the time limit.") from None
    return Finished.exact(cells)


def _assemble(net: Network, poly: np.ndarray, scaling: UnitScaling, done: list[Finished], seconds: float) -> Regions:
    """Concatenate finished batches into the ragged Regions arrays, in the original units (exact powers of two)."""
    maps = np.concatenate([d.maps for d in done])  # (R, 3, n_out), rescaled units
    counts = np.concatenate([d.nv for d in done])
    e_in, e_out = scaling.input_exp, scaling.output_exp
    with np.errstate(over="ignore"):
        out_grad = np.ldexp(maps[:, :2, :].transpose(0, 2, 1), e_out[None, :, None] - e_in[None, None, :])
        out_bias = np.ldexp(maps[:, 2, :], e_out[None, :])
    if not (np.isfinite(out_grad).all() and np.isfinite(out_bias).all()):
        raise ExplorerError("the network's outputs exceed the range of float64 numbers (about 1.8e308) on this "
                            "domain, so their affine maps cannot be shown; shrink the domain or rescale the network.")
    return Regions(net=net, domain=poly, vertices=np.ldexp(np.concatenate([d.verts for d in done]), e_in[None, :]),
                   offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                   edge_units=np.concatenate([d.eu for d in done]), edge_cuts=np.concatenate([d.ec for d in done]),
                   packed_patterns=np.concatenate([d.packed for d in done]), out_grad=np.ascontiguousarray(out_grad),
                   out_bias=np.ascontiguousarray(out_bias),
                   points=np.ldexp(np.concatenate([d.points for d in done]), e_in[None, :]), seconds=seconds,
                   scaling=scaling)


def _domain_polygon(domain) -> np.ndarray:
    """The domain as a (K, 2) counter-clockwise convex polygon: K ≥ 3 points are a polygon, anything else a box."""
    arr = np.asarray(domain, dtype=np.float64)
    if not (arr.ndim == 2 and arr.shape[1] == 2 and len(arr) >= 3):
        (x0, x1), (y0, y1) = as_box(arr, 2)
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if not np.isfinite(arr).all():
        raise ExplorerError("the domain polygon has NaN or infinite coordinates; give finite numbers.")
    if _polygon_area(arr) < 0:
        arr = arr[::-1]
    d = np.roll(arr, -1, axis=0) - arr
    turn = d[:, 0] * np.roll(d, -1, axis=0)[:, 1] - d[:, 1] * np.roll(d, -1, axis=0)[:, 0]
    if _polygon_area(arr) <= 0 or (turn <= 0).any():
        raise ExplorerError("the domain polygon must be strictly convex with positive area "
                            "(no repeated or collinear vertices).")
    return arr.copy()


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2)
