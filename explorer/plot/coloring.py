"""Colours of regions that stay put: a hash of the activation pattern, kept across frames, neighbours apart.

A region's colour is a function of its activation pattern: the pattern's 64-bit FNV-1a hash modulo the
number of colours, changed only where an adjacent region already holds that colour (greedy, in hash order).
Between frames of a run (live training, a timeline) the colours of the previous frame are kept for every
pattern that persists, so a region keeps its colour while its pattern does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..plane.partition import adjacency
from ..plane.regions import Regions

__all__ = ["stable_coloring", "greedy_coloring", "pattern_keys", "pattern_hash", "color_memory"]

_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def stable_coloring(regions: Regions, n_colors: int, *, previous: Mapping[bytes, int] | None = None) -> np.ndarray:
    """Colour index (R,) in [0, n_colors) of every region; adjacent regions differ whenever n_colors allows.

    Regions whose pattern is a key of ``previous`` (a :func:`color_memory` of an earlier frame) are coloured
    first and keep that colour unless a neighbour coloured before them holds it; every other region prefers
    its pattern's hash colour.
    """
    keys = pattern_hash(regions)
    kept = np.full(regions.n_regions, -1, dtype=np.int64)
    if previous:
        kept = np.array([previous.get(k, -1) for k in pattern_keys(regions)], dtype=np.int64)
        kept = np.where(kept >= 0, kept % n_colors, -1)
    return greedy_coloring(regions.n_regions, adjacency(regions), keys, n_colors, keep=kept)


def greedy_coloring(n_nodes: int, edges: np.ndarray, keys: np.ndarray, n_colors: int, *,
                    keep: np.ndarray | None = None) -> np.ndarray:
    """Colour index (n_nodes,) per node so that adjacent nodes differ whenever ``n_colors`` allows.

    Nodes with ``keep[v] >= 0`` are visited first, then the rest, each group in the order of ``keys`` (ties by
    index).  A node takes ``keep[v]`` if given and no coloured neighbour has it, else ``keys % n_colors`` if
    free, else the next free colour cyclically (the preferred one if none is free).
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    both = np.concatenate([edges, edges[:, ::-1]])
    both = both[np.argsort(both[:, 0], kind="stable")]
    starts = np.searchsorted(both[:, 0], np.arange(n_nodes + 1))
    nbrs = both[:, 1].tolist()
    keep = np.full(n_nodes, -1, dtype=np.int64) if keep is None else np.asarray(keep, dtype=np.int64)
    color = [-1] * n_nodes
    prefer = (np.asarray(keys) % n_colors).astype(int).tolist()
    kept = keep.tolist()
    for v in np.lexsort((np.arange(n_nodes), keys, keep < 0)).tolist():
        used = {color[u] for u in nbrs[starts[v]:starts[v + 1]]}
        if 0 <= kept[v] and kept[v] not in used:
            color[v] = kept[v]
            continue
        choice = prefer[v]
        for step in range(n_colors):
            c = (prefer[v] + step) % n_colors
            if c not in used:
                choice = c
                break
        color[v] = choice
    return np.array(color, dtype=np.int64)


def pattern_keys(regions: Regions) -> list[bytes]:
    """Every region's packed activation pattern as bytes (a dictionary key)."""
    packed = np.ascontiguousarray(regions.packed_patterns)
    return [row.tobytes() for row in packed]


def color_memory(regions: Regions, colors: np.ndarray) -> dict[bytes, int]:
    """{pattern: colour index} of a coloured frame, for :func:`stable_coloring` of the next one."""
    return dict(zip(pattern_keys(regions), np.asarray(colors, dtype=np.int64).tolist()))


def pattern_hash(regions: Regions) -> np.ndarray:
    """FNV-1a 64-bit hash (R,) of every packed activation pattern, as int64 ≥ 0 (the same in every process)."""
    packed = np.asarray(regions.packed_patterns, dtype=np.uint64)
    h = np.full(len(packed), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in packed.T:  # (R,) one byte of every pattern
            h = (h ^ column) * _FNV_PRIME
    return (h >> np.uint64(1)).astype(np.int64)
