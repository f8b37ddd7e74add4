"""Compiled kernels of the region engine: split the cells of a batch by the zero lines of one layer
(:func:`split_layer`), and correct the cells' next-layer maps where their slopes differ from their
parent's (:func:`add_slope_corrections`).

Split semantics (rule 1 of :mod:`explorer.tolerance`): a vertex with |g| ≤ tau is on the line; a cell is split
only if it has vertices strictly on both sides; a unit is active on an unsplit cell iff some vertex is strictly
positive.  A parent where such a tolerance decision was taken is flagged, and the caller recounts it exactly.
Cells are convex, counter-clockwise, padded by repeating vertex 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["split_layer", "add_slope_corrections"]


@njit(cache=True)
def _clip(out_v, out_nv, out_eu, out_ec, c, d, vals, t, unit, cut_id, up_v, up_u, up_c):
    """Replace cell c by its half {g ≥ 0} and write the half {g ≤ 0} into cell d.

    A half keeps its vertices (sign 0 included) and the crossing point of every edge going strictly
    from one side to the other; the edge leaving a kept point runs along the cut when the walk next
    leaves the half, otherwise along the old edge.
    """
    k = out_nv[c]
    nu, nd = 0, 0  # the upper half is built in the scratch arrays up_*, the lower one in cell d
    for i in range(k):
        i1 = i + 1 if i + 1 < k else 0
        s0 = 1 if vals[i] > t else (-1 if vals[i] < -t else 0)
        s1 = 1 if vals[i1] > t else (-1 if vals[i1] < -t else 0)
        crossing = s0 * s1 < 0
        if crossing:
            r = vals[i] / (vals[i] - vals[i1])
            cx = out_v[c, i, 0] + r * (out_v[c, i1, 0] - out_v[c, i, 0])
            cy = out_v[c, i, 1] + r * (out_v[c, i1, 1] - out_v[c, i, 1])
        old_u, old_c = out_eu[c, i], out_ec[c, i]
        if s0 >= 0:  # the upper half keeps the vertex
            up_v[nu, 0], up_v[nu, 1] = out_v[c, i, 0], out_v[c, i, 1]
            along = s0 == 0 and s1 < 0
            up_u[nu] = unit if along else old_u
            up_c[nu] = cut_id if along else old_c
            nu += 1
        if s0 <= 0:  # the lower half keeps the vertex
            out_v[d, nd, 0], out_v[d, nd, 1] = out_v[c, i, 0], out_v[c, i, 1]
            along = s0 == 0 and s1 > 0
            out_eu[d, nd] = unit if along else old_u
            out_ec[d, nd] = cut_id if along else old_c
            nd += 1
        if crossing:
            up_v[nu, 0], up_v[nu, 1] = cx, cy
            up_u[nu] = unit if s0 > 0 else old_u
            up_c[nu] = cut_id if s0 > 0 else old_c
            nu += 1
            out_v[d, nd, 0], out_v[d, nd, 1] = cx, cy
            out_eu[d, nd] = unit if s0 < 0 else old_u
            out_ec[d, nd] = cut_id if s0 < 0 else old_c
            nd += 1
    out_v[c, :nu] = up_v[:nu]
    out_eu[c, :nu] = up_u[:nu]
    out_ec[c, :nu] = up_c[:nu]
    out_nv[c], out_nv[d] = nu, nd


@njit(cache=True)
def _grow(out_v, out_nv, out_eu, out_ec, src, bits, cap, m):
    """The out arrays with room for cap rows, the first m copied."""
    v = np.empty((cap,) + out_v.shape[1:])
    v[:m] = out_v[:m]
    nv = np.empty(cap, np.int64)
    nv[:m] = out_nv[:m]
    eu = np.empty((cap, out_eu.shape[1]), np.int32)
    eu[:m] = out_eu[:m]
    ec = np.empty((cap, out_ec.shape[1]), np.int64)
    ec[:m] = out_ec[:m]
    s = np.empty(cap, np.int64)
    s[:m] = src[:m]
    b = np.empty((cap, bits.shape[1]), np.bool_)
    b[:m] = bits[:m]
    return v, nv, eu, ec, s, b


@njit(cache=True)
def _widen(out_v, out_eu, out_ec, width):
    """The per-vertex out arrays with room for width vertices per row."""
    cap = out_v.shape[0]
    v = np.empty((cap, width, 2))
    v[:, :out_v.shape[1]] = out_v
    eu = np.zeros((cap, width), np.int32)
    eu[:, :out_eu.shape[1]] = out_eu
    ec = np.zeros((cap, width), np.int64)
    ec[:, :out_ec.shape[1]] = out_ec
    return v, eu, ec


@njit(cache=True)
def _split_parent(p, verts, nv, eu, ec, G, tau, unit, cut_id, m, out_v, out_nv, out_eu, out_ec, src, bits, base,
                  amb, cut_list, stack_cell, stack_pos, vals, up_v, up_u, up_c, hi, lo):
    """Split parent p depth first into the rows m, m+1, … of the out arrays; returns (next row, next chord id).

    amb[p] becomes True when some sign on the way was decided by the tolerance: a unit that is not identically
    zero (tau > 0) has |g| ≤ tau at a vertex, so float64 cannot tell on which side of its line the vertex lies.

    Returns (-1, 0) when the out arrays lack rows, (-2, 0) when they lack vertex slots: the caller grows
    them and splits p again.
    No array is reallocated here, which keeps the hot loop free of reference counting.
    """
    n = G.shape[2]
    cap, width = out_v.shape[0], out_v.shape[1]
    k = nv[p]
    hi[:] = -np.inf
    lo[:] = np.inf
    near = False
    for i in range(k):  # every unit at every vertex of the parent (same arithmetic as below), unit-contiguous
        x, y = verts[p, i, 0], verts[p, i, 1]
        for j in range(n):
            g = x * G[p, 0, j] + y * G[p, 1, j] + G[p, 2, j]
            hi[j] = max(hi[j], g)
            lo[j] = min(lo[j], g)
            near |= abs(g) <= tau[p, j] and tau[p, j] > 0
    n_cut = 0
    for j in range(n):
        pos, neg = hi[j] > tau[p, j], lo[j] < -tau[p, j]
        base[p, j] = pos and not neg
        if pos and neg:
            cut_list[n_cut] = j
            n_cut += 1
    if m >= cap:
        return -1, 0
    out_v[m, :k] = verts[p, :k]
    out_eu[m, :k] = eu[p, :k]
    out_ec[m, :k] = ec[p, :k]
    out_nv[m] = k
    src[m] = p
    bits[m] = base[p]
    top = 0
    stack_cell[0], stack_pos[0] = m, 0
    m += 1
    while top >= 0:
        c, q = stack_cell[top], stack_pos[top]
        top -= 1
        while q < n_cut:
            j = cut_list[q]
            q += 1
            kc = out_nv[c]
            a0, a1, a2, t = G[p, 0, j], G[p, 1, j], G[p, 2, j], tau[p, j]
            pos, neg = False, False
            for i in range(kc):
                g = out_v[c, i, 0] * a0 + out_v[c, i, 1] * a1 + a2
                vals[i] = g
                pos |= g > t
                neg |= g < -t
                near |= abs(g) <= t and t > 0
            if not (pos and neg):
                bits[c, j] = pos
                continue
            if m >= cap:
                return -1, 0
            if kc + 1 > width:
                return -2, 0
            d = m
            m += 1
            _clip(out_v, out_nv, out_eu, out_ec, c, d, vals, t, unit + j, cut_id, up_v, up_u, up_c)
            cut_id += 1
            src[d] = p
            bits[d] = bits[c]
            bits[c, j] = True
            bits[d, j] = False
            top += 1
            stack_cell[top], stack_pos[top] = d, q
            top += 1
            stack_cell[top], stack_pos[top] = c, q
            break
    amb[p] = near
    return m, cut_id


# compiled eagerly, at import (cached on disk after the first run), so no enumeration pays for it
@njit("(f8[:, :, ::1], i8[::1], i4[:, ::1], i8[:, ::1], f8[:, :, ::1], f8[:, ::1], i8, i8)", cache=True)
def split_layer(verts, nv, eu, ec, G, tau, unit0, cut0):
    """Split the P parent cells by the n units whose affine maps on each parent are G (P, 3, n).

    verts (P, V, 2), nv (P,), eu (P, V) int32 unit ids, ec (P, V) int64 chord ids, tau (P, n).
    Each parent is processed depth first: a cell takes the units of its parent's cut list in order,
    records the side of every unit that misses it, and is split by the first that cuts it; both halves
    continue with the rest of the list.  Returns (verts, nv, eu, ec, src, bits, base, unresolved, next chord
    id): the finished cells (C, W, 2) with their parent index src (C,), activations bits (C, n), the
    activations base (P, n) shared by every descendant of a parent (cutting units counted as off), and the
    parents (P,) bool whose split met a vertex with |g| ≤ tau, tau > 0 (see :func:`_split_parent`).
    """
    P, V, _ = verts.shape
    n = G.shape[2]
    cap, width = 4 * P + 16, V + 2
    out_v = np.empty((cap, width, 2))
    out_nv = np.empty(cap, np.int64)
    out_eu = np.empty((cap, width), np.int32)
    out_ec = np.empty((cap, width), np.int64)
    src = np.empty(cap, np.int64)
    bits = np.empty((cap, n), np.bool_)
    base = np.empty((P, n), np.bool_)
    cut_list = np.empty(n, np.int64)
    stack_cell, stack_pos = np.empty(n + 2, np.int64), np.empty(n + 2, np.int64)  # depth ≤ cut units + 1
    vals = np.empty(V + n + 2)  # a cell of the parent has at most V + n vertices
    up_v, up_u, up_c = np.empty((V + n + 2, 2)), np.empty(V + n + 2, np.int32), np.empty(V + n + 2, np.int64)
    hi, lo = np.empty(n), np.empty(n)  # the range of each unit over the parent's vertices
    amb = np.zeros(P, np.bool_)
    m, cut_id = 0, cut0
    p = 0
    while p < P:
        m_next, cut_next = _split_parent(p, verts, nv, eu, ec, G, tau, unit0, cut_id, m, out_v, out_nv, out_eu,
                                         out_ec, src, bits, base, amb, cut_list, stack_cell, stack_pos, vals, up_v,
                                         up_u, up_c, hi, lo)
        if m_next == -1:  # out of rows: double them and split the same parent again
            cap = 2 * cap
            out_v, out_nv, out_eu, out_ec, src, bits = _grow(out_v, out_nv, out_eu, out_ec, src, bits, cap, m)
            continue
        if m_next == -2:  # out of vertex slots (a cell has at most V + n vertices)
            width = min(2 * width, V + n + 2)
            out_v, out_eu, out_ec = _widen(out_v, out_eu, out_ec, width)
            continue
        m, cut_id = m_next, cut_next
        p += 1
    w = 1
    for i in range(m):
        w = max(w, out_nv[i])
    for i in range(m):  # pad by repeating vertex 0
        for s in range(out_nv[i], w):
            out_v[i, s] = out_v[i, 0]
            out_eu[i, s] = 0
            out_ec[i, s] = 0
    return (out_v[:m, :w].copy(), out_nv[:m].copy(), out_eu[:m, :w].copy(), out_ec[:m, :w].copy(),
            src[:m].copy(), bits[:m].copy(), base, amb, cut_id)


@njit("(f8[:, :, ::1], f8[:, ::1], i8[::1], b1[:, ::1], b1[:, ::1], f8[:, :, ::1], f8[:, ::1], f8[:, ::1], f8)",
      cache=True)
def add_slope_corrections(G, S, src, bits, base, G_in, S_in, W_t, alpha):
    """Add to each cell's map the units on which its slope differs from its parent's base slopes.

    A unit k active on cell c but counted off in the base adds (1 - α) g_k W[:, k] to the cell's
    next-layer map G[c] (3, m) and (1 - α) s_k |W[:, k]| to its term magnitudes S[c] (m,).
    G (C, 3, m), S (C, m) are updated in place; G_in (P, 3, n), S_in (P, n) are the parents' maps;
    W_t is W transposed (n, m).
    """
    C, n = bits.shape
    m = W_t.shape[1]
    f = 1.0 - alpha
    for c in range(C):
        p = src[c]
        for k in range(n):
            if bits[c, k] and not base[p, k]:
                g0, g1, g2, s = f * G_in[p, 0, k], f * G_in[p, 1, k], f * G_in[p, 2, k], f * S_in[p, k]
                for i in range(m):
                    w = W_t[k, i]
                    G[c, 0, i] += g0 * w
                    G[c, 1, i] += g1 * w
                    G[c, 2, i] += g2 * w
                    S[c, i] += s * abs(w)
