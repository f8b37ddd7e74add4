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
from .kernels import add_slope_corrections, split_layer
from .rational import ExactBudgetError, ExactTask, exact_cells
from .slices import PlaneSlice, plane_slice, plane_through

__all__ = ["Regions", "PlaneSlice", "RegionLimitError", "PrecisionLimitError", "EXACT_SECONDS", "enumerate_regions",
           "plane_slice", "plane_through"]

CHUNK = 8192  # cells processed together; bounds the memory of the per-cell affine maps
CHUNK_WORK = 2 ** 27  # and at most about this many multiply-adds per chunk, so that budgets are checked often
EXACT_SECONDS = 30.0  # budget of the exact recount of unresolved cells when the caller gives no time limit
_HUGE, _TINY = 2.0 ** 1000, 2.0 ** -1000  # term magnitudes beyond these overflow or lose digits to underflow
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
    root = _Batch(verts=poly_s[None].copy(), nv=np.array([len(poly)]), eu=np.full((1, len(poly)), -1, np.int32),
                  ec=np.full((1, len(poly)), -1, np.int64), pattern=np.zeros((1, 0), bool), src=np.zeros(1, np.int64),
                  bits=np.ones((1, 2), bool), G=np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]),
                  S=np.abs(poly_s).max(axis=0)[None, :], base=np.ones((1, 2), bool), shared={})
    stack = [(0, root)]
    done: list[_Finished] = []
    tasks: list[ExactTask] = []
    n_done, area_done, last_report = 0, 0.0, start
    while stack:
        layer, batch = stack.pop()
        if time_limit is not None and time.perf_counter() - start > time_limit:
            raise RegionLimitError(f"time limit of {time_limit:g} s spent after {n_done:,} regions on "
                                   f"{100 * area_done / total_area:.0f}% of the domain; raise it or shrink the domain.")
        # (P, 3, n_l) pre-activation map of layer l on every cell (the output map if l = L), (P, n_l)
        G, S = batch.compose(work.weights[layer], work.biases[layer], work.alpha)
        _check_magnitudes(S, layer)
        if layer == len(widths):
            done.append(_Finished.of(batch, G))
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
        cells, unresolved = _split_layer(batch, G, tol * S, unit_offsets[layer], cut_counter)
        tasks.extend(_exact_tasks(batch, unresolved, layer))
        children = _next_batches(cells, G, S, work.weights[layer + 1].shape[0])
        stack.extend((layer + 1, child) for child in reversed(children))
    if tasks:
        if progress is not None:
            progress(min(area_done / total_area, 1.0), f"{n_done:,} regions; exact recount of {len(tasks):,} cells")
        done.append(_recount(work, poly_s, tasks, cut_counter[0], start, time_limit,
                             None if max_regions is None else max_regions - n_done, tol))
    if progress is not None:
        progress(1.0, f"{n_done + (len(done[-1].nv) if tasks else 0):,} regions")
    return _assemble(net, poly, scaling, done, time.perf_counter() - start)


def _check_magnitudes(S: np.ndarray, layer: int) -> None:
    """Refuse term magnitudes (rescaled units) that float64 would overflow or round to nothing."""
    top = float(S.max(initial=0.0))
    if not top <= _HUGE:
        raise ExplorerError(f"layer {layer + 1}: even after exact power-of-two rescaling its terms reach about "
                            f"2^{np.log2(top) if np.isfinite(top) else 1024:.0f}, beyond the range float64 can "
                            "compute with; the regions cannot be computed reliably.")
    low = float(np.min(S, where=S > 0, initial=np.inf))
    if low < _TINY:
        raise ExplorerError(f"layer {layer + 1}: even after exact power-of-two rescaling some of its terms are as "
                            f"small as 2^{np.log2(low):.0f} relative to the largest, where float64 loses their "
                            "digits to underflow; the regions cannot be computed reliably.")


def _exact_tasks(batch: "_Batch", unresolved: np.ndarray, layer: int) -> list[ExactTask]:
    """One exact task per cell of the batch whose split needed the tolerance."""
    tasks = []
    for p in np.flatnonzero(unresolved):
        k = int(batch.nv[p])
        chords = {int(u): int(c) for u, c in zip(batch.eu[p, :k], batch.ec[p, :k]) if u >= 0}
        tasks.append(ExactTask(layer=layer, prefix=batch.pattern[p].copy(), chords=chords))
    return tasks


def _recount(net: Network, poly: np.ndarray, tasks: list, next_cut: int, start: float, time_limit: float | None,
             max_regions: int | None, tol: float) -> "_Finished":
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
    return _Finished.exact(cells)


# ---- the layer kernel ------------------------------------------------------------------------

@dataclass(eq=False)
class _Batch:
    """Cells waiting for the next layer: padded polygons, and their parents' maps (shared, not copied).

    verts (C, V, 2) padded by repeating vertex 0; nv (C,); eu/ec (C, V) edge unit / cut ids;
    pattern (C, N_so_far) bool; src (C,) parent index into G (P, 3, n) and S (P, n), the parents'
    pre-activation maps and term magnitudes; bits (C, n) the cells' activations of that layer; base
    (P, n) the activations shared by all cells of a parent (units that cut the parent count as off).
    """

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    pattern: np.ndarray
    src: np.ndarray
    bits: np.ndarray
    G: np.ndarray
    S: np.ndarray
    base: np.ndarray
    shared: dict  # per-parent products, computed once for all chunks of the same parents

    def compose(self, W: np.ndarray, b: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Maps (C, 3, m) of g' = W σ(g) + b on every cell and their term magnitudes (C, m).

        A cell's slopes σ' differ from its parent's base slopes only on units that cut the parent, where
        the cell is active: g' = W (σ'_base ⊙ g) + b + Σ_k (1 - α) g_k W_k.  When such (cell, unit) pairs
        are few, the first term is one GEMM per parent and the rest a compiled loop over the pairs; the
        corrections are non-negative in the magnitudes, so those stay an upper bound of the float terms summed.
        """
        C, n = self.bits.shape
        n_extra = np.count_nonzero(self.bits) - np.count_nonzero(self.base, axis=1)[self.src].sum()  # base ⊆ bits
        if 8 * n_extra > C * n:  # dense differences (e.g. layer 1): compose cell by cell
            slope = np.where(self.bits, 1.0, alpha)
            G = _affine(self.G[self.src] * slope[:, None, :], W, b)
            return G, (self.S[self.src] * np.abs(slope)) @ np.abs(W).T + np.abs(b)
        key = (id(W), alpha)
        if self.shared.get("key") != key:  # one GEMM for all parents, shared by the chunks of a layer
            base = np.where(self.base, 1.0, alpha)  # (P, n)
            self.shared.update(key=key, G=_affine(self.G * base[:, None, :], W, b),
                               S=self.S * np.abs(base) @ np.abs(W).T + np.abs(b), W_t=np.array(W.T, order="C"))
        G, S = self.shared["G"][self.src], self.shared["S"][self.src]  # (C, 3, m), (C, m)
        c = np.ascontiguousarray
        add_slope_corrections(G, S, c(self.src), c(self.bits), c(self.base), c(self.G), c(self.S),
                              self.shared["W_t"], float(alpha))
        return G, S


@dataclass(eq=False)
class _Finished:
    """Finished regions in compact form: ragged polygons, packed patterns, output maps (C, 3, n_out)."""

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    packed: np.ndarray
    maps: np.ndarray
    points: np.ndarray
    area: float

    @classmethod
    def of(cls, batch: _Batch, maps: np.ndarray) -> "_Finished":
        valid = np.arange(batch.verts.shape[1]) < batch.nv[:, None]  # (C, V)
        x, y = batch.verts[..., 0], batch.verts[..., 1]
        area = float(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y) / 2)  # padding adds 0
        points = (batch.verts * valid[..., None]).sum(axis=1) / batch.nv[:, None]
        return cls(batch.verts[valid], batch.nv, batch.eu[valid], batch.ec[valid],
                   np.packbits(batch.pattern, axis=1), maps, points, area)

    @classmethod
    def exact(cls, cells) -> "_Finished":
        """The regions of an exact recount (explorer.plane.rational.ExactCells)."""
        owner = np.repeat(np.arange(len(cells.nv)), cells.nv)
        points = np.zeros((len(cells.nv), 2))
        np.add.at(points, owner, cells.verts)
        first = np.concatenate([[0], np.cumsum(cells.nv)[:-1]]).astype(np.int64)
        nxt = np.arange(len(owner)) + 1
        nxt[np.cumsum(cells.nv) - 1] = first
        x, y = cells.verts[:, 0], cells.verts[:, 1]
        area = float(np.sum(x * y[nxt] - x[nxt] * y) / 2)
        return cls(cells.verts, cells.nv, cells.eu, cells.ec, np.packbits(cells.patterns, axis=1), cells.maps,
                   points / np.maximum(cells.nv, 1)[:, None], area)


@dataclass(eq=False)
class _Cells:
    """The cells of a batch after one layer split them (see explorer.plane.kernels.split_layer).

    verts (C, V, 2), nv (C,), eu/ec (C, V); src (C,) parent index; bits (C, n) the layer's activations;
    base (P, n) the activations shared by all cells of a parent; parent_pattern (P, N_so_far).
    """

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    src: np.ndarray
    bits: np.ndarray
    base: np.ndarray
    parent_pattern: np.ndarray


def _split_layer(batch: _Batch, G: np.ndarray, tau: np.ndarray, unit0: int,
                 cut_counter: list) -> tuple[_Cells, np.ndarray]:
    """Split every cell of the batch by the zero lines of the layer's units (compiled kernel).

    Returns the cells and the mask (P,) of batch cells whose split needed the tolerance; their children are
    left out (they are enumerated exactly instead).
    """
    c = np.ascontiguousarray
    verts, nv, eu, ec, src, bits, base, unresolved, cut_counter[0] = split_layer(
        c(batch.verts), c(batch.nv), c(batch.eu), c(batch.ec), c(G), c(tau), unit0, cut_counter[0])
    if unresolved.any():
        keep = ~unresolved[src]
        verts, nv, eu, ec, src, bits = verts[keep], nv[keep], eu[keep], ec[keep], src[keep], bits[keep]
    return _Cells(verts, nv, eu, ec, src, bits, base, batch.pattern), unresolved


def _next_batches(cells: _Cells, G: np.ndarray, S: np.ndarray, width: int) -> list[_Batch]:
    """Chunks of the finished cells of a layer (at most CHUNK, and about CHUNK_WORK multiply-adds when the next
    layer of ``width`` units is composed), each padded to its own largest polygon."""
    out, shared = [], {}
    size = min(CHUNK, max(256, CHUNK_WORK // (3 * G.shape[2] * width)))
    for lo in range(0, len(cells.nv), size):
        sl = slice(lo, lo + size)
        src, bits, nv = cells.src[sl], cells.bits[sl], cells.nv[sl]
        V = int(nv.max())
        out.append(_Batch(verts=cells.verts[sl, :V], nv=nv, eu=cells.eu[sl, :V], ec=cells.ec[sl, :V],
                          pattern=np.concatenate([cells.parent_pattern[src], bits], axis=1), src=src,
                          bits=bits, G=G, S=S, base=cells.base, shared=shared))
    return out


def _affine(H: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Compose the per-cell affine maps H (C, 3, n) with x -> W x + b: returns (C, 3, m), one GEMM."""
    C, _, n = H.shape
    G = (H.reshape(C * 3, n) @ W.T).reshape(C, 3, -1)
    G[:, 2, :] += b
    return G


def _assemble(net: Network, poly: np.ndarray, scaling: UnitScaling, done: list[_Finished], seconds: float) -> Regions:
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
