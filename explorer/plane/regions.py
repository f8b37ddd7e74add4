"""Exact enumeration of the activation regions of a 2-input network, and 2-D slices of n-D networks.

Signs follow rule 1 of :mod:`explorer.tolerance`: a vertex is on a neuron's line when |g(v)| ≤ SIGN_TOL · s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import ExplorerError
from ..net import Network, as_box
from ..tolerance import SIGN_TOL
from .kernels import add_slope_corrections, split_layer

__all__ = ["Regions", "PlaneSlice", "RegionLimitError", "enumerate_regions", "plane_slice", "plane_through"]

CHUNK = 8192  # cells processed together; bounds the memory of the per-cell affine maps
_BLAS = ThreadpoolController()  # the GEMMs here are small: one BLAS thread is faster and load-proof

Progress = Callable[[float, str], None]


class RegionLimitError(ExplorerError):
    """The enumeration was stopped by its region or time budget (the message gives how far it got)."""


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
    bounded by CHUNK cells per layer plus the result.  Cells are processed depth first.

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
    scale_xy = np.abs(poly).max(axis=0)  # (2,) largest |x|, |y| of the domain
    total_area = _polygon_area(poly)
    widths = net.hidden_widths
    unit_offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    cut_counter = [0]  # every split gets a fresh id for its chord

    # the starting cell: the domain, on which h^0 = x has the map rows (∂/∂x, ∂/∂y, const) = identity
    root = _Batch(verts=poly[None].copy(), nv=np.array([len(poly)]), eu=np.full((1, len(poly)), -1, np.int32),
                  ec=np.full((1, len(poly)), -1, np.int64), pattern=np.zeros((1, 0), bool), src=np.zeros(1, np.int64),
                  bits=np.ones((1, 2), bool), G=np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]),
                  S=scale_xy[None, :].copy(), base=np.ones((1, 2), bool), shared={})
    stack = [(0, root)]
    done: list[_Finished] = []
    n_done, area_done, last_report = 0, 0.0, start
    while stack:
        layer, batch = stack.pop()
        # (P, 3, n_l) pre-activation map of layer l on every cell (the output map if l = L), (P, n_l)
        G, S = batch.compose(net.weights[layer], net.biases[layer], net.alpha)
        if layer == len(widths):
            done.append(_Finished.of(batch, G))
            n_done += len(batch.nv)
            area_done += done[-1].area
            if max_regions is not None and n_done > max_regions:
                raise RegionLimitError(f"more than {max_regions:,} regions ({100 * area_done / total_area:.0f}% of "
                                       "the domain done); raise the limit or shrink the domain.")
            now = time.perf_counter()
            if time_limit is not None and now - start > time_limit:
                raise RegionLimitError(f"time limit of {time_limit:g} s spent after {n_done:,} regions on "
                                       f"{100 * area_done / total_area:.0f}% of the domain; raise it or shrink the domain.")
            if progress is not None and now - last_report > 0.2:
                progress(min(area_done / total_area, 1.0), f"{n_done:,} regions")
                last_report = now
            continue
        cells = _split_layer(batch, G, tol * S, unit_offsets[layer], cut_counter)
        children = _next_batches(cells, G, S)
        stack.extend((layer + 1, child) for child in reversed(children))
    if progress is not None:
        progress(1.0, f"{n_done:,} regions")
    return _assemble(net, poly, done, time.perf_counter() - start)


@dataclass(frozen=True, eq=False, kw_only=True)
class PlaneSlice:
    """The plane x = origin + s·u + t·v of an n-D input space and the 2-input network living on it.

    Attributes
    ----------
    net : Network with 2 inputs, (s, t) -> f(origin + s·u + t·v) (the plane composed into layer 1)
    origin : (n0,) float64
    basis : (n0, 2) float64, columns u and v
    anchors : (K, 2) plane coordinates of the points that defined the plane (empty if none)
    """

    net: Network
    origin: np.ndarray
    basis: np.ndarray
    anchors: np.ndarray

    def to_input(self, st: np.ndarray) -> np.ndarray:
        """Input-space points (B, n0) of plane coordinates (B, 2)."""
        return self.origin + np.atleast_2d(st) @ self.basis.T

    def to_plane(self, x: np.ndarray) -> np.ndarray:
        """Plane coordinates (B, 2) of input points (least squares: exact for points of the plane)."""
        return np.linalg.lstsq(self.basis, (np.atleast_2d(x) - self.origin).T, rcond=None)[0].T


def plane_slice(net: Network, origin, u, v) -> PlaneSlice:
    """The 2-input network on the plane origin + s·u + t·v: W1 becomes W1 [u v], b1 becomes W1·origin + b1."""
    origin = _vector(origin, net.n_inputs, "origin")
    basis = np.stack([_vector(u, net.n_inputs, "u"), _vector(v, net.n_inputs, "v")], axis=1)  # (n0, 2)
    if np.linalg.matrix_rank(basis) < 2:
        raise ExplorerError("the two directions of the plane are parallel (or zero); choose independent ones.")
    W, b = net.weights[0], net.biases[0]
    return PlaneSlice(net=net.with_first_layer(W @ basis, W @ origin + b), origin=origin, basis=basis,
                      anchors=np.zeros((0, 2)))


def plane_through(net: Network, p0, p1, p2) -> PlaneSlice:
    """The slice through three input points, in orthonormal coordinates centred at p0.

    u = (p1 - p0)/|p1 - p0| and v is the unit part of p2 - p0 orthogonal to u, so distances and disks in
    the plane are Euclidean in input space; ``anchors`` holds the plane coordinates of p0, p1, p2.
    """
    p0, p1, p2 = (_vector(p, net.n_inputs, name) for p, name in ((p0, "p0"), (p1, "p1"), (p2, "p2")))
    u = p1 - p0
    if np.linalg.norm(u) == 0:
        raise ExplorerError("the first two points of the plane coincide; choose three distinct points.")
    u = u / np.linalg.norm(u)
    w = (p2 - p0) - u * np.dot(u, p2 - p0)
    if np.linalg.norm(w) <= 1e-12 * max(1.0, np.linalg.norm(p2 - p0)):
        raise ExplorerError("the three points are collinear, so they span no plane; move one of them.")
    plane = plane_slice(net, p0, u, w / np.linalg.norm(w))
    anchors = plane.to_plane(np.stack([p0, p1, p2]))
    return PlaneSlice(net=plane.net, origin=plane.origin, basis=plane.basis, anchors=anchors)


def _vector(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (n,) or not np.isfinite(arr).all():
        raise ExplorerError(f"{name} must be {n} finite numbers (one per network input); got {arr.size}.")
    return arr


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


def _split_layer(batch: _Batch, G: np.ndarray, tau: np.ndarray, unit0: int, cut_counter: list) -> _Cells:
    """Split every cell of the batch by the zero lines of the layer's units (compiled kernel)."""
    c = np.ascontiguousarray
    verts, nv, eu, ec, src, bits, base, cut_counter[0] = split_layer(
        c(batch.verts), c(batch.nv), c(batch.eu), c(batch.ec), c(G), c(tau), unit0, cut_counter[0])
    return _Cells(verts, nv, eu, ec, src, bits, base, batch.pattern)


def _next_batches(cells: _Cells, G: np.ndarray, S: np.ndarray) -> list[_Batch]:
    """Chunks of the finished cells of a layer, each padded to its own largest polygon."""
    out, shared = [], {}
    for lo in range(0, len(cells.nv), CHUNK):
        sl = slice(lo, lo + CHUNK)
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


def _assemble(net: Network, poly: np.ndarray, done: list[_Finished], seconds: float) -> Regions:
    """Concatenate finished batches into the ragged Regions arrays."""
    maps = np.concatenate([d.maps for d in done])  # (R, 3, n_out)
    counts = np.concatenate([d.nv for d in done])
    return Regions(net=net, domain=poly, vertices=np.concatenate([d.verts for d in done]),
                   offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                   edge_units=np.concatenate([d.eu for d in done]), edge_cuts=np.concatenate([d.ec for d in done]),
                   packed_patterns=np.concatenate([d.packed for d in done]),
                   out_grad=np.ascontiguousarray(maps[:, :2, :].transpose(0, 2, 1)),
                   out_bias=np.ascontiguousarray(maps[:, 2, :]), points=np.concatenate([d.points for d in done]),
                   seconds=seconds)


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
