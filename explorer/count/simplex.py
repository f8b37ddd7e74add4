"""A small dense LP kernel for the subdivision counter, and the certificates that make its answers sound.

Question asked: is max σ·h(x) over the cell {x ∈ box : σ_i·h_i(x) ≥ r_i} above a target?  The
kernel is a bounded **primal simplex** in dictionary form (variables x and slacks s = R x − r ≥ 0)
that starts with every x superbasic at a known point of the cell and every slack basic, so it needs
no phase 1.  It stops early both ways: as soon as c·x exceeds the target, or as soon as the dual
value of its reduced costs (an upper bound) falls to the target.  Neither answer is trusted as
such: the caller checks a point with :func:`point_margin` or multipliers with :func:`dual_bound`,
both of which bound every rounding error, and asks another solver when neither certificate holds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["maximise", "point_margin", "dual_bound", "FOUND", "BOUNDED", "FAILED", "UNIT_ROUND"]

FOUND, BOUNDED, FAILED = 1, 0, -1
UNIT_ROUND = 2.0 ** -53          # unit roundoff u of float64
_PIVOT_TOL = 1e-9                # smallest |tableau entry| accepted as a pivot
_COST_TOL = 1e-11                # reduced costs below this (relative to max(1, ‖c‖∞)) count as zero


@njit(cache=True)
def maximise(R, r, m, lo, hi, c, x0, s0, target, T, val, d, basis, pos, x_out, y_out, max_iter):
    """Decide max c·x > target over {lo ≤ x ≤ hi, R[:m] x ≥ r[:m]} from x0 in the cell (slacks s0 = R x0 − r).

    Returns FOUND (x_out: a box point of the cell, up to rounding, with c·x > target), BOUNDED
    (y_out[:m] ≥ 0: multipliers whose dual value is ≤ target) or FAILED (iteration cap or no usable
    pivot).  T (≥ m, ≥ n + m), val, d, pos (≥ n + m) and basis (≥ m) are work arrays.
    Invariant: the point stays in the cell (up to rounding) and c·x never decreases.
    """
    n = x0.size
    nv = n + m
    f, scale = 0.0, 1.0
    for j in range(n):                         # every x superbasic at x0, every slack basic
        val[j], d[j], pos[j] = x0[j], c[j], -1
        f += c[j] * x0[j]
        scale = max(scale, abs(c[j]))
    for i in range(m):                         # s_i − R_i x = −r_i
        for j in range(n):
            T[i, j] = -R[i, j]
        for j in range(m):
            T[i, n + j] = 0.0
        T[i, n + i] = 1.0
        basis[i], pos[n + i] = n + i, i
        val[n + i], d[n + i] = max(s0[i], 0.0), 0.0     # x0 may sit on a row up to rounding
    cost_tol = _COST_TOL * scale
    degenerate = 0
    for _ in range(max_iter):
        if f > target:
            for j in range(n):
                x_out[j] = min(max(val[j], lo[j]), hi[j])
            return FOUND
        # dual value of the current reduced costs: f + what each nonbasic could still add
        bound, dual_feasible = f, True
        for j in range(nv):
            if pos[j] < 0:
                if j < n:
                    bound += d[j] * ((hi[j] if d[j] > 0 else lo[j]) - val[j])
                elif d[j] > cost_tol:
                    dual_feasible = False
                    break
                else:
                    bound -= d[j] * val[j]
        if dual_feasible and bound <= target:
            for i in range(m):
                y_out[i] = max(-d[n + i], 0.0) if pos[n + i] < 0 else 0.0
            return BOUNDED
        # pricing: Dantzig's rule; Bland's (first eligible) after repeated degenerate steps
        e, best, direction = -1, 0.0, 0.0
        for j in range(nv):
            if pos[j] >= 0:
                continue
            dj = d[j]
            if dj > cost_tol and (j >= n or val[j] < hi[j]):
                score, sgn = dj, 1.0
            elif dj < -cost_tol and val[j] > (lo[j] if j < n else 0.0):
                score, sgn = -dj, -1.0
            else:
                continue
            if score > best:
                e, best, direction = j, score, sgn
                if degenerate > 20:
                    break
        if e < 0:                              # optimal at or below the target (up to rounding)
            for i in range(m):
                y_out[i] = max(-d[n + i], 0.0) if pos[n + i] < 0 else 0.0
            return BOUNDED
        step = (hi[e] - val[e] if direction > 0 else val[e] - lo[e]) if e < n else \
            (np.inf if direction > 0 else val[e])
        leave, leave_rate = -1, 0.0
        for k in range(m):                     # ratio test: the first basic variable to reach a bound
            rate = -T[k, e] * direction
            if abs(rate) <= _PIVOT_TOL:
                continue
            b = basis[k]
            if rate > 0:
                if b >= n:
                    continue                   # a slack has no upper bound
                room = (hi[b] - val[b]) / rate
            else:
                room = (val[b] - (lo[b] if b < n else 0.0)) / (-rate)
            room = max(room, 0.0)
            if room < step or (room == step and leave >= 0 and abs(rate) > abs(leave_rate)):
                step, leave, leave_rate = room, k, rate
        if not np.isfinite(step):
            return FAILED
        degenerate = degenerate + 1 if step <= 1e-14 else 0
        val[e] += direction * step
        for k in range(m):
            val[basis[k]] -= T[k, e] * direction * step
        f += abs(d[e]) * step
        if leave < 0:                          # bound flip: e stays nonbasic, at its bound
            if e < n:
                val[e] = hi[e] if direction > 0 else lo[e]
            continue
        b = basis[leave]                       # b leaves at the bound it reached
        val[b] = (hi[b] if leave_rate > 0 else lo[b]) if b < n else 0.0
        _pivot(T, d, m, nv, leave, e)
        basis[leave] = e
        pos[e], pos[b] = leave, -1
    return FAILED


@njit(cache=True)
def point_margin(a, b, ea, eb, sign, x):
    """Certified lower bound of sign·h*(x), where h = a·x + b is within ea·|x| + eb of the exact h*.

    Includes the rounding of evaluating a·x + b in float64.
    """
    s, mag, err = b, abs(b), eb
    for j in range(x.size):
        s += a[j] * x[j]
        mag += abs(a[j] * x[j])
        err += ea[j] * abs(x[j])
    return sign * s - err - (x.size + 3) * UNIT_ROUND * 1.01 * (mag + err)


@njit(cache=True)
def dual_bound(A, B, EA, EB, signs, lows, m, a, b, ea, eb, sign, y, lo, hi, X):
    """Certified upper bound of sign·h*(x) over {x ∈ box : signs_i·h*_i(x) > lows_i for i < m}, from y ≥ 0.

    With h_i = A_i·x + B_i within e_i(x) = EA_i·|x| + EB_i of the exact h*_i, on that set
    sign·h*(x) ≤ sign·h(x) + e(x) + Σ y_i (signs_i·h_i(x) + e_i(x) − lows_i)
             ≤ Σ_j max(g_j lo_j, g_j hi_j) + sign·b + Σ y_i (signs_i B_i + EB_i − lows_i)
               + (ea + Σ y_i EA_i)·X + eb,   g = sign·a + Σ y_i signs_i A_i,  X = max(|lo|, |hi|).
    """
    n = a.size
    total, mag = sign * b + eb, abs(b) + eb
    for i in range(m):
        yi = y[i]
        if yi > 0.0:
            total += yi * (signs[i] * B[i] + EB[i] - lows[i])
            mag += yi * (abs(B[i]) + EB[i] + abs(lows[i]))
    for j in range(n):
        g, gabs, err = sign * a[j], abs(a[j]), ea[j]
        for i in range(m):
            yi = y[i]
            if yi > 0.0:
                g += yi * signs[i] * A[i, j]
                gabs += yi * abs(A[i, j])
                err += yi * EA[i, j]
        total += max(g * lo[j], g * hi[j]) + err * X[j]
        mag += (gabs + err) * X[j]
    return total + (n + m + 4) * UNIT_ROUND * 1.01 * mag


@njit(cache=True)
def _pivot(T, d, m, nv, leave, e):
    """Pivot the tableau and the reduced costs on (leave, e)."""
    piv = T[leave, e]
    for j in range(nv):
        T[leave, j] /= piv
    for k in range(m):
        if k != leave:
            t = T[k, e]
            if t != 0.0:
                for j in range(nv):
                    T[k, j] -= t * T[leave, j]
                T[k, e] = 0.0
    t = d[e]
    for j in range(nv):
        d[j] -= t * T[leave, j]
    d[e] = 0.0
