"""Points of a box that reach many activation regions: uniform samples and the pieces of random chords."""

from __future__ import annotations

import numpy as np

from ..net import Network, as_box
from .chords import chord_midpoints

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
    return chord_midpoints(net, p, q)
