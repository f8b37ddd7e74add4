"""The region engine's cells between layers: batches of padded polygons with their parents' affine maps, the
compiled split (:mod:`explorer.plane.kernels`) and the finished regions in compact form.

Signs follow rule 1 of :mod:`explorer.tolerance`; see :func:`explorer.plane.regions.enumerate_regions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import add_slope_corrections, split_layer

__all__ = ["Batch", "Finished", "Cells", "split_cells", "next_batches"]


@dataclass(eq=False)
class Batch:
    """Cells waiting for the next layer: padded polygons, and their parents' maps (shared, not copied).

    verts (C, V, 2) padded by repeating vertex 0; nv (C,); eu/ec (C, V) edge unit / cut ids;
    pattern (C, N_so_far) bool; src (C,) parent index into G (P, 3, n) and S (P, n), the parents'
    pre-activation maps and term magnitudes; bits (C, n) the cells' activations of that layer; base
    (P, n) the activations shared by all cells of a parent (units that cut the parent count as off).
    """

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    pattern: np.ndarray
    src: np.ndarray
    bits: np.ndarray
    G: np.ndarray
    S: np.ndarray
    base: np.ndarray
    shared: dict  # per-parent products, computed once for all chunks of the same parents

    def compose(self, W: np.ndarray, b: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Maps (C, 3, m) of g' = W σ(g) + b on every cell and their term magnitudes (C, m).

        A cell's slopes σ' differ from its parent's base slopes only on units that cut the parent, where
        the cell is active: g' = W (σ'_base ⊙ g) + b + Σ_k (1 - α) g_k W_k.  When such (cell, unit) pairs
        are few, the first term is one GEMM per parent and the rest a compiled loop over the pairs; the
        corrections are non-negative in the magnitudes, so those stay an upper bound of the float terms summed.
        """
        C, n = self.bits.shape
        n_extra = np.count_nonzero(self.bits) - np.count_nonzero(self.base, axis=1)[self.src].sum()  # base ⊆ bits
        if 8 * n_extra > C * n:  # dense differences (e.g. layer 1): compose cell by cell
            slope = np.where(self.bits, 1.0, alpha)
            G = _affine(self.G[self.src] * slope[:, None, :], W, b)
            return G, (self.S[self.src] * np.abs(slope)) @ np.abs(W).T + np.abs(b)
        key = (id(W), alpha)
        if self.shared.get("key") != key:  # one GEMM for all parents, shared by the chunks of a layer
            base = np.where(self.base, 1.0, alpha)  # (P, n)
            self.shared.update(key=key, G=_affine(self.G * base[:, None, :], W, b),
                               S=self.S * np.abs(base) @ np.abs(W).T + np.abs(b), W_t=np.array(W.T, order="C"))
        G, S = self.shared["G"][self.src], self.shared["S"][self.src]  # (C, 3, m), (C, m)
        c = np.ascontiguousarray
        add_slope_corrections(G, S, c(self.src), c(self.bits), c(self.base), c(self.G), c(self.S),
                              self.shared["W_t"], float(alpha))
        return G, S


@dataclass(eq=False)
class Finished:
    """Finished regions in compact form: ragged polygons, packed patterns, output maps (C, 3, n_out)."""

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    packed: np.ndarray
    maps: np.ndarray
    points: np.ndarray
    area: float

    @classmethod
    def of(cls, batch: Batch, maps: np.ndarray) -> "Finished":
        valid = np.arange(batch.verts.shape[1]) < batch.nv[:, None]  # (C, V)
        x, y = batch.verts[..., 0], batch.verts[..., 1]
        area = float(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y) / 2)  # padding adds 0
        points = (batch.verts * valid[..., None]).sum(axis=1) / batch.nv[:, None]
        return cls(batch.verts[valid], batch.nv, batch.eu[valid], batch.ec[valid],
                   np.packbits(batch.pattern, axis=1), maps, points, area)

    @classmethod
    def exact(cls, cells) -> "Finished":
        """The regions of an exact recount (explorer.plane.rational.ExactCells)."""
        owner = np.repeat(np.arange(len(cells.nv)), cells.nv)
        points = np.zeros((len(cells.nv), 2))
        np.add.at(points, owner, cells.verts)
        first = np.concatenate([[0], np.cumsum(cells.nv)[:-1]]).astype(np.int64)
        nxt = np.arange(len(owner)) + 1
        nxt[np.cumsum(cells.nv) - 1] = first
        x, y = cells.verts[:, 0], cells.verts[:, 1]
        area = float(np.sum(x * y[nxt] - x[nxt] * y) / 2)
        return cls(cells.verts, cells.nv, cells.eu, cells.ec, np.packbits(cells.patterns, axis=1), cells.maps,
                   points / np.maximum(cells.nv, 1)[:, None], area)


@dataclass(eq=False)
class Cells:
    """The cells of a batch after one layer split them (see explorer.plane.kernels.split_layer).

    verts (C, V, 2), nv (C,), eu/ec (C, V); src (C,) parent index; bits (C, n) the layer's activations;
    base (P, n) the activations shared by all cells of a parent; parent_pattern (P, N_so_far).
    """

    verts: np.ndarray
    nv: np.ndarray
    eu: np.ndarray
    ec: np.ndarray
    src: np.ndarray
    bits: np.ndarray
    base: np.ndarray
    parent_pattern: np.ndarray


def split_cells(batch: Batch, G: np.ndarray, tau: np.ndarray, unit0: int,
                 cut_counter: list) -> tuple[Cells, np.ndarray]:
    """Split every cell of the batch by the zero lines of the layer's units (compiled kernel).

    Returns the cells and the mask (P,) of batch cells whose split needed the tolerance; their children are
    left out (they are enumerated exactly instead).
    """
    c = np.ascontiguousarray
    verts, nv, eu, ec, src, bits, base, unresolved, cut_counter[0] = split_layer(
        c(batch.verts), c(batch.nv), c(batch.eu), c(batch.ec), c(G), c(tau), unit0, cut_counter[0])
    if unresolved.any():
        keep = ~unresolved[src]
        verts, nv, eu, ec, src, bits = verts[keep], nv[keep], eu[keep], ec[keep], src[keep], bits[keep]
    return Cells(verts, nv, eu, ec, src, bits, base, batch.pattern), unresolved


def next_batches(cells: Cells, G: np.ndarray, S: np.ndarray, width: int, *, chunk: int, work: int) -> list[Batch]:
    """Chunks of the finished cells of a layer (at most ``chunk``, and about ``work`` multiply-adds when the next
    layer of ``width`` units is composed), each padded to its own largest polygon."""
    out, shared = [], {}
    size = min(chunk, max(256, work // (3 * G.shape[2] * width)))
    for lo in range(0, len(cells.nv), size):
        sl = slice(lo, lo + size)
        src, bits, nv = cells.src[sl], cells.bits[sl], cells.nv[sl]
        V = int(nv.max())
        out.append(Batch(verts=cells.verts[sl, :V], nv=nv, eu=cells.eu[sl, :V], ec=cells.ec[sl, :V],
                          pattern=np.concatenate([cells.parent_pattern[src], bits], axis=1), src=src,
                          bits=bits, G=G, S=S, base=cells.base, shared=shared))
    return out


def _affine(H: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Compose the per-cell affine maps H (C, 3, n) with x -> W x + b: returns (C, 3, m), one GEMM."""
    C, _, n = H.shape
    G = (H.reshape(C * 3, n) @ W.T).reshape(C, 3, -1)
    G[:, 2, :] += b
    return G
