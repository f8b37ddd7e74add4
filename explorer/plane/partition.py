"""Queries on an enumerated partition: adjacency, linear regions, point location, level sets, boundaries."""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError
from ..net import Network
from ..tolerance import SIGN_TOL
from .regions import Regions

__all__ = ["adjacency", "linear_labels", "locate", "level_set", "decision_boundary", "layer_boundaries",
           "unit_boundary", "preactivation_maps"]


def adjacency(regions: Regions) -> np.ndarray:
    """Pairs (E, 2) of regions whose boundaries share a segment of positive length (i < j per row).

    Two regions touch along a segment only if they descend from the two halves of one split, whose chord
    carries one id on both sides; so edges are matched by chord id and overlap along that chord, in one
    sorted sweep (no geometric snapping).  Overlaps shorter than SIGN_TOL times the domain diameter are ignored.
    """
    start, end = regions.edges()
    chord = regions.edge_cuts
    inner = np.flatnonzero(chord >= 0)
    if inner.size == 0:
        return np.zeros((0, 2), np.int64)
    order = inner[np.argsort(chord[inner], kind="stable")]
    chord, p, q = chord[order], start[order], end[order]
    first = np.flatnonzero(np.r_[True, chord[1:] != chord[:-1]])  # first edge of each chord group
    group = np.cumsum(np.r_[True, chord[1:] != chord[:-1]]) - 1
    length = np.hypot(*(q - p).T)
    longest = _order_of_max(length, first)  # reference direction: the longest edge of each chord
    # (a chord whose edges all round to length 0, possible for exactly recounted slivers, has no direction and
    # no positive overlap)
    ref = np.divide((q - p)[longest], length[longest, None], out=np.zeros((len(longest), 2)),
                    where=length[longest, None] > 0)
    d = ref[group]
    tp, tq = np.einsum("ij,ij->i", p, d), np.einsum("ij,ij->i", q, d)
    side = tq > tp
    lo, hi = np.minimum(tp, tq), np.maximum(tp, tq)
    a, b = _overlapping_pairs(group, lo, hi, side)
    diameter = np.ptp(regions.domain, axis=0).max()
    overlap = np.minimum(hi[a], hi[b]) - np.maximum(lo[a], lo[b])
    keep = overlap > SIGN_TOL * diameter
    owner = regions.owner[order]
    pairs = np.sort(np.stack([owner[a[keep]], owner[b[keep]]], axis=1), axis=1)
    return np.unique(pairs, axis=0)


def _order_of_max(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Index of the largest value in each group of consecutive entries starting at ``first``."""
    group = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(values)]))
    order = np.lexsort((values, group))  # by group, then value: the last of each group is its maximum
    return order[np.r_[first[1:], len(values)] - 1]


def _overlapping_pairs(group, lo, hi, side):
    """Candidate pairs (a, b) of intervals on opposite sides of one chord that may overlap.

    Intervals of one side are interior-disjoint, so sweeping the endpoints of each group in order
    (ends before starts at ties) the interval of the other side that is open when one starts is its only
    possible partner starting earlier; every overlapping pair is found at the later of its two starts.
    """
    n = len(lo)
    ev_t = np.concatenate([lo, hi])
    ev_kind = np.concatenate([np.ones(n, np.int8), np.zeros(n, np.int8)])  # 1 start, 0 end
    ev_id = np.concatenate([np.arange(n), np.arange(n)])
    order = np.lexsort((ev_kind, ev_t, np.concatenate([group, group])))
    ev_id, ev_kind = ev_id[order], ev_kind[order]
    pos = np.empty(2 * n, np.int64)
    pos[order] = np.arange(2 * n)
    end_pos = pos[n:]  # (n,) sweep position of every interval's end
    at = np.arange(2 * n)
    out_a, out_b = [], []
    for s in (True, False):
        starts_here = np.where((ev_kind == 1) & (side[ev_id] == s), at, -1)
        last = np.maximum.accumulate(starts_here)  # latest start of side s at or before each event
        cand = last >= 0
        other = np.where(cand, ev_id[np.maximum(last, 0)], 0)
        still_open = cand & (end_pos[other] > at)
        mine = still_open & (ev_kind == 1) & (side[ev_id] != s)
        out_a.append(ev_id[mine])
        out_b.append(other[mine])
    return np.concatenate(out_a), np.concatenate(out_b)


def linear_labels(regions: Regions, *, rtol: float = SIGN_TOL) -> np.ndarray:
    """Label (R,) of the linear region of every activation region: adjacent regions whose output maps
    coincide are merged (connected components).

    Adjacent maps agree on their common edge, so they coincide iff their gradients do; gradients are
    compared entrywise within rtol times the largest gradient entry of the partition.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = adjacency(regions)
    grad = regions.out_grad.reshape(regions.n_regions, -1)
    scale = max(float(np.abs(grad).max(initial=0.0)), np.finfo(float).tiny)
    same = np.abs(grad[pairs[:, 0]] - grad[pairs[:, 1]]).max(axis=1, initial=0.0) <= rtol * scale
    a, b = pairs[same].T
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(regions.n_regions,) * 2)
    return connected_components(graph, directed=False)[1]


def locate(regions: Regions, points: np.ndarray) -> np.ndarray:
    """Index (B,) of the region whose pattern each point has; -1 if none (outside, or on a boundary
    whose pattern belongs to no full-dimensional region)."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    packed = np.packbits(_patterns(regions, points), axis=1)
    both = np.concatenate([regions.packed_patterns, packed]).reshape(len(regions.packed_patterns) + len(packed), -1)
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    lookup = np.full(inverse.max() + 1, -1)
    lookup[inverse[:regions.n_regions]] = np.arange(regions.n_regions)
    found = lookup[inverse[regions.n_regions:]]
    inside = _inside_convex(regions.domain, points)
    return np.where(inside, found, -1)


def _inside_convex(poly: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each point lies in the closed convex CCW polygon (within SIGN_TOL of its scale)."""
    d = np.roll(poly, -1, axis=0) - poly  # (K, 2)
    rel = points[:, None, :] - poly[None]  # (B, K, 2)
    cross = d[None, :, 0] * rel[..., 1] - d[None, :, 1] * rel[..., 0]
    return (cross >= -SIGN_TOL * np.abs(poly).max() * np.hypot(*d.T)).all(axis=1)


def level_set(regions: Regions, grad: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Segments (S, 2, 2) of {x : grad[r]·x + bias[r] = 0} inside every region polygon r.

    The function is affine on each convex polygon, so its zero set there is the chord between the extreme
    zero points on the boundary: vertices with |value| ≤ SIGN_TOL·(terms) and strict sign changes along edges.
    Regions where the function is identically zero contribute nothing.
    """
    return _level_segments(regions, grad, bias)[0]


def _level_segments(regions: Regions, grad: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """level_set plus the region (S,) each segment lies in (for pieces along an edge: one of its sides).

    Where the function changes sign inside a polygon the zero set is one interior chord.  Otherwise it can
    only touch the boundary: zero edges are shared with the neighbour, so they are merged per split chord
    (a 1-D union of the pieces from both sides) and reported once.
    """
    grad, bias = np.asarray(grad, dtype=np.float64), np.asarray(bias, dtype=np.float64)
    owner, v = regions.owner, regions.vertices
    val = np.einsum("ij,ij->i", v, grad[owner]) + bias[owner]  # (T,)
    tol = SIGN_TOL * (np.abs(v * grad[owner]).sum(axis=1) + np.abs(bias[owner]))
    nxt = regions.next_vertex
    sgn = np.where(val > tol, 1, np.where(val < -tol, -1, 0))
    scale = max(1.0, float(np.abs(grad).max(initial=0.0)))
    live = np.abs(grad).max(axis=1) > np.finfo(float).eps * scale  # (R,) skip identically-zero maps
    R = regions.n_regions
    both = (np.bincount(owner, sgn > 0, R) > 0) & (np.bincount(owner, sgn < 0, R) > 0) & live
    cross = (sgn * sgn[nxt] < 0) & both[owner]
    t = val[cross] / (val[cross] - val[nxt][cross])
    zero = (sgn == 0) & both[owner]
    pts = np.concatenate([v[zero], v[cross] + t[:, None] * (v[nxt][cross] - v[cross])])
    who = np.concatenate([owner[zero], owner[cross]])
    seg, seg_owner = np.zeros((0, 2, 2)), np.zeros(0, np.int64)
    if len(who):
        along = np.einsum("ij,ij->i", pts, np.stack([-grad[who, 1], grad[who, 0]], axis=1))
        order = np.lexsort((along, who))
        pts, who = pts[order], who[order]
        first = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
        last = np.r_[first[1:], len(who)] - 1
        seg, seg_owner = np.stack([pts[first], pts[last]], axis=1), who[first]
    on_edge = np.flatnonzero((sgn == 0) & (sgn[nxt] == 0) & ~both[owner] & live[owner])
    if len(on_edge):
        start, end = regions.edges()
        union, union_owner = _union_on_chords(regions.edge_cuts[on_edge], on_edge, start[on_edge], end[on_edge])
        seg, seg_owner = np.concatenate([seg, union]), np.concatenate([seg_owner, owner[union_owner]])
    long = np.hypot(*(seg[:, 1] - seg[:, 0]).T) > SIGN_TOL * np.ptp(regions.domain, axis=0).max()
    return seg[long], seg_owner[long]


def _union_on_chords(cut, edge, start, end):
    """Union of collinear edge pieces per chord id (domain-boundary edges, id -1, stay separate).

    Returns segments (S, 2, 2) and, for each, the index of one edge it came from.
    """
    key = np.where(cut >= 0, cut, -1 - edge)
    out, src = [], []
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        p, q = start[idx], end[idx]
        d = q[0] - p[0]
        t0, t1 = np.minimum(p @ d, q @ d), np.maximum(p @ d, q @ d)
        lo_pt = np.where((p @ d <= q @ d)[:, None], p, q)
        hi_pt = np.where((p @ d <= q @ d)[:, None], q, p)
        order = np.argsort(t0)
        cur_lo, cur_hi, reach = order[0], order[0], t1[order[0]]
        for i in order[1:]:
            if t0[i] > reach + SIGN_TOL * max(1.0, abs(reach)):  # a gap: close the current piece
                out.append([lo_pt[cur_lo], hi_pt[cur_hi]])
                src.append(edge[idx[cur_lo]])
                cur_lo, cur_hi, reach = i, i, t1[i]
            elif t1[i] > reach:
                cur_hi, reach = i, t1[i]
        out.append([lo_pt[cur_lo], hi_pt[cur_hi]])
        src.append(edge[idx[cur_lo]])
    return np.array(out, dtype=np.float64).reshape(-1, 2, 2), np.array(src, np.int64)


def decision_boundary(regions: Regions) -> np.ndarray:
    """Segments (S, 2, 2) of the exact decision boundary: f = 0 for one output, else where the two
    largest logits tie (the level set of f_k - f_j, clipped to where both beat every other logit)."""
    K = regions.out_grad.shape[1]
    if K == 1:
        return level_set(regions, regions.out_grad[:, 0], regions.out_bias[:, 0])
    pieces = []
    for k in range(K):
        for j in range(k + 1, K):
            seg, owner = _level_segments(regions, regions.out_grad[:, k] - regions.out_grad[:, j],
                                         regions.out_bias[:, k] - regions.out_bias[:, j])
            pieces.append(_clip_to_top(regions, seg, owner, k, [m for m in range(K) if m not in (k, j)]))
    return np.concatenate(pieces) if pieces else np.zeros((0, 2, 2))


def layer_boundaries(regions: Regions, layer: int) -> np.ndarray:
    """Edges (S, 2, 2) of the partition that lie on the zero sets of hidden layer ``layer`` (0-based)."""
    lo = sum(regions.net.hidden_widths[:layer])
    hi = lo + regions.net.hidden_widths[layer]
    start, end = regions.edges()
    mine = np.flatnonzero((regions.edge_units >= lo) & (regions.edge_units < hi))
    return _chords(regions.edge_cuts[mine], start[mine], end[mine])


def unit_boundary(regions: Regions, unit: int) -> np.ndarray:
    """The bent hyperplane of one hidden unit (pattern index): segments (S, 2, 2) where g_unit = 0."""
    net = regions.net
    if not 0 <= unit < net.n_hidden:
        raise ExplorerError(f"unit index must lie in 0..{net.n_hidden - 1}; got {unit}.")
    layer = int(net.unit_layers()[unit])
    if regions.scaling is None:
        maps = preactivation_maps(net, regions.patterns, layer)[:, :, unit - sum(net.hidden_widths[:layer])]
        return level_set(regions, maps[:, :2], maps[:, 2])
    # the rescaled network's maps times 2^unit_exp > 0 (same zero set), in the rescaled inputs x' = x / 2^input_exp
    maps = preactivation_maps(regions.scaling.net, regions.patterns, layer)[:, :, unit - sum(net.hidden_widths[:layer])]
    return level_set(regions, np.ldexp(maps[:, :2], -regions.scaling.input_exp[None, :]), maps[:, 2])


def _patterns(regions: Regions, points: np.ndarray) -> np.ndarray:
    """Activation patterns (B, N) at the points, computed on the exactly rescaled network when there is one
    (so that magnitudes beyond float64's range in the original give the right signs)."""
    if regions.scaling is None:
        return regions.net.patterns(points)
    return regions.scaling.net.patterns(np.ldexp(points, -regions.scaling.input_exp[None, :]))


def preactivation_maps(net: Network, patterns: np.ndarray, layer: int, *, chunk: int = 20_000) -> np.ndarray:
    """Affine maps (R, 3, n_layer) of hidden layer ``layer``'s pre-activations on regions with the given
    patterns: rows ∂/∂x, ∂/∂y and the constant, obtained by composing the layers with fixed slopes."""
    out = []
    for lo in range(0, len(patterns), chunk):
        pat = patterns[lo:lo + chunk]
        H = np.broadcast_to(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), (len(pat), 3, 2))
        start = 0
        for l in range(layer + 1):
            W, b = net.weights[l], net.biases[l]
            G = H @ W.T
            G[:, 2, :] += b
            if l == layer:
                out.append(G)
                break
            n = W.shape[0]
            H = G * np.where(pat[:, start:start + n], 1.0, net.alpha)[:, None, :]
            start += n
    return np.concatenate(out) if out else np.zeros((0, 3, net.hidden_widths[layer]))


def _clip_to_top(regions, seg, owner, k, others):
    """Keep the part of each segment (in region ``owner``) where logit k ≥ every logit in ``others``."""
    t0, t1 = np.zeros(len(seg)), np.ones(len(seg))
    p, d = seg[:, 0], seg[:, 1] - seg[:, 0]
    for m in others:
        a = regions.out_grad[owner, k] - regions.out_grad[owner, m]  # (S, 2)
        c = regions.out_bias[owner, k] - regions.out_bias[owner, m]
        f0, slope = np.einsum("ij,ij->i", a, p) + c, np.einsum("ij,ij->i", a, d)  # f(t) = f0 + slope t ≥ 0
        with np.errstate(divide="ignore", invalid="ignore"):
            root = -f0 / slope
        t0 = np.where(slope > 0, np.maximum(t0, root), t0)
        t1 = np.where(slope < 0, np.minimum(t1, root), t1)
        dead = (slope == 0) & (f0 < 0)
        t1 = np.where(dead, -1.0, t1)
    keep = t1 > t0 + SIGN_TOL
    return np.stack([p + t0[:, None] * d, p + t1[:, None] * d], axis=1)[keep]


def _chords(cut: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """One segment (S, 2, 2) per split chord: edges with equal cut ids are collinear pieces of one chord
    (on both of its sides, without gaps), so the chord runs between their extreme endpoints."""
    if len(cut) == 0:
        return np.zeros((0, 2, 2))
    order = np.argsort(cut, kind="stable")
    cut, start, end = cut[order], start[order], end[order]
    first = np.flatnonzero(np.r_[True, cut[1:] != cut[:-1]])
    group = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(cut)]))
    d = (end - start)[first][group]  # (E, 2) direction of each chord's first edge
    pts, g = np.concatenate([start, end]), np.concatenate([group, group])
    along = np.einsum("ij,ij->i", pts, np.concatenate([d, d]))
    order = np.lexsort((along, g))
    pts, g = pts[order], g[order]
    lo = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    hi = np.r_[lo[1:], len(g)] - 1
    return np.stack([pts[lo], pts[hi]], axis=1)
