"""2-D slices of n-D networks: the plane origin + s·u + t·v and the 2-input network living on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network

__all__ = ["PlaneSlice", "plane_slice", "plane_through"]


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
