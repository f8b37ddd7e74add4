"""Compiled depth-first walk of the subdivision tree of :mod:`explorer.count.exact`.

A node is a cell {x ∈ box : σ_i·h_i(x) > thr for its path rows} with the affine maps of the layers
decided so far.  At layer l the walk first scans every unstable unit of the layer on the layer's
root cell (a unit that does not cross the cell gets its sign there), then splits the cell by the
crossing units one after another; a side exists iff some point of the cell is more than thr away
on that side.  Sides are decided by known points (samples, witnesses, points found earlier) and
otherwise by :func:`explorer.count.simplex.maximise`; every decision is certified with bounded
rounding (rows carry error bounds from the layer products), and an uncertified one is handed back
to the caller as a question.  All state lives in arrays so that a walk can stop (time, output
space, a question) and resume exactly where it stopped.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .simplex import BOUNDED, FOUND, UNIT_ROUND, dual_bound, maximise, point_margin

__all__ = ["walk", "layer_maps", "load_cell", "DONE", "PAUSED", "QUESTION", "FULL", "SPLIT", "CAPPED",
           "LAYER", "STAGE", "POSITION", "DEPTH", "POOL_START", "POOL_SIZE", "ROW_UNIT", "ROW_SIGN",
           "ENTER", "SCAN", "CUT", "N_FIELDS"]

DONE, PAUSED, QUESTION, FULL, SPLIT, CAPPED = range(6)        # why walk() returned
LAYER, STAGE, POSITION, DEPTH, POOL_START, POOL_SIZE, ROW_UNIT, ROW_SIGN = range(8)   # entry fields
N_FIELDS = 8
ENTER, SCAN, CUT = range(3)                                    # stages of a node within its layer
# counters in ``count``: stack size, regions out, LPs, steps, question (unit, sign, kind), answers
_SP, _OUT, _LPS, _STEPS, _Q_UNIT, _Q_SIGN, _Q_DEPTH = range(7)
_NX = 8                                                        # count[_NX + l]: extra points of layer l
# LP rows and targets sit this much deeper (relative to the rounding bound of the row) than the
# certificates need; a point whose pivots drifted further is pulled towards the cell's known point
_CUSHION = 16.0


@njit(cache=True)
def layer_maps(weights, biases, dims, w_start, u_start, alpha, layer, bits, gam, gc, egam, egc):
    """g = gam·x + gc on the cell for the units of ``layer``, with bounds egam·|x| + egc on their rounding.

    gam^l = W^l·S^{l−1}·gam^{l−1} (S: slopes 1 or α from ``bits``), gc^l = W^l·S·gc^{l−1} + b^l; each sum
    of k terms is off by at most (k + 3)·u·Σ|terms|, and errors of the previous layer pass through |W|·S.
    """
    n0 = dims[0]
    first, last = u_start[layer], u_start[layer + 1]
    W = weights[w_start[layer]: w_start[layer + 1]].reshape(dims[layer + 1], dims[layer])
    b = biases[first: last]
    if layer == 0:
        for i in range(last - first):
            for t in range(n0):
                gam[first + i, t], egam[first + i, t] = W[i, t], 0.0
            gc[first + i], egc[first + i] = b[i], 0.0
        return
    prev = u_start[layer - 1]
    width = dims[layer]
    grow = (width + 3) * UNIT_ROUND * 1.01
    for i in range(last - first):
        for t in range(n0):
            s, sabs, e = 0.0, 0.0, 0.0
            for j in range(width):
                w = W[i, j] * (1.0 if bits[prev + j] else alpha)
                if w != 0.0:
                    s += w * gam[prev + j, t]
                    sabs += abs(w * gam[prev + j, t])
                    e += abs(w) * egam[prev + j, t]
            gam[first + i, t], egam[first + i, t] = s, e + grow * sabs
        s, sabs, e = b[i], abs(b[i]), 0.0
        for j in range(width):
            w = W[i, j] * (1.0 if bits[prev + j] else alpha)
            if w != 0.0:
                s += w * gc[prev + j]
                sabs += abs(w * gc[prev + j])
                e += abs(w) * egc[prev + j]
        gc[first + i], egc[first + i] = s, e + grow * sabs


@njit(cache=True)
def walk(net, box, maps, rows, stack, points, out, count, answers, work, thr, max_steps, max_regions,
         stop_at_split):
    """Run the walk until the stack empties or a reason to stop; returns DONE, PAUSED, QUESTION, FULL,
    SPLIT (``stop_at_split``: the top entry has just been split in two) or CAPPED."""
    weights, biases, dims, w_start, u_start, fixed, alpha = net
    L = dims.size - 1
    ints, bits, wit, share = stack
    pool, pts, cut, n_cut, x_start = points
    out_bits, out_pts, done = out
    steps = 0
    while count[_SP] > 0:
        if steps >= max_steps:
            return PAUSED
        top = count[_SP] - 1
        e = ints[top]
        if e[ROW_UNIT] >= 0:                                  # enter the cell: push its row
            _push_row(net, box, maps, rows, e[ROW_UNIT], e[ROW_SIGN], e[DEPTH], thr)
            e[DEPTH] += 1
            e[ROW_UNIT] = -1
        layer = e[LAYER]
        if e[STAGE] == ENTER:
            gam, gc, egam, egc = maps
            layer_maps(weights, biases, dims, w_start, u_start, alpha, layer, bits[top], gam, gc, egam, egc)
            n_cut[layer] = 0
            count[_NX + layer] = 0
            e[STAGE], e[POSITION] = SCAN, 0
            continue
        width = dims[layer + 1]
        if e[STAGE] == SCAN and e[POSITION] == width:
            e[STAGE], e[POSITION] = CUT, 0
        if e[STAGE] == CUT and e[POSITION] == n_cut[layer]:
            if layer + 1 < L:                                 # next layer
                e[LAYER], e[STAGE] = layer + 1, ENTER
                continue
            if count[_OUT] >= max_regions:
                return CAPPED
            if count[_OUT] == out_bits.shape[0]:
                return FULL
            out_bits[count[_OUT]] = bits[top]
            out_pts[count[_OUT]] = wit[top]
            count[_OUT] += 1
            done[0] += share[top]
            count[_SP] -= 1
            continue
        steps += 1
        count[_STEPS] += 1
        unit = u_start[layer] + (e[POSITION] if e[STAGE] == SCAN else cut[layer, e[POSITION]])
        if e[STAGE] == SCAN and fixed[unit] >= 0:
            bits[top, unit] = fixed[unit] == 1
            e[POSITION] += 1
            continue
        sides = _decide(net, box, maps, rows, stack, points, count, answers, work, thr, top, unit)
        if sides < 0:
            return QUESTION
        if sides == 0:                                        # thinner than thr on both sides
            done[0] += share[top]
            count[_SP] -= 1
            continue
        if sides != 3:                                        # one side: the unit does not cross
            bits[top, unit] = sides == 1
            e[POSITION] += 1
            continue
        if e[STAGE] == SCAN:                                  # crosses the layer's root cell
            cut[layer, n_cut[layer]] = unit - u_start[layer]
            n_cut[layer] += 1
            _keep_found_points(work, points, stack, count, top, layer)
            e[POSITION] += 1
            continue
        _split(stack, points, work, count, top, unit, thr)
        if stop_at_split:
            return SPLIT
    return DONE


# ---- one decision -------------------------------------------------------------------------------
@njit(cache=True)
def _decide(net, box, maps, rows, stack, points, count, answers, work, thr, top, unit):
    """Bit mask of the sides (1: g > 0, 2: g < 0) of ``unit`` that exist in the top cell; −1: a question.

    Leaves the unit's normalised row in work (cur) and a point of each existing side in work (side_x),
    flagging in side_lp the ones found by an LP (worth keeping as known points)."""
    gam, gc, egam, egc = maps
    cur_a, cur_e, cur_s, side_x, side_lp = work[0], work[1], work[2], work[3], work[4]
    if not _normalised_row(gam[unit], gc[unit], egam[unit], egc[unit], thr, cur_a, cur_e, cur_s):
        return 1 if gc[unit] > 0 else 2                       # constant on the cell (up to rounding)
    ints, bits, wit, share = stack
    pool, pts = points[0], points[1]
    e = ints[top]
    found = 0
    for k in range(2):
        side_lp[k] = 0.0
        sign = 1.0 - 2.0 * k
        if point_margin(cur_a, cur_s[0], cur_e, cur_s[1], sign, wit[top]) > cur_s[2]:
            found |= 1 << k
            side_x[k, :] = wit[top]
    start, size = e[POOL_START], e[POOL_SIZE]
    for i in range(start, start + size):
        if found == 3:
            break
        p = pts[pool[i]]
        for k in range(2):
            if not found & (1 << k) and point_margin(cur_a, cur_s[0], cur_e, cur_s[1], 1.0 - 2.0 * k, p) > cur_s[2]:
                found |= 1 << k
                side_x[k, :] = p
    for k in range(2):
        if found & (1 << k):
            continue
        verdict = _solve_side(box, rows, work, count, e[DEPTH], wit[top], 1.0 - 2.0 * k, k)
        if verdict < 0:                                       # uncertified: use or ask for an answer
            a_state, a_x, a_key = answers
            if a_state[k] < 0 or a_key[k, 0] != unit or a_key[k, 1] != e[DEPTH]:
                count[_Q_UNIT], count[_Q_SIGN], count[_Q_DEPTH] = unit, 1 - 2 * k, e[DEPTH]
                return -1                             # the decision is replayed once answered
            verdict = a_state[k]
            if verdict == 1:
                side_x[k, :] = a_x[k]
        if verdict == 1:
            found |= 1 << k
            side_lp[k] = 1.0
    answers[0][:] = -1
    return found


@njit(cache=True)
def _normalised_row(g, c, eg, ec, thr, a, ea, s):
    """h = g·x/‖g‖ + c/‖g‖ with its error bounds, and the thresholds thr(1 ± relative error of ‖g‖).

    s = (b, eb, thr_high, thr_low).  False when ‖g‖ is within its rounding of 0 (a constant unit)."""
    n0 = g.size
    norm2, enorm2 = 0.0, 0.0
    for t in range(n0):
        norm2 += g[t] * g[t]
        enorm2 += eg[t] * eg[t]
    norm = np.sqrt(norm2)
    rel_abs = np.sqrt(enorm2) + (n0 + 4) * UNIT_ROUND * norm
    if norm == 0.0 or norm <= 2.0 * rel_abs:
        return False
    inv = 1.0 / norm
    for t in range(n0):
        a[t] = g[t] * inv
        ea[t] = (eg[t] + 4 * UNIT_ROUND * abs(g[t])) * inv
    rel = rel_abs * inv + 8 * UNIT_ROUND
    s[0], s[1] = c * inv, (ec + 4 * UNIT_ROUND * abs(c)) * inv
    s[2], s[3] = thr * (1.0 + 2.0 * rel), thr * (1.0 - 2.0 * rel)
    return True


@njit(cache=True)
def _solve_side(box, rows, work, count, depth, x0, sign, k):
    """1 / 0: side ``sign`` of the current row certified to exist / not to exist in the cell; −1: unsure."""
    lo, hi, X = box
    ra, rb, rea, reb, rthi, rtlo, rsign, lp_a, lp_b, row_unit = rows
    cur_a, cur_e, cur_s, side_x = work[0], work[1], work[2], work[3]
    c, s0, y, T, val, d, basis, pos = work[5], work[6], work[7], work[8], work[9], work[10], work[11], work[12]
    n0 = lo.size
    box_err, mag = cur_s[1], abs(cur_s[0])
    for t in range(n0):
        c[t] = sign * cur_a[t]
        box_err += cur_e[t] * X[t]
        mag += abs(cur_a[t]) * X[t]
    target = cur_s[2] - sign * cur_s[0] + box_err + _CUSHION * (n0 + 3) * UNIT_ROUND * (1.0 + mag + box_err)
    for i in range(depth):
        s = -lp_b[i]
        for t in range(n0):
            s += lp_a[i, t] * x0[t]
        s0[i] = s
    count[_LPS] += 1
    status = maximise(lp_a, lp_b, depth, lo, hi, c, x0, s0, target, T, val, d, basis, pos, side_x[k], y,
                      20 * (n0 + depth) + 50)
    if status == FOUND:
        found, p = work[13], side_x[k]
        found[:] = p
        for pull in (0.0, 1e-9, 1e-6, 1e-3):                 # pivots may leave p a hair outside a row
            for t in range(n0):
                p[t] = found[t] + pull * (x0[t] - found[t])
            if _inside(rows, depth, cur_a, cur_e, cur_s, sign, p):
                return 1
        return -1
    if status == BOUNDED:
        ub = dual_bound(ra, rb, rea, reb, rsign, rtlo, depth, cur_a, cur_s[0], cur_e, cur_s[1], sign, y,
                        lo, hi, X)
        return 0 if ub <= cur_s[3] else -1
    return -1


@njit(cache=True)
def _inside(rows, depth, cur_a, cur_e, cur_s, sign, p):
    """p is certified to lie in the cell and farther than the margin on side ``sign`` of the current row."""
    ra, rb, rea, reb, rthi, rsign = rows[0], rows[1], rows[2], rows[3], rows[4], rows[6]
    if point_margin(cur_a, cur_s[0], cur_e, cur_s[1], sign, p) <= cur_s[2]:
        return False
    for i in range(depth):
        if point_margin(ra[i], rb[i], rea[i], reb[i], rsign[i], p) <= rthi[i]:
            return False
    return True


# ---- tree bookkeeping -----------------------------------------------------------------------------
@njit(cache=True)
def _push_row(net, box, maps, rows, unit, sign, depth, thr):
    """Write the cell row sign·h_unit > thr at ``depth``, with its LP form tightened by its error bound."""
    lo, hi, X = box
    gam, gc, egam, egc = maps
    ra, rb, rea, reb, rthi, rtlo, rsign, lp_a, lp_b, row_unit = rows
    s = np.empty(4)
    _normalised_row(gam[unit], gc[unit], egam[unit], egc[unit], thr, ra[depth], rea[depth], s)
    rb[depth], reb[depth], rthi[depth], rtlo[depth], rsign[depth] = s[0], s[1], s[2], s[3], sign
    row_unit[depth] = unit
    n0 = lo.size
    err, mag = s[1], abs(s[0])
    for t in range(n0):
        lp_a[depth, t] = sign * ra[depth, t]
        err += rea[depth, t] * X[t]
        mag += abs(ra[depth, t]) * X[t]
    lp_b[depth] = s[2] - sign * s[0] + err + _CUSHION * (n0 + 3) * UNIT_ROUND * (1.0 + mag + err)


@njit(cache=True)
def _keep_found_points(work, points, stack, count, top, layer):
    """Append the points an LP found in a layer's root cell to the cell's known points."""
    pool, pts, cut, n_cut, x_start = points
    ints = stack[0]
    side_x, side_lp = work[3], work[4]
    per_layer = (pts.shape[0] - x_start) // (n_cut.size)
    for k in range(2):
        if side_lp[k] == 0.0 or count[_NX + layer] >= per_layer:
            continue
        slot = x_start + layer * per_layer + count[_NX + layer]
        count[_NX + layer] += 1
        pts[slot] = side_x[k]
        end = ints[top, POOL_START] + ints[top, POOL_SIZE]
        if end < pool.size:
            pool[end] = slot
            ints[top, POOL_SIZE] += 1


@njit(cache=True)
def _split(stack, points, work, count, top, unit, thr):
    """Replace the top entry by its children g < 0 (on top, walked first) and g > 0, sharing its points."""
    ints, bits, wit, share = stack
    pool, pts = points[0], points[1]
    cur_a, cur_e, cur_s, side_x = work[0], work[1], work[2], work[3]
    up = top + 1
    ints[up] = ints[top]
    bits[up] = bits[top]
    bits[top, unit], bits[up, unit] = True, False
    share[top] *= 0.5
    share[up] = share[top]
    wit[top], wit[up] = side_x[0], side_x[1]
    start, size = ints[top, POOL_START], ints[top, POOL_SIZE]
    n_pos, n_neg = 0, 0
    for i in range(start, start + size):                     # positives stay in place, negatives move up
        p = pool[i]
        if point_margin(cur_a, cur_s[0], cur_e, cur_s[1], 1.0, pts[p]) > cur_s[2]:
            pool[start + n_pos] = p
            n_pos += 1
        elif point_margin(cur_a, cur_s[0], cur_e, cur_s[1], -1.0, pts[p]) > cur_s[2] and \
                start + size + n_neg < pool.size:
            pool[start + size + n_neg] = p
            n_neg += 1
    for entry, sign, first, n in ((top, 1, start, n_pos), (up, -1, start + size, n_neg)):
        ints[entry, POSITION] += 1
        ints[entry, ROW_UNIT], ints[entry, ROW_SIGN] = unit, sign
        ints[entry, POOL_START], ints[entry, POOL_SIZE] = first, n
    count[_SP] += 1


@njit(cache=True)
def load_cell(net, box, maps, rows, thr, layer, stage, row_units, row_signs, bits):
    """Recompute the layer maps (layers < ``layer``, and ``layer`` itself past ENTER) and the path rows of
    a cell from its pattern and its rows (unit, sign); the same arithmetic as the walk, so bit-identical."""
    weights, biases, dims, w_start, u_start, fixed, alpha = net
    gam, gc, egam, egc = maps
    for l in range(layer + (1 if stage != ENTER else 0)):
        layer_maps(weights, biases, dims, w_start, u_start, alpha, l, bits, gam, gc, egam, egc)
    for i in range(row_units.size):
        _push_row(net, box, maps, rows, row_units[i], float(row_signs[i]), i, thr)
