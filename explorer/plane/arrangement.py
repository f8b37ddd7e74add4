"""A lower bound on the regions of a 2-input network in a box from its first layer alone, in O(n_1²) work.

The first layer's lines cut the box into cells, and every activation region lies in one of them (later layers
only split cells further), so the number of cells bounds the number of regions from below.  An enumeration whose
region budget is below it can be refused before it allocates anything.
"""

from __future__ import annotations

import numpy as np

from ..net import Network, as_box

__all__ = ["first_layer_cells"]

_EDGE = 1e-7  # crossings this close (relative) to the box's edge, or to each other, are not counted
_PARALLEL = 1e-6  # |sin| of the angle below which two lines are not intersected
_SAME = 1e-9  # unit normals and offsets this close: one line


def first_layer_cells(net: Network, box, *, stop_above: int | None = None) -> int:
    """A lower bound on the cells into which the first layer's lines cut the open box (so on the regions).

    Adding a line that meets the open box and equals no earlier line adds 1 + (distinct points where earlier lines
    cross it inside the box) cells.  Counted with margins (crossings near the edge or near-parallel pairs are left
    out, nearby crossings are merged, doubtful duplicates are dropped), every term is at most the true one.  Stops
    counting once the bound exceeds ``stop_above``.  O(n_1²) work.

    >>> net = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, -1.0], [0.0]))
    >>> first_layer_cells(net, as_box((-2, 2), 2)), first_layer_cells(net, as_box((0.2, 2), 2))
    (7, 2)
    """
    box = as_box(box, 2)
    centre, half = box[:, 0] / 2 + box[:, 1] / 2, box[:, 1] / 2 - box[:, 0] / 2  # no overflow up to ±1.8e308
    W, b = np.asarray(net.weights[0], dtype=np.float64), np.asarray(net.biases[0], dtype=np.float64)
    with np.errstate(all="ignore"):  # lines whose scaled coefficients overflow are left out (the bound stays one)
        A, c = W * half, W @ centre + b  # the lines a·u + c = 0 on the square u ∈ (-1, 1)²
        scale = np.hypot(A[:, 0], A[:, 1])
        ok = (scale > 0) & np.isfinite(scale) & np.isfinite(c)
        A, c = A[ok] / scale[ok, None], c[ok] / scale[ok]
    meets = np.abs(c) < (np.abs(A).sum(axis=1)) * (1 - _EDGE) - _EDGE
    A, c = A[meets], c[meets]
    cells, kept_a, kept_c = 1, np.zeros((0, 2)), np.zeros(0)
    for a, ci in zip(A, c):
        cross = kept_a[:, 0] * a[1] - kept_a[:, 1] * a[0]  # sin of the angle between the normals
        same = (np.abs(cross) < _SAME) & (np.abs(kept_a @ a * ci - kept_c) < _SAME)
        if same.any():
            continue
        hit = np.abs(cross) > _PARALLEL
        det = cross[hit]  # the crossing of a·u = -ci and a'·u = -c', by Cramer's rule
        ux = (-ci * kept_a[hit, 1] + kept_c[hit] * a[1]) / -det
        uy = (-kept_c[hit] * a[0] + ci * kept_a[hit, 0]) / -det
        inside = (np.abs(ux) < 1 - _EDGE) & (np.abs(uy) < 1 - _EDGE)
        t = np.sort(ux[inside] * -a[1] + uy[inside] * a[0])  # position along the line
        distinct = int(t.size > 0) + int(np.count_nonzero(np.diff(t) > _EDGE))
        cells += 1 + distinct
        kept_a, kept_c = np.vstack([kept_a, a]), np.append(kept_c, ci)
        if stop_above is not None and cells > stop_above:
            break
    return cells
