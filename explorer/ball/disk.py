"""Exact counts inside a 2-D ball (disk, square or diamond) from the polygons of the exact partition.

N_B = #{patterns whose polygon P has dist_p(x0, P) < r}: the ball is open and P is the closure of its
interior, so P meets B iff its interior does.  A neuron cuts B iff min < 0 < max of its pre-activation
over the closed ball; on each polygon the pre-activation is affine, so its extremes over P ∩ B̄ lie among
P's vertices in B̄, P's edges ∩ ∂B, and the ball's extreme points (x0 ± r·γ/‖γ‖₂, or the 4 corners) in P.
Distances and pre-activations are computed in coordinates rescaled by a power of two (exact), so radii and
coordinates up to float64's largest numbers neither overflow nor square to infinity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, local_affine
from ..plane.regions import Regions, enumerate_regions
from .primitives import check_ball, scaled_ball

__all__ = ["DiskCount", "disk_count", "disk_counts", "pattern_distances", "polygon_distances"]

# facet normals n with n·(x − x0) ≤ r, and corners (in units of r), of the square and the diamond
_FACETS = {"inf": np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]),
           "1": np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])}
_CORNERS = {"inf": np.array([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]]),
            "1": np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])}


@dataclass(frozen=True, eq=False, kw_only=True)
class DiskCount:
    """Exact regions in one ball of a 2-input network.

    Attributes
    ----------
    n_regions : int, N_B
    k : tuple of int (L,), neurons per layer whose zero set cuts the open ball (rule 1 of explorer.tolerance)
    source : str, where the partition came from (reused, or enumerated on the ball's bounding square)
    seconds : float
    """

    n_regions: int
    k: tuple
    source: str
    seconds: float


def disk_count(net: Network, center, radius: float, *, norm: str = "2", regions: Regions | None = None,
               time_limit: float | None = None, max_regions: int | None = None) -> DiskCount:
    """N_B and the exact k_l for B_p(center, radius), p ∈ {2, inf, 1}, of a 2-input network.

    The partition is ``regions`` when its domain contains the closed ball, else an enumeration on the ball's
    bounding square (p = 2, inf) or on the diamond itself (p = 1); ``source`` says which.  ``time_limit``
    (seconds) and ``max_regions`` bound that enumeration.

    Raises
    ------
    ExplorerError : the network does not take 2 inputs, ``regions`` belongs to another network, bad ball.
    RegionLimitError : the enumeration ran out of time or regions.

    Examples
    --------
    >>> net = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, -1.0], [0.0]))
    >>> c = disk_count(net, [0.3, 0.2], 0.37)
    >>> (c.n_regions, c.k)
    (5, (3,))
    >>> disk_count(net, [0.3, 0.2], 0.19).n_regions      # d* = 0.2
    1
    """
    start = time.perf_counter()
    x0, r, p = check_ball(net, center, radius, norm)
    regions, source = _partition(net, x0[None, :], r, p, regions, time_limit, max_regions)
    meet = polygon_distances(x0, regions, norm=p) < r
    return DiskCount(n_regions=len(np.unique(regions.packed_patterns[meet], axis=0)),
                     k=_exact_k(net, x0, r, p, regions, np.flatnonzero(meet)), source=source,
                     seconds=time.perf_counter() - start)


def disk_counts(net: Network, centers, radius: float, *, norm: str = "2", regions: Regions | None = None) -> np.ndarray:
    """N_B (B,) for balls of one radius around every row of ``centers`` (B, 2), from one shared partition."""
    centers = np.atleast_2d(np.asarray(centers, dtype=np.float64))
    if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) == 0:
        raise ExplorerError(f"centers must have shape (B, 2); got {centers.shape}.")
    p = check_ball(net, centers[0], radius, norm)[2]
    if not np.isfinite(centers).all():
        raise ExplorerError("the centres have NaN or infinite coordinates; give finite numbers.")
    regions, _ = _partition(net, centers, float(radius), p, regions, None, None)
    ids = np.unique(regions.packed_patterns, axis=0, return_inverse=True)[1].reshape(-1)
    return np.array([len(np.unique(ids[polygon_distances(c, regions, norm=p) < radius]))
                     for c in centers], dtype=np.int64)


def pattern_distances(net: Network, center, radius: float, *, norm: str = "2", regions: Regions | None = None,
                      time_limit: float | None = None, max_regions: int | None = None) -> np.ndarray:
    """ℓp distance (P,) from the centre to every pattern's polygon, over the patterns that come within
    ``radius`` (the farther ones are not listed); N_B(r) = #{d < r} for every r ≤ radius.  ``time_limit`` and
    ``max_regions`` bound the enumeration (RegionLimitError past them)."""
    x0, r, p = check_ball(net, center, radius, norm)
    regions, _ = _partition(net, x0[None, :], r, p, regions, time_limit, max_regions)
    dist = polygon_distances(x0, regions, norm=p)
    ids = np.unique(regions.packed_patterns, axis=0, return_inverse=True)[1].reshape(-1)
    best = np.full(ids.max() + 1, np.inf)
    np.minimum.at(best, ids, dist)
    return best[best < r]


def polygon_distances(center, regions: Regions, *, norm: str = "2") -> np.ndarray:
    """dist_p (R,) from ``center`` to every region's closed polygon: 0 inside, else the least ℓp distance
    to an edge (a convex piecewise-linear function of the edge parameter for p = 1, inf, minimal at a
    breakpoint)."""
    x0, offsets = np.asarray(center, dtype=np.float64), regions.offsets
    # work in units of 2^k ≥ every coordinate: differences and squares cannot overflow, distances scale back
    k = int(np.frexp(max(float(np.abs(regions.vertices).max(initial=0.0)), float(np.abs(x0).max())))[1])
    x0 = np.ldexp(x0, -k)
    a, b = (np.ldexp(v, -k) for v in regions.edges())
    d, e = b - a, a - x0  # (T, 2)
    cross = d[:, 0] * -e[:, 1] + d[:, 1] * e[:, 0]  # (b − a) × (x0 − a): ≥ 0 on the inner side
    # inside: on the inner side of every edge and strictly of one (a sliver that rounds to a point has none)
    inside = (np.minimum.reduceat(cross, offsets[:-1]) >= 0) & (np.maximum.reduceat(cross, offsets[:-1]) > 0)
    if norm == "2":
        dd = (d * d).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip(np.where(dd > 0, -(e * d).sum(axis=1) / dd, 0.0), 0.0, 1.0)
        seg = np.hypot(*(e + t[:, None] * d).T)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.stack([np.zeros(len(d)), np.ones(len(d)), -e[:, 0] / d[:, 0], -e[:, 1] / d[:, 1],
                          (e[:, 1] - e[:, 0]) / (d[:, 0] - d[:, 1]), -(e[:, 0] + e[:, 1]) / (d[:, 0] + d[:, 1])], 1)
        t = np.clip(np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)  # (T, 6)
        u = np.abs(e[:, None, :] + t[..., None] * d[:, None, :])  # (T, 6, 2)
        seg = (u.max(axis=2) if norm == "inf" else u.sum(axis=2)).min(axis=1)
    with np.errstate(over="ignore"):
        return np.where(inside, 0.0, np.ldexp(np.minimum.reduceat(seg, offsets[:-1]), k))


# ---- helpers -------------------------------------------------------------------------------------
def _partition(net: Network, centers: np.ndarray, r: float, p: str, regions: Regions | None,
               time_limit: float | None, max_regions: int | None):
    """A partition whose domain contains every closed ball, and a sentence saying where it came from.

    A given partition is reused when it contains the balls and its extent is within 2^900 of the radius (beyond
    that the rescaled coordinates of :func:`_exact_k` would overflow); otherwise the bounding square (or the ℓ1
    ball) is enumerated, within ``time_limit`` and ``max_regions``.

    Raises
    ------
    ExplorerError : the bounding square exceeds float64's range.
    """
    if net.n_inputs != 2:
        raise ExplorerError(f"exact counts in a ball need a network with 2 inputs; this one has {net.n_inputs}. "
                            "Take a 2-D slice first.")
    if regions is not None:
        if not (regions.net is net or regions.net.equals(net)):
            raise ExplorerError("the given regions belong to another network; pass the partition of this network.")
        dom = regions.domain
        normal = (np.roll(dom, -1, axis=0) - dom) @ np.array([[0.0, 1.0], [-1.0, 0.0]])  # inward, (K, 2)
        dual = {"2": np.hypot(*normal.T), "inf": np.abs(normal).sum(axis=1), "1": np.abs(normal).max(axis=1)}[p]
        slack = np.einsum("kj,bkj->bk", normal, centers[:, None, :] - dom[None]) - r * dual  # (B, K)
        if (slack >= 0).all() and np.abs(dom).max() <= np.ldexp(r, 900):
            return regions, "the given partition (it contains the ball)"
    with np.errstate(over="ignore"):
        lo, hi = centers.min(axis=0) - r, centers.max(axis=0) + r
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ExplorerError("the ball reaches beyond the largest float64 numbers (about 1.8e308), so its regions "
                            "cannot be enumerated; choose a smaller radius or a centre nearer the origin.")
    if p == "1" and len(centers) == 1:
        domain, where = centers[0] + r * _CORNERS["1"], "enumerated on the ℓ1 ball itself"
    else:
        domain, where = (lo[0], hi[0], lo[1], hi[1]), "enumerated on the bounding square of the ball"
    if regions is not None:
        where += " (the given partition does not contain it)"
    return enumerate_regions(net, domain, time_limit=time_limit, max_regions=max_regions), where


def _exact_k(net: Network, x0: np.ndarray, r: float, p: str, regions: Regions, sel: np.ndarray) -> tuple:
    """Neurons per layer with min < −τ and max > τ over the closed ball (candidates: see the module doc), or
    whose bit differs between regions meeting the ball."""
    L = len(net.hidden_widths)
    if net.n_hidden == 0 or sel.size == 0:
        return (0,) * L
    ball = scaled_ball(net, x0, r)  # rescaled units: x = 2^k x', g = 2^e g'; the same signs
    net, x0, r = ball.net, ball.center, ball.radius
    lengths = np.diff(regions.offsets)[sel]
    owner = np.repeat(np.arange(sel.size), lengths)  # (T,) selected polygon of every edge
    pos = np.arange(owner.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    a = np.ldexp(regions.vertices[regions.offsets[sel][owner] + pos], -ball.input_exp)
    b = np.ldexp(regions.vertices[regions.offsets[sel][owner] + (pos + 1) % lengths[owner]], -ball.input_exp)
    d, e = b - a, a - x0
    c, G = (np.concatenate(m, axis=1) for m in zip(*local_affine(net, np.zeros((sel.size, 2)),
                                                                  patterns=regions.patterns[sel])))  # (M, N), (M, N, 2)
    pts, own = [a[_norm(e, p) <= r]], [owner[_norm(e, p) <= r]]
    if p == "2":  # |e + t d|² = r²
        dd, ed = (d * d).sum(axis=1), (e * d).sum(axis=1)
        disc = ed ** 2 - dd * ((e * e).sum(axis=1) - r * r)
        with np.errstate(divide="ignore", invalid="ignore"):
            roots = (-ed[:, None] + np.array([-1.0, 1.0]) * np.sqrt(np.maximum(disc, 0))[:, None]) / dd[:, None]
        ok = (disc >= 0)[:, None] & (dd > 0)[:, None] & (roots >= 0) & (roots <= 1)
    else:  # n·(e + t d) = r for each facet normal n
        with np.errstate(divide="ignore", invalid="ignore"):
            roots = (r - e @ _FACETS[p].T) / (d @ _FACETS[p].T)  # (T, 4)
        ok = np.isfinite(roots) & (roots >= 0) & (roots <= 1)
        ok &= _norm(e[:, None, :] + np.where(ok, roots, 0.0)[..., None] * d[:, None, :], p) <= r * (1 + 1e-12)
    tt, kk = np.nonzero(ok)
    pts.append(a[tt] + roots[tt, kk][:, None] * d[tt])
    own.append(owner[tt])
    if p != "2":  # corners of the square / diamond that lie in a polygon
        corners = x0 + r * _CORNERS[p]
        inside = _inside(a, d, lengths, corners[None, :, :].repeat(owner.size, 0))
        mm, kk = np.nonzero(inside)
        pts.append(corners[kk])
        own.append(mm)
    P, O = np.concatenate(pts), np.concatenate(own)
    vals = np.einsum("cnk,ck->cn", G[O], P) + c[O]  # (C, N): each candidate's pre-activations
    lo, hi = vals.min(axis=0, initial=np.inf), vals.max(axis=0, initial=-np.inf)
    if p == "2":  # x0 ± r γ/‖γ‖, where it lies in the polygon
        norm = np.hypot(G[..., 0], G[..., 1])  # (M, N)
        unit = np.divide(G, norm[..., None], out=np.zeros_like(G), where=norm[..., None] > 0)
        centre = np.einsum("mnk,k->mn", G, x0) + c
        top, bottom = (_inside(a, d, lengths, (x0 + s * r * unit)[owner]) for s in (1.0, -1.0))
        hi = np.maximum(hi, np.where(top, centre + r * norm, -np.inf).max(axis=0))
        lo = np.minimum(lo, np.where(bottom, centre - r * norm, np.inf).min(axis=0))
    tau = np.concatenate(ball.tau)  # rule 1 on the rescaled values, as for the certifiers
    # also exactly: a unit active on one region meeting the ball and off, without being identically 0, on another
    # takes both signs there (each region meets the open ball in an open set), however thin its values
    bits = regions.patterns[sel]
    live = (c != 0) | (G != 0).any(axis=2)  # (M, N): the unit's map on the region is not identically 0
    cut = ((lo < -tau) & (hi > tau)) | (bits.any(axis=0) & (~bits & live).any(axis=0))
    return tuple(int(v) for v in np.bincount(net.unit_layers()[cut], minlength=L))


def _inside(a: np.ndarray, d: np.ndarray, lengths: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Whether the points X[t] (T, m, 2) given per edge lie in the edge's polygon: (M, m) bool (never in a polygon
    that rounds to a point or a segment)."""
    cross = d[:, None, 0] * (X[..., 1] - a[:, None, 1]) - d[:, None, 1] * (X[..., 0] - a[:, None, 0])  # (T, m)
    first = np.cumsum(lengths) - lengths
    return (np.minimum.reduceat(cross, first, axis=0) >= 0) & (np.maximum.reduceat(cross, first, axis=0) > 0)


def _norm(v: np.ndarray, p: str) -> np.ndarray:
    v = np.abs(v)
    return np.hypot(v[..., 0], v[..., 1]) if p == "2" else (v.max(axis=-1) if p == "inf" else v.sum(axis=-1))
