"""Pieces of straight chords on which a network is affine: one point inside each region a chord crosses."""

from __future__ import annotations

import numpy as np

from ..net import Network

__all__ = ["chord_midpoints"]


def chord_midpoints(net: Network, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Midpoints (M, n0) of the pieces of the chords p_j → q_j (p, q of shape (I, n0)) on which ``net`` is affine.

    On a piece, h(s) = u + s·v is affine in s ∈ [0, 1]; each layer's breakpoints s = −a_i/c_i of
    g(s) = a + s·c split the pieces of the layer before.  A piece's midpoint lies in the open region of
    its pattern unless some unit is ≡ 0 along the chord.
    """
    n = len(p)
    s0, s1, line = np.zeros(n), np.ones(n), np.arange(n)
    u, v = p, q - p                                   # h(s) = u + s·v on each piece, (I, n_{l-1})
    # invariant: pieces [s0, s1] tile every chord and the net is affine on each
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        a, c = u @ W.T + b, v @ W.T                   # g(s) = a + s·c, (I, n_l)
        with np.errstate(divide="ignore", invalid="ignore"):
            cuts = -a / c
        cuts = np.where((cuts > s0[:, None]) & (cuts < s1[:, None]), cuts, s1[:, None])
        ends = np.sort(np.concatenate([s0[:, None], cuts, s1[:, None]], axis=1), axis=1)  # (I, n_l + 2)
        keep = ends[:, 1:] - ends[:, :-1] > 1e-12
        piece = np.nonzero(keep)[0]
        s0, s1 = ends[:, :-1][keep], ends[:, 1:][keep]
        a, c, line = a[piece], c[piece], line[piece]
        slope = np.where(a + (s0 + s1)[:, None] / 2 * c > 0, 1.0, net.alpha)
        u, v = slope * a, slope * c
    return p[line] + ((s0 + s1) / 2)[:, None] * (q - p)[line]
