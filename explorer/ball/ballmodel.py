"""LP and MILP bounds of hidden pre-activations over an ℓp ball, with HiGHS (the "lp" and "exact" certifiers).

Bounds are made rigorous before use: an LP bound comes from the duals (any dual vector bounds the LP from
below once every row and column bound is accounted for), a MILP bound is HiGHS's dual bound widened by rule 2
of :mod:`explorer.tolerance`.  For p = 2 the ball is replaced by a polytope containing it (2-D: a circumscribed regular
64-gon; above: the box [x0 ± r]) that tangent cuts through outside solutions refine.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse as sp

from ..net import Network
from ..tolerance import SIGN_TOL, SOLVER_SLACK
from .primitives import dual_norm, relaxation

__all__ = ["BallModel", "solver_bounds"]

_POLYGON_SIDES = 64
_INF = highspy.kHighsInf


def solver_bounds(net: Network, x0, r, p, prev: list, states: list, g0: list, witness: list | None, *,
                  integer: bool, deadline: float, progress) -> tuple[list, str, tuple | None]:
    """Tighten ``prev`` by the min and max of every possibly-cutting neuron of layers ≥ 2 over the ball.

    Layer by layer, the model holds the earlier layers with their final bounds (LP: triangle relaxation,
    ``integer``: exact big-M rows), so g^l ranges over a superset of g^l(B) and every bound is sound.

    Parameters
    ----------
    net : Network;  x0 : (n0,) centre;  r : radius;  p : "2", "inf" or "1"
    prev : per hidden layer (lo, hi) of a looser certifier;  states : its neuron classes (0 = may cut)
    g0 : pre-activations at x0 per layer (the MILP start)
    witness : None, or per layer (some sample has g < −τ, some sample has g > τ) bool arrays: a solve
        whose sign is already shown is skipped (the looser bound stays a valid big-M)
    integer : MILP instead of LP;  deadline : time.perf_counter() value after which solves are skipped
    progress : None or callback(fraction, message)

    Returns
    -------
    bounds : list of (lo, hi) per layer, inside ``prev``;  status : "complete" or what was skipped
    conflict : None, or (layer index, neuron, "min" or "max", the solver's value) for the first solver bound
        that contradicts ``prev`` or the value at x0 by more than τ = SIGN_TOL·max(1, |g(x0)|) (the caller must
        then not use ``bounds``)
    """
    model = BallModel(x0, r, p, net.alpha, integer)
    todo = []
    for l, s in enumerate(states):
        neg, pos = witness[l] if witness is not None else (np.zeros(s.size, bool),) * 2
        todo.append(((s == 0) & ~neg, (s == 0) & ~pos))  # (solve min, solve max)
    total = max(1, sum(int(lo.sum() + hi.sum()) for lo, hi in todo[1:]))
    done, skipped, out = 0, 0, [prev[0]]
    for l in range(1, len(prev)):
        model.add_layer(net.weights[l - 1], net.biases[l - 1], *out[-1], g0[l - 1])
        lo, hi = prev[l][0].copy(), prev[l][1].copy()
        costs = net.weights[l] @ model.expr  # (n_l, ncols): g^l = costs·z + b^l
        for j in np.flatnonzero(todo[l][0] | todo[l][1]):
            for sign, needed in ((1.0, todo[l][0][j]), (-1.0, todo[l][1][j])):  # min g; min −g = −max g
                if not needed:
                    continue
                v = model.minimum(sign * costs[j], sign * net.biases[l][j], deadline)
                done += 1
                # v ≤ min(sign·g) ≤ sign·g(x0), and ≤ the looser enclosure's upper end of sign·g
                ceiling = min(sign * g0[l][j], prev[l][1][j] if sign > 0 else -prev[l][0][j])
                if v is not None and v > ceiling + SIGN_TOL * max(1.0, abs(g0[l][j])):
                    return prev, "", (l, int(j), "min" if sign > 0 else "max", sign * v)
                if v is None:
                    skipped += 1
                elif sign > 0:
                    lo[j] = max(lo[j], v)
                else:
                    hi[j] = min(hi[j], -v)
                if progress is not None:
                    progress(done / total, f"{'MILP' if integer else 'LP'} {done}/{total}, layer {l + 1}")
        crossed = lo > hi  # rounding only: keep the looser enclosure there
        lo[crossed], hi[crossed] = prev[l][0][crossed], prev[l][1][crossed]
        out.append((lo, hi))
    status = "complete" if not skipped else (f"time limit: {skipped} of {total} solves skipped; those neurons "
                                             "keep the looser certifier's bounds")
    return out, status, None


class BallModel:
    """A HiGHS model in z = (x, aux…): x in a polytope ⊇ the closed ball, then per hidden layer g = W h + b
    with σ as LP triangle rows (h ≥ g, h ≥ αg, h ≤ chord) or exact big-M rows
    (g = P − Q, 0 ≤ P ≤ H z, 0 ≤ Q ≤ H̄ (1 − z), h = P − αQ).

    ``expr`` (n_l, ncols) writes the last layer's outputs h as linear forms in z; ``start`` is the point x0
    with its exact forward pass (feasible: a MILP start).
    """

    def __init__(self, x0: np.ndarray, r: float, p: str, alpha: float, integer: bool):
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        # the dual bound is what we keep, and a relative gap < 1 never changes its sign: stop at 10 %
        self.highs.setOptionValue("mip_rel_gap", 0.1)
        self.x0, self.r, self.p, self.alpha, self.integer = x0, r, p, alpha, integer
        self.col_lo, self.col_hi, self.start = np.empty(0), np.empty(0), np.empty(0)
        self.row_lo, self.row_hi, self.triplets, self._csr = [], [], [], None
        self.n_binaries = 0  # without binaries HiGHS solves an LP and reports no MIP dual bound
        n0 = x0.size
        x = self._cols(x0 - r, x0 + r, x0)  # every p-ball lies in the box ‖x − x0‖_∞ ≤ r
        if p == "1":  # t ≥ |x − x0|, Σ t ≤ r
            t = self._cols(np.zeros(n0), np.full(n0, r), np.zeros(n0))
            i = np.arange(n0)
            self._rows(np.r_[i, i, n0 + i, n0 + i, np.full(n0, 2 * n0)], np.r_[x, t, x, t, t],
                       np.r_[np.ones(n0), -np.ones(n0), -np.ones(n0), -np.ones(n0), np.ones(n0)],
                       np.full(2 * n0 + 1, -_INF), np.r_[x0, -x0, r])
        elif p == "2" and n0 == 2:  # tangent lines u·(x − x0) ≤ r of a regular polygon around the disk
            angle = 2 * np.pi * np.arange(_POLYGON_SIDES) / _POLYGON_SIDES
            self._cuts(np.stack([np.cos(angle), np.sin(angle)], axis=1))
        self.expr = np.eye(n0, len(self.col_lo))  # h^0 = x

    @property
    def ncols(self) -> int:
        return len(self.col_lo)

    def add_layer(self, W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, g0: np.ndarray) -> None:
        """Append g = W h + b (g ∈ [lo, hi]) and σ's rows; ``expr`` becomes this layer's output."""
        n = b.size
        g = self._cols(lo, hi, g0)
        M = np.zeros((n, self.ncols))
        M[:, :self.expr.shape[1]] = -W @ self.expr
        M[np.arange(n), g] = 1.0
        rr, cc = np.nonzero(M)
        self._rows(rr, cc, M[rr, cc], b, b)
        u = np.flatnonzero((lo < 0) & (hi > 0))
        slope = np.where(lo >= 0, 1.0, self.alpha)
        k, a, ones = u.size, self.alpha, np.ones(u.size)
        if self.integer:  # exact: g = P − Q, 0 ≤ P ≤ H z, 0 ≤ Q ≤ H̄ (1 − z), h = P − αQ
            H, Hbar = hi[u] * (1 + SOLVER_SLACK) + SOLVER_SLACK, -lo[u] * (1 + SOLVER_SLACK) + SOLVER_SLACK
            P = self._cols(np.zeros(k), H, np.maximum(g0[u], 0))
            Q = self._cols(np.zeros(k), Hbar, np.maximum(-g0[u], 0))
            z = self._cols(np.zeros(k), ones, (g0[u] > 0).astype(float))
            self.highs.changeColsIntegrality(k, z.astype(np.int32), np.ones(k, dtype=np.uint8))
            self.n_binaries += k
            i = np.arange(k)
            self._rows(np.r_[i, i, i, k + i, k + i, 2 * k + i, 2 * k + i], np.r_[g[u], P, Q, P, z, Q, z],
                       np.r_[ones, -ones, ones, ones, -H, ones, Hbar],
                       np.r_[np.zeros(k), np.full(2 * k, -_INF)], np.r_[np.zeros(2 * k), Hbar])
            outputs = [(P, 1.0), (Q, -a)]
        else:  # triangle: h ≥ g, h ≥ αg (implied by h ≥ 0 for ReLU), h ≤ λg + μ
            lam, mu, _ = relaxation(lo[u], hi[u], a)
            h = self._cols(a * lo[u], hi[u], np.where(g0[u] > 0, g0[u], a * g0[u]))
            i = np.arange(k)
            self._rows(np.r_[i, i, k + i, k + i, 2 * k + i, 2 * k + i], np.r_[h, g[u], h, g[u], h, g[u]],
                       np.r_[ones, -ones, ones, -a * ones, ones, -lam],
                       np.r_[np.zeros(2 * k), np.full(k, -_INF)], np.r_[np.full(2 * k, _INF), mu])
            outputs = [(h, 1.0)]
        self.expr = np.zeros((n, self.ncols))
        stable = np.setdiff1d(np.arange(n), u)
        self.expr[stable, g[stable]] = slope[stable]
        for cols, coef in outputs:
            self.expr[u, cols] = coef

    def minimum(self, cost: np.ndarray, offset: float, deadline: float) -> float | None:
        """A rigorous lower bound on min cost·z + offset over the model (None: no usable answer in time).

        The offset goes to HiGHS too, so its relative MIP gap is relative to the pre-activation itself:
        a gap < 1 then never lets the dual bound take the wrong sign.

        For p = 2 a solution outside the ball adds the tangent cut through it and the solve repeats (at most
        10 cuts in 2-D, 5 above, 3 for a MILP) while the bound improves; every bound found on the way is
        valid, so the best is kept.
        """
        c = np.zeros(self.ncols)
        c[:cost.size] = cost
        self.highs.changeColsCost(self.ncols, np.arange(self.ncols, dtype=np.int32), c)
        self.highs.changeObjectiveOffset(float(offset))
        best, mip = None, self.n_binaries > 0
        for _ in range((3 if mip else 10 if self.x0.size == 2 else 5) + 1):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self.highs.setOptionValue("time_limit", remaining)
            if mip:
                sol = highspy.HighsSolution()
                sol.col_value, sol.value_valid = self.start.tolist(), True
                self.highs.setSolution(sol)
            self.highs.run()
            status = self.highs.getModelStatus()
            solution = self.highs.getSolution()
            if mip and status in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
                v = self.highs.getInfo().mip_dual_bound
                v = v - SOLVER_SLACK * (1 + abs(v)) if np.isfinite(v) else None
            elif not mip and status == highspy.HighsModelStatus.kOptimal and solution.dual_valid:
                v = self._dual_bound(c, np.asarray(solution.row_dual)) + offset
            else:
                v = None
            gain = np.inf if best is None or v is None else v - best
            if v is not None:
                best = v if best is None else max(best, v)
            if (self.p != "2" or not solution.value_valid or status != highspy.HighsModelStatus.kOptimal
                    or gain <= SIGN_TOL * (1 + abs(best))):
                break
            d = np.asarray(solution.col_value[:self.x0.size]) - self.x0
            if np.linalg.norm(d) <= self.r * (1 + 1e-7):  # closer than this: the cut gains nothing
                break
            self._cuts(d[None, :] / np.linalg.norm(d))
        return best

    # ---- internals -------------------------------------------------------------------------------
    def _cols(self, lo: np.ndarray, hi: np.ndarray, start: np.ndarray) -> np.ndarray:
        idx = np.arange(self.ncols, self.ncols + len(lo))
        self.highs.addVars(len(lo), np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
        self.col_lo, self.col_hi = np.r_[self.col_lo, lo], np.r_[self.col_hi, hi]
        self.start = np.r_[self.start, start]
        return idx

    def _rows(self, rows, cols, vals, lo, hi) -> None:
        """Add rows lo ≤ A z ≤ hi given as triplets (row numbers local to this call)."""
        m, base = len(lo), sum(len(x) for x in self.row_lo)
        A = sp.csr_matrix((vals, (rows, cols)), shape=(m, self.ncols))
        self.highs.addRows(m, np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64), A.nnz,
                           A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
        self.row_lo.append(np.asarray(lo, dtype=np.float64))
        self.row_hi.append(np.asarray(hi, dtype=np.float64))
        self.triplets.append((np.asarray(rows) + base, np.asarray(cols), np.asarray(vals, dtype=np.float64)))
        self._csr = None

    def _cuts(self, u: np.ndarray) -> None:
        """Rows u·x ≤ r + u·x0 for unit vectors u (tangent to the closed ball, hence valid)."""
        m, n0 = u.shape
        self._rows(np.repeat(np.arange(m), n0), np.tile(np.arange(n0), m), u.ravel(), np.full(m, -_INF),
                   self.r + u @ self.x0)

    def _dual_bound(self, c: np.ndarray, y: np.ndarray) -> float:
        """min c·z ≥ Σ_r y_r·(bound of row r) + min over the ball of d_x·x + Σ_{k ∉ x} min over [l_k, u_k]
        of d_k z_k, with d = c − Aᵀy, for any y (the ball term d_x·x0 − r‖d_x‖_q is exact, not the box's)."""
        if self._csr is None:
            rows, cols, vals = (np.concatenate(a) for a in zip(*self.triplets))
            self._csr = sp.csr_matrix((vals, (rows, cols)), shape=(sum(len(x) for x in self.row_lo), self.ncols))
            self._row_bounds = (np.concatenate(self.row_lo), np.concatenate(self.row_hi))
        lo, hi = self._row_bounds
        y = np.where((y > 0) & ~np.isfinite(lo), 0.0, np.where((y < 0) & ~np.isfinite(hi), 0.0, y))
        row_terms = np.where(y > 0, y * np.where(np.isfinite(lo), lo, 0.0), y * np.where(np.isfinite(hi), hi, 0.0))
        d = c - self._csr.T @ y
        col_terms = np.where(d > 0, d * self.col_lo, d * self.col_hi)
        n0 = self.x0.size
        col_terms[:n0] = 0.0
        col_terms[0] = d[:n0] @ self.x0 - self.r * dual_norm(d[:n0], self.p)
        err = 8 * np.finfo(float).eps * (np.abs(row_terms).sum() + np.abs(col_terms).sum()
                                         + abs(self._csr.T).dot(np.abs(y)) @ np.maximum(np.abs(self.col_lo),
                                                                                           np.abs(self.col_hi)))
        return float(row_terms.sum() + col_terms.sum() - err)
