"""Slow, independent oracles for region counts in any input dimension (tiny networks only).

``lp_patterns`` tries every one of the 2^N patterns: with the pattern's slopes fixed, every hidden
pre-activation is affine, g_i(x) = a_i·x + c_i, and the pattern is a region with interior iff
max t s.t. σ_i·(a_i·x + c_i) ≥ t·‖a_i‖ (σ_i = ±1 as s_i says, x ∈ box) has t* > tol; a unit
constant on the piece (a_i = 0) must have sign(c_i) = σ_i instead (c_i ≤ 0 counts as inactive).
Solved with scipy.optimize.linprog, independently of the library's highspy code.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog

from explorer.net import Network

__all__ = ["lp_patterns"]


def lp_patterns(net: Network, box, *, tol: float = 1e-6) -> set:
    """Set of patterns (tuples of 0/1) whose activation region inside ``box`` contains a ball of radius > tol."""
    box = np.asarray(box, dtype=float).reshape(-1, 2)
    n0 = net.n_inputs
    found = set()
    for s in itertools.product((0, 1), repeat=net.n_hidden):
        s_arr = np.array(s, dtype=bool)
        A, a, rows, rhs, ok, off = np.eye(n0), np.zeros(n0), [], [], True, 0
        for W, b in zip(net.weights[:-1], net.biases[:-1]):
            G, c = W @ A, W @ a + b
            bits = s_arr[off:off + W.shape[0]]
            off += W.shape[0]
            for gi, ci, bit in zip(G, c, bits):
                norm = np.linalg.norm(gi)
                if norm <= 1e-12 * (1 + abs(ci)):
                    ok &= (ci > 0) == bit
                    continue
                sigma = 1.0 if bit else -1.0
                rows.append(np.r_[-sigma * gi / norm, 1.0])       # −σ(a·x)/‖a‖ + t ≤ σ c/‖a‖
                rhs.append(sigma * ci / norm)
            slope = np.where(bits, 1.0, net.alpha)
            A, a = slope[:, None] * G, slope * c
        if not ok:
            continue
        if not rows:
            found.add(s)
            continue
        res = linprog(np.r_[np.zeros(n0), -1.0], A_ub=np.array(rows), b_ub=np.array(rhs),
                      bounds=[tuple(r) for r in box] + [(None, 10.0)], method="highs")
        if res.status == 0 and -res.fun > tol:
            found.add(s)
    return found
