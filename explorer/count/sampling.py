"""Points of a box that reach many activation regions: uniform samples and the pieces of random chords."""

from __future__ import annotations

import numpy as np

from .milp import as_box
from ..net import Network

__all__ = ["uniform_points", "sample_patterns", "chord_points"]


def uniform_points(box: np.ndarray, *, n_samples: int = 4096, seed: int = 0) -> np.ndarray:
    """Uniform points (S, n0) of the box (n0, 2), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return box[:, 0] + rng.random((int(n_samples), box.shape[0])) * (box[:, 1] - box[:, 0])  # (S, n0)


def sample_patterns(net: Network, box, *, n_samples: int = 4096, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points (S, n0) of the box and their pre-activations (S, N) (all hidden layers)."""
    x = uniform_points(as_box(box, net.n_inputs), n_samples=n_samples, seed=seed)
    return x, np.concatenate([np.zeros((len(x), 0)), *net.preactivations(x)], axis=1)   # (S, N)


def chord_points(net: Network, box, *, n_lines: int = 4000, seed: int = 0) -> np.ndarray:
    """One point inside every piece of ``n_lines`` random chords of the box: shape (M, n0).

    A chord p + s·(q − p), s ∈ [0, 1], between two uniform box points crosses a region wherever
    the network is affine in s; each layer's breakpoints s = −a_i/c_i of g(s) = a + s·c split the
    pieces of the previous layer.  Chords reach small regions that uniform samples rarely hit.
    """
    box = as_box(box, net.n_inputs)
    rng = np.random.default_rng(seed)
    lo, width = box[:, 0], box[:, 1] - box[:, 0]
    p, q = lo + rng.random((n_lines, lo.size)) * width, lo + rng.random((n_lines, lo.size)) * width
    s0, s1, line = np.zeros(n_lines), np.ones(n_lines), np.arange(n_lines)
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
