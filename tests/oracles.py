"""Independent, slow, exact oracles for the region engine (rational arithmetic, no tolerance)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from explorer.net import Network

__all__ = ["exact_regions", "polygon_area", "contains"]


def exact_regions(net: Network, box) -> dict[tuple, list]:
    """{pattern: polygon} of every activation region of a 2-input net in a box, in exact rationals.

    Floats convert to Fractions exactly, every sign test is exact, and each cell is split by each unit in
    turn; a unit is active on an unsplit cell iff some vertex is strictly positive.
    """
    x0, x1, y0, y1 = (Fraction(float(v)) for v in box)
    alpha = Fraction(float(net.alpha))
    cells = [([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], (), [(Fraction(1), Fraction(0)), (Fraction(0), Fraction(1))],
              [Fraction(0), Fraction(0)])]
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        W = [[Fraction(float(w)) for w in row] for row in W]
        b = [Fraction(float(v)) for v in b]
        next_cells = []
        for poly, pattern, A, c in cells:
            forms = [(sum(w * a[0] for w, a in zip(row, A)), sum(w * a[1] for w, a in zip(row, A)),
                      sum(w * ck for w, ck in zip(row, c)) + bj) for row, bj in zip(W, b)]
            pieces = [(poly, ())]
            for form in forms:
                pieces = [child for piece in pieces for child in _split(piece, form)]
            for piece, bits in pieces:
                slope = [Fraction(1) if bit else alpha for bit in bits]
                next_cells.append((piece, pattern + bits, [(s * f[0], s * f[1]) for s, f in zip(slope, forms)],
                                   [s * f[2] for s, f in zip(slope, forms)]))
        cells = next_cells
    out = {}
    for poly, pattern, _, _ in cells:
        assert pattern not in out, "activation regions are convex, so each pattern appears once"
        out[pattern] = poly
    return out


def _split(piece, form):
    poly, bits = piece
    gx, gy, gc = form
    vals = [gx * x + gy * y + gc for x, y in poly]
    if any(v > 0 for v in vals) and any(v < 0 for v in vals):
        return [(_half(poly, vals, 1), bits + (1,)), (_half(poly, vals, -1), bits + (0,))]
    return [(poly, bits + (int(any(v > 0 for v in vals)),))]


def _half(poly, vals, side):
    out = []
    for i, (p, v) in enumerate(zip(poly, vals)):
        q, w = poly[(i + 1) % len(poly)], vals[(i + 1) % len(poly)]
        if side * v >= 0:
            out.append(p)
        if v * w < 0:
            t = v / (v - w)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def polygon_area(poly) -> float:
    """Shoelace area of a polygon given as a sequence of points (exact for Fractions)."""
    n = len(poly)
    return sum(poly[i][0] * poly[(i + 1) % n][1] - poly[(i + 1) % n][0] * poly[i][1] for i in range(n)) / 2


def contains(poly: np.ndarray, points: np.ndarray, *, strict: bool) -> np.ndarray:
    """Whether each point (B, 2) is inside the convex CCW polygon (K, 2), strictly or not."""
    d = np.roll(poly, -1, axis=0) - poly
    rel = points[:, None, :] - poly[None]
    cross = d[None, :, 0] * rel[..., 1] - d[None, :, 1] * rel[..., 0]
    return (cross > 0).all(axis=1) if strict else (cross >= 0).all(axis=1)
