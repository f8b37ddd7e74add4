"""The exact one-region radius d*(x0): the ℓp distance from a point to the boundary of its activation region."""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError
from ..net import Network, local_affine, rescale_units
from .primitives import check_ball, dual_norm

__all__ = ["one_region_radius", "one_region_radii"]


def one_region_radius(net: Network, center, *, norm: str = "2") -> tuple[float, tuple[int, int] | None]:
    """d*(x0) = min over units with γ ≠ 0 of |g(x0)| / ‖γ‖_q, and the unit (l*, j*) attaining it.

    γ = ∇g at x0 with the pattern of x0 held fixed.  This is the ℓp distance from x0 to the boundary of
    its activation region (redundant facets are never closer), so N_B = 1 ⇔ r ≤ d*; d* = 0 when x0 lies
    on a boundary and inf when no unit varies on the region.  l* counts layers from 1, j* rows from 0.

    Examples
    --------
    >>> net = Network(([[1.0, 0.0], [-1.0, 0.0]], [[1.0, 1.0]], [[1.0]]), ([0.0, 0.0], [-1.0], [0.0]))
    >>> one_region_radius(net, [2.0, 0.0])
    (1.0, (2, 0))
    >>> one_region_radius(net, [0.0, 0.0])[0]       # on the line x1 = 0
    0.0
    """
    x0, _, p = check_ball(net, center, 1.0, norm)
    d, flat = _radii(net, x0[None, :], p)
    if not np.isfinite(d[0]):
        return float("inf"), None
    layer = int(net.unit_layers()[flat[0]])
    return float(d[0]), (layer + 1, int(flat[0] - sum(net.hidden_widths[:layer])))


def one_region_radii(net: Network, points, *, norm: str = "2") -> np.ndarray:
    """d* (B,) at every row of ``points`` (B, n0), vectorised; see :func:`one_region_radius`."""
    p = check_ball(net, np.zeros(net.n_inputs), 1.0, norm)[2]
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if points.ndim != 2 or points.shape[1] != net.n_inputs or not np.isfinite(points).all():
        raise ExplorerError(f"points must be finite with shape (B, {net.n_inputs}); got shape {points.shape}.")
    return _radii(net, points, p)[0]


def _radii(net: Network, X: np.ndarray, p: str) -> tuple[np.ndarray, np.ndarray]:
    """d* (B,) and the flat index (B,) of the unit attaining it (−1 where d* = inf).

    Computed on the network rescaled by powers of two (inputs scaled down until the largest |coordinate| is below
    2): d* is invariant under positive unit scalings and scales with the inputs, so this is exact and cannot
    overflow.
    """
    if net.n_hidden == 0:
        return np.full(len(X), np.inf), np.full(len(X), -1)
    k = max(0, int(np.frexp(np.abs(X).max(initial=0.0))[1]) - 1)
    scaled = rescale_units(net, input_exp=np.full(net.n_inputs, k)).net
    g, G = (np.concatenate(a, axis=1) for a in zip(*local_affine(scaled, np.ldexp(X, -k))))  # (B, N), (B, N, n0)
    q = dual_norm(G, p)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = np.ldexp(np.where(q > 0, np.abs(g) / q, np.inf), k)
    flat = np.argmin(d, axis=1)
    best = d[np.arange(len(X)), flat]
    return best, np.where(np.isfinite(best), flat, -1)
