"""MILP of a ReLU or LeakyReLU network over a box, solved with HiGHS (spec counting-and-bounds §2).

Formulation after Serra, Tjandraatmadja & Ramalingam 2018 (arXiv 1711.02114): every unstable unit
gets g = p − n with 0 ≤ p ≤ H·z, 0 ≤ n ≤ H̄·(1 − z), z ∈ {0,1}; its output is h = p − α·n
(α = 0 for ReLU, the LeakyReLU slope otherwise, so both activations share the big-M rows).
Stable units carry no binary: their output is substituted as an affine expression (g or α·g).

Tolerance policy (the one used by every counting module):

* a unit is stable when its bound clears ``τ = 1e-9·max(1, |lo|, |hi|)``; every big-M is inflated
  by ``1e-6·(1 + M)`` so that LP round-off never cuts off a true point;
* the margin ε of the strict-activity rows is ``max(1e-4, 10·(H_max·1e-6 + 1e-7))``;
* a pattern or region is accepted when its margin LP exceeds ``TOL·max(1, scale)``, ``TOL = 1e-7``
  (scale: the largest big-M here, the box width in the LP subdivision of :mod:`explorer.count.exact`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from ..errors import ExplorerError
from ..net import Network, as_box
from ..tolerance import INT_TOL, MARGIN_TOL as TOL

__all__ = ["TOL", "MARGINS", "TIGHTENINGS", "UnitBounds", "unit_bounds", "ReluMilp", "build_milp"]
# Solver plumbing (Find, new_solver, find, start_values, set_start, add_no_good, Confirmer) is internal to
# explorer.count: the counting modules import it by name; it is not part of the library's API.

MARGINS = ("both", "active", "none")
TIGHTENINGS = ("none", "lp", "milp")
_INF = highspy.kHighsInf


@dataclass(frozen=True)
class UnitBounds:
    """Bounds of every hidden pre-activation over a box, and the units they prove stable.

    Attributes
    ----------
    lower, upper : float64 ndarray (N,)
        lo ≤ g ≤ hi for every point of the box (interval arithmetic, tightened if requested).
    stable_active, stable_inactive : bool ndarray (N,)
        lo ≥ τ (unit active everywhere) and hi ≤ −τ (inactive everywhere).
    tighten : "none", "lp" or "milp"
    timeouts : int
        MILP tightenings that hit their time limit (their dual bound was used).
    seconds : float
    """

    lower: np.ndarray
    upper: np.ndarray
    stable_active: np.ndarray
    stable_inactive: np.ndarray
    tighten: str
    timeouts: int
    seconds: float

    @property
    def unstable(self) -> np.ndarray:
        """Bool (N,): units whose sign changes over the box (not proven stable)."""
        return ~(self.stable_active | self.stable_inactive)

    @property
    def big_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Inflated big-Ms (H, H̄) of shape (N,): H ≥ max g, H̄ ≥ max(−g), each grown by 1e-6·(1 + M)."""
        up, dn = np.maximum(self.upper, 0.0), np.maximum(-self.lower, 0.0)
        return up + 1e-6 * (1 + up), dn + 1e-6 * (1 + dn)


def unit_bounds(net: Network, box, *, tighten: str = "lp", time_limit: float = 2.0,
                deadline: float | None = None) -> UnitBounds:
    """Bounds lo ≤ g^l_i(x) ≤ hi over x ∈ box, layer by layer (spec §2.2).

    Interval arithmetic gives lo = W⁺L + W⁻U + b, hi = W⁺U + W⁻L + b from the bounds [L, U] of the
    layer input; ``tighten="lp"`` then maximises ±g over the §2.1 rows of the earlier layers with z
    relaxed to [0, 1], ``"milp"`` with z binary (``time_limit`` seconds per solve, dual bound on
    timeout).  The smaller value is kept and the next layer starts from it.  Past ``deadline`` (a
    ``time.perf_counter()`` value) no further solves start: the remaining units keep their interval bounds.

    Raises
    ------
    ExplorerError
        For an unknown ``tighten`` or a bad box.
    """
    if tighten not in TIGHTENINGS:
        raise ExplorerError(f"tighten must be one of {TIGHTENINGS}; got {tighten!r}.")
    start = time.perf_counter()
    box = as_box(box, net.n_inputs)
    layers = _Layers(net, box)
    lows, highs, timeouts = [], [], 0
    lo_h, hi_h = box[:, 0], box[:, 1]
    for l, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
        lo, hi = Wp @ lo_h + Wn @ hi_h + b, Wp @ hi_h + Wn @ lo_h + b
        if l > 0 and tighten != "none":
            lo, hi, t = layers.tighten(l, lo, hi, integer=tighten == "milp", time_limit=time_limit,
                                       deadline=deadline)
            timeouts += t
        active, inactive = _stability(lo, hi)
        layers.add_layer(l, lo, hi, active, inactive)
        lows.append(lo)
        highs.append(hi)
        lo_h, hi_h = net.act(lo), net.act(hi)
    lower, upper = np.concatenate([np.zeros(0), *lows]), np.concatenate([np.zeros(0), *highs])
    active, inactive = _stability(lower, upper)
    return UnitBounds(lower, upper, active, inactive, tighten, timeouts, time.perf_counter() - start)


@dataclass(frozen=True, eq=False)
class ReluMilp:
    """The MILP of a network over a box: columns, §2.1 rows and the strict-activity rows of §2.3.

    Columns: x (n0) first, then (p, n, z) for each unstable unit.  ``rows`` are the exact encoding
    h = σ(g); ``margin_rows`` add p ≥ ε·z and, for ``margin="both"``, n ≥ ε·(1 − z).

    Attributes
    ----------
    net : Network
    box : float64 ndarray (n0, 2)
    bounds : UnitBounds
    margin : "both", "active" or "none"
    epsilon : float
        ε of the strict-activity rows (reported with every count).
    h_max : float
        Largest big-M of an unstable unit (1 if there is none).
    units : int ndarray (u,)
        Pattern index of each unstable unit; binary j belongs to unit ``units[j]``.
    unit_layer : int ndarray (u,)
        0-based hidden layer of each binary.
    z_cols, p_cols, n_cols : int ndarray (u,)
    col_lower, col_upper : float64 ndarray (n_cols,)
    rows, margin_rows : tuple (A, lower, upper)
        Dense row blocks A of shape (m, n_cols) with bounds of shape (m,).
    """

    net: Network
    box: np.ndarray
    bounds: UnitBounds
    margin: str
    epsilon: float
    h_max: float
    units: np.ndarray
    unit_layer: np.ndarray
    z_cols: np.ndarray
    p_cols: np.ndarray
    n_cols: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    rows: tuple
    margin_rows: tuple

    @property
    def n_binaries(self) -> int:
        return int(self.units.size)

    def pattern(self, z: np.ndarray) -> np.ndarray:
        """Full activation pattern (N,) of the binaries z (u,): stable units at their fixed sign."""
        s = self.bounds.stable_active.copy()
        s[self.units] = np.asarray(z, dtype=bool)
        return s


def build_milp(net: Network, box, *, bounds: UnitBounds | None = None, tighten: str = "lp",
               margin: str = "both", epsilon: float | None = None, deadline: float | None = None) -> ReluMilp:
    """The MILP of ``net`` over ``box``: feasible z ⇔ a box point with s(x) = z, |g| ≥ ε as ``margin`` says.

    Parameters
    ----------
    bounds : UnitBounds, optional
        Precomputed bounds (default: ``unit_bounds(net, box, tighten=tighten)``).
    margin : "both" (default: every unstable unit ≥ ε away from 0, so only regions with interior
        count), "active" (program P of 1711.02114: active units only) or "none" (no strict rows).
    epsilon : float, optional
        Default ``max(1e-4, 10·(H_max·1e-6 + 1e-7))`` (the ε rule of §2.3).
    deadline : float, optional
        ``time.perf_counter()`` value after which the bound tightening starts no more solves.
    """
    if margin not in MARGINS:
        raise ExplorerError(f"margin must be one of {MARGINS}; got {margin!r}.")
    box = as_box(box, net.n_inputs)
    bounds = unit_bounds(net, box, tighten=tighten, deadline=deadline) if bounds is None else bounds
    layers = _Layers(net, box)
    layer_of = net.unit_layers()
    for l in range(len(net.hidden_widths)):
        sel = layer_of == l
        layers.add_layer(l, bounds.lower[sel], bounds.upper[sel], bounds.stable_active[sel],
                         bounds.stable_inactive[sel])
    up, dn = bounds.big_m
    units = np.flatnonzero(bounds.unstable)
    h_max = float(max(up[units].max(initial=1.0), dn[units].max(initial=1.0)))
    eps = max(1e-4, 10 * (h_max * INT_TOL + 1e-7)) if epsilon is None else float(epsilon)
    if not eps > 0:
        raise ExplorerError(f"epsilon must be positive; got {epsilon}.")
    p, n, z = (np.asarray(c, dtype=np.int64) for c in zip(*layers.unit_cols)) if units.size else \
        (np.zeros(0, np.int64),) * 3
    ncol = layers.n_cols
    u = units.size
    blocks = []  # p − ε z ≥ 0 and n + ε z ≥ ε
    if margin in ("both", "active"):
        A = np.zeros((u, ncol))
        A[np.arange(u), p], A[np.arange(u), z] = 1.0, -eps
        blocks.append((A, np.zeros(u), np.full(u, _INF)))
    if margin == "both":
        A = np.zeros((u, ncol))
        A[np.arange(u), n], A[np.arange(u), z] = 1.0, eps
        blocks.append((A, np.full(u, eps), np.full(u, _INF)))
    margin_rows = _stack(blocks, ncol)
    return ReluMilp(net, box, bounds, margin, eps, h_max, units, layer_of[units], z, p, n,
                    np.array(layers.col_lower), np.array(layers.col_upper), layers.dense_rows(), margin_rows)


@dataclass(frozen=True)
class Find:
    """Outcome of one FIND solve: status "found", "none" (proved infeasible) or "timeout".

    z : bool ndarray (u,) or None — the binaries of the solution; x : float64 ndarray (n0,) or None.
    """

    status: str
    z: np.ndarray | None = None
    x: np.ndarray | None = None


def new_solver(model: ReluMilp, *, margin_rows: bool = True, integer: bool = True,
               threads: int | None = None) -> highspy.Highs:
    """A silent HiGHS instance holding the model (objective 0: a pure feasibility problem)."""
    A, lo, up = _stack([model.rows, model.margin_rows] if margin_rows else [model.rows], model.col_lower.size)
    return _highs(A, lo, up, model.col_lower, model.col_upper, model.z_cols if integer else (), threads=threads)


def find(solver: highspy.Highs, model: ReluMilp, *, time_limit: float = 10.0) -> Find:
    """FIND of §2.4: one feasibility solve with a time limit; a solution found in time counts."""
    solver.setOptionValue("time_limit", float(max(time_limit, 1e-3)))
    solver.run()
    status = solver.getModelStatus()
    if solver.getInfo().primal_solution_status == highspy.kSolutionStatusFeasible and \
            status != highspy.HighsModelStatus.kInfeasible:
        v = np.asarray(solver.getSolution().col_value)
        return Find("found", v[model.z_cols] > 0.5, v[: model.net.n_inputs].copy())
    if status == highspy.HighsModelStatus.kInfeasible:
        return Find("none")
    return Find("timeout")


def start_values(model: ReluMilp, x: np.ndarray) -> np.ndarray:
    """Column values (n_cols,) of the forward pass at x: the feasible start handed to HiGHS."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    g = np.concatenate(model.net.preactivations(x[None, :]), axis=1)[0][model.units]
    v = np.zeros(model.col_lower.size)
    v[: x.size] = x
    v[model.p_cols], v[model.n_cols], v[model.z_cols] = np.maximum(g, 0), np.maximum(-g, 0), g > 0
    return v


def set_start(solver: highspy.Highs, model: ReluMilp, x: np.ndarray) -> None:
    """Hand HiGHS the forward pass at x as a start (platform note: ~50× fewer ms per solve)."""
    v = start_values(model, x)
    solver.setSolution(v.size, np.arange(v.size, dtype=np.int32), v)


def add_no_good(solver: highspy.Highs, model: ReluMilp, z: np.ndarray) -> None:
    """Cut off exactly the binary vector z: Σ_{z_i=1} z_i − Σ_{z_i=0} z_i ≤ |{i : z_i = 1}| − 1."""
    z = np.asarray(z, dtype=bool)
    coef = np.where(z, 1.0, -1.0)
    solver.addRow(-_INF, float(z.sum() - 1), coef.size, model.z_cols.astype(np.int32), coef)


class Confirmer:
    """LP confirmation of §2.3: with z fixed, max f s.t. f ≤ p_i (active) and f ≤ n_i (inactive).

    One HiGHS LP per model; each call only changes bounds.  A pattern is accepted iff
    f* > TOL·max(1, H_max) (with ``margin="none"``: iff the LP with z fixed is feasible).
    """

    def __init__(self, model: ReluMilp) -> None:
        self.model, u = model, model.n_binaries
        ncol = model.col_lower.size + 1           # the last column is f
        self.cap = 1.0 + model.h_max
        A, lo, up = _stack([model.rows], ncol)
        F = np.zeros((2 * u, ncol))
        F[:, -1] = 1.0
        F[np.arange(u), model.p_cols], F[u + np.arange(u), model.n_cols] = -1.0, -1.0
        rows = np.vstack([A, F])
        self.solver = _highs(rows, np.r_[lo, np.full(2 * u, -_INF)], np.r_[up, np.full(2 * u, self.cap)],
                             np.r_[model.col_lower, 0.0], np.r_[model.col_upper, self.cap], ())
        self.solver.changeColCost(ncol - 1, -1.0)     # minimise −f
        self.f_rows = np.arange(lo.size, lo.size + 2 * u, dtype=np.int32)

    def __call__(self, z: np.ndarray) -> bool:
        m, z = self.model, np.asarray(z, dtype=bool)
        zf = z.astype(np.float64)
        self.solver.changeColsBounds(zf.size, m.z_cols.astype(np.int32), zf, zf)
        bound_p = np.where(z, 0.0, self.cap) if m.margin != "none" else np.full(z.size, self.cap)
        bound_n = np.where(~z, 0.0, self.cap) if m.margin == "both" else np.full(z.size, self.cap)
        ub = np.r_[bound_p, bound_n]
        self.solver.changeRowsBounds(ub.size, self.f_rows, np.full(ub.size, -_INF), ub)
        self.solver.run()
        if self.solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return False
        return m.margin == "none" or -self.solver.getInfo().objective_function_value > TOL * max(1.0, m.h_max)


# ---- helpers -------------------------------------------------------------------------------------
def _stability(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tau = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    return lo >= tau, hi <= -tau


def _stack(blocks: list, ncol: int) -> tuple:
    blocks = [(np.pad(A, ((0, 0), (0, ncol - A.shape[1]))), lo, up) for A, lo, up in blocks]
    if not blocks:
        return np.zeros((0, ncol)), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate(part) for part in zip(*blocks))


def _highs(A: np.ndarray, row_lo, row_up, col_lo, col_up, integer_cols, *, threads: int | None = None
           ) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    n = len(col_lo)
    h.addVars(n, np.asarray(col_lo, dtype=np.float64), np.asarray(col_up, dtype=np.float64))
    if len(integer_cols):
        idx = np.asarray(integer_cols, dtype=np.int32)
        h.changeColsIntegrality(idx.size, idx, np.full(idx.size, 1, dtype=np.uint8))
    if A.shape[0]:
        r, c = np.nonzero(A)                               # CSR in row order
        starts = np.searchsorted(r, np.arange(A.shape[0])).astype(np.int32)
        h.addRows(A.shape[0], np.asarray(row_lo, np.float64), np.asarray(row_up, np.float64), r.size,
                  starts, c.astype(np.int32), A[r, c])
    return h


class _Layers:
    """Columns and §2.1 rows of the first layers; the layer output h^l as an affine map E·v + e."""

    def __init__(self, net: Network, box: np.ndarray) -> None:
        self.net = net
        n0 = net.n_inputs
        self.col_lower, self.col_upper = list(box[:, 0]), list(box[:, 1])
        self.E, self.e = np.eye(n0), np.zeros(n0)   # h^0 = x
        self.row_blocks: list = []
        self.unit_cols: list = []                    # (p, n, z) per unstable unit, pattern order

    @property
    def n_cols(self) -> int:
        return len(self.col_lower)

    def dense_rows(self) -> tuple:
        return _stack(self.row_blocks, self.n_cols)

    def tighten(self, l: int, lo: np.ndarray, hi: np.ndarray, *, integer: bool, time_limit: float,
                deadline: float | None = None):
        """max/min g^l_i over the rows so far (LP or MILP); keeps the tighter of both bounds (no solve starts
        past ``deadline``: those units keep the interval bounds)."""
        W, b = self.net.weights[l], self.net.biases[l]
        C, c = W @ self.E, W @ self.e + b            # g^l = C v + c, (n_l, n_cols)
        A, rlo, rup = self.dense_rows()
        zc = [t[2] for t in self.unit_cols] if integer else ()
        solver = _highs(A, rlo, rup, self.col_lower, self.col_upper, zc)
        if integer:
            solver.setOptionValue("time_limit", float(time_limit))
        lo, hi, timeouts = lo.copy(), hi.copy(), 0
        idx = np.arange(self.n_cols, dtype=np.int32)
        for i in np.flatnonzero(~np.logical_or(*_stability(lo, hi))):
            if deadline is not None and time.perf_counter() > deadline:
                break
            for sign in (1.0, -1.0):                 # minimise −g (max g), then minimise g
                solver.changeColsCost(idx.size, idx, -sign * C[i])
                solver.run()
                status = solver.getModelStatus()
                info = solver.getInfo()
                if status == highspy.HighsModelStatus.kOptimal:
                    val = -(info.mip_dual_bound if integer else info.objective_function_value)
                elif integer and np.isfinite(info.mip_dual_bound):
                    val, timeouts = -info.mip_dual_bound, timeouts + 1
                else:
                    continue
                if sign > 0:
                    hi[i] = min(hi[i], val + c[i])
                else:
                    lo[i] = max(lo[i], -val + c[i])
        return lo, hi, timeouts

    def add_layer(self, l: int, lo, hi, active, inactive) -> None:
        """Append the columns and rows of hidden layer l; stable units become affine expressions."""
        net, alpha = self.net, self.net.alpha
        W, b = net.weights[l], net.biases[l]
        C, c = W @ self.E, W @ self.e + b            # (n_l, n_cols)
        unstable = np.flatnonzero(~(active | inactive))
        up = np.maximum(hi, 0.0)
        dn = np.maximum(-lo, 0.0)
        up, dn = up + 1e-6 * (1 + up), dn + 1e-6 * (1 + dn)
        k, base = unstable.size, self.n_cols
        p, n, z = base + np.arange(k), base + k + np.arange(k), base + 2 * k + np.arange(k)
        self.col_lower += [0.0] * (3 * k)
        self.col_upper += list(up[unstable]) + list(dn[unstable]) + [1.0] * k
        self.unit_cols += list(zip(p, n, z))
        ncol = self.n_cols
        C = np.pad(C, ((0, 0), (0, 3 * k)))
        slope = np.where(active, 1.0, alpha)[:, None]
        E, e = slope * C, slope[:, 0] * c            # stable units: h = g or α·g
        E[unstable], e[unstable] = 0.0, 0.0
        E[unstable, p], E[unstable, n] = 1.0, -alpha  # unstable: h = p − α·n
        self.E, self.e = E, e
        rows = np.zeros((3 * k, ncol))
        r = np.arange(k)
        rows[r] = C[unstable]                          # C v − p + n = −c
        rows[r, p], rows[r, n] = -1.0, 1.0
        rows[k + r, p], rows[k + r, z] = 1.0, -up[unstable]          # p − H z ≤ 0
        rows[2 * k + r, n], rows[2 * k + r, z] = 1.0, dn[unstable]   # n + H̄ z ≤ H̄
        lower = np.r_[-c[unstable], np.full(2 * k, -_INF)]
        upper = np.r_[-c[unstable], np.zeros(k), dn[unstable]]
        self.row_blocks.append((rows, lower, upper))
