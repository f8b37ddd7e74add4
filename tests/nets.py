"""The suite's networks: named toy nets with closed-form counts, and the one random-network factory."""

from __future__ import annotations

import numpy as np

from explorer.net import Network

__all__ = ["N1", "N2", "N3", "ABS", "tangent_lines", "random_network"]

# three lines x = 0, y = 0, x + y = 1 in general position: 7 regions in the plane, 5 around the origin
N1 = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, -1.0], [0.0]))
# two hidden layers with g² = |x1| − 1: the second layer bends along x1 = ±1
N2 = Network(([[1.0, 0.0], [-1.0, 0.0]], [[1.0, 1.0]], [[1.0]]), ([0.0, 0.0], [-1.0], [0.0]))
# three lines x = 0, y = 0, x = y through one point: 6 sectors
N3 = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, 0.0], [0.0]))
# one hidden layer with output |x1| − 1: two regions, one kink
ABS = Network(([[1.0, 0.0], [-1.0, 0.0]], [[1.0, 1.0]]), ([0.0, 0.0], [-1.0]))


def tangent_lines(n: int) -> Network:
    """n lines tangent to the unit circle: general position, all C(n, 2) crossings within 1/sin(π/2n) of 0."""
    theta = np.arange(n) * np.pi / n
    return Network((np.stack([np.cos(theta), np.sin(theta)], axis=1), np.ones((1, n))), (-np.ones(n), [0.0]))


def random_network(widths=(5, 4), *, n0: int = 2, n_out: int = 1, activation: str = "relu", alpha: float = 0.0,
                   seed=0, scale_bias: float = 0.5, fan_in: bool = False, degenerate: bool = False) -> Network:
    """A network n0 → widths → n_out with Gaussian float64 parameters, reproducible from ``seed``.

    Default: W ~ N(0, 1) and b ~ scale_bias·N(0, 1), every weight matrix drawn before the biases.  ``fan_in``:
    W ~ N(0, 1/n_in) and b ~ scale_bias·N(0, 1), layer by layer; ``degenerate`` (with ``fan_in``) then turns one
    pair of units of every hidden layer of width ≥ 2 into a duplicate, opposite, parallel, zero or dead unit.
    ``seed`` is an int or a numpy Generator (whose stream then continues).
    """
    rng = np.random.default_rng(seed)
    dims = (n0, *widths, n_out)
    if not fan_in:
        weights = [rng.standard_normal((dims[k + 1], dims[k])) for k in range(len(dims) - 1)]
        biases = [scale_bias * rng.standard_normal(dims[k + 1]) for k in range(len(dims) - 1)]
        return Network(tuple(weights), tuple(biases), activation, alpha)
    weights, biases = [], []
    for k in range(len(dims) - 1):
        n, w = dims[k], dims[k + 1]
        W, b = rng.normal(size=(w, n)) / np.sqrt(n), rng.normal(size=w) * scale_bias
        if degenerate and w >= 2 and k < len(widths):
            _degenerate(rng, W, b)
        weights.append(W)
        biases.append(b)
    return Network(tuple(weights), tuple(biases), activation, alpha)


def _degenerate(rng: np.random.Generator, W: np.ndarray, b: np.ndarray) -> None:
    """Make unit j a duplicate, opposite, parallel, zero or dead copy of unit i (in place)."""
    i, j = rng.choice(len(b), size=2, replace=False)
    kind = rng.integers(5)
    if kind == 0:
        W[j], b[j] = W[i], b[i]
    elif kind == 1:
        W[j], b[j] = -W[i], -b[i]
    elif kind == 2:
        W[j], b[j] = 2.5 * W[i], 2.5 * b[i] + 0.3
    elif kind == 3:
        W[j], b[j] = 0.0, 0.0
    else:
        b[j] = -50.0
