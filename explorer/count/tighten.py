"""Certified bounds of every hidden pre-activation over a box, and the MILP built on them (spec §2.2, made sound).

The network is first rescaled exactly by powers of two (:mod:`explorer.count.scaling`), so that
solver tolerances meet values of order one.  Layer by layer: interval arithmetic, widened by its
rounding bound; then, for the units it leaves unstable, LP tightening on the §2.1 rows of the
earlier layers (z relaxed to [0, 1]).  An LP answer is never used as such: its row multipliers λ
give, by weak duality, max c·v ≤ Σ_j max(d_j·lo_j, d_j·hi_j) + Σ_r λ_r·(row bound), d = c − Aᵀλ,
evaluated with a bound on its rounding.  Later layers' big-Ms come from these certified bounds,
so every LP relaxation contains every true point, and the bounds are true bounds.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from ..net import Network, as_box
from .milp import ReluMilp, UnitBounds, build_milp
from .scaling import rescale
from .simplex import UNIT_ROUND

__all__ = ["certified_bounds", "certified_model"]

_INF = highspy.kHighsInf


def certified_model(net: Network, box, *, tighten: bool = True, deadline: float | None = None) -> ReluMilp:
    """The §2 MILP of ``net`` over ``box`` on the exactly rescaled network, with certified bounds.

    Its binaries, stable units and feasible patterns are those of ``net`` (rescaling by powers of
    two keeps every pattern); its values are in rescaled units.  ``deadline``: see :func:`certified_bounds`.
    """
    box = as_box(box, net.n_inputs)
    if net.n_hidden == 0:                                        # an affine map: nothing to bound
        return build_milp(net, box, tighten="none")
    scaled = rescale(net, box)
    proxy = Network(scaled.weights + (np.zeros((1, net.hidden_widths[-1])),), scaled.biases + (np.zeros(1),),
                    net.activation, net.alpha)
    return build_milp(proxy, scaled.box, bounds=certified_bounds(proxy, scaled.box, tighten=tighten,
                                                                  deadline=deadline))


def certified_bounds(net: Network, box, *, tighten: bool = True, deadline: float | None = None) -> UnitBounds:
    """lo ≤ g ≤ hi for every hidden unit over ``box``, each bound proven (interval arithmetic, certified LPs).

    Past ``deadline`` (a ``time.perf_counter()`` value) no LP starts: the remaining units keep their interval
    bounds, which are proven too.

    Stability follows the tolerance policy of :mod:`explorer.count.milp` (|bound| ≥ 1e-9·max(1, |lo|, |hi|)).
    """
    start = time.perf_counter()
    box = as_box(box, net.n_inputs)
    alpha = net.alpha
    lo_h, hi_h = box[:, 0], box[:, 1]
    cols = _Columns(box)
    lows, highs, actives, inactives = [], [], [], []
    for l, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
        reach = np.abs(W) @ np.maximum(np.abs(lo_h), np.abs(hi_h)) + np.abs(b)
        slack = (W.shape[1] + 3) * UNIT_ROUND * 1.01 * reach       # rounding of the interval sums
        lo, hi = Wp @ lo_h + Wn @ hi_h + b - slack, Wp @ hi_h + Wn @ lo_h + b + slack
        C, c = W @ cols.E, W @ cols.e + b                       # g^l = C v + c in the columns so far
        if l > 0 and tighten:
            lo, hi = cols.tighten(C, c, lo, hi, deadline)
        tau = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
        active, inactive = lo >= tau, hi <= -tau
        cols.add_layer(C, c, lo, hi, active, inactive, alpha)
        lows.append(lo)
        highs.append(hi)
        actives.append(active)
        inactives.append(inactive)
        lo_h, hi_h = net.act(lo), net.act(hi)
    return UnitBounds(lower=np.concatenate(lows), upper=np.concatenate(highs),
                      stable_active=np.concatenate(actives), stable_inactive=np.concatenate(inactives),
                      tighten="lp" if tighten else "none", timeouts=0, seconds=time.perf_counter() - start)


class _Columns:
    """Columns x, then (p, n, z) per unstable unit; §2.1 rows; the last layer's output h = E·v + e."""

    def __init__(self, box: np.ndarray) -> None:
        n0 = box.shape[0]
        self.lower, self.upper = list(box[:, 0]), list(box[:, 1])
        self.E, self.e = np.eye(n0), np.zeros(n0)
        self.rows: list = []                                    # (coefficients (n_cols,), lower, upper)

    def tighten(self, C: np.ndarray, c: np.ndarray, lo: np.ndarray, hi: np.ndarray, deadline: float | None = None):
        """Certified max/min of each unstable C_i·v + c_i over the rows: keep the tighter bound (no LP starts
        past ``deadline``)."""
        n = len(self.lower)
        A = np.array([np.pad(r, (0, n - r.size)) for r, _, _ in self.rows]).reshape(-1, n)
        rl, ru = np.array([r[1] for r in self.rows]), np.array([r[2] for r in self.rows])
        cl, cu = np.array(self.lower), np.array(self.upper)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.addVars(n, cl, cu)
        if A.shape[0]:
            r, k = np.nonzero(A)
            h.addRows(A.shape[0], rl, ru, r.size, np.searchsorted(r, np.arange(A.shape[0])).astype(np.int32),
                      k.astype(np.int32), A[r, k])
        idx = np.arange(n, dtype=np.int32)
        lo, hi = lo.copy(), hi.copy()
        for i in np.flatnonzero((lo < 0) & (hi > 0)):
            if deadline is not None and time.perf_counter() > deadline:
                break
            for sign in (1.0, -1.0):                           # max g (sign +1), then max −g
                h.changeColsCost(n, idx, -sign * C[i])
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    continue
                lam = np.asarray(h.getSolution().row_dual)
                best = min(_weak_dual(sign * C[i], A, rl, ru, cl, cu, lam),     # either sign convention
                           _weak_dual(sign * C[i], A, rl, ru, cl, cu, -lam))
                if sign > 0:
                    hi[i] = min(hi[i], best + c[i] + 4 * UNIT_ROUND * abs(c[i]))
                else:
                    lo[i] = max(lo[i], -best + c[i] - 4 * UNIT_ROUND * abs(c[i]))
        return lo, hi

    def add_layer(self, C, c, lo, hi, active, inactive, alpha) -> None:
        """Columns and rows of one layer; stable units become affine expressions of the columns."""
        unstable = np.flatnonzero(~(active | inactive))
        up = np.maximum(hi, 0.0)
        dn = np.maximum(-lo, 0.0)
        up, dn = up * (1 + 1e-9) + 1e-300, dn * (1 + 1e-9) + 1e-300
        base, k = len(self.lower), unstable.size
        p, n, z = base + np.arange(k), base + k + np.arange(k), base + 2 * k + np.arange(k)
        self.lower += [0.0] * (3 * k)
        self.upper += list(up[unstable]) + list(dn[unstable]) + [1.0] * k
        width = len(self.lower)
        C = np.pad(C, ((0, 0), (0, 3 * k)))
        slope = np.where(active, 1.0, alpha)[:, None]
        E, e = slope * C, slope[:, 0] * c
        E[unstable], e[unstable] = 0.0, 0.0
        E[unstable, p], E[unstable, n] = 1.0, -alpha             # h = p − α·n
        self.E, self.e = E, e
        for j, i in enumerate(unstable):
            row = C[i].copy()
            row[p[j]], row[n[j]] = -1.0, 1.0                     # C v − p + n = −c
            self.rows.append((row, -c[i], -c[i]))
            row = np.zeros(width)
            row[p[j]], row[z[j]] = 1.0, -up[i]                   # p − H z ≤ 0
            self.rows.append((row, -_INF, 0.0))
            row = np.zeros(width)
            row[n[j]], row[z[j]] = 1.0, dn[i]                    # n + H̄ z ≤ H̄
            self.rows.append((row, -_INF, dn[i]))


def _weak_dual(cost, A, rl, ru, cl, cu, lam) -> float:
    """Upper bound of cost·v over {rl ≤ A v ≤ ru, cl ≤ v ≤ cu} from any multipliers λ, rounding included.

    cost·v = d·v + λ·(A v) with d = cost − Aᵀλ; λ_r·(A v)_r ≤ λ_r·ru_r if λ_r > 0, λ_r·rl_r if λ_r < 0.
    """
    n = cl.size
    cost = np.pad(cost, (0, n - cost.size))
    if A.shape[0] == 0:
        d, dabs = cost, np.abs(cost)
        rows_total, rows_mag = 0.0, 0.0
    else:
        rhs = np.where(lam > 0, ru, np.where(lam < 0, rl, 0.0))
        if not np.isfinite(rhs[lam != 0]).all():
            return np.inf
        d, dabs = cost - A.T @ lam, np.abs(cost) + np.abs(A.T) @ np.abs(lam)
        rows_total, rows_mag = float(lam @ rhs), float(np.abs(lam) @ np.abs(rhs))
    X = np.maximum(np.abs(cl), np.abs(cu))
    total = float(np.maximum(d * cl, d * cu).sum()) + rows_total
    err = (n + A.shape[0] + 4) * UNIT_ROUND * 1.01 * (float(dabs @ X) + rows_mag)
    return total + err
