"""Imported by the forkserver of MIPBound's process pool (``set_forkserver_preload``): it loads the exact walk's
compiled kernels once, so every worker forked from that server starts with them in memory instead of loading
them itself (about half a second per worker, inside the caller's time limit)."""

from __future__ import annotations

import numpy as np

from ..net import Network
from .subdivision import Subdivision

__all__ = ["load_kernels"]


def load_kernels() -> int:
    """Count the 7 regions that three lines cut from the square [−2, 2]² with the compiled walk (LPs included)."""
    net = Network(([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]), ([0.0, 0.0, -1.0], [0.0]))
    problem = Subdivision(net, np.array([[-2.0, 2.0], [-2.0, 2.0]]))
    return len(problem.count(problem.root(np.zeros((0, 2))), time_limit=10.0).patterns)


load_kernels()
